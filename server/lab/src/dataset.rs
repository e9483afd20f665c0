//! Datasets in the plain TSV layout of `shared/data/FORMAT.md`: `interactions.tsv`
//! (`user item weight timestamp`), optional `items.tsv` (`item title tags`) and optional
//! `edges.tsv` (`user_a user_b`). Read for the demo population and for `mesh eval`.
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use mesh_shared::ContentTable;

use crate::{Error, Result};

/// One user's interaction with an item.
#[derive(Debug, Clone, PartialEq)]
pub struct Interaction {
    /// The item id.
    pub item: String,
    /// Play count, stars, …: a finite number > 0.
    pub weight: f32,
    /// Unix seconds, when given.
    pub timestamp: Option<u64>,
}

/// What `items.tsv` says of an item.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ItemInfo {
    /// Title, possibly empty.
    pub title: String,
    /// Tags or genres.
    pub tags: Vec<String>,
}

/// A loaded dataset. Users are indexed `0..users.len()` in id order.
#[derive(Debug, Clone, Default)]
pub struct Dataset {
    /// User ids, sorted.
    pub users: Vec<String>,
    /// Interactions per user index.
    pub interactions: Vec<Vec<Interaction>>,
    /// Item metadata by item id.
    pub items: HashMap<String, ItemInfo>,
    /// Undirected ties between user indices, each once with `a < b`.
    pub edges: Vec<(usize, usize)>,
    /// Unit content embeddings by item id (from `mesh-embed`): what each simulated device
    /// computes on its own for its favourites. Empty unless attached.
    pub content: HashMap<String, Vec<f32>>,
}

impl Dataset {
    /// Attaches the content embeddings of a `mesh-embed` table at `path`; returns how many of
    /// the dataset's items got one.
    ///
    /// # Errors
    /// [`Error::Dataset`] naming the file and what is wrong with it.
    pub fn attach_content(&mut self, path: &Path) -> Result<usize> {
        let fail = |reason: String| Error::Dataset {
            file: path.to_owned(),
            line: 0,
            column: 0,
            field: "content table",
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let table = ContentTable::decode(&bytes).map_err(|e| fail(e.to_string()))?;
        self.content = table
            .iter()
            .filter(|(key, _)| self.items.contains_key(*key))
            .map(|(key, values)| (key.to_owned(), values.to_vec()))
            .collect();
        Ok(self.content.len())
    }

    /// Loads a dataset directory.
    ///
    /// # Errors
    /// [`Error::Dataset`] with file, line and column of the first malformed field, or a
    /// missing `interactions.tsv`.
    pub fn load(dir: &Path) -> Result<Self> {
        let items_path = dir.join("items.tsv");
        let mut items = HashMap::new();
        if items_path.exists() {
            for row in read_tsv(&items_path, &["item", "title", "tags"])? {
                let tags = row
                    .field(2)
                    .split('|')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect();
                items.insert(
                    row.field(0).to_owned(),
                    ItemInfo {
                        title: row.field(1).trim().to_owned(),
                        tags,
                    },
                );
            }
        }
        let interactions_path = dir.join("interactions.tsv");
        let mut per_user: BTreeMap<String, Vec<Interaction>> = BTreeMap::new();
        for row in read_tsv(&interactions_path, &["user", "item", "weight", "timestamp"])? {
            let weight = row
                .field(2)
                .trim()
                .parse::<f32>()
                .ok()
                .filter(|w| w.is_finite() && *w > 0.0)
                .ok_or_else(|| row.error(2, format!("{:?} is not a number > 0", row.field(2))))?;
            let timestamp = match row.field(3).trim() {
                "" => None,
                text => Some(
                    text.parse::<u64>()
                        .map_err(|_| row.error(3, format!("{text:?} is not Unix seconds")))?,
                ),
            };
            per_user
                .entry(row.field(0).to_owned())
                .or_default()
                .push(Interaction {
                    item: row.field(1).to_owned(),
                    weight,
                    timestamp,
                });
        }
        let users: Vec<String> = per_user.keys().cloned().collect();
        let index: HashMap<&str, usize> = users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.as_str(), i))
            .collect();
        let edges_path = dir.join("edges.tsv");
        let mut edges = Vec::new();
        if edges_path.exists() {
            for row in read_tsv(&edges_path, &["user_a", "user_b"])? {
                let (a, b) = (index.get(row.field(0)), index.get(row.field(1)));
                // Ties of users without interactions cannot be ranked from taste; skip them.
                if let (Some(&a), Some(&b)) = (a, b)
                    && a != b
                {
                    edges.push((a.min(b), a.max(b)));
                }
            }
        }
        edges.sort_unstable();
        edges.dedup();
        let interactions = per_user.into_values().collect();
        Ok(Self {
            users,
            interactions,
            items,
            edges,
            content: HashMap::new(),
        })
    }
}

