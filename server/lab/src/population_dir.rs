//! A read-only population loaded from a dataset in the TSV layout of
//! `../shared/data/FORMAT.md`, for `mesh serve --population DIR`: each user's profile as their
//! device would publish it.
use std::path::Path;

use mesh_coordinator::{PUBLIC_FAVOURITES, PopulationProfile};
use mesh_models::{Catalogue, FavouriteProfile, profile_from_entries};
use mesh_shared::{
    ModelWeights, PROFILE_SCHEMA_VERSION, ProfileUpload, PublicCard, UserId, parse_favourite_line,
};

use crate::{Dataset, Result};

/// Loads a population from a dataset in the TSV layout of `shared/data/FORMAT.md`
/// ([`Dataset`]). Titles are resolved like typed favourites; items without a title are left
/// out, and so are users left with none. Weights (play counts, stars) are damped as
/// `1 + ln(weight)`.
///
/// # Errors
/// [`crate::Error::Dataset`] naming the file, line and column of the first malformed field, or a
/// missing `interactions.tsv`.
pub fn load_population_dir(
    dir: &Path,
    catalogue: &Catalogue,
    model: &ModelWeights,
) -> Result<Vec<PopulationProfile>> {
    let dataset = Dataset::load(dir)?;
    let mut population = Vec::with_capacity(dataset.users.len());
    for (index, user) in dataset.users.iter().enumerate() {
        let Some(profile) = dataset_profile(&dataset, index, catalogue, model) else {
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
                    activity: None,
                    tone: None,
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

/// The profile of dataset user `index` under `model`: titled items resolved like typed
/// favourites, weights damped as `1 + ln(weight)`. `None` when no item has a usable title.
pub(crate) fn dataset_profile(
    dataset: &Dataset,
    index: usize,
    catalogue: &Catalogue,
    model: &ModelWeights,
) -> Option<FavouriteProfile> {
    let entries = dataset.interactions[index]
        .iter()
        .enumerate()
        .filter_map(|(i, interaction)| {
            let title = &dataset.items.get(&interaction.item)?.title;
            let entry = parse_favourite_line(i + 1, title).ok().flatten()?;
            Some((i + 1, entry, 1.0 + interaction.weight.ln().max(0.0)))
        })
        .collect();
    profile_from_entries(catalogue, model, entries, Vec::new()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesh_models::initial_model;

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
            err.ends_with("interactions.tsv:2:3: field weight: \"lots\" is not a number > 0"),
            "{err}"
        );
    }
}
