//! CSV/TSV reading with header lookup and the line each record starts on.
use std::collections::HashMap;

use csv::{ReaderBuilder, StringRecord};

use crate::{Error, Result};

/// A header row: column name → position.
pub(crate) struct Header {
    columns: HashMap<String, usize>,
}

/// One data record with its header.
pub(crate) struct Row<'a> {
    header: &'a Header,
    record: &'a StringRecord,
}

impl Row<'_> {
    /// The trimmed value of `column`, `None` when the column is missing or the cell empty.
    pub(crate) fn get(&self, column: &str) -> Option<&str> {
        let at = *self.header.columns.get(column)?;
        self.record.get(at).map(str::trim).filter(|v| !v.is_empty())
    }
}

/// Calls `each(line, row)` for every data record, `line` being where the record starts
/// (the header is line 1). Records that cannot be split are passed as `Err(reason)`.
///
/// # Errors
/// [`Error::ImportStructure`] when the header lacks one of `required` (matched exactly,
/// or case-insensitively when `case_insensitive`).
pub(crate) fn for_each_row(
    text: &str,
    delimiter: u8,
    required: &[&str],
    case_insensitive: bool,
    mut each: impl FnMut(usize, std::result::Result<Row<'_>, String>),
) -> Result<()> {
    let mut reader = ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let fold = |name: &str| {
        if case_insensitive {
            name.trim().to_ascii_lowercase()
        } else {
            name.trim().to_owned()
        }
    };
    let names = reader
        .headers()
        .map_err(|e| Error::ImportStructure {
            line: 1,
            reason: e.to_string(),
        })?
        .clone();
    let header = Header {
        columns: names
            .iter()
            .enumerate()
            .map(|(i, n)| (fold(n), i))
            .collect(),
    };
    if let Some(missing) = required
        .iter()
        .find(|c| !header.columns.contains_key(&fold(c)))
    {
        return Err(Error::ImportStructure {
            line: 1,
            reason: format!("the header has no `{missing}` column"),
        });
    }
    let mut record = StringRecord::new();
    loop {
        let line = reader.position().line() as usize;
        match reader.read_record(&mut record) {
            Ok(false) => return Ok(()),
            Ok(true) => {
                let line = record.position().map_or(line, |p| p.line() as usize);
                if record.iter().all(|cell| cell.trim().is_empty()) {
                    continue;
                }
                each(
                    line,
                    Ok(Row {
                        header: &header,
                        record: &record,
                    }),
                );
            }
            Err(error) => {
                let line = error.position().map_or(line, |p| p.line() as usize);
                each(line, Err(format!("unreadable CSV record: {error}")));
            }
        }
    }
}
