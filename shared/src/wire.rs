use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::{ActivityCard, Error, Result, TasteVector, ToneCard, UserId};

/// Version of [`ProfileUpload`] this build writes and accepts.
pub const PROFILE_SCHEMA_VERSION: u32 = 1;

/// Most candidates one discovery query may ask for.
pub const MAX_CANDIDATES: u32 = 100;

const MAX_DISPLAY_NAME_CHARS: usize = 40;
const MAX_TRAITS: usize = 8;
const MAX_TRAIT_LABEL_CHARS: usize = 40;
const MAX_PUBLIC_FAVOURITES: usize = 10;
const MAX_PUBLIC_FAVOURITE_CHARS: usize = 120;

/// `PUT /v1/profiles/{id}`: what a user who opted in to be discoverable publishes.
///
/// This and the request signature are everything that leaves the device in this version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpload {
    /// Must be [`PROFILE_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The model version the taste vector was computed with.
    pub model_version: u32,
    /// The user's taste vector.
    pub taste_vector: TasteVector,
    /// The coarse public card other people see.
    pub card: PublicCard,
}

impl ProfileUpload {
    /// Checks everything a type cannot: the schema version and the card's bounds.
    ///
    /// # Errors
    /// [`Error::InvalidField`] naming the field.
    pub fn validate(&self) -> Result<()> {
        if self.schema_version != PROFILE_SCHEMA_VERSION {
            return Err(Error::field(
                "schema_version",
                format!(
                    "{} is not supported, expected {PROFILE_SCHEMA_VERSION}",
                    self.schema_version
                ),
            ));
        }
        self.card.validate()
    }
}

/// The public card of a discoverable user: a display name, coarse traits and the favourites
/// the user chose to show. Explanations are computed from it on the viewer's device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PublicCard {
    /// 1–40 characters, no control characters.
    #[schemars(length(min = 1, max = 40))]
    pub display_name: String,
    /// At most 8 readable traits.
    #[schemars(length(max = 8))]
    pub traits: Vec<CardTrait>,
    /// At most 10 titles the user marked public, each 1–120 characters.
    #[serde(default)]
    #[schemars(length(max = 10))]
    pub public_favourites: Vec<String>,
    /// When the person is usually online (coarse, UTC), if they chose to publish it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<ActivityCard>,
    /// The tone of their own posts, in tenths, if they chose to publish it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tone: Option<ToneCard>,
}

impl PublicCard {
    /// Checks the card's bounds.
    ///
    /// # Errors
    /// [`Error::InvalidField`] naming the field, e.g. `card.traits[2].strength`.
    pub fn validate(&self) -> Result<()> {
        // The limit applies to what is stored, whitespace included; a name of only whitespace
        // is no name.
        check_text(
            "card.display_name",
            &self.display_name,
            MAX_DISPLAY_NAME_CHARS,
        )?;
        if self.display_name.trim().is_empty() {
            return Err(Error::field("card.display_name", "is only whitespace"));
        }
        if self.traits.len() > MAX_TRAITS {
            return Err(Error::field(
                "card.traits",
                format!("more than {MAX_TRAITS} traits"),
            ));
        }
        for (i, t) in self.traits.iter().enumerate() {
            check_text(
                &format!("card.traits[{i}].label"),
                &t.label,
                MAX_TRAIT_LABEL_CHARS,
            )?;
            if !(0.0..=1.0).contains(&t.strength) {
                return Err(Error::field(
                    format!("card.traits[{i}].strength"),
                    format!("{} is not within 0..=1", t.strength),
                ));
            }
        }
        if self.public_favourites.len() > MAX_PUBLIC_FAVOURITES {
            return Err(Error::field(
                "card.public_favourites",
                format!("more than {MAX_PUBLIC_FAVOURITES} titles"),
            ));
        }
        for (i, title) in self.public_favourites.iter().enumerate() {
            check_text(
                &format!("card.public_favourites[{i}]"),
                title,
                MAX_PUBLIC_FAVOURITE_CHARS,
            )?;
        }
        if let Some(activity) = &self.activity {
            activity.validate()?;
        }
        if let Some(tone) = &self.tone {
            tone.validate()?;
        }
        Ok(())
    }
}

/// A readable trait with a coarse strength in `0..=1`, e.g. "sci-fi films" at 0.4.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CardTrait {
    /// 1–40 characters.
    #[schemars(length(min = 1, max = 40))]
    pub label: String,
    /// Share of the user's resolved favourites carrying the trait, rounded to 0.05.
    #[schemars(range(min = 0.0, max = 1.0))]
    pub strength: f32,
}

/// `POST /v1/discovery/candidates`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CandidatesRequest {
    /// Must be the coordinator's current model version.
    pub model_version: u32,
    /// The querying user's taste vector.
    pub taste_vector: TasteVector,
    /// How many candidates, 1..=[`MAX_CANDIDATES`].
    #[schemars(range(min = 1, max = 100))]
    pub k: u32,
    /// A user to leave out (the querying user).
    #[serde(default)]
    pub exclude: Option<UserId>,
}

impl CandidatesRequest {
    /// Checks `k`.
    ///
    /// # Errors
    /// [`Error::InvalidField`] for `k` outside 1..=[`MAX_CANDIDATES`].
    pub fn validate(&self) -> Result<()> {
        if self.k == 0 || self.k > MAX_CANDIDATES {
            return Err(Error::field(
                "k",
                format!("{} is not within 1..={MAX_CANDIDATES}", self.k),
            ));
        }
        Ok(())
    }
}

