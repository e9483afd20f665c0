//! Discovery answers: a stranger must not rebuild a published taste vector (a weighted mean of
//! item rows under the public model, so it leaks favourites) from the scores it is answered.
//! The attacker registers identities and sends discovery queries in random directions, then
//! solves for the victim's vector by least squares from the scores the victim came back with.
//! With exact cosines 256 such answers rebuild it exactly; the promise is that one identity's
//! daily budget leaves it far from that, and that many identities still do not get close.
use axum::http::StatusCode;
use mesh_coordinator::DEFAULT_QUERIES_PER_DAY;
use mesh_models::{Catalogue, resolve_favourites};
use mesh_shared::{CandidatesRequest, CandidatesResponse, TASTE_DIM, TasteVector, cosine};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha20Rng;

use super::{Target, identity};
use crate::fixtures::favourites;

/// Queries the attacker sends, as in the report that filed this attack (282 rebuilt a vector).
const QUERIES: usize = 300;

/// A unit query in a uniformly random direction.
fn random_direction(rng: &mut ChaCha20Rng) -> Vec<f32> {
    let v: Vec<f32> = (0..TASTE_DIM)
        .map(|_| {
            // Box-Muller: a standard normal coordinate.
            let (u, w): (f32, f32) = (rng.random_range(1e-7..1.0), rng.random());
            (-2.0 * u.ln()).sqrt() * (std::f32::consts::TAU * w).cos()
        })
        .collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / norm).collect()
}

/// The least-squares vector `x` with `q_j · x ≈ s_j` (minimum norm when there are fewer
/// answers than dimensions): `x = Qᵀ y` with `(Q Qᵀ + λ I) y = s`.
fn least_squares(queries: &[Vec<f32>], scores: &[f32]) -> Vec<f64> {
    let n = queries.len();
    let dot = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum::<f64>()
    };
    let mut gram: Vec<Vec<f64>> = (0..n)
        .map(|i| (0..n).map(|j| dot(&queries[i], &queries[j])).collect())
        .collect();
    let mut y: Vec<f64> = scores.iter().map(|s| f64::from(*s)).collect();
    for (i, row) in gram.iter_mut().enumerate() {
        row[i] += 1e-9;
    }
    // Gaussian elimination with partial pivoting.
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|a, b| gram[*a][col].abs().total_cmp(&gram[*b][col].abs()))
            .unwrap();
        gram.swap(col, pivot);
        y.swap(col, pivot);
        let (above, below) = gram.split_at_mut(col + 1);
        let pivot_row = &above[col];
        for (offset, row) in below.iter_mut().enumerate() {
            let factor = row[col] / pivot_row[col];
            for (value, pivot_value) in row[col..].iter_mut().zip(&pivot_row[col..]) {
                *value -= factor * pivot_value;
            }
            y[col + 1 + offset] -= factor * y[col];
        }
    }
    for col in (0..n).rev() {
        let tail: f64 = (col + 1..n).map(|k| gram[col][k] * y[k]).sum();
        y[col] = (y[col] - tail) / gram[col][col];
    }
    (0..TASTE_DIM)
        .map(|d| (0..n).map(|j| y[j] * f64::from(queries[j][d])).sum())
        .collect()
}

/// The matched filter `Σ s_j q_j`: with noisy answers and nearly as many answers as
/// dimensions it beats least squares, which fits the noise.
fn matched_filter(queries: &[Vec<f32>], scores: &[f32]) -> Vec<f64> {
    (0..TASTE_DIM)
        .map(|d| {
            queries
                .iter()
                .zip(scores)
                .map(|(q, s)| f64::from(q[d]) * f64::from(*s))
                .sum()
        })
        .collect()
}

/// The better of the two attacks' reconstructions, as a cosine to the truth.
fn best_reconstruction(queries: &[Vec<f32>], scores: &[f32], truth: &TasteVector) -> f64 {
    cosine_to(&least_squares(queries, scores), truth)
        .max(cosine_to(&matched_filter(queries, scores), truth))
}

fn cosine_to(estimate: &[f64], truth: &TasteVector) -> f64 {
    let estimate: Vec<f32> = estimate.iter().map(|x| *x as f32).collect();
    f64::from(cosine(&estimate, truth.as_slice()))
}

#[tokio::test]
async fn answers_do_not_rebuild_a_published_vector() {
    let target = Target::new();
    let model = target.state.model_weights().unwrap();
    let profile = resolve_favourites(Catalogue::embedded(), &model, &favourites()).unwrap();
    let victim = identity(9);
    let upload = target
        .publish(&victim, "Victim", profile.taste_vector.clone())
        .await;
    let truth = &upload.taste_vector;

    let mut rng = ChaCha20Rng::seed_from_u64(1);
    // Anonymous queries are refused outright.
    let anonymous_body = serde_json::to_vec(&CandidatesRequest {
        model_version: model.version(),
        taste_vector: TasteVector::try_from(random_direction(&mut rng)).unwrap(),
        k: 1,
        exclude: None,
    })
    .unwrap();
    let anonymous = target
        .anonymous("POST", "/v1/discovery/candidates", anonymous_body)
        .await;
    assert_eq!(
        anonymous.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        anonymous.text()
    );

    // Three registered identities send 300 queries each way they can; answers past a
    // budget are refused.
    let sybils = [identity(20), identity(21), identity(22)];
    for sybil in &sybils {
        target.register(sybil).await;
    }
    let (mut queries, mut answers, mut exact) = (Vec::new(), Vec::new(), Vec::new());
    let mut refused = 0;
    for i in 0..QUERIES {
        let attacker = &sybils[i * sybils.len() / QUERIES];
        let query = random_direction(&mut rng);
        let body = serde_json::to_vec(&CandidatesRequest {
            model_version: model.version(),
            taste_vector: TasteVector::try_from(query.clone()).unwrap(),
            k: 1,
            exclude: None,
        })
        .unwrap();
        let reply = target
            .signed(attacker, "POST", "/v1/discovery/candidates", body)
            .await;
        if reply.status == StatusCode::TOO_MANY_REQUESTS {
            refused += 1;
            continue;
        }
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        let response: CandidatesResponse = reply.json();
        let Some(found) = response
            .candidates
            .iter()
            .find(|c| &c.user_id == victim.user_id())
        else {
            continue;
        };
        exact.push(cosine(&query, truth.as_slice()));
        answers.push(found.score);
        queries.push(query);
    }
    let per_identity = DEFAULT_QUERIES_PER_DAY as usize;
    assert_eq!(answers.len(), QUERIES.min(sybils.len() * per_identity));
    assert_eq!(refused, QUERIES - answers.len());

    // What one identity's budget rebuilds, what three rebuild, and what the same answers would
    // rebuild if they were exact cosines (the coordinator before coarse scores: 1.0).
    let one = best_reconstruction(&queries[..per_identity], &answers[..per_identity], truth);
    let all = best_reconstruction(&queries, &answers, truth);
    let from_exact = cosine_to(&least_squares(&queries, &exact), truth);
    println!(
        "vector reconstruction from {} answers: one identity ({per_identity} answers) cos {one:.3}, three identities cos {all:.3}; the same queries with exact cosines cos {from_exact:.6}",
        answers.len()
    );
    assert!(from_exact > 0.999, "the attack itself works: {from_exact}");
    assert!(
        one < 0.5,
        "one identity's budget rebuilt the vector to cos {one}"
    );
    assert!(
        all < 0.7,
        "three identities rebuilt the vector to cos {all}"
    );
}
