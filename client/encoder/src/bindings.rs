//! The JavaScript surface of the encoder module.
// These items are reached from JavaScript through wasm-bindgen, not from Rust.
#![allow(unreachable_pub)]

use wasm_bindgen::prelude::*;

use crate::SentenceEncoder;

/// The sentence encoder (see `SentenceEncoder`).
#[wasm_bindgen(js_name = SentenceEncoder)]
#[derive(Debug)]
pub struct JsSentenceEncoder(SentenceEncoder);

#[wasm_bindgen(js_class = SentenceEncoder)]
impl JsSentenceEncoder {
    /// Loads `model.onnx` and `tokenizer.json` from their bytes (checked by the caller against
    /// the pinned SHA-256 sums) and optimises the model.
    #[wasm_bindgen(constructor)]
    pub fn new(onnx: &[u8], tokenizer_json: &[u8]) -> Result<JsSentenceEncoder, JsError> {
        SentenceEncoder::from_bytes(onnx, tokenizer_json)
            .map(Self)
            .map_err(|e| JsError::new(&e.to_string()))
    }

    /// The 384-d unit embedding of `text`.
    pub fn embed(&self, text: &str) -> Result<Vec<f32>, JsError> {
        self.0.embed(text).map_err(|e| JsError::new(&e.to_string()))
    }

    /// The embeddings of several texts, concatenated (384 values each, in order).
    #[wasm_bindgen(js_name = embedMany)]
    pub fn embed_many(&self, texts: Vec<String>) -> Result<Vec<f32>, JsError> {
        let mut out = Vec::with_capacity(texts.len() * crate::EMBEDDING_DIM);
        for (index, text) in texts.iter().enumerate() {
            let embedding = self
                .0
                .embed(text)
                .map_err(|e| JsError::new(&format!("text {index}: {e}")))?;
            out.extend(embedding);
        }
        Ok(out)
    }

    /// Token ids of `text` (with `[CLS]` and `[SEP]`).
    #[wasm_bindgen(js_name = tokenIds)]
    pub fn token_ids(&self, text: &str) -> Result<Vec<u32>, JsError> {
        self.0
            .token_ids(text)
            .map_err(|e| JsError::new(&e.to_string()))
    }

    /// The embedding of already tokenized ids (for benchmarks at a fixed length).
    #[wasm_bindgen(js_name = embedTokenIds)]
    pub fn embed_token_ids(&self, ids: Vec<u32>) -> Result<Vec<f32>, JsError> {
        self.0
            .embed_token_ids(&ids)
            .map_err(|e| JsError::new(&e.to_string()))
    }
}
