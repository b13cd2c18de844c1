//! A model loaded from its files' bytes, and texts embedded with it.

use candle_core::{DType, Device};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::Config;
use serde::Deserialize;
use thiserror::Error;
use tokenizers::Tokenizer;

use crate::network::Network;
use crate::{CONFIG_FILE, POOLING_FILE, SENTENCE_CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE};

/// About how many word pieces one forward pass takes: enough rows for the
/// matrix products to keep both cores busy, few enough that a layer's
/// intermediate states stay in the processor's caches.
const PIECES_PER_BATCH: usize = 2048;

/// A model folder's files, read by the caller.
pub struct ModelFiles<'a> {
    /// `config.json`: the network's shape.
    pub config: &'a [u8],
    /// `1_Pooling/config.json`: how token states become a sentence's embedding.
    pub pooling: &'a [u8],
    /// `tokenizer.json`: the word pieces.
    pub tokenizer: &'a [u8],
    /// `sentence_bert_config.json`, if the folder has one: the window the model was trained with.
    pub sentence_config: Option<&'a [u8]>,
    /// `model.safetensors`: the weights.
    pub weights: Vec<u8>,
}

#[derive(Debug, Error)]
pub enum EmbedError {
    /// A file of the model folder, named by its path in the folder, is not what the model needs.
    #[error("{file}: {message}")]
    Model { file: &'static str, message: String },
    /// The forward pass failed (for a model that loaded, a fault of thematic's).
    #[error("embedding failed: {0}")]
    Forward(String),
}

fn model_error(file: &'static str) -> impl Fn(String) -> EmbedError {
    move |message| EmbedError::Model { file, message }
}

fn forward_error(error: impl std::fmt::Display) -> EmbedError {
    EmbedError::Forward(error.to_string())
}

/// A loaded model: the network, its tokenizer and its window.
pub struct Embedder {
    network: Network,
    /// Held by [`crate::embed_keeping`] from looking texts up to keeping
    /// what it made: two stages sharing this model embed a text they both
    /// meet once, the second finding what the first kept. Each call keeps
    /// every core busy on its own, so taking turns costs nothing.
    pub(crate) turn: std::sync::Mutex<()>,
    tokenizer: Tokenizer,
    /// The most word pieces one forward pass of a text may take, [CLS] and [SEP] included.
    window: usize,
    dimension: usize,
}

#[derive(Deserialize)]
struct Pooling {
    #[serde(default)]
    pooling_mode_mean_tokens: bool,
    #[serde(default)]
    pooling_mode_cls_token: bool,
    #[serde(default)]
    pooling_mode_max_tokens: bool,
    #[serde(default)]
    pooling_mode_mean_sqrt_len_tokens: bool,
}

#[derive(Deserialize)]
struct SentenceConfig {
    max_seq_length: Option<usize>,
}

impl Embedder {
    /// Loads and checks a model; each error names the file at fault.
    pub fn load(files: ModelFiles) -> Result<Embedder, EmbedError> {
        let config = bert_config(files.config)?;
        check_pooling(files.pooling)?;
        let tokenizer = tokenizer(files.tokenizer, &config)?;
        let trained_window = match files.sentence_config {
            Some(bytes) => {
                serde_json::from_slice::<SentenceConfig>(bytes)
                    .map_err(|e| model_error(SENTENCE_CONFIG_FILE)(e.to_string()))?
                    .max_seq_length
            }
            None => None,
        };
        let window = trained_window
            .unwrap_or(config.max_position_embeddings)
            .min(config.max_position_embeddings);
        if window < 3 {
            let file = match trained_window {
                Some(_) => SENTENCE_CONFIG_FILE,
                None => CONFIG_FILE,
            };
            return Err(model_error(file)(format!(
                "a window of {window} word pieces leaves no room for text"
            )));
        }
        let weights_error = model_error(WEIGHTS_FILE);
        let weights = VarBuilder::from_buffered_safetensors(files.weights, DType::F32, &Device::Cpu)
            .map_err(|e| weights_error(format!("not a safetensors file of this model: {e}")))?;
        let network = Network::load(weights, &config)
            .map_err(|e| weights_error(format!("does not hold the network config.json describes: {e}")))?;
        Ok(Embedder {
            network,
            turn: std::sync::Mutex::new(()),
            tokenizer,
            window,
            dimension: config.hidden_size,
        })
    }

