//! The discovery index: approximate nearest neighbours by inner product over unit taste
//! vectors (HNSW, Malkov & Yashunin 2018). Each node's layer-0 links sit beside an 8-bit code
//! of its vector, the walk scores codes and the final candidates are re-scored exactly; a
//! filter runs inside the walk. Snapshots are checksummed and decode without panicking.
//!
//! ```
//! use mesh_ann::{Hnsw, HnswParams};
//!
//! let mut index = Hnsw::<u32>::new(HnswParams { dim: 2, ..HnswParams::default() }).unwrap();
//! index.insert(1, &[1.0, 0.0]).unwrap();
//! index.insert(2, &[0.0, 1.0]).unwrap();
//! let found = index.search(&[0.9, 0.1], 1, 16, |_| true).unwrap();
//! assert_eq!(found[0].0, 1);
//! ```

mod error;
mod hnsw;
mod kernels;

pub use error::{Error, Result};
pub use hnsw::{Hnsw, HnswKey, HnswParams};
pub use kernels::inner_product;
