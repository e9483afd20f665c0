//! What is measured is what is served: on a fixed dataset and store, the list `mesh eval`
//! scores for a person (setting B's `mesh` row) equals the list the router answers that
//! person's signed query with, for every person, with the prior and with a fitted re-ranker.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use mesh_coordinator::{AppConfig, AppState, Clock, RedbStore, Store, app};
use mesh_lab::{Dataset, EVAL_NOW_MS, EvalPopulation, Interaction, ItemInfo};
use mesh_ranking::{FEATURES, GbtParams, GradientBoostedTrees};
use mesh_shared::{CandidatesRequest, CandidatesResponse, RequestAuth, TASTE_DIM};
use rand::{RngExt, SeedableRng};
use tower::ServiceExt;

/// The evaluation's clock, standing still at its "now".
#[derive(Debug)]
struct EvalClock;

impl Clock for EvalClock {
    fn now_ms(&self) -> u64 {
        EVAL_NOW_MS
    }
}

/// A dataset, each user's taste vector (if published) and the known ties.
type World = (Dataset, Vec<Option<Vec<f32>>>, Vec<(usize, usize)>);

/// 90 people in three taste groups with tagged favourites, ties mostly within a group.
fn dataset() -> World {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(11);
    let people = 90;
    let group = |u: usize| u % 3;
    let tags = ["jazz", "sci-fi", "folk", "noir", "poetry"];
    let mut dataset = Dataset {
        users: (0..people).map(|u| format!("u{u}")).collect(),
        interactions: vec![Vec::new(); people],
        ..Dataset::default()
    };
    for item in 0..30 {
        dataset.items.insert(
            format!("i{item}"),
            ItemInfo {
                title: format!("Item {item}"),
                tags: vec![tags[item % 5].to_owned(), tags[(item / 5) % 5].to_owned()],
            },
        );
    }
    for (u, interactions) in dataset.interactions.iter_mut().enumerate() {
        for _ in 0..6 {
            let item = (group(u) * 10 + rng.random_range(0..12)) % 30;
            interactions.push(Interaction {
                item: format!("i{item}"),
                weight: 1.0 + rng.random_range(0..5) as f32,
                timestamp: None,
            });
        }
    }
    let taste = (0..people)
        .map(|u| {
            // Person 7 published nothing: they are never suggested and get no list.
            (u != 7).then(|| {
                let mut v: Vec<f32> = (0..TASTE_DIM)
                    .map(|d| {
                        let own = f32::from(u8::from(d == group(u)));
                        if d < 6 {
                            own + rng.random::<f32>() * 0.7
                        } else {
                            0.0
                        }
                    })
                    .collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.iter_mut().for_each(|x| *x /= norm);
                v
            })
        })
        .collect();
    let mut ties = Vec::new();
    for a in 0..people {
        for b in a + 1..people {
            let p = if group(a) == group(b) { 0.15 } else { 0.02 };
            if rng.random::<f64>() < p {
                ties.push((a, b));
            }
        }
    }
    (dataset, taste, ties)
}

/// A small re-ranker fitted on random rows labelled by the first feature (taste).
fn ranker() -> GradientBoostedTrees {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
    let rows: Vec<f32> = (0..400 * FEATURES).map(|_| rng.random::<f32>()).collect();
    let labels: Vec<f32> = rows
        .chunks(FEATURES)
        .map(|row| f32::from(u8::from(row[0] + 0.3 * row[6] > 0.7)))
        .collect();
    let params = GbtParams {
        trees: 20,
        max_depth: 3,
        ..GbtParams::default()
    };
    GradientBoostedTrees::fit(&rows, FEATURES, &labels, params).unwrap()
}

async fn served_list(router: &axum::Router, population: &EvalPopulation, u: usize) -> Vec<usize> {
    let upload = population.upload(u).unwrap();
    let body = serde_json::to_vec(&CandidatesRequest {
        model_version: 1,
        taste_vector: upload.taste_vector.clone(),
        k: 10,
        exclude: None,
    })
    .unwrap();
    let path = "/v1/discovery/candidates";
    let secret = population.device_secret(u).unwrap();
    // One query per person: each is the person's first, so no impression counts yet.
    let signed = RequestAuth::sign(&secret, "POST", path, EVAL_NOW_MS, &body);
    let request = Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, signed.authorization)
        .body(Body::from(body))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let found: CandidatesResponse = serde_json::from_slice(&bytes).unwrap();
    found
        .candidates
        .iter()
        .map(|c| population.position(&c.user_id).unwrap())
        .collect()
}

async fn check_serve_equals_eval(ranker: Option<GradientBoostedTrees>) {
    let (dataset, taste, ties) = dataset();
    let population = EvalPopulation::new(&dataset, taste, 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(RedbStore::open(dir.path()).unwrap());
    population.publish_into(store.as_ref(), &ties).unwrap();
    if let Some(model) = &ranker {
        store
            .save_ranker(&serde_json::to_vec(model).unwrap())
            .unwrap();
    }
    let state = AppState::open(store, Arc::new(EvalClock), Vec::new()).unwrap();
    let router = app(state, &AppConfig::default());
    let discovery = population.discovery(&ties, ranker);
    let mut compared = 0;
    for u in (0..population.len()).filter(|&u| population.upload(u).is_some()) {
        let evaluated: Vec<usize> = population
            .ranked(&discovery, u)
            .into_iter()
            .take(10)
            .collect();
        let served = served_list(&router, &population, u).await;
        assert_eq!(served, evaluated, "person {u}: served vs evaluated");
        assert_eq!(served.len(), 10, "person {u} has a full list");
        compared += 1;
    }
    assert_eq!(compared, 89);
}

#[tokio::test]
async fn the_list_eval_scores_is_the_list_the_router_serves_with_the_prior() {
    check_serve_equals_eval(None).await;
}

#[tokio::test]
async fn the_list_eval_scores_is_the_list_the_router_serves_with_a_fitted_re_ranker() {
    check_serve_equals_eval(Some(ranker())).await;
}
