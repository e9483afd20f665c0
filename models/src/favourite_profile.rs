use std::collections::{BTreeMap, HashMap};

use mesh_shared::{
    CardTrait, FavouriteEntry, Intent, ItemHash, ItemKey, ItemKind, ModelWeights, PrivacyGrade,
    Signal, TasteVector, WeightedItem, parse_favourite_line, user_taste_vector,
};

use crate::{Catalogue, CatalogueItem, Result};

/// Most lines one typed list may hold.
const MAX_LINES: usize = 5000;
/// Most traits inferred for a card.
const MAX_TRAITS: usize = 5;
/// Weight of a typed favourite.
const TYPED_WEIGHT: f32 = 1.0;

/// One favourite after parsing and catalogue resolution. Stays on the device.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedFavourite {
    /// 1-based line in the typed list.
    pub line: usize,
    /// The title to show: the catalogue's when resolved, else as typed.
    pub title: String,
    /// The canonical key.
    pub key: ItemKey,
    /// The keyed hash of the key under the model's salt.
    pub hash: ItemHash,
    /// Whether the shipped catalogue knows the item (and so its genres).
    pub in_catalogue: bool,
    /// Enthusiasm weight.
    pub weight: f32,
}

/// A line that did not become a favourite, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedLine {
    /// 1-based line number.
    pub line: usize,
    /// Why it was skipped.
    pub reason: String,
}

/// Everything computed on the device from a typed favourites list.
#[derive(Debug, Clone, PartialEq)]
pub struct FavouriteProfile {
    /// The favourites, in list order, duplicates removed.
    pub items: Vec<ResolvedFavourite>,
    /// Lines that were not used.
    pub skipped: Vec<SkippedLine>,
    /// Readable traits inferred from catalogue genres, strongest first.
    pub traits: Vec<CardTrait>,
    /// The taste vector under `model`.
    pub taste_vector: TasteVector,
}

/// Parses a typed list (one favourite per line), resolves each line against the catalogue,
/// hashes it with the model's key and computes the traits and the taste vector.
///
/// Unreadable lines and duplicates are reported in [`FavouriteProfile::skipped`], not fatal.
///
/// # Errors
/// [`mesh_shared::Error::EmptyFavourites`] when no line holds a favourite, and
/// [`mesh_shared::Error::FavouriteLine`] when the list has more than 5000 lines.
pub fn resolve_favourites(
    catalogue: &Catalogue,
    model: &ModelWeights,
    text: &str,
) -> Result<FavouriteProfile> {
    let mut entries = Vec::new();
    let mut skipped = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = index + 1;
        if line > MAX_LINES {
            return Err(mesh_shared::Error::FavouriteLine {
                line,
                reason: format!("the list is longer than {MAX_LINES} lines"),
            }
            .into());
        }
        match parse_favourite_line(line, raw) {
            Ok(Some(entry)) => entries.push((line, entry, TYPED_WEIGHT)),
            Ok(None) => {}
            Err(err) => {
                skipped.push(SkippedLine {
                    line,
                    reason: strip_line_prefix(&err.to_string()),
                });
            }
        }
    }
    profile_from_entries(catalogue, model, entries, skipped)
}

/// Builds a profile from already parsed favourites, each with its line (or row) number and
/// enthusiasm weight; `skipped` carries lines the caller could not parse. Later duplicates of
/// an item are added to `skipped`.
///
/// # Errors
/// [`mesh_shared::Error::EmptyFavourites`] when no favourite remains, and
/// [`mesh_shared::Error::InvalidField`] for a weight that is not a finite number > 0.
pub fn profile_from_entries(
    catalogue: &Catalogue,
    model: &ModelWeights,
    entries: Vec<(usize, FavouriteEntry, f32)>,
    skipped: Vec<SkippedLine>,
) -> Result<FavouriteProfile> {
    let entries = entries
        .into_iter()
        .map(|(line, entry, weight)| (line, entry, weight, true))
        .collect();
    build_profile(catalogue, model, entries, skipped)
}

/// An entry: its line, what it names, its weight, and whether it may shape traits.
type ProfileEntry = (usize, FavouriteEntry, f32, bool);

/// Resolves, hashes and merges entries once; entries flagged `true` also shape the traits.
fn build_profile(
    catalogue: &Catalogue,
    model: &ModelWeights,
    entries: Vec<ProfileEntry>,
    skipped: Vec<SkippedLine>,
) -> Result<FavouriteProfile> {
    build_profile_with_content(catalogue, model, entries, skipped, |_| None, &[])
}

