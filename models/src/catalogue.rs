use std::collections::HashMap;
use std::sync::OnceLock;

use mesh_shared::{
    FavouriteEntry, ItemKey, ItemKind, canonical_person, canonical_title, fold_text,
};

use crate::{Error, Result};

const EMBEDDED_CATALOGUE: &str = include_str!("../catalogue/catalogue.tsv");
const HEADER: &str = "kind\ttitle\tyear\tcreator\tgenres";

/// One catalogue entry: a well-known film, book or artist with its genres.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueItem {
    /// Film, book or artist.
    pub kind: ItemKind,
    /// The usual English title.
    pub title: String,
    /// Release or publication year (films and books).
    pub year: Option<u16>,
    /// Director or author.
    pub creator: Option<String>,
    /// One to three genres from a fixed vocabulary per kind.
    pub genres: Vec<String>,
    key: ItemKey,
}

impl CatalogueItem {
    /// The canonical key favourites resolved to this entry hash to.
    pub fn key(&self) -> &ItemKey {
        &self.key
    }

    /// The readable trait labels of this item, e.g. `sci-fi films` or `jazz music`.
    pub fn trait_labels(&self) -> impl Iterator<Item = String> + '_ {
        self.genres
            .iter()
            .map(|genre| trait_label(self.kind, genre))
    }

    /// `Title (year)` for films and books, the name for artists.
    pub fn display_title(&self) -> String {
        match self.year {
            Some(year) => format!("{} ({year})", self.title),
            None => self.title.clone(),
        }
    }
}

/// The catalogue: entries plus an index by canonical title.
#[derive(Debug, Clone)]
pub struct Catalogue {
    items: Vec<CatalogueItem>,
    by_title: HashMap<String, Vec<usize>>,
}

impl Catalogue {
    /// The catalogue compiled into this build.
    pub fn embedded() -> &'static Catalogue {
        static CATALOGUE: OnceLock<Catalogue> = OnceLock::new();
        CATALOGUE.get_or_init(|| {
            // The embedded file is checked by `tests::embedded_catalogue_parses`.
            #[allow(clippy::expect_used)]
            Catalogue::parse(EMBEDDED_CATALOGUE).expect("the embedded catalogue is valid")
        })
    }

    /// Parses a catalogue in the TSV layout `kind title year creator genres`.
    ///
    /// # Errors
    /// [`Error::CatalogueRow`] naming the line and field of the first bad row.
    pub fn parse(text: &str) -> Result<Self> {
        let mut lines = text.lines().enumerate();
        match lines.next() {
            Some((_, header)) if header.trim_start_matches('\u{feff}') == HEADER => {}
            Some(_) | None => {
                return Err(Error::CatalogueRow {
                    line: 1,
                    field: "header",
                    reason: format!("expected `{}`", HEADER.replace('\t', "<TAB>")),
                });
            }
        }
        let mut items = Vec::new();
        for (index, line) in lines {
            if line.trim().is_empty() {
                continue;
            }
            items.push(parse_row(index + 1, line)?);
        }
        let mut by_title: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            by_title
                .entry(canonical_title(&item.title, item.kind))
                .or_default()
                .push(i);
        }
        Ok(Self { items, by_title })
    }

    /// All entries, in file order.
    pub fn items(&self) -> &[CatalogueItem] {
        &self.items
    }

    /// The single entry a typed favourite names, if exactly one matches its title and every
    /// part it gives (kind, creator, and year, except for entries marked as books, whose years
    /// are editions).
    /// Ambiguous or unknown titles resolve to `None`.
    pub fn resolve(&self, entry: &FavouriteEntry) -> Option<&CatalogueItem> {
        let candidates = self.by_title.get(&entry.canonical_title())?;
        let creator = entry.canonical_creator();
        let mut matches = candidates.iter().map(|&i| &self.items[i]).filter(|item| {
            entry.kind.is_none_or(|kind| kind == item.kind)
                && (entry.kind == Some(ItemKind::Book)
                    || entry.year.is_none_or(|year| item.year == Some(year)))
                && creator.as_ref().is_none_or(|c| {
                    item.creator
                        .as_deref()
                        .map(canonical_person)
                        .is_some_and(|ic| ic.contains(c.as_str()))
                })
        });
        let first = matches.next()?;
        matches.next().is_none().then_some(first)
    }
}

