//! JSON records with the line each starts on, so bad records are reported like CSV rows.
use serde_json::value::RawValue;

use crate::{Error, Result};

/// Splits a JSON array (or, with `lines_allowed`, JSON lines) into its records, each with the
/// 1-based line where it starts.
///
/// # Errors
/// [`Error::ImportStructure`] with the line of the first syntax error.
pub(crate) fn records(text: &str, lines_allowed: bool) -> Result<Vec<(usize, &RawValue)>> {
    let trimmed = text.trim_start();
    if lines_allowed && trimmed.starts_with('{') {
        let mut out = Vec::new();
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let raw: &RawValue =
                serde_json::from_str(line).map_err(|e| Error::ImportStructure {
                    line: index + 1,
                    reason: format!("invalid JSON: {e}"),
                })?;
            out.push((index + 1, raw));
        }
        return Ok(out);
    }
    let items: Vec<&RawValue> = serde_json::from_str(text).map_err(|e| Error::ImportStructure {
        line: e.line(),
        reason: format!("expected a JSON array of records: {e}"),
    })?;
    Ok(with_lines(text, items))
}

/// Pairs records that borrow from `text` with the line each starts on.
pub(crate) fn with_lines<'a>(
    text: &'a str,
    items: Vec<&'a RawValue>,
) -> Vec<(usize, &'a RawValue)> {
    let base = text.as_ptr() as usize;
    let (mut offset, mut line) = (0usize, 1usize);
    items
        .into_iter()
        .map(|raw| {
            let start = (raw.get().as_ptr() as usize)
                .saturating_sub(base)
                .min(text.len());
            if start >= offset {
                line += text.as_bytes()[offset..start]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count();
                offset = start;
            }
            (line, raw)
        })
        .collect()
}

/// Decodes one record, turning a decoder error into a skip reason.
pub(crate) fn decode<'a, T: serde::Deserialize<'a>>(
    raw: &'a RawValue,
) -> std::result::Result<T, String> {
    serde_json::from_str(raw.get()).map_err(|e| format!("unreadable record: {e}"))
}