/// As [`build_profile`]; `content(i)` gives entry `i`'s content embedding. It is asked only
/// for items the model's content tower places (no learned row), so a device with a trained
/// model looks up few embeddings.
fn build_profile_with_content<'a>(
    catalogue: &Catalogue,
    model: &ModelWeights,
    entries: Vec<ProfileEntry>,
    mut skipped: Vec<SkippedLine>,
    content: impl Fn(usize) -> Option<&'a [f32]>,
    intents: &[Intent<'_>],
) -> Result<FavouriteProfile> {
    let hasher = model.hasher();
    let mut items: Vec<ResolvedFavourite> = Vec::new();
    let mut first_line_of: HashMap<ItemHash, (usize, usize)> = HashMap::new();
    // Per distinct item: its catalogue entry and the largest weight of the entries that may
    // shape traits.
    let mut known: Vec<Option<(&CatalogueItem, f32)>> = Vec::new();
    // Per distinct item: the entries naming it (for its content embedding).
    let mut entries_of: Vec<Vec<usize>> = Vec::new();
    for (index, (line, entry, weight, feeds_traits)) in entries.into_iter().enumerate() {
        let resolved = catalogue.resolve(&entry);
        let key = resolved.map_or_else(|| ItemKey::from_entry(&entry), |item| item.key().clone());
        let hash = hasher.hash(&key);
        if let Some(&(first, at)) = first_line_of.get(&hash) {
            let item: &mut ResolvedFavourite = &mut items[at];
            item.weight = item.weight.max(weight);
            entries_of[at].push(index);
            if feeds_traits && let Some(catalogue_item) = resolved {
                let previous = known[at].map_or(0.0, |(_, w)| w);
                known[at] = Some((catalogue_item, previous.max(weight)));
            }
            skipped.push(SkippedLine {
                line,
                reason: format!("duplicate of line {first}"),
            });
            continue;
        }
        first_line_of.insert(hash, (line, items.len()));
        known.push(resolved.filter(|_| feeds_traits).map(|item| (item, weight)));
        entries_of.push(vec![index]);
        items.push(ResolvedFavourite {
            line,
            title: resolved.map_or_else(|| entry.title.clone(), CatalogueItem::display_title),
            key,
            hash,
            in_catalogue: resolved.is_some(),
            weight,
        });
    }
    skipped.sort_by_key(|s| s.line);
    let weighted: Vec<WeightedItem> = items
        .iter()
        .zip(&entries_of)
        .map(|(i, indices)| {
            let placed_by_content = model.content_tower().is_some()
                && model
                    .row(i.hash.bucket(model.buckets()))
                    .iter()
                    .all(|x| *x == 0.0);
            WeightedItem {
                hash: i.hash,
                weight: i.weight,
                content: if placed_by_content {
                    indices.iter().find_map(|&e| content(e))
                } else {
                    None
                },
            }
        })
        .collect();
    let taste_vector = user_taste_vector(model, &weighted, intents)?;
    let known: Vec<(&CatalogueItem, f32)> = known.into_iter().flatten().collect();
    Ok(FavouriteProfile {
        items,
        skipped,
        traits: infer_traits(&known),
        taste_vector,
    })
}

/// Builds the profile of a device's signals: every signal feeds the taste vector with its
/// weight (the same item from two sources counts once, with the larger weight); traits come
/// only from signals graded public or limited (an item counts once, with the largest weight
/// of those), so a private signal never shapes the card. `content` gives a signal's content
/// embedding when the device has computed it; the model's content tower places an item without
/// a learned row by it, and the active `intents` through it (see
/// [`mesh_shared::user_taste_vector`]).
///
/// # Errors
/// [`mesh_shared::Error::EmptyFavourites`] when there are no signals;
/// [`mesh_shared::Error::InvalidField`] for a content embedding that is not a unit vector.
pub fn profile_from_signals<'a>(
    catalogue: &Catalogue,
    model: &ModelWeights,
    signals: &[Signal],
    content: impl Fn(&Signal) -> Option<&'a [f32]>,
    intents: &[Intent<'_>],
) -> Result<FavouriteProfile> {
    let entries = signals
        .iter()
        .enumerate()
        .map(|(i, signal)| {
            (
                i + 1,
                signal_entry(signal),
                signal.weight,
                signal.grade != PrivacyGrade::Private,
            )
        })
        .collect();
    build_profile_with_content(
        catalogue,
        model,
        entries,
        Vec::new(),
        |i| content(&signals[i]),
        intents,
    )
}

