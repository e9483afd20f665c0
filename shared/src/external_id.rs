//! External identifiers found in exports, normalised so that different spellings of one id
//! compare equal: ISBN-10/13, IMDb `tt` ids, MusicBrainz MBIDs, Spotify URIs and GitHub
//! repositories.
use serde::{Deserialize, Serialize};

/// A validated, normalised external id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "scheme", content = "id", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ExternalId {
    /// An ISBN-13 (ISBN-10s are converted), 13 digits.
    Isbn(String),
    /// An IMDb title id, `tt` followed by digits.
    Imdb(String),
    /// A MusicBrainz id, lower-case hyphenated UUID.
    Mbid(String),
    /// A Spotify URI, `spotify:{track|album|artist}:{base62 id}`.
    Spotify(String),
    /// A GitHub repository, lower-case `owner/name`.
    GitHub(String),
}

impl ExternalId {
    /// An ISBN-10 or ISBN-13 with or without hyphens, spaces, an `ISBN-13:` prefix or
    /// Goodreads' `="…"` quoting, checked by its check digit; ISBN-10s become ISBN-13s.
    pub fn isbn(text: &str) -> Option<Self> {
        let compact: String = text
            .chars()
            .filter(|c| !matches!(c, '-' | ' ' | '=' | '"'))
            .collect::<String>()
            .to_ascii_uppercase();
        let digits = match compact.strip_prefix("ISBN") {
            Some(rest) => {
                let rest = match rest.strip_prefix("13").or_else(|| rest.strip_prefix("10")) {
                    Some(after) if after.starts_with(':') => after,
                    Some(_) | None => rest,
                };
                rest.trim_start_matches(':')
            }
            None => compact.as_str(),
        };
        match digits.len() {
            10 => isbn10_to_13(digits).map(Self::Isbn),
            13 if digits.bytes().all(|b| b.is_ascii_digit()) && isbn13_valid(digits) => {
                Some(Self::Isbn(digits.to_owned()))
            }
            _ => None,
        }
    }

