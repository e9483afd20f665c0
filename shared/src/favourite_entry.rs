use unicode_normalization::UnicodeNormalization;

use crate::canonical_text::move_trailing_article;
use crate::{Error, ItemKind, Result, canonical_person, canonical_title, fold_text};

/// Longest favourite line accepted, in characters.
const MAX_LINE_CHARS: usize = 300;

/// One favourite as typed by the user: `[kind:] Title [(year)] [— creator]`.
///
/// Never leaves the device: only its keyed hash does, inside the taste vector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FavouriteEntry {
    /// Explicit kind from a `film:`, `book:` or `artist:` prefix, if any.
    pub kind: Option<ItemKind>,
    /// The title for display: trimmed, with a trailing `, The` moved to the front.
    pub title: String,
    /// A release year given as a trailing `(1982)`.
    pub year: Option<u16>,
    /// A creator given after an em dash, en dash or `--`.
    pub creator: Option<String>,
}

impl FavouriteEntry {
    /// The title folded to the form used in item keys (see [`canonical_title`]).
    pub fn canonical_title(&self) -> String {
        canonical_title(&self.title, self.kind.unwrap_or(ItemKind::Any))
    }

    /// The creator folded like a person's name, if one was given.
    pub fn canonical_creator(&self) -> Option<String> {
        self.creator
            .as_deref()
            .map(canonical_person)
            .filter(|c| !c.is_empty())
    }
}

/// Parses one line of a typed favourites list. `line_no` is 1-based and only used in errors.
///
/// Returns `Ok(None)` for blank lines and `#` comments.
///
/// # Errors
/// [`Error::FavouriteLine`] when the line is too long or holds no title.
pub fn parse_favourite_line(line_no: usize, line: &str) -> Result<Option<FavouriteEntry>> {
    // ASCII text is already in NFKC.
    let normalised: String = if line.is_ascii() {
        line.to_owned()
    } else {
        line.nfkc().collect()
    };
    let line = normalised.trim_start_matches('\u{feff}').trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let fail = |reason: &str| Error::FavouriteLine {
        line: line_no,
        reason: reason.to_owned(),
    };
    if line.chars().count() > MAX_LINE_CHARS {
        return Err(fail(&format!("longer than {MAX_LINE_CHARS} characters")));
    }
    if line.chars().any(char::is_control) {
        return Err(fail("contains a control character"));
    }

    let (kind, rest) = split_kind_prefix(line);
    let (title_part, creator) = split_creator(rest);
    let (title, year) = split_year(title_part);
    let title = move_trailing_article(title.trim());
    if fold_text(&title).is_empty() {
        return Err(fail("no title: expected `Title (year) — creator`"));
    }
    Ok(Some(FavouriteEntry {
        kind,
        title,
        year,
        creator,
    }))
}

fn split_kind_prefix(line: &str) -> (Option<ItemKind>, &str) {
    if let Some((prefix, rest)) = line.split_once(':')
        && let Some(kind) = ItemKind::from_prefix(prefix.trim())
    {
        return (Some(kind), rest.trim());
    }
    (None, line)
}

fn split_creator(rest: &str) -> (&str, Option<String>) {
    for separator in [" \u{2014} ", " \u{2013} ", " -- ", "\u{2014}"] {
        if let Some((title, creator)) = rest.split_once(separator) {
            let creator = creator.trim();
            return (
                title.trim(),
                (!creator.is_empty()).then(|| creator.to_owned()),
            );
        }
    }
    (rest, None)
}

fn split_year(title: &str) -> (&str, Option<u16>) {
    let trimmed = title.trim_end();
    for (open_char, close_char) in [('(', ')'), ('[', ']')] {
        if let Some(open) = trimmed.rfind(open_char) {
            let inside = trimmed[open + 1..].strip_suffix(close_char).unwrap_or("");
            if inside.len() == 4
                && inside.bytes().all(|b| b.is_ascii_digit())
                && let Ok(year) = inside.parse::<u16>()
                && (1000..=2999).contains(&year)
            {
                return (trimmed[..open].trim_end(), Some(year));
            }
        }
    }
    (trimmed, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    #[test]
    fn trivial() {
        let entry = parse_favourite_line(1, "Blade Runner (1982)")
            .unwrap()
            .unwrap();
        assert_eq!(entry.title, "Blade Runner");
        assert_eq!(entry.year, Some(1982));
        assert_eq!(entry.kind, None);
        assert_eq!(entry.creator, None);
    }

    #[rstest]
    #[case("Matrix, The (1999)", "The Matrix", Some(1999), None, None)]
    #[case(
        "book: Dune — Frank Herbert",
        "Dune",
        None,
        Some("Frank Herbert"),
        Some(ItemKind::Book)
    )]
    #[case(
        "film: Alien (1979) -- Ridley Scott",
        "Alien",
        Some(1979),
        Some("Ridley Scott"),
        Some(ItemKind::Film)
    )]
    #[case(
        "Star Wars: Episode IV (1977)",
        "Star Wars: Episode IV",
        Some(1977),
        None,
        None
    )]
    #[case("\u{feff}  Radiohead  ", "Radiohead", None, None, None)]
    #[case("Blade Runner 2049", "Blade Runner 2049", None, None, None)]
    fn parses_the_parts(
        #[case] line: &str,
        #[case] title: &str,
        #[case] year: Option<u16>,
        #[case] creator: Option<&str>,
        #[case] kind: Option<ItemKind>,
    ) {
        let entry = parse_favourite_line(3, line).unwrap().unwrap();
        assert_eq!(entry.title, title);
        assert_eq!(entry.year, year);
        assert_eq!(entry.creator.as_deref(), creator);
        assert_eq!(entry.kind, kind);
    }

    #[rstest]
    #[case("", true)]
    #[case("   ", true)]
    #[case("# my list", true)]
    fn skips_blank_and_comments(#[case] line: &str, #[case] skipped: bool) {
        assert_eq!(parse_favourite_line(1, line).unwrap().is_none(), skipped);
    }

    #[test]
    fn rejects_lines_without_a_title_naming_the_line() {
        let err = parse_favourite_line(7, "(1982)").unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 7: no title: expected `Title (year) — creator`"
        );
        let long = "x".repeat(301);
        assert!(
            parse_favourite_line(2, &long)
                .unwrap_err()
                .to_string()
                .starts_with("line 2:")
        );
    }

    #[rstest]
    #[case("The Matrix", "matrix")]
    #[case("Matrix, The", "matrix")]
    #[case("AMÉLIE", "amelie")]
    #[case("Schindler's List", "schindlers list")]
    #[case("Simon & Garfunkel", "simon and garfunkel")]
    #[case("ｆｕｌｌｗｉｄｔｈ", "fullwidth")]
    #[case("The The", "the")]
    fn folds_titles(#[case] title: &str, #[case] folded: &str) {
        assert_eq!(canonical_title(title, ItemKind::Any), folded);
    }

    proptest! {
        #[test]
        fn parsing_never_panics(line in "\\PC{0,120}") {
            let _ = parse_favourite_line(1, &line);
        }
    }
}
