//! Opting out: the promise is that a person who leaves is gone from what the coordinator keeps
//! of discovery — their id and their exact taste vector are in no index snapshot written after
//! they left (the snapshot `mesh serve` saves at shutdown and starts from).
use axum::http::StatusCode;
use mesh_shared::{PROFILE_SCHEMA_VERSION, ProfileUpload, PublicCard, TASTE_DIM, TasteVector};

use super::{Target, identity};

#[tokio::test]
async fn an_opted_out_person_is_not_in_the_index_snapshot() {
    let target = Target::new();
    let mut people = Vec::new();
    for seed in 60..100u8 {
        let person = identity(seed);
        target.register(&person).await;
        let mut v = vec![0.0f32; TASTE_DIM];
        (v[0], v[usize::from(seed) % TASTE_DIM]) = (0.6, 0.8);
        let upload = ProfileUpload {
            schema_version: PROFILE_SCHEMA_VERSION,
            model_version: target.state.model_version(),
            taste_vector: TasteVector::try_from(v).unwrap(),
            card: PublicCard {
                display_name: format!("P{seed}"),
                traits: Vec::new(),
                public_favourites: Vec::new(),
                activity: None,
                tone: None,
            },
        };
        let path = format!("/v1/profiles/{}", person.user_id());
        let reply = target
            .signed(&person, "PUT", &path, serde_json::to_vec(&upload).unwrap())
            .await;
        assert!(reply.status.is_success(), "{}", reply.text());
        people.push((person, upload));
    }
    let (leaver, upload) = &people[7];
    let id = leaver.user_id().as_str().as_bytes().to_vec();
    let vector: Vec<u8> = upload
        .taste_vector
        .as_slice()
        .iter()
        .flat_map(|x| x.to_le_bytes())
        .collect();
    let contains = |bytes: &[u8], needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    let before = target.state.index().snapshot();
    assert!(contains(&before, &id) && contains(&before, &vector));

    let path = format!("/v1/profiles/{}", leaver.user_id());
    let reply = target.signed(leaver, "DELETE", &path, Vec::new()).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text());
    let after = target.state.index().snapshot();
    assert!(
        !contains(&after, &id),
        "the opted-out id is in the snapshot"
    );
    assert!(
        !contains(&after, &vector),
        "the opted-out vector is in the snapshot"
    );
    let (stayer, _) = &people[8];
    assert!(contains(&after, stayer.user_id().as_str().as_bytes()));
}