    /// The length of an embedding.
    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// The most word pieces one forward pass of a text may take, [CLS] and [SEP] included.
    pub fn window(&self) -> usize {
        self.window
    }

    /// How many word pieces `text` is, [CLS] and [SEP] included.
    pub fn pieces(&self, text: &str) -> Result<usize, EmbedError> {
        Ok(self.tokenizer.encode(text, true).map_err(forward_error)?.len())
    }

    /// The embedding of each of `texts`, in their order, each of length one.
    /// A text longer than the window is never cut short: it is taken in
    /// windows, and its embedding is the mean of every window's word pieces.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(forward_error)?;
        let windows: Vec<(usize, Vec<u32>)> = encodings
            .iter()
            .enumerate()
            .flat_map(|(text, encoding)| windows_of(encoding.get_ids(), self.window).map(move |ids| (text, ids)))
            .collect();
        let mut sums = vec![vec![0f64; self.dimension]; texts.len()];
        let mut counts = vec![0usize; texts.len()];
        for batch in batches(&windows, PIECES_PER_BATCH) {
            let ids: Vec<&[u32]> = batch.iter().map(|(_, ids)| ids.as_slice()).collect();
            for ((text, ids), sum) in batch.iter().zip(self.network.token_sums(&ids)) {
                counts[*text] += ids.len();
                sums[*text]
                    .iter_mut()
                    .zip(sum)
                    .for_each(|(total, x)| *total += f64::from(x));
            }
        }
        Ok(sums
            .into_iter()
            .zip(counts)
            .map(|(sum, count)| normalised(&sum, count))
            .collect())
    }
}

/// `windows` in their order, cut into runs of about `pieces` word pieces
/// (a window longer than that alone). A window's embedding does not depend
/// on the windows beside it: every step of the network works on one token,
/// or on one window's tokens, at a time.
fn batches<T>(windows: &[(T, Vec<u32>)], pieces: usize) -> Vec<&[(T, Vec<u32>)]> {
    let mut batches = Vec::new();
    let (mut first, mut taken) = (0, 0);
    for (at, (_, ids)) in windows.iter().enumerate() {
        if taken > 0 && taken + ids.len() > pieces {
            batches.push(&windows[first..at]);
            (first, taken) = (at, 0);
        }
        taken += ids.len();
    }
    if first < windows.len() {
        batches.push(&windows[first..]);
    }
    batches
}

/// `config.json` as a BERT model's configuration.
fn bert_config(bytes: &[u8]) -> Result<Config, EmbedError> {
    let error = model_error(CONFIG_FILE);
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| error(e.to_string()))?;
    let model_type = value.get("model_type").and_then(|t| t.as_str()).unwrap_or("");
    let architectures = value.get("architectures").and_then(|a| a.as_array());
    let says_bert = architectures.is_some_and(|a| a.iter().any(|name| name.as_str() == Some("BertModel")));
    if model_type != "bert" && !says_bert {
        return Err(error(format!(
            "a model of type `{model_type}`; thematic runs BERT sentence-transformers models (model_type `bert`, such as all-MiniLM-L6-v2)"
        )));
    }
    serde_json::from_value(value).map_err(|e| error(format!("not a BERT configuration thematic can run: {e}")))
}

/// Checks that `1_Pooling/config.json` asks for mean pooling, the only pooling thematic does.
fn check_pooling(bytes: &[u8]) -> Result<(), EmbedError> {
    let error = model_error(POOLING_FILE);
    let pooling: Pooling = serde_json::from_slice(bytes).map_err(|e| error(e.to_string()))?;
    let others =
        pooling.pooling_mode_cls_token || pooling.pooling_mode_max_tokens || pooling.pooling_mode_mean_sqrt_len_tokens;
    if !pooling.pooling_mode_mean_tokens || others {
        return Err(error(
            "thematic pools by the mean of the word pieces only (pooling_mode_mean_tokens alone)".to_string(),
        ));
    }
    Ok(())
}