    /// An IMDb id as `tt0083658`, bare digits (`0083658`, as movielens.org exports it) or an
    /// `imdb.com/title/tt…` URL, any case.
    pub fn imdb(text: &str) -> Option<Self> {
        let lower = text.trim().to_ascii_lowercase();
        if (7..=10).contains(&lower.len()) && lower.bytes().all(|b| b.is_ascii_digit()) {
            return Some(Self::Imdb(format!("tt{lower}")));
        }
        let start = lower
            .match_indices("tt")
            .map(|(at, _)| at)
            .find(|at| lower[at + 2..].starts_with(|c: char| c.is_ascii_digit()))?;
        let digits: String = lower[start + 2..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        (digits.len() >= 7 && digits.len() <= 10).then(|| Self::Imdb(format!("tt{digits}")))
    }

    /// A MusicBrainz id (a UUID, with or without hyphens) in any case, optionally inside a
    /// musicbrainz.org URL.
    pub fn mbid(text: &str) -> Option<Self> {
        let lower = text.trim().to_ascii_lowercase();
        let candidate = lower.rsplit('/').next().unwrap_or(&lower);
        let all_hex = |s: &str| s.bytes().all(|b| b.is_ascii_hexdigit());
        let hyphenated = if candidate.len() == 32 && all_hex(candidate) {
            format!(
                "{}-{}-{}-{}-{}",
                &candidate[..8],
                &candidate[8..12],
                &candidate[12..16],
                &candidate[16..20],
                &candidate[20..]
            )
        } else {
            candidate.to_owned()
        };
        let groups: Vec<&str> = hyphenated.split('-').collect();
        let shape_ok = groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
            && groups.iter().all(|g| all_hex(g));
        shape_ok.then(|| Self::Mbid(hyphenated.clone()))
    }

    /// A Spotify URI (`spotify:track:…`) or `open.spotify.com/track/…?si=…` URL. Spotify ids
    /// are case-sensitive and kept as they are.
    pub fn spotify(text: &str) -> Option<Self> {
        let text = text.trim();
        let (kind, id) = if let Some(rest) = text.strip_prefix("spotify:") {
            rest.split_once(':')?
        } else {
            let after_host = text.split("open.spotify.com/").nth(1)?;
            let path = after_host.split(['?', '#']).next()?;
            let path = path
                .strip_prefix("intl-")
                .map_or(path, |p| p.split_once('/').map_or(p, |(_, r)| r));
            path.split_once('/')?
        };
        let valid_kind = matches!(
            kind,
            "track" | "album" | "artist" | "playlist" | "episode" | "show"
        );
        let valid_id = id.len() == 22 && id.bytes().all(|b| b.is_ascii_alphanumeric());
        (valid_kind && valid_id).then(|| Self::Spotify(format!("spotify:{kind}:{id}")))
    }

    /// A GitHub repository as `owner/name`, an https or ssh clone URL, or a web URL (which
    /// may go on below the repository, `/tree/main/src`, or carry a query).
    pub fn github(text: &str) -> Option<Self> {
        let text = text.trim().trim_end_matches('/');
        let url_path = github_url_path(text);
        let path = match url_path {
            Some(path) => path.split(['?', '#']).next().unwrap_or(path),
            None => text,
        };
        let mut parts = path.split('/');
        let (owner, name) = (parts.next()?, parts.next()?);
        if url_path.is_none() && parts.next().is_some() {
            return None;
        }
        let name = name.strip_suffix(".git").unwrap_or(name);
        // GitHub logins are letters, digits and hyphens; repository names may also hold `_`
        // and `.`.
        let valid_owner = !owner.is_empty()
            && owner.len() <= 39
            && owner
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        let valid_name = !name.is_empty()
            && name.len() <= 100
            && name != "."
            && name != ".."
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        (valid_owner && valid_name).then(|| {
            Self::GitHub(format!(
                "{}/{}",
                owner.to_ascii_lowercase(),
                name.to_ascii_lowercase()
            ))
        })
    }

    /// The normalised id text.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Isbn(s) | Self::Imdb(s) | Self::Mbid(s) | Self::Spotify(s) | Self::GitHub(s) => s,
        }
    }
}

/// The path after the host of a GitHub URL (`https://github.com/…`, `http://www.github.com/…`,
/// `github.com/…`, `git@github.com:…`, `ssh://git@github.com/…`), the host matched exactly and
/// case-insensitively.
fn github_url_path(text: &str) -> Option<&str> {
    let lower = text.to_ascii_lowercase();
    for prefix in [
        "git@github.com:",
        "ssh://git@github.com/",
        "git://github.com/",
    ] {
        if lower.starts_with(prefix) {
            return text.get(prefix.len()..);
        }
    }
    let without_scheme = ["https://", "http://"]
        .iter()
        .find(|s| lower.starts_with(*s))
        .map_or(0, |s| s.len());
    let rest = &lower[without_scheme..];
    let host_start = without_scheme + if rest.starts_with("www.") { 4 } else { 0 };
    lower[host_start..]
        .starts_with("github.com/")
        .then(|| text.get(host_start + "github.com/".len()..))
        .flatten()
}

fn isbn13_valid(digits: &str) -> bool {
    let sum: u32 = digits
        .bytes()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    sum.is_multiple_of(10)
}

