use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use mesh_models::{Catalogue, CatalogueItem, SkippedLine, profile_from_entries};
use mesh_shared::{
    FavouriteEntry, ModelWeights, PROFILE_SCHEMA_VERSION, ProfileUpload, PublicCard, UserId,
    parse_favourite_line,
};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::{Error, Result};

/// Public favourites shown on a population member's card.
const PUBLIC_FAVOURITES: usize = 3;
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

/// Loads a population from a dataset in the TSV layout of `shared/data/FORMAT.md`:
/// `interactions.tsv` (`user item weight timestamp`) and, if present, `items.tsv`
/// (`item title tags`). Titles are resolved like typed favourites; items without a title are
/// left out. Weights (play counts, stars) are damped as `1 + ln(weight)`.
///
/// # Errors
/// [`Error::Population`] naming the file, line and field of the first malformed row, or a
/// missing `interactions.tsv`.
pub fn load_population_dir(
    dir: &Path,
    catalogue: &Catalogue,
    model: &ModelWeights,
) -> Result<Vec<PopulationProfile>> {
    let items_path = dir.join("items.tsv");
    let titles: HashMap<String, String> = if items_path.exists() {
        read_tsv(&items_path, &["item", "title", "tags"])?
            .into_iter()
            .filter(|(_, row)| !row[1].trim().is_empty())
            .map(|(_, row)| (row[0].clone(), row[1].clone()))
            .collect()
    } else {
        HashMap::new()
    };
    let interactions_path = dir.join("interactions.tsv");
    let mut per_user: BTreeMap<String, Vec<(usize, String, f32)>> = BTreeMap::new();
    for (line, row) in read_tsv(&interactions_path, &["user", "item", "weight", "timestamp"])? {
        let weight: f32 = row[2]
            .trim()
            .parse()
            .ok()
            .filter(|w: &f32| w.is_finite() && *w > 0.0)
            .ok_or_else(|| Error::Population {
                file: interactions_path.clone(),
                line,
                field: "weight",
                reason: format!("{:?} is not a number > 0", row[2]),
            })?;
        if let Some(title) = titles.get(&row[1]) {
            per_user.entry(row[0].clone()).or_default().push((
                line,
                title.clone(),
                1.0 + weight.ln().max(0.0),
            ));
        }
    }
    let mut population = Vec::with_capacity(per_user.len());
    for (user, rows) in per_user {
        let mut entries = Vec::with_capacity(rows.len());
        let mut skipped = Vec::new();
        for (line, title, weight) in rows {
            match parse_favourite_line(line, &title) {
                Ok(Some(entry)) => entries.push((line, entry, weight)),
                Ok(None) => {}
                Err(err) => skipped.push(SkippedLine {
                    line,
                    reason: err.to_string(),
                }),
            }
        }
        let Ok(profile) = profile_from_entries(catalogue, model, entries, skipped) else {
            continue;
        };
        let mut by_weight: Vec<_> = profile.items.iter().collect();
        by_weight.sort_by(|a, b| b.weight.total_cmp(&a.weight));
        let id: String = user
            .to_ascii_lowercase()
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(60)
            .collect();
        population.push(PopulationProfile {
            user_id: UserId::try_from(format!("ds-{id}"))?,
            upload: ProfileUpload {
                schema_version: PROFILE_SCHEMA_VERSION,
                model_version: model.version(),
                taste_vector: profile.taste_vector,
                card: PublicCard {
                    display_name: format!("user {}", user.chars().take(30).collect::<String>()),
                    traits: profile.traits,
                    public_favourites: by_weight
                        .iter()
                        .take(PUBLIC_FAVOURITES)
                        .map(|i| i.title.chars().take(120).collect())
                        .collect(),
                },
            },
        });
    }
    Ok(population)
}

/// Reads a TSV file whose header starts with `columns`; returns `(line, fields)` rows.
fn read_tsv(path: &Path, columns: &[&'static str]) -> Result<Vec<(usize, Vec<String>)>> {
    let fail = |line: usize, field: &'static str, reason: String| Error::Population {
        file: path.to_owned(),
        line,
        field,
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(0, "file", e.to_string()))?;
    let mut lines = text.lines().enumerate();
    let header: Vec<&str> = lines
        .next()
        .map(|(_, h)| h.trim_start_matches('\u{feff}').split('\t').collect())
        .unwrap_or_default();
    if header.len() < columns.len() || header.iter().zip(columns).any(|(h, c)| h != c) {
        return Err(fail(
            1,
            "header",
            format!("expected columns {}", columns.join(", ")),
        ));
    }
    let mut rows = Vec::new();
    for (index, line) in lines {
        if line.is_empty() {
            continue;
        }
        let fields: Vec<String> = line.split('\t').map(str::to_owned).collect();
        if fields.len() < columns.len() {
            let field = columns[fields.len().min(columns.len() - 1)];
            return Err(fail(
                index + 1,
                field,
                format!("missing: expected {} tab-separated fields", columns.len()),
            ));
        }
        rows.push((index + 1, fields));
    }
    Ok(rows)
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

    #[test]
    fn loads_a_tsv_dataset_and_names_bad_rows() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("items.tsv"),
            "item\ttitle\ttags\n1\tBlade Runner (1982)\tsci-fi\n2\tRadiohead\t\n3\t\t\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("interactions.tsv"),
            "user\titem\tweight\ttimestamp\n7\t1\t5\t\n7\t2\t120\t\n8\t3\t1\t\n",
        )
        .unwrap();
        let catalogue = Catalogue::embedded();
        let model = initial_model(catalogue, 1);
        let population = load_population_dir(dir.path(), catalogue, &model).unwrap();
        assert_eq!(population.len(), 1);
        assert_eq!(population[0].user_id.as_str(), "ds-7");
        assert_eq!(
            population[0].upload.card.public_favourites,
            ["Radiohead", "Blade Runner (1982)"]
        );

        std::fs::write(
            dir.path().join("interactions.tsv"),
            "user\titem\tweight\ttimestamp\n7\t1\tlots\t\n",
        )
        .unwrap();
        let err = load_population_dir(dir.path(), catalogue, &model)
            .unwrap_err()
            .to_string();
        assert!(
            err.ends_with("interactions.tsv:2: field weight: \"lots\" is not a number > 0"),
            "{err}"
        );
    }
}
