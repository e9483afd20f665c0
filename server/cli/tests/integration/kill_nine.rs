//! The `mesh` binary killed with SIGKILL in the middle of a federated round and during event
//! ingestion: after a restart on the same data directory every acknowledged input and event is
//! still there, and the round completes.
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use mesh_coordinator::{RoundOutcome, RoundSettings, RoundStatus};
use mesh_shared::secagg::{ClientRound, EncryptedShares, SignedRoundKeys, SurvivorSignature};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde_json::{Value, json};

const TOKEN: &str = "kill-nine-token";

struct Served {
    child: Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &std::path::Path) -> Served {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mesh"))
        .args(["serve", "--addr", "127.0.0.1:0", "--demo-users", "0"])
        // Four writers from one address as fast as they can: no per-address limit.
        .args(["--requests-per-ip-per-second", "0"])
        .arg("--data-dir")
        .arg(dir)
        .arg("--web-dir")
        .arg(dir.join("no-page"))
        .args(["--operator-token", TOKEN])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    let url = loop {
        line.clear();
        assert!(lines.read_line(&mut line).unwrap() > 0, "mesh serve exited");
        if let Some(url) = line.split_whitespace().find(|w| w.starts_with("http://")) {
            break url.to_owned();
        }
    };
    std::thread::spawn(move || std::io::copy(&mut lines, &mut std::io::sink()));
    Served { child, url }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// `POST` as the operator.
fn operator_post(url: &str, path: &str, body: &Value) -> (u16, Vec<u8>) {
    let mut response = agent()
        .post(format!("{url}{path}"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .send_json(body)
        .unwrap();
    let status = response.status().as_u16();
    (status, response.body_mut().read_to_vec().unwrap())
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// A request signed by the device `secret`; the status and body.
fn device_call(
    url: &str,
    secret: &[u8; 32],
    method: &str,
    path: &str,
    body: &[u8],
) -> (u16, Vec<u8>) {
    let auth = mesh_shared::RequestAuth::sign(secret, method, path, now_ms(), body);
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{url}{path}"))
        .header("authorization", auth.authorization)
        .header(
            "content-type",
            if path.contains("/input?") {
                "application/octet-stream"
            } else {
                "application/json"
            },
        )
        .body(body.to_vec())
        .unwrap();
    let mut response = agent().run(request).unwrap();
    let status = response.status().as_u16();
    (status, response.body_mut().read_to_vec().unwrap())
}

fn post(url: &str, secret: &[u8; 32], path: &str, body: &Value) -> (u16, Vec<u8>) {
    device_call(
        url,
        secret,
        "POST",
        path,
        &serde_json::to_vec(body).unwrap(),
    )
}

fn post_input(
    url: &str,
    secret: &[u8; 32],
    (round, version): (u64, u32),
    client: u32,
    values: &[u32],
) -> u16 {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    let path = format!("/v1/rounds/{round}/input?client={client}&model_version={version}");
    device_call(url, secret, "POST", &path, &bytes).0
}

fn get<T: serde::de::DeserializeOwned>(url: &str, secret: &[u8; 32], path: &str) -> T {
    let (status, body) = device_call(url, secret, "GET", path, b"");
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).unwrap()
}

#[test]
fn kill_9_mid_round_loses_no_acknowledged_input() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(21);
    let served = serve(dir.path());
    let url = served.url.clone();
    let settings = RoundSettings {
        phase_ms: 60_000,
        min_account_age_ms: 0,
        ..RoundSettings::new(32, 3, 4)
    };
    let (status, body) =
        operator_post(&url, "/v1/rounds", &serde_json::to_value(settings).unwrap());
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let started: RoundStatus = serde_json::from_slice(&body).unwrap();
    let (round, version) = (started.round, started.model_version);
    let versioned = |mut value: Value| {
        value["model_version"] = version.into();
        value
    };

    let mut clients = Vec::new();
    for _ in 0..4 {
        let device: [u8; 32] = rng.random();
        assert_eq!(post(&url, &device, "/v1/identities", &json!({})).0, 201);
        let (_, joined) = post(
            &url,
            &device,
            &format!("/v1/rounds/{round}/join"),
            &versioned(json!({})),
        );
        let id = serde_json::from_slice::<Value>(&joined).unwrap()["client"]
            .as_u64()
            .unwrap() as u32;
        let client = ClientRound::new(round, version, id, 3, &mut rng).unwrap();
        let keys = versioned(json!({ "keys": client.advertise() }));
        assert_eq!(
            post(&url, &device, &format!("/v1/rounds/{round}/keys"), &keys).0,
            204
        );
        clients.push((device, client));
    }
    let reader = clients[0].0;
    let roster: Vec<SignedRoundKeys> = get(&url, &reader, &format!("/v1/rounds/{round}/roster"));
    for (device, client) in &mut clients {
        let shares = client.share_keys(&roster, &mut rng).unwrap();
        let body = versioned(json!({ "client": client.client(), "shares": shares }));
        assert_eq!(
            post(&url, device, &format!("/v1/rounds/{round}/shares"), &body).0,
            204
        );
    }
    let quantizer = settings.quantizer().unwrap();
    let inputs: Vec<Vec<u32>> = (0..4)
        .map(|_| {
            let update: Vec<f32> = (0..32).map(|_| rng.random::<f32>() - 0.5).collect();
            quantizer.quantize(&update).values
        })
        .collect();
    let mut masked = Vec::new();
    for ((device, client), input) in clients.iter_mut().zip(&inputs) {
        let mailbox: Vec<EncryptedShares> = get(
            &url,
            device,
            &format!("/v1/rounds/{round}/mailbox/{}", client.client()),
        );
        masked.push(client.masked_input(&mailbox, input).unwrap());
    }
    for (at, values) in masked.iter().enumerate().take(2) {
        let device = &clients[at].0;
        assert_eq!(
            post_input(&url, device, (round, version), at as u32 + 1, values),
            204
        );
    }

    // SIGKILL: no shutdown handler runs.
    drop(served);
    let served = serve(dir.path());
    let url = served.url.clone();
    let resumed: RoundStatus = get(&url, &reader, "/v1/rounds/current");
    assert_eq!((resumed.round, resumed.arrived), (round, 2), "{resumed:?}");
    for (at, values) in masked.iter().enumerate().skip(2) {
        let device = &clients[at].0;
        assert_eq!(
            post_input(&url, device, (round, version), at as u32 + 1, values),
            204
        );
    }
    let survivors: BTreeSet<u32> = get(&url, &reader, &format!("/v1/rounds/{round}/survivors"));
    assert_eq!(survivors.len(), 4);
    for (device, client) in &mut clients {
        let signature = client.consistency_signature(&survivors).unwrap();
        let body = versioned(json!({ "signature": signature }));
        assert_eq!(
            post(
                &url,
                device,
                &format!("/v1/rounds/{round}/signature"),
                &body
            )
            .0,
            204
        );
    }
    let signatures: Vec<SurvivorSignature> =
        get(&url, &reader, &format!("/v1/rounds/{round}/signatures"));
    for (device, client) in &mut clients {
        let shares = client.unmasking_shares(&signatures).unwrap();
        let body = versioned(json!({ "client": client.client(), "shares": shares }));
        assert_eq!(
            post(&url, device, &format!("/v1/rounds/{round}/unmask"), &body).0,
            204
        );
    }
    let done: RoundStatus = get(&url, &reader, "/v1/rounds/current");
    assert!(
        matches!(done.outcome, Some(RoundOutcome::Applied { clients: 4, new_model_version, .. }) if new_model_version == version + 1),
        "{done:?}"
    );
}

/// One signed request with `ureq`; the status, or `None` when the connection failed.
fn signed_post(url: &str, secret: &[u8; 32], path: &str, ts: u64, body: &[u8]) -> Option<u16> {
    let auth = mesh_shared::RequestAuth::sign(secret, "POST", path, ts, body);
    agent()
        .post(format!("{url}{path}"))
        .header("authorization", auth.authorization)
        .header("content-type", "application/json")
        .send(body)
        .ok()
        .map(|r| r.status().as_u16())
}

#[test]
fn kill_9_during_event_ingestion_loses_no_acknowledged_event() {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use mesh_coordinator::{Event, RedbStore, SocialEvent, Store};
    use mesh_shared::{RequestAuth, UserId};

    let dir = tempfile::tempdir().unwrap();
    let mut served = serve(dir.path());
    let url = served.url.clone();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let people: Vec<([u8; 32], UserId)> = (1..=8u8)
        .map(|n| {
            let secret = [n; 32];
            (
                secret,
                UserId::from_public_key(&RequestAuth::public_key_from_secret(&secret)),
            )
        })
        .collect();
    for (secret, _) in &people {
        assert_eq!(
            signed_post(&url, secret, "/v1/identities", now, b""),
            Some(201)
        );
    }
    // Four writers, two people each, swipe on everyone else as fast as they can; every `204`
    // is an acknowledged event.
    let acknowledged: Arc<Mutex<Vec<(UserId, UserId, bool)>>> = Arc::default();
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (url, people, acknowledged) = (url.clone(), people.clone(), acknowledged.clone());
            std::thread::spawn(move || {
                for step in 1u64.. {
                    for i in [2 * w, 2 * w + 1] {
                        let (secret, by) = &people[i];
                        let target = &people[(i + step as usize) % people.len()].1;
                        if target == by {
                            continue;
                        }
                        let more = step % 3 != 0;
                        let body = serde_json::to_vec(
                            &json!({ "target": target, "more_like_this": more }),
                        )
                        .unwrap();
                        match signed_post(&url, secret, "/v1/feedback", now + step, &body) {
                            Some(204) => acknowledged.lock().unwrap().push((
                                by.clone(),
                                target.clone(),
                                more,
                            )),
                            Some(status) => panic!("feedback answered {status}"),
                            None => return,
                        }
                    }
                }
            })
        })
        .collect();
    while acknowledged.lock().unwrap().len() < 300 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    served.child.kill().unwrap();
    served.child.wait().unwrap();
    for writer in writers {
        writer.join().unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    // The coordinator comes back on the same directory, replaying the log.
    drop(served);
    let restarted = serve(dir.path());
    let (status, _) = operator_post(&restarted.url, "/v1/admin/ranker/train", &json!({}));
    assert!(status < 500, "the restarted coordinator answers ({status})");
    drop(restarted);

    let store = RedbStore::open(dir.path()).unwrap();
    let mut stored: HashMap<(UserId, UserId, bool), usize> = HashMap::new();
    for event in store.events().unwrap() {
        if let Event::Social(SocialEvent::Feedback {
            by, target, more, ..
        }) = event
        {
            *stored.entry((by, target, more)).or_default() += 1;
        }
    }
    let mut wanted: HashMap<(UserId, UserId, bool), usize> = HashMap::new();
    for event in &acknowledged {
        *wanted.entry(event.clone()).or_default() += 1;
    }
    for (event, count) in &wanted {
        assert!(
            stored.get(event).copied().unwrap_or(0) >= *count,
            "acknowledged {count}× {event:?}, stored {:?}",
            stored.get(event)
        );
    }
    println!(
        "{} acknowledged feedback events before SIGKILL, all {} stored ({} stored in all)",
        acknowledged.len(),
        acknowledged.len(),
        stored.values().sum::<usize>()
    );
}

#[test]
fn sigterm_saves_the_index_and_the_files_are_the_owners_only() {
    use std::os::unix::fs::PermissionsExt;

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let mut served = serve(&data);
    // An index snapshot of another model version: stale, and holding that version's vectors.
    std::fs::write(data.join("discovery-v0.hnsw"), b"old").unwrap();
    let status = Command::new("kill")
        .args(["-TERM", &served.child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exited = served.child.wait().unwrap();
    assert!(
        exited.success(),
        "mesh serve exited with {exited} on SIGTERM"
    );
    let mode = |name: &str| {
        std::fs::metadata(data.join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(
        mode("discovery-v1.hnsw"),
        0o600,
        "the snapshot was saved, owner-only"
    );
    assert_eq!(mode("mesh.redb"), 0o600);
    let dir_mode = std::fs::metadata(&data).unwrap().permissions().mode() & 0o777;
    assert_eq!(dir_mode, 0o700);
    assert!(
        !data.join("discovery-v0.hnsw").exists(),
        "stale snapshots are removed"
    );
}
