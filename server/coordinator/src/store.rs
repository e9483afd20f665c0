use std::path::Path;

use mesh_models::{Catalogue, initial_model};
use mesh_shared::{MAX_CLOCK_SKEW_MS, ModelWeights, ProfileUpload, UserId};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::events::AfterOptOut;
use crate::{Error, Event, Result, SocialEvent};

const MODEL: TableDefinition<&str, &[u8]> = TableDefinition::new("model");
const IDENTITIES: TableDefinition<&str, &[u8]> = TableDefinition::new("identities");
const PROFILES: TableDefinition<&str, &[u8]> = TableDefinition::new("profiles");
const TOMBSTONES: TableDefinition<&str, u64> = TableDefinition::new("tombstones");
const ROUNDS: TableDefinition<&str, &[u8]> = TableDefinition::new("rounds");
const ROUND_EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("round_events");
const SOCIAL_EVENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("social_events");
const ACTIVE_ROUND: &str = "active";
const RANKER: &str = "ranker";
const CURRENT_MODEL: &str = "current";
const STORE_FILE: &str = "mesh.redb";

/// Version of the model a new store starts with.
const FIRST_MODEL_VERSION: u32 = 1;

/// The store's current model, saving the version-1 model first in a new store.
///
/// # Errors
/// A store failure or a stored model that does not decode.
pub fn current_model(store: &dyn Store) -> Result<ModelWeights> {
    match store.current_model()? {
        Some(bytes) => Ok(ModelWeights::decode(&bytes)?),
        None => {
            let model = initial_model(Catalogue::embedded(), FIRST_MODEL_VERSION);
            store.save_model(&model.encode())?;
            Ok(model)
        }
    }
}

/// A stored profile: what the user published and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredProfile {
    /// The published upload, as validated.
    pub upload: ProfileUpload,
    /// When it was accepted, Unix milliseconds.
    pub updated_at_ms: u64,
}

/// A saved federated round: its encoded header and its encoded events in sequence order.
pub(crate) type SavedRound = (Vec<u8>, Vec<Vec<u8>>);

/// Who signed a write: the user, their device key and the request's timestamp (which must be
/// above the last one accepted from the key).
#[derive(Debug, Clone, Copy)]
pub struct Signer<'a> {
    /// The acting user.
    pub user: &'a UserId,
    /// The key that signed.
    pub public_key: &'a [u8; 32],
    /// The signed timestamp, Unix milliseconds.
    pub timestamp_ms: u64,
}

/// The outcome of registering a device key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Registration {
    /// The key was new.
    Created,
    /// The key was already registered; its last timestamp moved forward.
    AlreadyRegistered,
}

