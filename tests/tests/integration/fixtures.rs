use std::path::PathBuf;
use std::sync::Arc;

use mesh_models::Catalogue;
use mesh_server::{
    AppState, PopulationProfile, RedbStore, SystemClock, current_model, demo_population,
};

/// The workspace root.
pub(crate) fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// The typed favourites fixture.
pub(crate) fn favourites() -> String {
    std::fs::read_to_string(PathBuf::from(mesh_tests::FIXTURES).join("favourites.txt")).unwrap()
}

/// A coordinator state over a fresh store in `dir` with the `mesh serve` demo population.
pub(crate) fn coordinator(dir: &std::path::Path, population: usize) -> AppState {
    let store = Arc::new(RedbStore::open(dir).unwrap());
    let model = current_model(store.as_ref()).unwrap();
    let people: Vec<PopulationProfile> =
        demo_population(Catalogue::embedded(), &model, population, 42).unwrap();
    AppState::open(store, Arc::new(SystemClock), people).unwrap()
}
