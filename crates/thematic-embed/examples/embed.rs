//! The embedder as `bench/embed.py` times it, beside the NumPy peer.
//!
//!     embed sentences-of DIR OUT.json          every sentence of DIR's .txt files, as a JSON list
//!     embed MODEL_DIR SENTENCES.json OUT.f32   their embeddings, float32 rows in order
//!
//! The second prints a JSON line: sentences, seconds (embedding only, the
//! model loaded), word pieces, and the arithmetic done on them (GFLOP, the
//! padding left out, so the figure counts useful work only).

use std::fs;
use std::path::Path;
use std::time::Instant;

use thematic_embed::{sentences, Embedder, ModelFiles};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [mode, dir, out] if mode == "sentences-of" => write_sentences(Path::new(dir), Path::new(out)),
        [model, input, out] => embed(Path::new(model), Path::new(input), Path::new(out)),
        _ => Err("usage: embed sentences-of DIR OUT.json | embed MODEL_DIR SENTENCES.json OUT.f32".into()),
    }
}

fn write_sentences(dir: &Path, out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let mut files: Vec<_> = fs::read_dir(dir)?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.retain(|f| f.extension().is_some_and(|e| e == "txt"));
    files.sort();
    let mut all = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file)?;
        all.extend(sentences(&text).into_iter().map(|range| text[range].to_string()));
    }
    fs::write(out, serde_json::to_vec(&all)?)?;
    Ok(())
}

fn embed(model: &Path, input: &Path, out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let read = |name: &str| fs::read(model.join(name));
    let (config, pooling, tokenizer) = (
        read("config.json")?,
        read("1_Pooling/config.json")?,
        read("tokenizer.json")?,
    );
    let sentence_config = read("sentence_bert_config.json").ok();
    let embedder = Embedder::load(ModelFiles {
        config: &config,
        pooling: &pooling,
        tokenizer: &tokenizer,
        sentence_config: sentence_config.as_deref(),
        weights: read("model.safetensors")?,
    })?;
    let sentences: Vec<String> = serde_json::from_slice(&fs::read(input)?)?;
    let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let started = Instant::now();
    let embedded = embedder.embed(&texts)?;
    let seconds = started.elapsed().as_secs_f64();
    let bytes: Vec<u8> = embedded.iter().flatten().flat_map(|x| x.to_le_bytes()).collect();
    fs::write(out, bytes)?;
    let shape: serde_json::Value = serde_json::from_slice(&config)?;
    let number = |key: &str| shape[key].as_f64().unwrap_or(0.0);
    let (hidden, inner, layers) = (
        number("hidden_size"),
        number("intermediate_size"),
        number("num_hidden_layers"),
    );
    let mut pieces = 0.0;
    let mut flops = 0.0;
    for text in &texts {
        let length = embedder.pieces(text)? as f64;
        pieces += length;
        // Per layer and piece: Q, K, V and the output (4·H² multiply-adds), the feed-forward (2·H·I), and attention over the window (2·L·H).
        flops += layers * 2.0 * length * (4.0 * hidden * hidden + 2.0 * hidden * inner + 2.0 * length * hidden);
    }
    println!(
        "{}",
        serde_json::json!({
            "sentences": texts.len(),
            "seconds": seconds,
            "sentences_per_second": texts.len() as f64 / seconds,
            "pieces": pieces,
            "gflop": flops / 1e9,
        })
    );
    Ok(())
}