/// Durable state of the coordinator. Every method is one atomic transaction: a write is
/// either entirely applied or not at all.
///
/// Signed writes carry the request timestamp; a store refuses one that is not above the last
/// timestamp accepted for the same key ([`Error::Replayed`]), so a captured request cannot be
/// replayed, not even shortly after an opt-out.
pub trait Store: Send + Sync + 'static {
    /// The encoded current model, if one was saved.
    fn current_model(&self) -> Result<Option<Vec<u8>>>;
    /// Saves the encoded current model.
    fn save_model(&self, bytes: &[u8]) -> Result<()>;
    /// Registers `public_key` as the owner of `user`; a new registration appends a
    /// [`SocialEvent::Registered`] in the same transaction.
    fn register(
        &self,
        user: &UserId,
        public_key: &[u8; 32],
        timestamp_ms: u64,
    ) -> Result<Registration>;
    /// Creates or replaces `user`'s profile, if `public_key` is registered for `user`.
    fn put_profile(
        &self,
        user: &UserId,
        public_key: &[u8; 32],
        timestamp_ms: u64,
        profile: &StoredProfile,
    ) -> Result<()>;
    /// Removes everything held for `user` (profile, key, and every social event as
    /// [`Event::after_opt_out_of`] decides: theirs and those about them, except blocks and
    /// reports by others), leaving only a timestamp tombstone for the replay window. Returns
    /// whether a profile existed.
    fn delete_user(&self, user: &UserId, public_key: &[u8; 32], timestamp_ms: u64) -> Result<bool>;
    /// One profile.
    fn profile(&self, user: &UserId) -> Result<Option<StoredProfile>>;
    /// Every stored profile.
    fn profiles(&self) -> Result<Vec<(UserId, StoredProfile)>>;
    /// Starts a new federated round: saves its header and forgets the previous round's
    /// events.
    fn start_round(&self, header: &[u8]) -> Result<()>;
    /// Appends events `(sequence, bytes)` of the current round and, when given, replaces its
    /// header, in one transaction. Called for every accepted message before it is
    /// acknowledged, so a restart loses no accepted input.
    fn append_round(&self, header: Option<&[u8]>, events: &[(u64, Vec<u8>)]) -> Result<()>;
    /// The current round's header and its events in sequence order, if a round was started.
    fn round(&self) -> Result<Option<SavedRound>>;
    /// Saves the next model with the round's final header and events in one transaction, so a
    /// restart never applies a round twice.
    fn save_model_and_round(
        &self,
        model: &[u8],
        header: &[u8],
        events: &[(u64, Vec<u8>)],
    ) -> Result<()>;
    /// Appends a social event, checking and advancing the signer's timestamp when signed, in
    /// one transaction; returns its sequence number.
    fn append_event(&self, signer: Option<Signer<'_>>, event: &Event) -> Result<u64>;
    /// Every social event in sequence order.
    fn events(&self) -> Result<Vec<Event>>;
    /// The social events with a sequence number of at least `from`, with their numbers, in
    /// order (how a replica follows what the others appended).
    fn events_from(&self, from: u64) -> Result<Vec<(u64, Event)>>;
    /// Saves the re-ranker's encoded model.
    fn save_ranker(&self, bytes: &[u8]) -> Result<()>;
    /// The re-ranker's encoded model, if one was saved.
    fn ranker(&self) -> Result<Option<Vec<u8>>>;
}

/// Appends `event` after the last social event inside `txn`; its sequence number.
fn push_social(txn: &redb::WriteTransaction, event: &Event) -> Result<u64> {
    let mut table = txn.open_table(SOCIAL_EVENTS)?;
    let next = table.last()?.map_or(0, |(k, _)| k.value() + 1);
    table.insert(next, encode(event)?.as_slice())?;
    Ok(next)
}

/// Writes a round's header (when given) and appends its events, inside `txn`.
fn write_round(
    txn: &redb::WriteTransaction,
    header: Option<&[u8]>,
    events: &[(u64, Vec<u8>)],
) -> Result<()> {
    if let Some(header) = header {
        txn.open_table(ROUNDS)?.insert(ACTIVE_ROUND, header)?;
    }
    let mut table = txn.open_table(ROUND_EVENTS)?;
    for (sequence, bytes) in events {
        table.insert(*sequence, bytes.as_slice())?;
    }
    Ok(())
}

/// A registered device key and the last timestamp accepted from it.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct IdentityRecord {
    pub(crate) public_key: [u8; 32],
    pub(crate) last_timestamp_ms: u64,
}

impl IdentityRecord {
    /// `public_key`'s record after a write at `timestamp_ms`, which must be above `last`
    /// (the last accepted timestamp, or a tombstone's): [`Error::Replayed`] otherwise.
    pub(crate) fn accepting(public_key: &[u8; 32], timestamp_ms: u64, last: u64) -> Result<Self> {
        if timestamp_ms <= last {
            return Err(Error::Replayed {
                got: timestamp_ms,
                last,
            });
        }
        Ok(Self {
            public_key: *public_key,
            last_timestamp_ms: timestamp_ms,
        })
    }

    /// The record after a signed write: [`Error::NotRegistered`] unless `current` is
    /// `public_key`'s, [`Error::Replayed`] unless `timestamp_ms` is above its last.
    pub(crate) fn advanced(
        current: Option<Self>,
        public_key: &[u8; 32],
        timestamp_ms: u64,
    ) -> Result<Self> {
        let current = current
            .filter(|record| &record.public_key == public_key)
            .ok_or(Error::NotRegistered)?;
        Self::accepting(public_key, timestamp_ms, current.last_timestamp_ms)
    }
}

/// The default [`Store`]: one redb file, `mesh.redb`, in the data directory.
#[derive(Debug)]
pub struct RedbStore {
    db: Database,
}

