use std::collections::BTreeMap;

use mesh_models::{Catalogue, CatalogueItem, profile_from_entries};
use mesh_shared::{
    ActivityCard, FavouriteEntry, ModelWeights, PROFILE_SCHEMA_VERSION, ProfileUpload, PublicCard,
    UserId, coarsen_hours,
};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::Result;

/// Public favourites shown on a population member's card.
pub const PUBLIC_FAVOURITES: usize = 3;
const FIRST_NAMES: &[&str] = &[
    "Ada", "Bo", "Chen", "Dara", "Eli", "Fatima", "Gus", "Hana", "Ines", "Jonas", "Kemi", "Luca",
    "Mei", "Nico", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tariq", "Uma", "Vera", "Wen",
    "Ximena", "Yusuf", "Zoe",
];

/// A read-only member of the demo population: an id and a profile as a device would publish it.
#[derive(Debug, Clone, PartialEq)]
pub struct PopulationProfile {
    /// `demo-…` or `ds-…` ids, which no device key can own.
    pub user_id: UserId,
    /// The profile.
    pub upload: ProfileUpload,
}

/// A synthetic population of `count` people drawn from the shipped catalogue, deterministic
/// for a seed: each person prefers one or two genres and picks 8–16 favourites, three in four
/// from those genres. Profiles go through the same resolution and hashing as on a device.
///
/// # Errors
/// Only if the model or catalogue are inconsistent.
pub fn demo_population(
    catalogue: &Catalogue,
    model: &ModelWeights,
    count: usize,
    seed: u64,
) -> Result<Vec<PopulationProfile>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut by_genre: BTreeMap<&str, Vec<&CatalogueItem>> = BTreeMap::new();
    for item in catalogue.items() {
        for genre in &item.genres {
            by_genre.entry(genre.as_str()).or_default().push(item);
        }
    }
    let genres: Vec<&str> = by_genre.keys().copied().collect();
    let mut population = Vec::with_capacity(count);
    for n in 0..count {
        let liked_count = rng.random_range(1..=2);
        let liked: Vec<&str> = genres.sample(&mut rng, liked_count).copied().collect();
        let wanted = rng.random_range(8..=16);
        let mut picks: Vec<&CatalogueItem> = Vec::with_capacity(wanted);
        while picks.len() < wanted {
            let pool: &[&CatalogueItem] = if rng.random_bool(0.75) {
                liked
                    .choose(&mut rng)
                    .and_then(|g| by_genre.get(g))
                    .map_or(&[], Vec::as_slice)
            } else {
                &[]
            };
            let item = match pool.choose(&mut rng) {
                Some(item) => *item,
                None => match catalogue.items().choose(&mut rng) {
                    Some(item) => item,
                    None => break,
                },
            };
            if !picks.contains(&item) {
                picks.push(item);
            }
        }
        picks.shuffle(&mut rng);
        let entries = picks
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let entry = FavouriteEntry {
                    kind: Some(item.kind),
                    title: item.title.clone(),
                    year: item.year,
                    creator: None,
                };
                (i + 1, entry, 1.0)
            })
            .collect();
        let profile = profile_from_entries(catalogue, model, entries, Vec::new())?;
        let name = FIRST_NAMES[n % FIRST_NAMES.len()];
        let initial = char::from(b'A' + (n / FIRST_NAMES.len() % 26) as u8);
        population.push(PopulationProfile {
            user_id: UserId::try_from(format!("demo-{n:04}"))?,
            upload: ProfileUpload {
                schema_version: PROFILE_SCHEMA_VERSION,
                model_version: model.version(),
                taste_vector: profile.taste_vector,
                card: PublicCard {
                    activity: demo_activity(n),
                    tone: None,
                    display_name: format!("{name} {initial}."),
                    traits: profile.traits,
                    public_favourites: profile
                        .items
                        .iter()
                        .take(PUBLIC_FAVOURITES)
                        .map(|i| i.title.clone())
                        .collect(),
                },
            },
        });
    }
    Ok(population)
}

/// When demo person `n` is usually online, for the half who publish it: four evening hours
/// (from 18, 19 or 20 local time) in one of eight time zones, derived from `n` alone.
fn demo_activity(n: usize) -> Option<ActivityCard> {
    const OFFSETS: [i8; 8] = [-8, -5, 0, 1, 2, 5, 8, 9];
    let h = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 32;
    if h.is_multiple_of(2) {
        return None;
    }
    let offset = OFFSETS[(h / 2 % 8) as usize];
    let start = 18 + (h / 16 % 3) as i32;
    let hours = (start..start + 4).fold(0u32, |mask, local| {
        mask | 1 << (local - i32::from(offset)).rem_euclid(24)
    });
    Some(ActivityCard {
        active_hours_utc: coarsen_hours(hours),
        utc_offset_hours: offset,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesh_models::initial_model;

    #[test]
    fn the_demo_population_is_deterministic_and_valid() {
        let catalogue = Catalogue::embedded();
        let model = initial_model(catalogue, 1);
        let a = demo_population(catalogue, &model, 20, 7).unwrap();
        let b = demo_population(catalogue, &model, 20, 7).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.len(), 20);
        for member in &a {
            member.upload.validate().unwrap();
            assert!(!member.upload.card.traits.is_empty());
        }
    }
}
