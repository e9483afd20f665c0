//! [`Store`] on PostgreSQL, for when one machine is outgrown: several stateless coordinator
//! replicas share one database. Same records and the same checks as [`crate::RedbStore`]
//! (encoded the same way), one SQL transaction per method; a signer's row is locked
//! (`SELECT … FOR UPDATE`) so two replicas cannot both accept the same timestamp.
//!
//! The synchronous `postgres` client runs on a thread of its own, so store calls from async
//! handlers never start a runtime inside a runtime; each call waits for its answer.
use std::sync::Mutex;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use mesh_shared::{MAX_CLOCK_SKEW_MS, UserId};
use postgres::{Client, NoTls, Transaction};

use crate::events::AfterOptOut;
use crate::store::{
    IdentityRecord, Registration, SavedRound, Signer, Store, StoredProfile, decode, decode_event,
    encode,
};
use crate::{Error, Event, Result, SocialEvent};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS mesh_kv (name TEXT PRIMARY KEY, value BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS mesh_identities (user_id TEXT PRIMARY KEY, record BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS mesh_profiles (user_id TEXT PRIMARY KEY, record BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS mesh_tombstones (user_id TEXT PRIMARY KEY, at_ms BIGINT NOT NULL);
CREATE TABLE IF NOT EXISTS mesh_round_events (seq BIGINT PRIMARY KEY, body BYTEA NOT NULL);
CREATE TABLE IF NOT EXISTS mesh_social_events (seq BIGSERIAL PRIMARY KEY, actor TEXT, body BYTEA NOT NULL);
CREATE INDEX IF NOT EXISTS mesh_social_events_actor ON mesh_social_events (actor);
";

type Job = Box<dyn FnOnce(&mut Client) + Send>;

/// The PostgreSQL store (see the module).
#[derive(Debug)]
pub struct PgStore {
    jobs: Mutex<SyncSender<Job>>,
}

fn pg(error: postgres::Error) -> Error {
    Error::Storage(format!("postgres: {error}"))
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl PgStore {
    /// Connects to `url` (`postgres://user@host:port/db`), creates the tables if missing.
    ///
    /// # Errors
    /// [`Error::Storage`] when the database cannot be reached or the tables created.
    pub fn connect(url: &str) -> Result<Self> {
        let (jobs, queue): (SyncSender<Job>, Receiver<Job>) = sync_channel(64);
        let (ready, connected) = sync_channel(1);
        let url = url.to_owned();
        // The client (and its connection) live on this thread only.
        std::thread::Builder::new()
            .name("mesh-postgres".to_owned())
            .spawn(move || {
                let client = Client::connect(&url, NoTls)
                    .and_then(|mut client| client.batch_execute(SCHEMA).map(|()| client));
                let mut client = match client {
                    Ok(client) => {
                        let _ = ready.send(Ok(()));
                        client
                    }
                    Err(error) => {
                        let _ = ready.send(Err(pg(error)));
                        return;
                    }
                };
                for job in queue {
                    job(&mut client);
                }
            })
            .map_err(|e| Error::Storage(format!("cannot start the postgres thread: {e}")))?;
        connected
            .recv()
            .map_err(|_| Error::Storage("the postgres thread has stopped".to_owned()))??;
        Ok(Self {
            jobs: Mutex::new(jobs),
        })
    }

    /// Runs `work` in one transaction on the client's thread and waits for its result.
    fn transaction<R: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Transaction<'_>) -> Result<R> + Send + 'static,
    ) -> Result<R> {
        let (answer, result) = sync_channel(1);
        let job: Job = Box::new(move |client: &mut Client| {
            let outcome = client.transaction().map_err(pg).and_then(|mut txn| {
                let value = work(&mut txn)?;
                txn.commit().map_err(pg)?;
                Ok(value)
            });
            let _ = answer.send(outcome);
        });
        self.jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .send(job)
            .map_err(|_| Error::Storage("the postgres thread has stopped".to_owned()))?;
        result
            .recv()
            .map_err(|_| Error::Storage("the postgres thread has stopped".to_owned()))?
    }
}

fn get_kv(txn: &mut Transaction<'_>, name: &str) -> Result<Option<Vec<u8>>> {
    Ok(txn
        .query_opt("SELECT value FROM mesh_kv WHERE name = $1", &[&name])
        .map_err(pg)?
        .map(|row| row.get(0)))
}

fn put_kv(txn: &mut Transaction<'_>, name: &str, value: &[u8]) -> Result<()> {
    txn.execute(
        "INSERT INTO mesh_kv (name, value) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
        &[&name, &value],
    )
    .map_err(pg)?;
    Ok(())
}

fn identity_for_update(txn: &mut Transaction<'_>, user: &UserId) -> Result<Option<IdentityRecord>> {
    txn.query_opt(
        "SELECT record FROM mesh_identities WHERE user_id = $1 FOR UPDATE",
        &[&user.as_str()],
    )
    .map_err(pg)?
    .map(|row| decode::<IdentityRecord>(user, &row.get::<_, Vec<u8>>(0)))
    .transpose()
}

fn put_identity(txn: &mut Transaction<'_>, user: &UserId, record: &IdentityRecord) -> Result<()> {
    txn.execute(
        "INSERT INTO mesh_identities (user_id, record) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE SET record = EXCLUDED.record",
        &[&user.as_str(), &encode(record)?],
    )
    .map_err(pg)?;
    Ok(())
}

/// The same check as the embedded store's: a registered key, a timestamp above the last.
fn advance_timestamp(
    txn: &mut Transaction<'_>,
    user: &UserId,
    public_key: &[u8; 32],
    timestamp_ms: u64,
) -> Result<()> {
    let current = identity_for_update(txn, user)?;
    let updated = IdentityRecord::advanced(current, public_key, timestamp_ms)?;
    put_identity(txn, user, &updated)
}

fn push_social(txn: &mut Transaction<'_>, event: &Event) -> Result<u64> {
    let actor = event.actor().map(UserId::as_str);
    let row = txn
        .query_one(
            "INSERT INTO mesh_social_events (actor, body) VALUES ($1, $2) RETURNING seq",
            &[&actor, &encode(event)?],
        )
        .map_err(pg)?;
    Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
}

fn write_round(
    txn: &mut Transaction<'_>,
    header: Option<&[u8]>,
    events: &[(u64, Vec<u8>)],
) -> Result<()> {
    if let Some(header) = header {
        put_kv(txn, "round", header)?;
    }
    for (sequence, bytes) in events {
        txn.execute(
            "INSERT INTO mesh_round_events (seq, body) VALUES ($1, $2) ON CONFLICT (seq) DO UPDATE SET body = EXCLUDED.body",
            &[&to_i64(*sequence), bytes],
        )
        .map_err(pg)?;
    }
    Ok(())
}

impl Store for PgStore {
    fn current_model(&self) -> Result<Option<Vec<u8>>> {
        self.transaction(|txn| get_kv(txn, "model"))
    }

    fn save_model(&self, bytes: &[u8]) -> Result<()> {
        let bytes = bytes.to_vec();
        self.transaction(move |txn| put_kv(txn, "model", &bytes))
    }

    fn register(
        &self,
        user: &UserId,
        public_key: &[u8; 32],
        timestamp_ms: u64,
    ) -> Result<Registration> {
        let (user, public_key) = (user.clone(), *public_key);
        self.transaction(move |txn| {
            let existing = identity_for_update(txn, &user)?;
            let last = match &existing {
                Some(record) => record.last_timestamp_ms,
                None => txn
                    .query_opt(
                        "SELECT at_ms FROM mesh_tombstones WHERE user_id = $1",
                        &[&user.as_str()],
                    )
                    .map_err(pg)?
                    .map_or(0, |row| u64::try_from(row.get::<_, i64>(0)).unwrap_or(0)),
            };
            let record = IdentityRecord::accepting(&public_key, timestamp_ms, last)?;
            if existing.is_some() {
                put_identity(txn, &user, &record)?;
                Ok(Registration::AlreadyRegistered)
            } else {
                // Two replicas may register the same new key at once: neither saw a row to
                // lock, so the insert decides. The second waits for the first to commit and
                // inserts nothing; it registers nothing and logs no second `Registered`.
                let inserted = txn
                    .execute(
                        "INSERT INTO mesh_identities (user_id, record) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING",
                        &[&user.as_str(), &encode(&record)?],
                    )
                    .map_err(pg)?;
                if inserted == 0 {
                    return Ok(Registration::AlreadyRegistered);
                }
                push_social(
                    txn,
                    &Event::from(SocialEvent::Registered {
                        user: user.clone(),
                        at_ms: timestamp_ms,
                    }),
                )?;
                Ok(Registration::Created)
            }
        })
    }

    fn put_profile(
        &self,
        user: &UserId,
        public_key: &[u8; 32],
        timestamp_ms: u64,
        profile: &StoredProfile,
    ) -> Result<()> {
        let (user, public_key, record) = (user.clone(), *public_key, encode(profile)?);
        self.transaction(move |txn| {
            advance_timestamp(txn, &user, &public_key, timestamp_ms)?;
            txn.execute(
                "INSERT INTO mesh_profiles (user_id, record) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE SET record = EXCLUDED.record",
                &[&user.as_str(), &record],
            )
            .map_err(pg)?;
            Ok(())
        })
    }

    fn delete_user(&self, user: &UserId, public_key: &[u8; 32], timestamp_ms: u64) -> Result<bool> {
        let (user, public_key) = (user.clone(), *public_key);
        self.transaction(move |txn| {
            advance_timestamp(txn, &user, &public_key, timestamp_ms)?;
            let id = user.as_str();
            txn.execute("DELETE FROM mesh_identities WHERE user_id = $1", &[&id]).map_err(pg)?;
            let existed = txn.execute("DELETE FROM mesh_profiles WHERE user_id = $1", &[&id]).map_err(pg)? > 0;
            txn.execute(
                "DELETE FROM mesh_tombstones WHERE at_ms + $1 < $2",
                &[&to_i64(MAX_CLOCK_SKEW_MS), &to_i64(timestamp_ms)],
            )
            .map_err(pg)?;
            txn.execute(
                "INSERT INTO mesh_tombstones (user_id, at_ms) VALUES ($1, $2) ON CONFLICT (user_id) DO UPDATE SET at_ms = EXCLUDED.at_ms",
                &[&id, &to_i64(timestamp_ms)],
            )
            .map_err(pg)?;
            txn.execute("DELETE FROM mesh_social_events WHERE actor = $1", &[&id]).map_err(pg)?;
            // Events about them: those whose body names their id, each decided by the rule.
            let naming = txn
                .query(
                    "SELECT seq, body FROM mesh_social_events WHERE position($1::bytea in body) > 0 FOR UPDATE",
                    &[&id.as_bytes()],
                )
                .map_err(pg)?;
            for row in naming {
                let sequence: i64 = row.get(0);
                let event = decode_event(sequence as u64, &row.get::<_, Vec<u8>>(1))?;
                match event.after_opt_out_of(&user) {
                    AfterOptOut::Kept => {}
                    AfterOptOut::Removed => {
                        txn.execute("DELETE FROM mesh_social_events WHERE seq = $1", &[&sequence])
                            .map_err(pg)?;
                    }
                    AfterOptOut::Rewritten(event) => {
                        txn.execute(
                            "UPDATE mesh_social_events SET body = $2 WHERE seq = $1",
                            &[&sequence, &encode(&event)?],
                        )
                        .map_err(pg)?;
                    }
                }
            }
            Ok(existed)
        })
    }

    fn profile(&self, user: &UserId) -> Result<Option<StoredProfile>> {
        let user = user.clone();
        self.transaction(move |txn| {
            txn.query_opt(
                "SELECT record FROM mesh_profiles WHERE user_id = $1",
                &[&user.as_str()],
            )
            .map_err(pg)?
            .map(|row| decode(&user, &row.get::<_, Vec<u8>>(0)))
            .transpose()
        })
    }

    fn profiles(&self) -> Result<Vec<(UserId, StoredProfile)>> {
        self.transaction(|txn| {
            let rows = txn
                .query(
                    "SELECT user_id, record FROM mesh_profiles ORDER BY user_id",
                    &[],
                )
                .map_err(pg)?;
            rows.iter()
                .map(|row| {
                    let user = UserId::try_from(row.get::<_, String>(0))?;
                    let profile = decode(&user, &row.get::<_, Vec<u8>>(1))?;
                    Ok((user, profile))
                })
                .collect()
        })
    }

    fn start_round(&self, header: &[u8]) -> Result<()> {
        let header = header.to_vec();
        self.transaction(move |txn| {
            put_kv(txn, "round", &header)?;
            txn.execute("DELETE FROM mesh_round_events", &[])
                .map_err(pg)?;
            Ok(())
        })
    }

    fn append_round(&self, header: Option<&[u8]>, events: &[(u64, Vec<u8>)]) -> Result<()> {
        let (header, events) = (header.map(<[u8]>::to_vec), events.to_vec());
        self.transaction(move |txn| write_round(txn, header.as_deref(), &events))
    }

    fn round(&self) -> Result<Option<SavedRound>> {
        self.transaction(|txn| {
            let Some(header) = get_kv(txn, "round")? else {
                return Ok(None);
            };
            let events = txn
                .query("SELECT body FROM mesh_round_events ORDER BY seq", &[])
                .map_err(pg)?
                .iter()
                .map(|row| row.get::<_, Vec<u8>>(0))
                .collect();
            Ok(Some((header, events)))
        })
    }

    fn save_model_and_round(
        &self,
        model: &[u8],
        header: &[u8],
        events: &[(u64, Vec<u8>)],
    ) -> Result<()> {
        let (model, header, events) = (model.to_vec(), header.to_vec(), events.to_vec());
        self.transaction(move |txn| {
            put_kv(txn, "model", &model)?;
            write_round(txn, Some(&header), &events)
        })
    }

    fn append_event(&self, signer: Option<Signer<'_>>, event: &Event) -> Result<u64> {
        let signer = signer.map(|s| (s.user.clone(), *s.public_key, s.timestamp_ms));
        let event = event.clone();
        self.transaction(move |txn| {
            if let Some((user, public_key, timestamp_ms)) = &signer {
                advance_timestamp(txn, user, public_key, *timestamp_ms)?;
            }
            push_social(txn, &event)
        })
    }

    fn events(&self) -> Result<Vec<Event>> {
        self.transaction(|txn| {
            txn.query("SELECT seq, body FROM mesh_social_events ORDER BY seq", &[])
                .map_err(pg)?
                .iter()
                .map(|row| {
                    let sequence = u64::try_from(row.get::<_, i64>(0)).unwrap_or(0);
                    decode_event(sequence, &row.get::<_, Vec<u8>>(1))
                })
                .collect()
        })
    }

    fn events_from(&self, from: u64) -> Result<Vec<(u64, Event)>> {
        self.transaction(move |txn| {
            txn.query(
                "SELECT seq, body FROM mesh_social_events WHERE seq >= $1 ORDER BY seq",
                &[&to_i64(from)],
            )
            .map_err(pg)?
            .iter()
            .map(|row| {
                let sequence = u64::try_from(row.get::<_, i64>(0)).unwrap_or(0);
                Ok((sequence, decode_event(sequence, &row.get::<_, Vec<u8>>(1))?))
            })
            .collect()
        })
    }

    fn save_ranker(&self, bytes: &[u8]) -> Result<()> {
        let bytes = bytes.to_vec();
        self.transaction(move |txn| put_kv(txn, "ranker", &bytes))
    }

    fn ranker(&self) -> Result<Option<Vec<u8>>> {
        self.transaction(|txn| get_kv(txn, "ranker"))
    }
}