impl RedbStore {
    /// Opens or creates the store in `data_dir` (created if missing). The store file is
    /// readable by its owner only (`0600`, and a directory it creates `0700`): it holds every
    /// published vector and the event log.
    ///
    /// # Errors
    /// [`Error::Storage`] when the directory or file cannot be created, opened or restricted.
    pub fn open(data_dir: &Path) -> Result<Self> {
        let storage = |what: &str, e: std::io::Error| {
            Error::Storage(format!("cannot {what} {}: {e}", data_dir.display()))
        };
        if !data_dir.exists() {
            std::fs::create_dir_all(data_dir).map_err(|e| storage("create", e))?;
            restrict(data_dir, 0o700).map_err(|e| storage("restrict", e))?;
        }
        let path = data_dir.join(STORE_FILE);
        let db = Database::create(&path)?;
        restrict(&path, 0o600).map_err(|e| storage("restrict the store in", e))?;
        let txn = db.begin_write()?;
        {
            txn.open_table(MODEL)?;
            txn.open_table(IDENTITIES)?;
            txn.open_table(PROFILES)?;
            txn.open_table(TOMBSTONES)?;
            txn.open_table(ROUNDS)?;
            txn.open_table(ROUND_EVENTS)?;
            txn.open_table(SOCIAL_EVENTS)?;
        }
        txn.commit()?;
        Ok(Self { db })
    }
}