fn isbn10_to_13(chars: &str) -> Option<String> {
    let bytes = chars.as_bytes();
    let mut sum = 0u32;
    for (i, b) in bytes.iter().enumerate() {
        let value = match b {
            b'0'..=b'9' => u32::from(b - b'0'),
            b'X' if i == 9 => 10,
            _ => return None,
        };
        sum += value * (10 - i as u32);
    }
    if !sum.is_multiple_of(11) {
        return None;
    }
    let body = format!("978{}", &chars[..9]);
    let partial: u32 = body
        .bytes()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    Some(format!("{body}{}", (10 - partial % 10) % 10))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rstest::rstest;

    #[test]
    fn trivial() {
        assert_eq!(
            ExternalId::isbn("0441013597"),
            ExternalId::isbn("978-0-441-01359-3")
        );
        assert_eq!(
            ExternalId::isbn("0441013597").unwrap().as_str(),
            "9780441013593"
        );
    }

    #[rstest]
    #[case("=\"0441013597\"", Some("9780441013593"))]
    #[case("=\"\"", None)]
    #[case("0441013598", None)]
    #[case("9780441013594", None)]
    #[case("080442957X", Some("9780804429573"))]
    fn reads_isbns(#[case] text: &str, #[case] expected: Option<&str>) {
        assert_eq!(
            ExternalId::isbn(text).as_ref().map(ExternalId::as_str),
            expected
        );
    }

    #[rstest]
    #[case("https://www.imdb.com/title/tt0083658/", "tt0083658")]
    #[case("TT0083658", "tt0083658")]
    fn reads_imdb_ids(#[case] text: &str, #[case] expected: &str) {
        assert_eq!(ExternalId::imdb(text).unwrap().as_str(), expected);
    }

    #[rstest]
    #[case(
        "https://open.spotify.com/track/4uLU6hMCjMI75M1A2tKUQC?si=abc",
        "spotify:track:4uLU6hMCjMI75M1A2tKUQC"
    )]
    #[case(
        "spotify:track:4uLU6hMCjMI75M1A2tKUQC",
        "spotify:track:4uLU6hMCjMI75M1A2tKUQC"
    )]
    fn reads_spotify_uris(#[case] text: &str, #[case] expected: &str) {
        assert_eq!(ExternalId::spotify(text).unwrap().as_str(), expected);
    }

    #[rstest]
    #[case("rust-lang/rust")]
    #[case("https://github.com/Rust-Lang/Rust")]
    #[case("git@github.com:rust-lang/rust.git")]
    #[case("https://github.com/rust-lang/rust.git")]
    #[case("HTTPS://WWW.GitHub.com/rust-lang/rust/tree/master?tab=1")]
    #[case("ssh://git@github.com/rust-lang/rust.git")]
    fn reads_github_repos(#[case] text: &str) {
        assert_eq!(ExternalId::github(text).unwrap().as_str(), "rust-lang/rust");
    }

    /// Found by the `canonical_key` fuzz target: a host that only contains "github.com".
    #[rstest]
    #[case("ThegiThub.com/r")]
    #[case("https://notgithub.com/a/b")]
    #[case("owner.with.dots/repo")]
    fn refuses_what_is_not_a_repository(#[case] text: &str) {
        assert_eq!(ExternalId::github(text), None);
    }

    #[test]
    fn reads_mbids_in_any_case() {
        let upper = ExternalId::mbid("B10BBBFC-CF9E-42E0-BE17-E2C3E1D2600D").unwrap();
        assert_eq!(upper.as_str(), "b10bbbfc-cf9e-42e0-be17-e2c3e1d2600d");
        assert!(ExternalId::mbid("not-a-uuid").is_none());
    }

    proptest! {
        #[test]
        fn every_isbn10_with_a_valid_check_digit_maps_to_a_valid_isbn13(body in "[0-9]{9}") {
            let sum: u32 = body.bytes().enumerate().map(|(i, b)| u32::from(b - b'0') * (10 - i as u32)).sum();
            let check = (11 - sum % 11) % 11;
            let isbn10 = format!("{body}{}", if check == 10 { "X".to_owned() } else { check.to_string() });
            let isbn13 = ExternalId::isbn(&isbn10).unwrap();
            prop_assert_eq!(ExternalId::isbn(isbn13.as_str()), Some(isbn13.clone()));
        }

        #[test]
        fn parsers_never_panic(text in "\\PC{0,60}") {
            let _ = (ExternalId::isbn(&text), ExternalId::imdb(&text), ExternalId::mbid(&text));
            let _ = (ExternalId::spotify(&text), ExternalId::github(&text));
        }
    }
}
