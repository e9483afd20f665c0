//! The device's side of revealing mutual favourites to a matched person by a private set
//! intersection ([`mesh_shared::PsiParty`]): the favourites graded public or limited take part,
//! blinded with a secret that never leaves this value; the device learns which of *its*
//! favourites the other person also has, and nothing else about theirs.
use std::collections::HashMap;

use mesh_shared::{ItemHash, PsiMessage, PsiParty};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;

use crate::{Error, Result};

/// One run with one peer: round one ([`blinded`](Self::blinded)), round two
/// ([`answer`](Self::answer)) and the outcome ([`finish`](Self::finish)).
#[derive(Debug)]
pub struct MutualFavourites {
    party: PsiParty,
    titles: HashMap<ItemHash, String>,
}

impl MutualFavourites {
    /// A run over `items` (item hash, title shown when it turns out to be mutual).
    ///
    /// # Errors
    /// [`Error::Randomness`] if the platform's random source fails; [`Error::Shared`] with too
    /// many items.
    pub fn new(items: Vec<(ItemHash, String)>) -> Result<Self> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| Error::Randomness(e.to_string()))?;
        let hashes: Vec<ItemHash> = items.iter().map(|(hash, _)| *hash).collect();
        let party = PsiParty::new(&hashes, &mut ChaCha20Rng::from_seed(seed))?;
        Ok(Self {
            party,
            titles: items.into_iter().collect(),
        })
    }

    /// Round one, for the peer: this device's favourites, blinded.
    pub fn blinded(&self) -> PsiMessage {
        self.party.blinded()
    }

    /// Round two, for the peer: its round one raised to this device's secret.
    ///
    /// # Errors
    /// [`Error::Shared`] naming the first malformed point.
    pub fn answer(&self, peer_blinded: &PsiMessage) -> Result<PsiMessage> {
        Ok(self.party.answer(peer_blinded)?)
    }

    /// The titles of this device's favourites that the peer also has, sorted.
    ///
    /// # Errors
    /// [`Error::Shared`] if a message is malformed or the answer's length does not match.
    pub fn finish(
        &self,
        peer_blinded: &PsiMessage,
        peer_answer: &PsiMessage,
    ) -> Result<Vec<String>> {
        let mut titles: Vec<String> = self
            .party
            .intersection(peer_blinded, peer_answer)?
            .iter()
            .filter_map(|hash| self.titles.get(hash).cloned())
            .collect();
        titles.sort_unstable();
        titles.dedup();
        Ok(titles)
    }
}