/// Sets `path`'s permission bits (Unix; elsewhere nothing to do).
fn restrict(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

impl Store for RedbStore {
    fn current_model(&self) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(MODEL)?;
        Ok(table.get(CURRENT_MODEL)?.map(|v| v.value().to_vec()))
    }

    fn save_model(&self, bytes: &[u8]) -> Result<()> {
        let txn = self.db.begin_write()?;
        txn.open_table(MODEL)?.insert(CURRENT_MODEL, bytes)?;
        txn.commit()?;
        Ok(())
    }

    fn start_round(&self, header: &[u8]) -> Result<()> {
        let txn = self.db.begin_write()?;
        txn.open_table(ROUNDS)?.insert(ACTIVE_ROUND, header)?;
        txn.open_table(ROUND_EVENTS)?.retain(|_, _| false)?;
        txn.commit()?;
        Ok(())
    }

    fn append_round(&self, header: Option<&[u8]>, events: &[(u64, Vec<u8>)]) -> Result<()> {
        let txn = self.db.begin_write()?;
        write_round(&txn, header, events)?;
        txn.commit()?;
        Ok(())
    }

    fn round(&self) -> Result<Option<SavedRound>> {
        let txn = self.db.begin_read()?;
        let Some(header) = txn
            .open_table(ROUNDS)?
            .get(ACTIVE_ROUND)?
            .map(|v| v.value().to_vec())
        else {
            return Ok(None);
        };
        let events = txn
            .open_table(ROUND_EVENTS)?
            .iter()?
            .map(|entry| entry.map(|(_, v)| v.value().to_vec()))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(Some((header, events)))
    }

    fn save_model_and_round(
        &self,
        model: &[u8],
        header: &[u8],
        events: &[(u64, Vec<u8>)],
    ) -> Result<()> {
        let txn = self.db.begin_write()?;
        txn.open_table(MODEL)?.insert(CURRENT_MODEL, model)?;
        write_round(&txn, Some(header), events)?;
        txn.commit()?;
        Ok(())
    }

    fn register(
        &self,
        user: &UserId,
        public_key: &[u8; 32],
        timestamp_ms: u64,
    ) -> Result<Registration> {
        let txn = self.db.begin_write()?;
        let outcome = {
            let mut identities = txn.open_table(IDENTITIES)?;
            let tombstones = txn.open_table(TOMBSTONES)?;
            let existing = identities
                .get(user.as_str())?
                .map(|v| decode::<IdentityRecord>(user, v.value()))
                .transpose()?;
            let last = match &existing {
                Some(record) => record.last_timestamp_ms,
                None => tombstones.get(user.as_str())?.map_or(0, |v| v.value()),
            };
            let record = IdentityRecord::accepting(public_key, timestamp_ms, last)?;
            identities.insert(user.as_str(), encode(&record)?.as_slice())?;
            if existing.is_some() {
                Registration::AlreadyRegistered
            } else {
                push_social(
                    &txn,
                    &Event::from(SocialEvent::Registered {
                        user: user.clone(),
                        at_ms: timestamp_ms,
                    }),
                )?;
                Registration::Created
            }
        };
        txn.commit()?;
        Ok(outcome)
    }

    fn put_profile(
        &self,
        user: &UserId,
        public_key: &[u8; 32],
        timestamp_ms: u64,
        profile: &StoredProfile,
    ) -> Result<()> {
        let txn = self.db.begin_write()?;
        {
            let mut identities = txn.open_table(IDENTITIES)?;
            advance_timestamp(&mut identities, user, public_key, timestamp_ms)?;
            txn.open_table(PROFILES)?
                .insert(user.as_str(), encode(profile)?.as_slice())?;
        }
        txn.commit()?;
        Ok(())
    }

    fn delete_user(&self, user: &UserId, public_key: &[u8; 32], timestamp_ms: u64) -> Result<bool> {
        let txn = self.db.begin_write()?;
        let existed = {
            let mut identities = txn.open_table(IDENTITIES)?;
            advance_timestamp(&mut identities, user, public_key, timestamp_ms)?;
            identities.remove(user.as_str())?;
            let existed = txn.open_table(PROFILES)?.remove(user.as_str())?.is_some();
            let mut tombstones = txn.open_table(TOMBSTONES)?;
            let expired: Vec<String> = tombstones
                .iter()?
                .filter_map(|entry| entry.ok())
                .filter(|(_, at)| at.value().saturating_add(MAX_CLOCK_SKEW_MS) < timestamp_ms)
                .map(|(id, _)| id.value().to_owned())
                .collect();
            for id in expired {
                tombstones.remove(id.as_str())?;
            }
            tombstones.insert(user.as_str(), timestamp_ms)?;
            let mut social = txn.open_table(SOCIAL_EVENTS)?;
            let mut changes = Vec::new();
            for entry in social.iter()? {
                let (sequence, bytes) = entry?;
                let event: Event = decode_event(sequence.value(), bytes.value())?;
                match event.after_opt_out_of(user) {
                    AfterOptOut::Kept => {}
                    AfterOptOut::Removed => changes.push((sequence.value(), None)),
                    AfterOptOut::Rewritten(event) => {
                        changes.push((sequence.value(), Some(encode(&event)?)));
                    }
                }
            }
            for (sequence, rewritten) in changes {
                match rewritten {
                    Some(bytes) => social.insert(sequence, bytes.as_slice())?,
                    None => social.remove(sequence)?,
                };
            }
            existed
        };
        txn.commit()?;
        Ok(existed)
    }

    fn append_event(&self, signer: Option<Signer<'_>>, event: &Event) -> Result<u64> {
        let txn = self.db.begin_write()?;
        let sequence = {
            if let Some(signer) = signer {
                let mut identities = txn.open_table(IDENTITIES)?;
                advance_timestamp(
                    &mut identities,
                    signer.user,
                    signer.public_key,
                    signer.timestamp_ms,
                )?;
            }
            push_social(&txn, event)?
        };
        txn.commit()?;
        Ok(sequence)
    }

    fn events(&self) -> Result<Vec<Event>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(SOCIAL_EVENTS)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (sequence, bytes) = entry?;
            out.push(decode_event(sequence.value(), bytes.value())?);
        }
        Ok(out)
    }

    fn events_from(&self, from: u64) -> Result<Vec<(u64, Event)>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(SOCIAL_EVENTS)?;
        let mut out = Vec::new();
        for entry in table.range(from..)? {
            let (sequence, bytes) = entry?;
            out.push((
                sequence.value(),
                decode_event(sequence.value(), bytes.value())?,
            ));
        }
        Ok(out)
    }

    fn save_ranker(&self, bytes: &[u8]) -> Result<()> {
        let txn = self.db.begin_write()?;
        txn.open_table(MODEL)?.insert(RANKER, bytes)?;
        txn.commit()?;
        Ok(())
    }

    fn ranker(&self) -> Result<Option<Vec<u8>>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(MODEL)?;
        Ok(table.get(RANKER)?.map(|v| v.value().to_vec()))
    }

    fn profile(&self, user: &UserId) -> Result<Option<StoredProfile>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(PROFILES)?;
        let value = table.get(user.as_str())?;
        value.map(|v| decode(user, v.value())).transpose()
    }

    fn profiles(&self) -> Result<Vec<(UserId, StoredProfile)>> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(PROFILES)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (key, value) = entry?;
            let user = UserId::try_from(key.value().to_owned())?;
            let profile = decode(&user, value.value())?;
            out.push((user, profile));
        }
        Ok(out)
    }
}

