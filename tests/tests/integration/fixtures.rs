use std::path::PathBuf;
use std::sync::Arc;

use mesh_coordinator::{
    AppState, PopulationProfile, RedbStore, SystemClock, current_model, demo_population,
};
use mesh_models::Catalogue;

/// The workspace root.
pub(crate) fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

/// `web-demo/`, after checking that the wasm package was built into it.
pub(crate) fn built_web_dir() -> PathBuf {
    let web_dir = workspace_root().join("web-demo");
    assert!(
        web_dir.join("pkg").join("mesh_client_bg.wasm").exists(),
        "web-demo/pkg is missing: run `cargo xtask wasm` (or `cargo xtask test`)"
    );
    web_dir
}

/// Runs `node <script> <args…>` in `tests/e2e` off the async runtime; asserts it succeeded
/// (showing its output otherwise) and returns the JSON object it printed last.
pub(crate) async fn run_e2e_script(
    script: &'static str,
    args: Vec<std::ffi::OsString>,
) -> serde_json::Value {
    let e2e_dir = workspace_root().join("tests").join("e2e");
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new("node")
            .current_dir(e2e_dir)
            .arg(script)
            .args(args)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{script} failed\nstdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let last = stdout.trim().lines().last().unwrap_or_default();
    serde_json::from_str(last)
        .unwrap_or_else(|e| panic!("{script} printed no JSON ({e}): {stdout}"))
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

/// Serves `state` (and the demo page in `web_dir`) on a free loopback port, as `mesh serve`
/// does; returns the base URL and the server task.
pub(crate) async fn serve_on_loopback(
    state: &AppState,
    web_dir: PathBuf,
) -> (String, tokio::task::JoinHandle<std::io::Result<()>>) {
    let config = mesh_coordinator::AppConfig {
        web_dir: Some(web_dir),
        ..mesh_coordinator::AppConfig::default()
    };
    serve_with(state, &config).await
}

/// The `mesh` binary that `cargo test --workspace` builds beside this test.
pub(crate) fn mesh_binary() -> PathBuf {
    let mesh = std::env::current_exe()
        .unwrap()
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("mesh"))
        .unwrap();
    assert!(
        mesh.exists(),
        "{} is missing: run `cargo test --workspace` (it builds the mesh binary)",
        mesh.display()
    );
    mesh
}

/// Serves `state` with `config` on a free loopback port.
pub(crate) async fn serve_with(
    state: &AppState,
    config: &mesh_coordinator::AppConfig,
) -> (String, tokio::task::JoinHandle<std::io::Result<()>>) {
    serve_with_limits(state, config, mesh_coordinator::ServeLimits::default()).await
}

/// Serves `state` with `config` and connection `limits` on a free loopback port, as `mesh
/// serve` does.
pub(crate) async fn serve_with_limits(
    state: &AppState,
    config: &mesh_coordinator::AppConfig,
    limits: mesh_coordinator::ServeLimits,
) -> (String, tokio::task::JoinHandle<std::io::Result<()>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let router = mesh_coordinator::app(state.clone(), config);
    let server = tokio::spawn(mesh_coordinator::serve(
        listener,
        router,
        limits,
        std::future::pending(),
    ));
    (url, server)
}
