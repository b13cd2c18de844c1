//! Sentence embeddings on the researcher's own machine: a BERT-family
//! sentence-transformers model (all-MiniLM-L6-v2 is the reference) run on
//! the CPU with candle, its word pieces from the model's own `tokenizer.json`,
//! mean-pooled over the attention mask and normalised to length one, as the
//! sentence-transformers library does.
//!
//! This crate does no IO: it is handed the model folder's files as bytes
//! ([`ModelFiles`]) and texts as strings. Finding, checking, hashing and
//! reading a model folder is the engine's.
//!
//! Reproducible by construction: a text's embedding does not depend on the
//! texts embedded beside it. Nothing is padded, and every step of the
//! forward pass (`network`) works on one token, or one window's tokens, at a
//! time, so the same text meets the same arithmetic in the same order in any
//! call.

use std::collections::HashMap;

mod embedder;
mod learning;
mod network;
mod panels;
mod sentences;
mod strategy;

pub use embedder::{EmbedError, Embedder, ModelFiles};
pub use learning::MIN_EXAMPLES;
pub use sentences::sentences;
pub use strategy::{SemanticParams, SemanticStrategy, Taught, DEFAULT_MIN_SIMILARITY};

/// The embedding of each of `texts`, from those `kept` where there are (of
/// the embedder's dimension), the others made now and kept, each distinct
/// text once (an interview says "Yeah." many times); and how many of them
/// were found kept. Calls with one embedder take turns, so a text two
/// callers meet at once is made once. Never call it from a rayon task: the
/// forward pass waits on rayon's threads while it holds the turn.
pub fn embed_keeping(
    embedder: &Embedder,
    kept: Option<&dyn KeptEmbeddings>,
    texts: &[&str],
) -> Result<(Vec<Vec<f32>>, usize), EmbedError> {
    let _turn = embedder.turn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let found: Vec<Option<Vec<f32>>> = match (kept, texts.is_empty()) {
        (Some(kept), false) => kept
            .find(texts)
            .into_iter()
            .map(|f| f.filter(|e| e.len() == embedder.dimension()))
            .collect(),
        _ => vec![None; texts.len()],
    };
    let mut missing: Vec<&str> = Vec::new();
    let mut place: HashMap<&str, usize> = HashMap::new();
    for (text, _) in texts.iter().zip(&found).filter(|(_, f)| f.is_none()) {
        place.entry(text).or_insert_with(|| {
            missing.push(text);
            missing.len() - 1
        });
    }
    let made = embedder.embed(&missing)?;
    if let (Some(kept), false) = (kept, made.is_empty()) {
        let pairs: Vec<(&str, &[f32])> = missing.iter().zip(&made).map(|(t, e)| (*t, e.as_slice())).collect();
        kept.keep(&pairs);
    }
    let kept_count = found.iter().filter(|f| f.is_some()).count();
    let embeddings = texts
        .iter()
        .zip(found)
        .map(|(text, found)| found.unwrap_or_else(|| made[place[text]].clone()))
        .collect();
    Ok((embeddings, kept_count))
}

/// Embeddings kept beyond a run, by the text embedded (the engine keeps them
/// in the study's `.thematic/`, keyed by the model too): what a stage finds
/// there it does not embed again. Best effort: a cache that fails finds
/// nothing and keeps nothing, and the stage embeds as it would without one.
pub trait KeptEmbeddings: Send + Sync {
    /// The embedding kept of each of `texts`, where there is one.
    fn find(&self, texts: &[&str]) -> Vec<Option<Vec<f32>>>;
    /// Keeps embeddings just made.
    fn keep(&self, made: &[(&str, &[f32])]);
    /// What went wrong with the cache since the last look, for the run
    /// summary: a cache that fails costs time on every run, which the
    /// researcher should hear of.
    fn take_problems(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Which arithmetic the forward pass does on this CPU: its revision, counted
/// up whenever a change to it can change an embedding in its last bits (2:
/// thematic's own pass, not candle's BERT; 3: the dense layers' products
/// with AVX-512 where the CPU has it), and the kernels it runs here, so that
/// embeddings kept by another pass, or on another machine, are not mixed
/// with this one's.
pub fn forward_pass() -> String {
    let kernels = if panels::available() { "avx512" } else { "gemm" };
    format!("3 {kernels}")
}

/// The files of a sentence-transformers model folder that thematic reads,
/// by their paths in the folder; the first four must be there.
pub const CONFIG_FILE: &str = "config.json";
pub const POOLING_FILE: &str = "1_Pooling/config.json";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
pub const WEIGHTS_FILE: &str = "model.safetensors";
/// Optional: the window (`max_seq_length`) the model was trained with.
pub const SENTENCE_CONFIG_FILE: &str = "sentence_bert_config.json";

/// The cosine similarity of two embeddings (their dot product, as embeddings
/// have length one; computed in full, so any two vectors of a length compare).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    match norm(a) * norm(b) {
        0.0 => 0.0,
        lengths => dot / lengths,
    }
}
