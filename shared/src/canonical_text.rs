//! Text folding for canonical keys: Unicode compatibility normalisation, case folding,
//! diacritics, punctuation, English articles, and edition / qualifier stripping.
use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};

use crate::ItemKind;

/// Words that mark a bracketed or dash-separated title segment as an edition or version
/// qualifier rather than part of the title ("(Remastered 2011)", "- Live at Wembley",
/// "[Director's Cut]").
const QUALIFIER_WORDS: &[&str] = &[
    "remaster",
    "remastered",
    "remasterd",
    "deluxe",
    "expanded",
    "anniversary",
    "edition",
    "version",
    "unrated",
    "extended",
    "live",
    "mono",
    "stereo",
    "edit",
    "bonus",
    "feat",
    "ft",
    "featuring",
    "imax",
    "restored",
    "uncut",
    "theatrical",
    "redux",
    "acoustic",
    "demo",
    "single",
    "reissue",
    "explicit",
    "clean",
    "instrumental",
    "aka",
];
/// Two-word qualifiers that would be too broad one word at a time.
const QUALIFIER_PHRASES: &[&str] = &[
    "final cut",
    "directors cut",
    "director s cut",
    "ultimate cut",
    "special edition",
    "collectors edition",
    "criterion collection",
    "radio edit",
    "bonus track",
];

/// Folds a title for matching: qualifiers stripped (see [`strip_qualifiers`]), then
/// [`fold_text`].
///
/// The result is a fixed point: folding it again changes nothing.
pub fn canonical_title(title: &str, kind: ItemKind) -> String {
    let mut current = title.to_owned();
    // Every pass after the first only removes text, so this settles within a few passes.
    for _ in 0..16 {
        let stripped = fold_text(&move_trailing_article(&strip_qualifiers(&current, kind)));
        let next = if stripped.is_empty() {
            fold_text(&current)
        } else {
            stripped
        };
        // On folded ASCII text (lower-case words and single spaces) the only rule that can
        // still fire is a " featuring …" tail; without one, `next` is already a fixed point.
        // Other text (lower-casing can emit combining marks) takes another pass.
        if next == current || (next.is_ascii() && !next.contains(" featuring ")) {
            return next;
        }
        current = next;
    }
    current
}

/// Unicode NFKC-compatible folding: NFKD with combining marks (diacritics) removed, lower
/// case (with `ß` as `ss`), `&` as `and`, apostrophes removed, other punctuation as spaces,
/// whitespace collapsed, and a leading or trailing English article dropped.
pub fn fold_text(text: &str) -> String {
    // ASCII has no decompositions and no combining marks: skip the normalisation.
    let folded = if text.is_ascii() {
        fold_chars(text.len(), text.chars())
    } else {
        fold_chars(text.len(), text.nfkd().filter(|c| !is_combining_mark(*c)))
    };
    let mut words: Vec<&str> = folded.split_whitespace().collect();
    while words.len() > 1 && matches!(words.last(), Some(&("the" | "a" | "an"))) {
        words.pop();
    }
    while words.len() > 1 && matches!(words.first(), Some(&("the" | "a" | "an"))) {
        words.remove(0);
    }
    words.join(" ")
}

/// Folds decomposed characters without combining marks: see [`fold_text`].
fn fold_chars(capacity: usize, chars: impl Iterator<Item = char>) -> String {
    let mut folded = String::with_capacity(capacity);
    let mut previous_alnum = false;
    let mut chars = chars.peekable();
    while let Some(c) = chars.next() {
        let next_alnum = chars.peek().is_some_and(|n| n.is_alphanumeric());
        match c {
            '&' => folded.push_str(" and "),
            '\'' | '\u{2019}' | '\u{2018}' | '`' | '\u{00b4}' => {}
            // "AC/DC", "R.E.M." and "L.A." fold like "ACDC", "REM" and "LA".
            '.' | '/' if previous_alnum && next_alnum => {}
            '.' if previous_alnum => {}
            c if c.is_ascii_alphanumeric() => folded.push(c.to_ascii_lowercase()),
            c if c.is_alphanumeric() => {
                let lower = c.to_lowercase().nfkd().filter(|l| !is_combining_mark(*l));
                for l in lower {
                    push_letter(&mut folded, l);
                }
            }
            _ => folded.push(' '),
        }
        previous_alnum = c.is_alphanumeric();
    }
    folded
}

