//! Content tables handed to `mesh train` / `mesh eval`: decoding never panics and re-encodes
//! to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_shared::{ContentTable, encode_content_table};

fuzz_target!(|data: &[u8]| {
    if let Ok(table) = ContentTable::decode(data) {
        assert_eq!(encode_content_table(table.iter()).ok().as_deref(), Some(data));
    }
});