fn advance_timestamp(
    identities: &mut redb::Table<'_, &'static str, &'static [u8]>,
    user: &UserId,
    public_key: &[u8; 32],
    timestamp_ms: u64,
) -> Result<()> {
    let current = identities
        .get(user.as_str())?
        .map(|v| decode::<IdentityRecord>(user, v.value()))
        .transpose()?;
    let updated = IdentityRecord::advanced(current, public_key, timestamp_ms)?;
    identities.insert(user.as_str(), encode(&updated)?.as_slice())?;
    Ok(())
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| Error::Storage(format!("cannot encode a record: {e}")))
}

pub(crate) fn decode<T: for<'de> Deserialize<'de>>(key: &UserId, bytes: &[u8]) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| Error::CorruptRecord {
        key: key.to_string(),
        reason: e.to_string(),
    })
}

pub(crate) fn decode_event(sequence: u64, bytes: &[u8]) -> Result<Event> {
    serde_json::from_slice(bytes).map_err(|e| Error::CorruptRecord {
        key: format!("social_events/{sequence}"),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesh_shared::{PROFILE_SCHEMA_VERSION, PublicCard, TASTE_DIM, TasteVector};

    fn profile() -> StoredProfile {
        let mut v = vec![0.0; TASTE_DIM];
        v[1] = 1.0;
        StoredProfile {
            upload: ProfileUpload {
                schema_version: PROFILE_SCHEMA_VERSION,
                model_version: 1,
                taste_vector: TasteVector::try_from(v).unwrap(),
                card: PublicCard {
                    activity: None,
                    tone: None,
                    display_name: "Ada".into(),
                    traits: vec![],
                    public_favourites: vec![],
                },
            },
            updated_at_ms: 5,
        }
    }

    #[test]
    fn profiles_survive_reopening_and_deletion_removes_them() {
        let dir = tempfile::tempdir().unwrap();
        let user = UserId::from_public_key(&[1; 32]);
        {
            let store = RedbStore::open(dir.path()).unwrap();
            assert_eq!(
                store.register(&user, &[1; 32], 10).unwrap(),
                Registration::Created
            );
            store.put_profile(&user, &[1; 32], 11, &profile()).unwrap();
        }
        let store = RedbStore::open(dir.path()).unwrap();
        assert_eq!(store.profile(&user).unwrap(), Some(profile()));
        assert!(store.delete_user(&user, &[1; 32], 12).unwrap());
        assert_eq!(store.profiles().unwrap(), vec![]);
        assert!(matches!(
            store.put_profile(&user, &[1; 32], 13, &profile()),
            Err(Error::NotRegistered)
        ));
    }

    #[test]
    fn replays_and_foreign_keys_are_refused_without_writing() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path()).unwrap();
        let user = UserId::from_public_key(&[1; 32]);
        store.register(&user, &[1; 32], 10).unwrap();
        assert!(matches!(
            store.put_profile(&user, &[1; 32], 10, &profile()),
            Err(Error::Replayed { got: 10, last: 10 })
        ));
        assert!(matches!(
            store.put_profile(&user, &[2; 32], 20, &profile()),
            Err(Error::NotRegistered)
        ));
        assert_eq!(store.profile(&user).unwrap(), None);
        store.delete_user(&user, &[1; 32], 30).unwrap();
        assert!(matches!(
            store.register(&user, &[1; 32], 25),
            Err(Error::Replayed { got: 25, last: 30 })
        ));
        assert_eq!(
            store.register(&user, &[1; 32], 31).unwrap(),
            Registration::Created
        );
    }
}