/// Appends a lower-case letter, spelling out letters that have no decomposition.
fn push_letter(out: &mut String, letter: char) {
    match letter {
        'ß' => out.push_str("ss"),
        'ł' => out.push('l'),
        'ø' => out.push('o'),
        'đ' => out.push('d'),
        'ħ' => out.push('h'),
        'ı' => out.push('i'),
        'æ' => out.push_str("ae"),
        'œ' => out.push_str("oe"),
        'þ' => out.push_str("th"),
        other => out.push(other),
    }
}

/// An author's name reduced to surname and first initial, so that "J.R.R. Tolkien",
/// "J. R. R. Tolkien" and "Tolkien, J.R.R." agree, and so do "Mary Shelley" and
/// "Mary Wollstonecraft Shelley", while "Frank Herbert" and "Brian Herbert" stay apart.
/// Generational suffixes (Jr., Sr., II, III) are dropped.
pub fn canonical_person(name: &str) -> String {
    let reordered = match name.split_once(',') {
        Some((last, first)) if !first.trim().is_empty() && !name.contains('&') => {
            format!("{} {}", first.trim(), last.trim())
        }
        Some(_) | None => name.to_owned(),
    };
    let spaced = reordered.replace('.', ". ");
    let folded = fold_text(&spaced);
    let words: Vec<&str> = folded
        .split(' ')
        .filter(|w| !w.is_empty() && !matches!(*w, "jr" | "sr" | "ii" | "iii" | "iv"))
        .collect();
    match (words.first(), words.last()) {
        (Some(first), Some(last)) if words.len() > 1 => {
            let initial: String = first.chars().take(1).collect();
            format!("{last} {initial}")
        }
        (Some(only), _) => (*only).to_owned(),
        (None, _) => folded,
    }
}

/// An artist's name as part of an album or track key: folded like a title, with a
/// "feat. …" tail dropped.
pub fn canonical_artist(name: &str) -> String {
    canonical_title(name, ItemKind::Artist)
}

/// Moves a trailing article written after a comma to the front, as catalogues and MovieLens
/// write titles: "Matrix, The" → "The Matrix", "Misérables, Les" → "Les Misérables".
pub(crate) fn move_trailing_article(title: &str) -> String {
    const ARTICLES: &[&str] = &[
        "The", "A", "An", "Le", "La", "Les", "L'", "Der", "Die", "Das", "El", "Los", "Las", "Il",
        "Lo", "Gli", "De", "Het", "Een",
    ];
    if let Some((head, tail)) = title.rsplit_once(", ") {
        let tail = tail.trim();
        if let Some(article) = ARTICLES.iter().find(|a| a.eq_ignore_ascii_case(tail)) {
            let separator = if article.ends_with('\'') { "" } else { " " };
            return format!("{article}{separator}{}", head.trim());
        }
    }
    title.to_owned()
}

/// Removes edition and version qualifiers from a title: bracketed groups `(…)`/`[…]` whose
/// words are qualifiers (or a year, or a book series like `(Dune #1)`), a trailing
/// ` - …` or `: …` segment that is a qualifier, and an unbracketed `feat. …` tail. For films,
/// every trailing bracketed group goes (MovieLens writes alternative titles there).
pub fn strip_qualifiers(title: &str, kind: ItemKind) -> String {
    let mut text = title.trim().to_owned();
    loop {
        let before = text.clone();
        text = strip_trailing_group(&text, kind);
        text = strip_dash_suffix(&text);
        text = strip_feat_tail(&text);
        if text == before {
            return text;
        }
    }
}

fn strip_trailing_group(text: &str, kind: ItemKind) -> String {
    let trimmed = text.trim_end();
    let Some(close) = trimmed.chars().last().filter(|c| *c == ')' || *c == ']') else {
        return trimmed.to_owned();
    };
    let open_char = if close == ')' { '(' } else { '[' };
    let Some(open) = trimmed.rfind(open_char) else {
        return trimmed.to_owned();
    };
    if open == 0 {
        return trimmed.to_owned();
    }
    let inside = &trimmed[open + 1..trimmed.len() - 1];
    let is_series = inside.contains('#');
    let strip = is_series || is_year(inside) || is_qualifier(inside) || kind == ItemKind::Film;
    if strip {
        trimmed[..open].trim_end().to_owned()
    } else {
        trimmed.to_owned()
    }
}

fn strip_dash_suffix(text: &str) -> String {
    for separator in [" - ", " \u{2013} ", " \u{2014} ", ": "] {
        if let Some(at) = text.rfind(separator) {
            let (head, tail) = (&text[..at], &text[at + separator.len()..]);
            if !head.trim().is_empty() && (is_qualifier(tail) || is_year(tail)) {
                return head.trim_end().to_owned();
            }
        }
    }
    text.to_owned()
}

