//! Who the dense indices are and when each registered.
use std::collections::HashMap;

use mesh_shared::UserId;

#[derive(Debug, Default)]
pub(super) struct People {
    pub(super) ids: HashMap<UserId, u32>,
    pub(super) users: Vec<UserId>,
    pub(super) registered_at: HashMap<u32, u64>,
}
