//! Native on-device persistence of signals: one file, replaced atomically (write a temporary
//! file, then rename), so a crash never leaves half a signal set. Browsers use IndexedDB
//! through the Worker instead.
use std::path::Path;

use crate::{DeviceSession, Error, Result};

impl DeviceSession {
    /// Writes the signals to `path` atomically.
    ///
    /// # Errors
    /// [`Error::Storage`] when the file cannot be written.
    pub fn save_signals_to(&self, path: &Path) -> Result<()> {
        let storage = |e: std::io::Error| Error::Storage(format!("{}: {e}", path.display()));
        let temporary = path.with_extension("tmp");
        std::fs::write(&temporary, self.signals_bytes()).map_err(storage)?;
        std::fs::rename(&temporary, path).map_err(storage)
    }

    /// Restores signals saved by [`DeviceSession::save_signals_to`]; a missing file means no
    /// signals yet. Returns whether a file was read.
    ///
    /// # Errors
    /// [`Error::Storage`] when the file cannot be read, [`Error::Shared`] when it does not
    /// decode.
    pub fn load_signals_from(&mut self, path: &Path) -> Result<bool> {
        match std::fs::read(path) {
            Ok(bytes) => self.load_signals(&bytes).map(|_| true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Error::Storage(format!("{}: {e}", path.display()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mesh_models::{Catalogue, initial_model};

    #[test]
    fn signals_survive_a_restart_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("signals.json");
        let model = initial_model(Catalogue::embedded(), 1).encode();
        let mut first = DeviceSession::new(&model).unwrap();
        let before = first
            .analyse("Radiohead\nbook: Dune — Frank Herbert")
            .unwrap();
        first.save_signals_to(&path).unwrap();
        let mut second = DeviceSession::new(&model).unwrap();
        assert!(second.load_signals_from(&path).unwrap());
        assert_eq!(
            second.summary().unwrap().vector_fingerprint,
            before.vector_fingerprint
        );
        let mut empty = DeviceSession::new(&model).unwrap();
        assert!(
            !empty
                .load_signals_from(&dir.path().join("missing.json"))
                .unwrap()
        );
        std::fs::write(&path, b"not signals").unwrap();
        assert!(
            empty
                .load_signals_from(&path)
                .unwrap_err()
                .to_string()
                .contains("stored signals do not decode")
        );
    }
}