fn strip_feat_tail(text: &str) -> String {
    let lower = text.to_lowercase();
    if !(lower.contains("feat") || lower.contains("ft.") || lower.contains("(with ")) {
        return text.to_owned();
    }
    for open in ["(feat", "[feat", "(ft.", "[ft.", "(with "] {
        if let Some(at) = lower.find(open)
            && at > 0
            && text.is_char_boundary(at)
        {
            let close = if open.starts_with('(') { ')' } else { ']' };
            if let Some(end) = text[at..].find(close) {
                return format!(
                    "{} {}",
                    text[..at].trim_end(),
                    text[at + end + 1..].trim_start()
                )
                .trim()
                .to_owned();
            }
        }
    }
    for marker in [" feat. ", " ft. ", " featuring "] {
        if let Some(at) = lower.find(marker)
            && at > 0
            && text.is_char_boundary(at)
        {
            return text[..at].trim_end().to_owned();
        }
    }
    text.to_owned()
}

fn is_year(segment: &str) -> bool {
    let s = segment.trim();
    s.len() == 4 && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_qualifier(segment: &str) -> bool {
    let folded = fold_text(segment);
    if folded.is_empty() {
        return false;
    }
    let words: Vec<&str> = folded.split(' ').collect();
    QUALIFIER_PHRASES.iter().any(|p| folded.contains(p))
        || words.first().is_some_and(|w| QUALIFIER_WORDS.contains(w))
        || words.iter().filter(|w| QUALIFIER_WORDS.contains(w)).count() * 2 >= words.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    #[test]
    fn trivial() {
        assert_eq!(canonical_title("The Matrix", ItemKind::Film), "matrix");
    }

    #[rstest]
    #[case("Blade Runner (Final Cut)", ItemKind::Film, "blade runner")]
    #[case("Blade Runner: The Final Cut", ItemKind::Film, "blade runner")]
    #[case("Blade Runner [Director's Cut]", ItemKind::Any, "blade runner")]
    #[case(
        "Amélie (Fabuleux destin d'Amélie Poulain, Le)",
        ItemKind::Film,
        "amelie"
    )]
    #[case(
        "Here Comes the Sun - Remastered 2019",
        ItemKind::Track,
        "here comes the sun"
    )]
    #[case("Yesterday (Remastered 2009)", ItemKind::Track, "yesterday")]
    #[case("Get Lucky (feat. Pharrell Williams)", ItemKind::Track, "get lucky")]
    #[case("Get Lucky feat. Pharrell Williams", ItemKind::Track, "get lucky")]
    #[case("Numb - Live at Wembley", ItemKind::Track, "numb")]
    #[case("Live and Let Die", ItemKind::Track, "live and let die")]
    #[case("The Final Cut", ItemKind::Album, "final cut")]
    #[case("Dune (Dune #1)", ItemKind::Book, "dune")]
    #[case(
        "Mission: Impossible - Fallout",
        ItemKind::Film,
        "mission impossible fallout"
    )]
    #[case("(500) Days of Summer", ItemKind::Film, "500 days of summer")]
    #[case("Abbey Road (Super Deluxe Edition)", ItemKind::Album, "abbey road")]
    fn strips_qualifiers(#[case] title: &str, #[case] kind: ItemKind, #[case] expected: &str) {
        assert_eq!(canonical_title(title, kind), expected);
    }

    #[rstest]
    #[case("J.R.R. Tolkien", "tolkien j")]
    #[case("J. R. R. Tolkien", "tolkien j")]
    #[case("Tolkien, J.R.R.", "tolkien j")]
    #[case("Le Guin, Ursula K.", "guin u")]
    #[case("Ursula K. Le Guin", "guin u")]
    #[case("Frank Herbert", "herbert f")]
    #[case("Vonnegut Jr., Kurt", "vonnegut k")]
    #[case("Homer", "homer")]
    fn folds_people(#[case] name: &str, #[case] expected: &str) {
        assert_eq!(canonical_person(name), expected);
    }

    proptest! {
        #[test]
        fn folding_is_idempotent(text in "\\PC{0,40}") {
            let once = fold_text(&text);
            prop_assert_eq!(fold_text(&once), once.clone());
        }

        #[test]
        fn canonical_titles_are_idempotent(text in "\\PC{0,40}") {
            for kind in [ItemKind::Film, ItemKind::Track, ItemKind::Book] {
                let once = canonical_title(&text, kind);
                prop_assert_eq!(canonical_title(&once, kind), once.clone());
            }
        }
    }
}