/// One data row of a TSV file, with where it came from for errors.
pub(crate) struct Row {
    file: PathBuf,
    line: usize,
    columns: &'static [&'static str],
    fields: Vec<String>,
}

impl Row {
    pub(crate) fn field(&self, column: usize) -> &str {
        self.fields.get(column).map_or("", String::as_str)
    }

    pub(crate) fn error(&self, column: usize, reason: String) -> Error {
        Error::Dataset {
            file: self.file.clone(),
            line: self.line,
            column: column + 1,
            field: self.columns.get(column).copied().unwrap_or("?"),
            reason,
        }
    }
}

/// Reads a TSV file whose header starts with `columns`.
pub(crate) fn read_tsv(path: &Path, columns: &'static [&'static str]) -> Result<Vec<Row>> {
    let fail = |line: usize, column: usize, field: &'static str, reason: String| Error::Dataset {
        file: path.to_owned(),
        line,
        column,
        field,
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(0, 0, "file", e.to_string()))?;
    let mut lines = text.lines().enumerate();
    let header: Vec<&str> = lines
        .next()
        .map(|(_, h)| h.trim_start_matches('\u{feff}').split('\t').collect())
        .unwrap_or_default();
    if let Some(at) = columns
        .iter()
        .zip(header.iter().chain(std::iter::repeat(&"")))
        .position(|(c, h)| c != h)
    {
        return Err(fail(
            1,
            at + 1,
            "header",
            format!("expected the columns {}", columns.join(", ")),
        ));
    }
    let mut rows = Vec::new();
    for (index, line) in lines {
        if line.is_empty() {
            continue;
        }
        let fields: Vec<String> = line.split('\t').map(str::to_owned).collect();
        if fields.len() < columns.len() {
            let missing = fields.len();
            return Err(fail(
                index + 1,
                missing + 1,
                columns[missing],
                format!(
                    "missing: expected {} tab-separated fields, found {}",
                    columns.len(),
                    fields.len()
                ),
            ));
        }
        rows.push(Row {
            file: path.to_owned(),
            line: index + 1,
            columns,
            fields,
        });
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_a_dataset_and_names_file_line_and_column() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("interactions.tsv"),
            "user\titem\tweight\ttimestamp\nb\t1\t2\t\na\t1\t3.5\t100\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("edges.tsv"),
            "user_a\tuser_b\nb\ta\na\tb\na\tz\n",
        )
        .unwrap();
        let data = Dataset::load(dir.path()).unwrap();
        assert_eq!(data.users, ["a", "b"]);
        assert_eq!(data.edges, [(0, 1)]);
        assert_eq!(data.interactions[0][0].timestamp, Some(100));

        std::fs::write(
            dir.path().join("interactions.tsv"),
            "user\titem\tweight\ttimestamp\na\t1\t2\tyesterday\n",
        )
        .unwrap();
        let err = Dataset::load(dir.path()).unwrap_err().to_string();
        assert!(
            err.ends_with(
                "interactions.tsv:2:4: field timestamp: \"yesterday\" is not Unix seconds"
            ),
            "{err}"
        );
        std::fs::write(dir.path().join("interactions.tsv"), "user\titem\n").unwrap();
        let err = Dataset::load(dir.path()).unwrap_err().to_string();
        assert!(err.ends_with("interactions.tsv:1:3: field header: expected the columns user, item, weight, timestamp"), "{err}");
    }
}
