//! What every importer fuzz target checks: any input imports without a panic, and every row
//! is imported or reported.
use mesh_shared::{ExportFormat, WeightPolicy, import_unchecked};

/// Runs the importer the first byte picks among `formats` on the rest of `data`.
pub fn check_import(data: &[u8], formats: &[ExportFormat]) {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let format = formats[usize::from(selector) % formats.len()];
    let policy = WeightPolicy {
        now_ms: Some(1_750_000_000_000),
        half_life_days: 730.0,
    };
    if let Some(report) = import_unchecked(text, format, &policy) {
        assert_eq!(report.imported_rows + report.skipped.len(), report.rows);
        assert_eq!(
            report.favourites.len() + report.duplicates_merged,
            report.imported_rows
        );
        assert!(
            report
                .favourites
                .iter()
                .all(|f| f.weight.is_finite() && f.weight > 0.0)
        );
    }
}