/// Answer to [`CandidatesRequest`], best first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CandidatesResponse {
    /// The model version the scores were computed in.
    pub model_version: u32,
    /// The candidates, best first.
    pub candidates: Vec<DiscoveryCandidate>,
}

/// One suggested person.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct DiscoveryCandidate {
    /// Their user id.
    pub user_id: UserId,
    /// Cosine similarity of the two taste vectors (ranking v1: the share of public
    /// favourites the two cards have in common), coarse: a multiple of 0.25 after fresh noise
    /// of one step, so that answers do not rebuild a published vector. The list's order is the
    /// pipeline's, which weighs more than this score.
    pub score: f32,
    /// Their public card.
    pub card: PublicCard,
}

/// Answer to `POST /v1/identities`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RegisteredIdentity {
    /// The id owned by the registered key.
    pub user_id: UserId,
}

/// The body of every 4xx and 5xx answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ApiErrorBody {
    /// A stable machine-readable code, e.g. `invalid_body`.
    pub error: String,
    /// What is wrong, for people.
    pub message: String,
    /// The offending field, when one is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

fn check_text(field: &str, text: &str, max_chars: usize) -> Result<()> {
    let chars = text.chars().count();
    if chars == 0 || chars > max_chars {
        return Err(Error::field(
            field,
            format!("must be 1-{max_chars} characters, got {chars}"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(Error::field(field, "contains a control character"));
    }
    if let Some(c) = text.chars().find(|c| is_hidden_format(*c)) {
        return Err(Error::field(
            field,
            format!(
                "contains the invisible formatting character U+{:04X} (bidi overrides, embeddings and isolates, zero-width spaces and joiners other than ZWJ/ZWNJ are refused)",
                u32::from(c)
            ),
        ));
    }
    Ok(())
}

/// Characters that change how the text around them is shown without being seen: the bidi
/// embeddings, overrides and isolates (text that reads as something else), zero-width spaces,
/// the word joiner and invisible operators, the BOM and the soft hyphen. The marks LRM and RLM
/// and the joiners ZWJ and ZWNJ stay allowed: right-to-left names and emoji sequences need them.
fn is_hidden_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TASTE_DIM;

    fn card() -> PublicCard {
        PublicCard {
            activity: None,
            tone: None,
            display_name: "Ada".into(),
            traits: vec![CardTrait {
                label: "sci-fi films".into(),
                strength: 0.5,
            }],
            public_favourites: vec!["Blade Runner (1982)".into()],
        }
    }

    fn unit_vector() -> TasteVector {
        let mut v = vec![0.0; TASTE_DIM];
        v[0] = 1.0;
        TasteVector::try_from(v).unwrap()
    }

    #[test]
    fn trivial() {
        let upload = ProfileUpload {
            schema_version: PROFILE_SCHEMA_VERSION,
            model_version: 1,
            taste_vector: unit_vector(),
            card: card(),
        };
        upload.validate().unwrap();
        let json = serde_json::to_string(&upload).unwrap();
        assert_eq!(
            serde_json::from_str::<ProfileUpload>(&json).unwrap(),
            upload
        );
    }

    #[test]
    fn padded_or_disguised_names_are_refused() {
        let mut padded = card();
        padded.display_name = format!("{}Eve", " ".repeat(20_000));
        let err = padded.validate().unwrap_err().to_string();
        assert!(err.contains("card.display_name"), "{err}");
        let mut spoofed = card();
        spoofed.display_name = "Admin\u{202E}txt.exe".to_owned();
        let err = spoofed.validate().unwrap_err().to_string();
        assert!(err.contains("U+202E"), "{err}");
        let mut blank = card();
        blank.display_name = "   ".to_owned();
        assert!(blank.validate().is_err());
        let mut rtl = card();
        rtl.display_name = "\u{200F}نور".to_owned();
        rtl.validate().unwrap();
        let mut family = card();
        family.display_name = "Ann \u{1F469}\u{200D}\u{1F467}".to_owned();
        family.validate().unwrap();
    }

    #[test]
    fn card_errors_name_the_field() {
        let mut bad = card();
        bad.traits[0].strength = 2.0;
        assert_eq!(
            bad.validate().unwrap_err().to_string(),
            "card.traits[0].strength: 2 is not within 0..=1"
        );
        let mut empty_name = card();
        empty_name.display_name = "  ".into();
        assert!(
            empty_name
                .validate()
                .unwrap_err()
                .to_string()
                .starts_with("card.display_name")
        );
    }

    #[test]
    fn malformed_vectors_are_refused_while_parsing() {
        let json = r#"{"schema_version":1,"model_version":1,"taste_vector":[1.0,0.0],"card":{"display_name":"A","traits":[]}}"#;
        let err = serde_json::from_str::<ProfileUpload>(json).unwrap_err();
        assert!(
            err.to_string().contains("expected 256 components, got 2"),
            "{err}"
        );
    }

    #[test]
    fn k_is_bounded() {
        let request = CandidatesRequest {
            model_version: 1,
            taste_vector: unit_vector(),
            k: 0,
            exclude: None,
        };
        assert_eq!(
            request.validate().unwrap_err().to_string(),
            "k: 0 is not within 1..=100"
        );
    }
}