/// `tokenizer.json`, with its own truncation and padding turned off (thematic
/// cuts and pads itself), checked to fit the model's vocabulary.
fn tokenizer(bytes: &[u8], config: &Config) -> Result<Tokenizer, EmbedError> {
    let error = model_error(TOKENIZER_FILE);
    let mut tokenizer = Tokenizer::from_bytes(bytes).map_err(|e| error(e.to_string()))?;
    tokenizer.with_padding(None);
    tokenizer.with_truncation(None).map_err(|e| error(e.to_string()))?;
    // Windows keep a text's first and last pieces, [CLS] and [SEP], so every text must have them.
    let around_nothing = tokenizer.encode("", true).map_err(|e| error(e.to_string()))?;
    if around_nothing.len() != 2 {
        return Err(error(
            "does not put [CLS] and [SEP] around a text (no BERT post-processor); thematic runs BERT sentence-transformers models"
                .to_string(),
        ));
    }
    let pieces = tokenizer.get_vocab_size(true);
    if pieces > config.vocab_size {
        return Err(error(format!(
            "{pieces} word pieces, but the model ({CONFIG_FILE}) knows {}: this is another model's tokenizer",
            config.vocab_size
        )));
    }
    Ok(tokenizer)
}

/// A text's word pieces (its first and last the tokenizer's [CLS] and [SEP])
/// as windows of at most `window` pieces, each with the same first and last.
fn windows_of(ids: &[u32], window: usize) -> impl Iterator<Item = Vec<u32>> + '_ {
    let whole = (ids.len() <= window).then(|| ids.to_vec());
    let cut = match (ids.len() > window, ids) {
        (true, [first, inner @ .., last]) => Some(
            inner
                .chunks(window - 2)
                .map(move |chunk| [&[*first][..], chunk, &[*last]].concat()),
        ),
        _ => None,
    };
    whole.into_iter().chain(cut.into_iter().flatten())
}

/// The mean of `count` token states summed in `sum`, scaled to length one.
fn normalised(sum: &[f64], count: usize) -> Vec<f32> {
    let mean: Vec<f64> = sum.iter().map(|x| x / count.max(1) as f64).collect();
    let length = mean.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-12);
    mean.iter().map(|x| (x / length) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_longer_than_the_window_is_taken_in_windows_that_each_keep_cls_and_sep() {
        let ids: Vec<u32> = [101].into_iter().chain(1..=10).chain([102]).collect();
        let windows: Vec<Vec<u32>> = windows_of(&ids, 6).collect();
        assert_eq!(
            windows,
            [
                vec![101, 1, 2, 3, 4, 102],
                vec![101, 5, 6, 7, 8, 102],
                vec![101, 9, 10, 102]
            ]
        );
        let inner: Vec<u32> = windows.iter().flat_map(|w| w[1..w.len() - 1].to_vec()).collect();
        assert_eq!(
            inner,
            (1..=10).collect::<Vec<u32>>(),
            "every piece in one window, none lost"
        );
        assert_eq!(windows_of(&ids, 12).collect::<Vec<_>>(), std::slice::from_ref(&ids));
    }

    #[test]
    fn batches_keep_the_windows_order_and_take_about_so_many_pieces() {
        let windows: Vec<(usize, Vec<u32>)> = [3, 4, 2, 9, 1].iter().map(|&n| (n, vec![0; n])).collect();
        let lengths: Vec<Vec<usize>> = batches(&windows, 7)
            .iter()
            .map(|batch| batch.iter().map(|(n, _)| *n).collect())
            .collect();
        assert_eq!(lengths, [vec![3, 4], vec![2], vec![9], vec![1]]);
        assert!(batches::<usize>(&[], 7).is_empty());
    }

    #[test]
    fn pooling_other_than_the_mean_and_other_architectures_are_refused_by_file() {
        let error = check_pooling(br#"{"pooling_mode_cls_token": true}"#).unwrap_err();
        assert!(error.to_string().starts_with("1_Pooling/config.json: "), "{error}");
        assert!(check_pooling(br#"{"pooling_mode_mean_tokens": true}"#).is_ok());
        let error = bert_config(br#"{"model_type": "xlm-roberta", "architectures": ["XLMRobertaModel"]}"#)
            .err()
            .unwrap();
        assert!(
            error
                .to_string()
                .starts_with("config.json: a model of type `xlm-roberta`"),
            "{error}"
        );
        let error = bert_config(b"{ not json").err().unwrap();
        assert!(error.to_string().starts_with("config.json: "), "{error}");
    }

    #[test]
    fn an_embedding_is_the_mean_scaled_to_length_one() {
        let embedding = normalised(&[6.0, 8.0], 2);
        assert_eq!(embedding, [0.6, 0.8]);
        assert_eq!(normalised(&[0.0, 0.0], 0), [0.0, 0.0], "nothing to pool is no panic");
    }
}
