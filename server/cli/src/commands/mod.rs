//! One module per subcommand: its arguments (`Args`) and what it runs (`run`).
pub(crate) mod bench_ann;
pub(crate) mod bench_secagg;
pub(crate) mod eval;
pub(crate) mod serve;
pub(crate) mod simulate;
pub(crate) mod simulate_days;
pub(crate) mod train;
pub(crate) mod wrk_script;