/// The key a signal counts under: the catalogue entry it names, if exactly one, else the key
/// it was imported with.
pub fn resolved_signal_key(catalogue: &Catalogue, signal: &Signal) -> ItemKey {
    catalogue
        .resolve(&signal_entry(signal))
        .map_or_else(|| signal.key.clone(), |item| item.key().clone())
}

/// The text the sentence encoder embeds for a signal: the catalogue entry's title, creator
/// and genres when the catalogue knows it, else the signal's own title (with its year) and
/// creator.
pub fn signal_content_text(catalogue: &Catalogue, signal: &Signal) -> String {
    match catalogue.resolve(&signal_entry(signal)) {
        Some(item) => {
            crate::content_text(&item.display_title(), item.creator.as_deref(), &item.genres)
        }
        None => {
            let title = match signal.year {
                Some(year) => format!("{} ({year})", signal.title),
                None => signal.title.clone(),
            };
            crate::content_text(&title, signal.creator.as_deref(), &[])
        }
    }
}

fn signal_entry(signal: &Signal) -> FavouriteEntry {
    FavouriteEntry {
        kind: (signal.key.kind() != ItemKind::Any).then_some(signal.key.kind()),
        title: signal.title.clone(),
        year: signal.year,
        creator: signal.creator.clone(),
    }
}

/// Readable traits from catalogue items and their weights: for each trait label, the share of
/// the total weight carried by items with that label, rounded to 0.05; the five strongest.
pub fn infer_traits(items: &[(&CatalogueItem, f32)]) -> Vec<CardTrait> {
    let total: f32 = items.iter().map(|(_, w)| w).sum();
    if total <= 0.0 {
        return Vec::new();
    }
    let mut by_label: BTreeMap<String, f32> = BTreeMap::new();
    for (item, weight) in items {
        for label in item.trait_labels() {
            *by_label.entry(label).or_default() += weight;
        }
    }
    let mut traits: Vec<CardTrait> = by_label
        .into_iter()
        .map(|(label, weight)| CardTrait {
            label,
            strength: round_to_twentieth(weight / total),
        })
        .filter(|t| t.strength > 0.0)
        .collect();
    traits.sort_by(|a, b| {
        b.strength
            .total_cmp(&a.strength)
            .then_with(|| a.label.cmp(&b.label))
    });
    traits.truncate(MAX_TRAITS);
    traits
}

fn round_to_twentieth(x: f32) -> f32 {
    ((x * 20.0).round() / 20.0).clamp(0.0, 1.0)
}

fn strip_line_prefix(message: &str) -> String {
    message
        .split_once(": ")
        .map_or(message, |(_, rest)| rest)
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::initial_model;

    #[test]
    fn reports_skips_and_duplicates_with_line_numbers() {
        let catalogue = Catalogue::embedded();
        let model = initial_model(catalogue, 1);
        let text = "Blade Runner (1982)\n\n(1999)\nblade runner\nSome Unknown Film (2003)\n";
        let profile = resolve_favourites(catalogue, &model, text).unwrap();
        let titles: Vec<_> = profile.items.iter().map(|i| i.title.as_str()).collect();
        assert_eq!(titles, ["Blade Runner (1982)", "Some Unknown Film"]);
        assert_eq!(
            profile.skipped,
            vec![
                SkippedLine {
                    line: 3,
                    reason: "no title: expected `Title (year) — creator`".into()
                },
                SkippedLine {
                    line: 4,
                    reason: "duplicate of line 1".into()
                },
            ]
        );
        assert_eq!(profile.traits[0].label, "sci-fi films");
        assert_eq!(profile.traits[0].strength, 1.0);
    }

    #[test]
    fn an_empty_list_is_an_error() {
        let catalogue = Catalogue::embedded();
        let model = initial_model(catalogue, 1);
        let err = resolve_favourites(catalogue, &model, "\n  \n# nothing\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the favourites list is empty: add at least one favourite"
        );
    }

    #[test]
    fn similar_lists_are_closer_than_different_ones() {
        let catalogue = Catalogue::embedded();
        let model = initial_model(catalogue, 1);
        let vector = |text: &str| {
            resolve_favourites(catalogue, &model, text)
                .unwrap()
                .taste_vector
        };
        let scifi_a = vector("Blade Runner\nThe Matrix\nAlien");
        let scifi_b = vector("Blade Runner\nThe Terminator\nAliens");
        let jazz = vector("Miles Davis\nJohn Coltrane\nThe Dave Brubeck Quartet");
        let near = mesh_shared::cosine(scifi_a.as_slice(), scifi_b.as_slice());
        let far = mesh_shared::cosine(scifi_a.as_slice(), jazz.as_slice());
        assert!(near > far + 0.2, "near {near}, far {far}");
    }
}