impl Catalogue {
    /// The key a typed favourite counts under: its catalogue entry's when it names exactly
    /// one, else the key of the entry as typed.
    pub fn key_of(&self, entry: &FavouriteEntry) -> ItemKey {
        self.resolve(entry)
            .map_or_else(|| ItemKey::from_entry(entry), |item| item.key().clone())
    }
}

/// The readable label of a genre of a kind of item.
fn trait_label(kind: ItemKind, genre: &str) -> String {
    match (kind, genre) {
        (ItemKind::Book, "classics") => "classic literature".to_owned(),
        (
            ItemKind::Book,
            "literary fiction" | "non-fiction" | "poetry" | "philosophy" | "history" | "science"
            | "biography",
        ) => genre.to_owned(),
        (ItemKind::Book, "young adult") => "young-adult books".to_owned(),
        (ItemKind::Book, _) => format!("{genre} books"),
        (ItemKind::Film, "documentary") => "documentaries".to_owned(),
        (ItemKind::Film, "animation") => "animated films".to_owned(),
        (ItemKind::Film, "musical") => "musicals".to_owned(),
        (ItemKind::Film, "western") => "westerns".to_owned(),
        (ItemKind::Film, _) => format!("{genre} films"),
        (ItemKind::Artist, "classical") => "classical music".to_owned(),
        (ItemKind::Artist, _) => format!("{genre} music"),
        (ItemKind::Any, _) => genre.to_owned(),
        (_, _) => genre.to_owned(),
    }
}

fn parse_row(line: usize, row: &str) -> Result<CatalogueItem> {
    let fail = |field: &'static str, reason: String| Error::CatalogueRow {
        line,
        field,
        reason,
    };
    let fields: Vec<&str> = row.split('\t').collect();
    let [kind, title, year, creator, genres] = fields.as_slice() else {
        return Err(fail(
            "row",
            format!("expected 5 tab-separated fields, got {}", fields.len()),
        ));
    };
    let kind = match *kind {
        "film" => ItemKind::Film,
        "book" => ItemKind::Book,
        "artist" => ItemKind::Artist,
        other => {
            return Err(fail(
                "kind",
                format!("{other:?} is not film, book or artist"),
            ));
        }
    };
    if fold_text(title).is_empty() {
        return Err(fail("title", "empty".to_owned()));
    }
    let year = match year.trim() {
        "" => None,
        text => Some(
            text.parse::<u16>()
                .map_err(|_| fail("year", format!("{text:?} is not a year")))?,
        ),
    };
    let creator = Some(creator.trim())
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    let genres: Vec<String> = genres
        .split('|')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect();
    if genres.is_empty() {
        return Err(fail("genres", "no genre".to_owned()));
    }
    let key = ItemKey::new(kind, title, year, creator.as_deref());
    Ok(CatalogueItem {
        kind,
        title: (*title).to_owned(),
        year,
        creator,
        genres,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesh_shared::parse_favourite_line;
    use rstest::rstest;

    fn resolve(line: &str) -> Option<String> {
        let entry = parse_favourite_line(1, line).unwrap().unwrap();
        Catalogue::embedded()
            .resolve(&entry)
            .map(CatalogueItem::display_title)
    }

    #[test]
    fn embedded_catalogue_parses() {
        let catalogue = Catalogue::embedded();
        assert!(
            catalogue.items().len() >= 300,
            "{}",
            catalogue.items().len()
        );
    }

    #[rstest]
    #[case("Blade Runner", Some("Blade Runner (1982)"))]
    #[case("blade runner (1982)", Some("Blade Runner (1982)"))]
    #[case("Matrix, The (1999)", Some("The Matrix (1999)"))]
    #[case("book: Dune", Some("Dune (1965)"))]
    #[case("Dune (2021)", Some("Dune (2021)"))]
    #[case("Dune", None)]
    #[case("Blade Runner (1990)", None)]
    #[case("A film nobody has heard of", None)]
    #[case("radiohead", Some("Radiohead"))]
    fn resolves_typed_favourites(#[case] line: &str, #[case] expected: Option<&str>) {
        assert_eq!(resolve(line).as_deref(), expected);
    }

    #[test]
    fn bad_rows_name_line_and_field() {
        let text = format!("{HEADER}\nfilm\tAlien\t1979\tRidley Scott\tsci-fi\nsong\tX\t\t\tpop\n");
        let err = Catalogue::parse(&text).unwrap_err();
        assert_eq!(
            err.to_string(),
            "catalogue line 3, field kind: \"song\" is not film, book or artist"
        );
        let err = Catalogue::parse("nope").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("catalogue line 1, field header")
        );
    }
}
