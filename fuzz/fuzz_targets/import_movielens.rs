//! MovieLens-style CSV/TSV ratings. Any input: no panic, and every row is imported or reported.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_shared::ExportFormat;

fuzz_target!(|data: &[u8]| mesh_fuzz::check_import(data, &[ExportFormat::MovieLensRatings]));
