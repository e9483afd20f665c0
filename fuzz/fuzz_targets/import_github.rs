//! GitHub starred repositories JSON, plain and star+json. Any input: no panic, and every row is imported or reported.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh_shared::{ExportFormat, WeightPolicy, import_unchecked};

const FORMATS: &[ExportFormat] = &[ExportFormat::GitHubStarred];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let format = FORMATS[usize::from(selector) % FORMATS.len()];
    let policy = WeightPolicy { now_ms: Some(1_750_000_000_000), half_life_days: 730.0 };
    if let Some(report) = import_unchecked(text, format, &policy) {
        assert_eq!(report.imported_rows + report.skipped.len(), report.rows);
        assert_eq!(report.favourites.len() + report.duplicates_merged, report.imported_rows);
        assert!(report.favourites.iter().all(|f| f.weight.is_finite() && f.weight > 0.0));
    }
});
