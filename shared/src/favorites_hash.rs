use serde::{Deserialize, Serialize};

use crate::{
    ExternalId, FavouriteEntry, canonical_artist, canonical_person, canonical_title, fold_text,
};

/// Context string for deriving the item-hashing key from the served model's salt.
const ITEM_KEY_CONTEXT: &str = "mesh-discovery 2026-11 favourite item key v1";

/// What a favourite is. The kind is part of the hashed key, so a film and a book with the same
/// title never collide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ItemKind {
    /// A film.
    Film,
    /// A book.
    Book,
    /// A music artist or band.
    Artist,
    /// A music album (keyed with its artist).
    Album,
    /// A music track (keyed with its artist).
    Track,
    /// A source-code repository (`owner/name`).
    Repository,
    /// A title whose kind is not known (typed without a prefix and not in the catalogue).
    Any,
}

impl ItemKind {
    /// The tag written into canonical keys.
    pub fn tag(self) -> &'static str {
        match self {
            Self::Film => "film",
            Self::Book => "book",
            Self::Artist => "artist",
            Self::Album => "album",
            Self::Track => "track",
            Self::Repository => "repo",
            Self::Any => "any",
        }
    }

    /// Reads a list prefix such as `film`, `movie`, `book`, `artist`, `band`, `album`,
    /// `track`, `song` or `repo`.
    pub fn from_prefix(prefix: &str) -> Option<Self> {
        match prefix.to_ascii_lowercase().as_str() {
            "film" | "movie" => Some(Self::Film),
            "book" => Some(Self::Book),
            "artist" | "band" | "music" => Some(Self::Artist),
            "album" => Some(Self::Album),
            "track" | "song" => Some(Self::Track),
            "repo" | "repository" => Some(Self::Repository),
            _ => None,
        }
    }
}

/// The canonical identity of a favourite: its kind plus a folded key string.
///
/// Films are keyed by title and year, books by title and author, albums and tracks by title
/// and artist, artists by name, repositories by lower-case `owner/name`. Keys are built from
/// titles rather than external ids so that every source (an export, a typed list, the
/// catalogue) reaches the same key for the same item. Never leaves the device.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ItemKey {
    kind: ItemKind,
    key: String,
}

impl ItemKey {
    /// Builds the key from raw parts as found in an export or typed by the user: the title is
    /// canonicalised with [`crate::canonical_title`], the creator with
    /// [`crate::canonical_person`]. The year counts only for films (and kind-less titles), the
    /// creator only for books, albums and tracks.
    pub fn new(kind: ItemKind, title: &str, year: Option<u16>, creator: Option<&str>) -> Self {
        let creator = creator
            .map(|c| {
                if kind == ItemKind::Book {
                    canonical_person(c)
                } else {
                    canonical_artist(c)
                }
            })
            .filter(|c| !c.is_empty());
        let key = match kind {
            ItemKind::Repository => match ExternalId::github(title) {
                Some(repo) => repo.as_str().to_owned(),
                None => fold_text(title),
            },
            ItemKind::Film | ItemKind::Any => {
                let title = canonical_title(title, kind);
                match year {
                    Some(year) => format!("{title}|{year}"),
                    None => title,
                }
            }
            ItemKind::Book | ItemKind::Album | ItemKind::Track => {
                let title = canonical_title(title, kind);
                match creator {
                    Some(creator) => format!("{title}|{creator}"),
                    None => title,
                }
            }
            ItemKind::Artist => canonical_title(title, kind),
        };
        Self { kind, key }
    }

    /// The key of an entry taken as typed, when no catalogue resolved it.
    pub fn from_entry(entry: &FavouriteEntry) -> Self {
        let kind = entry.kind.unwrap_or(ItemKind::Any);
        Self::new(kind, &entry.title, entry.year, entry.creator.as_deref())
    }

    /// The item's kind.
    pub fn kind(&self) -> ItemKind {
        self.kind
    }

    /// The folded key string, e.g. `blade runner|1982`.
    pub fn as_str(&self) -> &str {
        &self.key
    }
}

/// A keyed, domain-separated BLAKE3 hash of an [`ItemKey`].
///
/// The key is derived from a salt shipped with the served model, so anyone holding the client
/// can hash a dictionary of titles: the hash hides nothing from such an attacker. What protects
/// a user's favourites is that these hashes only leave the device folded into the taste vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemHash(pub [u8; 32]);

impl ItemHash {
    /// The embedding-table row this item uses in a table of `buckets` rows (`buckets > 0`).
    pub fn bucket(&self, buckets: u32) -> u32 {
        let mut low = [0u8; 8];
        low.copy_from_slice(&self.0[..8]);
        (u64::from_le_bytes(low) % u64::from(buckets.max(1))) as u32
    }
}

/// Hashes item keys with the key derived from one model's salt.
#[derive(Clone)]
pub struct FavouriteHasher {
    key: [u8; 32],
}

impl std::fmt::Debug for FavouriteHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FavouriteHasher").finish_non_exhaustive()
    }
}

impl FavouriteHasher {
    /// A hasher for the model whose hashing salt is `salt`.
    pub fn new(salt: &[u8; 32]) -> Self {
        Self {
            key: blake3::derive_key(ITEM_KEY_CONTEXT, salt),
        }
    }

    /// The keyed hash of `kind tag ‖ 0x00 ‖ key`.
    pub fn hash(&self, item: &ItemKey) -> ItemHash {
        let mut hasher = blake3::Hasher::new_keyed(&self.key);
        hasher.update(item.kind.tag().as_bytes());
        hasher.update(&[0]);
        hasher.update(item.key.as_bytes());
        ItemHash(*hasher.finalize().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_favourite_line;
    use proptest::prelude::*;

    fn key_of(line: &str) -> ItemKey {
        ItemKey::from_entry(&parse_favourite_line(1, line).unwrap().unwrap())
    }

    #[test]
    fn trivial() {
        let hasher = FavouriteHasher::new(&[7; 32]);
        let a = hasher.hash(&key_of("film: Blade Runner (1982)"));
        let b = hasher.hash(&key_of("FILM: blade runner (1982)"));
        assert_eq!(a, b);
        assert_eq!(
            key_of("film: Blade Runner (1982)").as_str(),
            "blade runner|1982"
        );
    }

    #[test]
    fn kind_and_salt_separate_domains() {
        let hasher = FavouriteHasher::new(&[7; 32]);
        let film = hasher.hash(&key_of("film: Dune"));
        let book = hasher.hash(&key_of("book: Dune"));
        assert_ne!(film, book);
        let other_salt = FavouriteHasher::new(&[8; 32]).hash(&key_of("film: Dune"));
        assert_ne!(film, other_salt);
    }

    #[test]
    fn books_are_keyed_by_author() {
        assert_eq!(
            key_of("book: Dune — Frank Herbert").as_str(),
            "dune|herbert f"
        );
    }

    proptest! {
        #[test]
        fn bucket_is_in_range(bytes in proptest::array::uniform32(any::<u8>()), buckets in 1u32..100_000) {
            prop_assert!(ItemHash(bytes).bucket(buckets) < buckets);
        }
    }
}
