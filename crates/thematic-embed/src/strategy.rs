//! The `semantic` coding strategy: a turn's sentences coded by meaning.
//!
//! Each code is known by what its codebook says it means: its description,
//! its name, and its `examples` (sentences that are the code); its
//! `counter_examples` are sentences that are not. A sentence gets a code
//! when its embedding is at least `min_similarity` (cosine) from the nearest
//! of the code's meanings and nearer to it than to any counter-example. The
//! coding's span is the sentence and its confidence that similarity.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use serde::Deserialize;
use thematic_codebook::Codebook;
use thematic_model::{Segment, Span, Transcript};
use thematic_pipeline::{parse_params, BuildError, CodeHit, CodingStrategy, StrategyError};

use crate::{cosine, sentences, Embedder};

/// Sentences a stage keeps embedded between transcripts (about 1.6 KB each
/// with all-MiniLM-L6-v2); past this it lets them go and starts again.
const KEPT_SENTENCES: usize = 100_000;

/// How near a sentence must be to a code's meaning, unless the stage says otherwise.
pub const DEFAULT_MIN_SIMILARITY: f64 = 0.35;

/// A `semantic` stage's `params`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SemanticParams {
    /// Cosine similarity a sentence needs to a code's meaning, -1 to 1.
    #[serde(default = "default_min_similarity")]
    pub min_similarity: f64,
    /// Per code id, a similarity of its own.
    #[serde(default)]
    pub min_similarity_of: BTreeMap<String, f64>,
}

fn default_min_similarity() -> f64 {
    DEFAULT_MIN_SIMILARITY
}

impl SemanticParams {
    /// The parameters of a stage, checked against its codebook.
    pub fn parse(params: &toml::Table, codebook: &Codebook) -> Result<SemanticParams, BuildError> {
        let parsed: SemanticParams = parse_params(params)?;
        let similarities = std::iter::once(("min_similarity".to_string(), parsed.min_similarity)).chain(
            parsed
                .min_similarity_of
                .iter()
                .map(|(code, value)| (format!("min_similarity_of.{code}"), *value)),
        );
        for (name, value) in similarities {
            if !(-1.0..=1.0).contains(&value) {
                return Err(BuildError::Stage(format!(
                    "params: {name} = {value}: a cosine similarity lies between -1 and 1"
                )));
            }
        }
        if let Some(unknown) = parsed
            .min_similarity_of
            .keys()
            .find(|code| !codebook.codes.iter().any(|c| &c.id == *code))
        {
            return Err(BuildError::Stage(format!(
                "params: min_similarity_of names code `{unknown}`, which codebook {} does not have",
                codebook.source
            )));
        }
        Ok(parsed)
    }
}

/// What a code means, embedded: its meanings and what it is not.
struct CodeMeaning {
    id: String,
    min_similarity: f32,
    meanings: Vec<Vec<f32>>,
    counter_examples: Vec<Vec<f32>>,
}

pub struct SemanticStrategy {
    embedder: Arc<Embedder>,
    codes: Vec<CodeMeaning>,
    /// Sentences embedded so far, by their text: a watch session embeds a sentence once.
    embedded: Mutex<HashMap<String, Arc<[f32]>>>,
}

impl SemanticStrategy {
    /// Embeds every code's meanings; a code with nothing to embed is known by its id.
    pub fn new(
        embedder: Arc<Embedder>,
        codebook: &Codebook,
        params: SemanticParams,
    ) -> Result<SemanticStrategy, BuildError> {
        let failed = |e: crate::EmbedError| BuildError::Stage(e.to_string());
        let mut codes = Vec::with_capacity(codebook.codes.len());
        for code in &codebook.codes {
            let mut meanings: Vec<&str> = code.description.iter().chain(&code.name).map(String::as_str).collect();
            meanings.extend(code.examples.iter().map(String::as_str));
            let id_as_words = code.id.replace(['-', '_'], " ");
            if meanings.is_empty() {
                meanings.push(&id_as_words);
            }
            let counter: Vec<&str> = code.counter_examples.iter().map(String::as_str).collect();
            let threshold = params
                .min_similarity_of
                .get(&code.id)
                .copied()
                .unwrap_or(params.min_similarity);
            codes.push(CodeMeaning {
                id: code.id.clone(),
                min_similarity: threshold as f32,
                meanings: embedder.embed(&meanings).map_err(failed)?,
                counter_examples: embedder.embed(&counter).map_err(failed)?,
            });
        }
        Ok(SemanticStrategy {
            embedder,
            codes,
            embedded: Mutex::new(HashMap::new()),
        })
    }

    /// The embedding of each of `texts`, from those embedded before where it
    /// can; each text not seen before is embedded once, however often it comes.
    fn embeddings(&self, texts: &[&str]) -> Result<Vec<Arc<[f32]>>, StrategyError> {
        let found: Vec<Option<Arc<[f32]>>> = {
            let embedded = self.embedded.lock().unwrap_or_else(PoisonError::into_inner);
            texts.iter().map(|text| embedded.get(*text).cloned()).collect()
        };
        let mut missing: Vec<&str> = texts
            .iter()
            .zip(&found)
            .filter(|(_, f)| f.is_none())
            .map(|(t, _)| *t)
            .collect();
        missing.sort_unstable();
        missing.dedup();
        let made = self
            .embedder
            .embed(&missing)
            .map_err(|e| StrategyError::Failed(e.to_string()))?;
        let made: HashMap<&str, Arc<[f32]>> = missing.into_iter().zip(made.into_iter().map(Arc::from)).collect();
        if !made.is_empty() {
            let mut embedded = self.embedded.lock().unwrap_or_else(PoisonError::into_inner);
            if embedded.len() + made.len() > KEPT_SENTENCES {
                embedded.clear();
            }
            embedded.extend(
                made.iter()
                    .map(|(text, embedding)| (text.to_string(), embedding.clone())),
            );
        }
        Ok(texts
            .iter()
            .zip(found)
            .map(|(text, found)| {
                found
                    .or_else(|| made.get(text).cloned())
                    .unwrap_or_else(|| Arc::from([]))
            })
            .collect())
    }

    /// The codes `embedding` carries, each with its similarity.
    fn codes_of<'s>(&'s self, embedding: &'s [f32]) -> impl Iterator<Item = (&'s str, f32)> + 's {
        let nearest = |to: &[Vec<f32>]| {
            to.iter()
                .map(|m| cosine(embedding, m))
                .fold(f32::NEG_INFINITY, f32::max)
        };
        self.codes.iter().filter_map(move |code| {
            let similarity = nearest(&code.meanings);
            let carried = similarity >= code.min_similarity && similarity > nearest(&code.counter_examples);
            carried.then_some((code.id.as_str(), similarity))
        })
    }
}

/// A sentence of a turn: its text and its code-point span in the transcript.
struct Sentence<'t> {
    turn: u32,
    text: &'t str,
    span: Span,
}

/// Every sentence of `segments`, said without the turn's speaker label (`P2:`).
fn sentences_of<'t>(segments: &[&'t Segment]) -> Vec<Sentence<'t>> {
    let mut found = Vec::new();
    for segment in segments {
        let text = segment.text.as_str();
        let label = text.len() - segment.content().len();
        // Code points counted on from the last sentence, not from the turn's start as
        // `Segment::span_of_bytes` counts them: a long turn has thousands of sentences.
        let (mut byte, mut chars) = (0, 0);
        for range in sentences(&text[label..]) {
            let range = range.start + label..range.end + label;
            chars += text[byte..range.start].chars().count();
            let length = text[range.clone()].chars().count();
            found.push(Sentence {
                turn: segment.turn,
                text: &text[range.clone()],
                span: Span {
                    start: segment.start + chars,
                    end: segment.start + chars + length,
                },
            });
            (byte, chars) = (range.end, chars + length);
        }
    }
    found
}

impl CodingStrategy for SemanticStrategy {
    fn known_codes(&self) -> Option<Vec<String>> {
        Some(self.codes.iter().map(|c| c.id.clone()).collect())
    }

    fn code(&self, _: &Transcript, segments: &[&Segment]) -> Result<Vec<CodeHit>, StrategyError> {
        let sentences = sentences_of(segments);
        let texts: Vec<&str> = sentences.iter().map(|s| s.text).collect();
        let embeddings = self.embeddings(&texts)?;
        // One coding per (turn, code): its spans the sentences that carried it, its confidence the best of theirs.
        let mut by_turn_and_code: BTreeMap<(u32, &str), CodeHit> = BTreeMap::new();
        for (sentence, embedding) in sentences.iter().zip(&embeddings) {
            for (code, similarity) in self.codes_of(embedding) {
                let hit = by_turn_and_code
                    .entry((sentence.turn, code))
                    .or_insert_with(|| CodeHit {
                        turn: sentence.turn,
                        code: code.to_string(),
                        spans: Vec::new(),
                        confidence: Some(f64::NEG_INFINITY),
                        memo: None,
                    });
                hit.spans.push(sentence.span);
                hit.confidence = hit.confidence.map(|best| best.max(round(similarity)));
            }
        }
        Ok(by_turn_and_code.into_values().collect())
    }
}

/// A similarity as a coding keeps it: four decimals, the same on every machine that computes it to within 5e-5.
fn round(similarity: f32) -> f64 {
    (f64::from(similarity) * 1e4).round() / 1e4
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_keep_their_code_point_spans_in_the_transcript() {
        let segment = Segment {
            turn: 3,
            speaker: Some("P1".into()),
            role: "participant".into(),
            participant: Some("P1".into()),
            start: 100,
            end: 144,
            text: "P1: Ça va. Nobody rang — not once!  Fine".into(),
            start_ms: None,
            end_ms: None,
        };
        let found = sentences_of(&[&segment]);
        let spans: Vec<(&str, usize, usize)> = found.iter().map(|s| (s.text, s.span.start, s.span.end)).collect();
        assert_eq!(
            spans,
            [
                ("Ça va.", 104, 110),
                ("Nobody rang — not once!", 111, 134),
                ("Fine", 136, 140)
            ]
        );
        let chars: Vec<char> = segment.text.chars().collect();
        for sentence in &found {
            let quoted: String = chars[sentence.span.start - 100..sentence.span.end - 100]
                .iter()
                .collect();
            assert_eq!(quoted, sentence.text);
        }
    }

    #[test]
    fn similarities_outside_the_cosine_range_and_unknown_codes_are_refused() {
        let book = Codebook::from_toml("b.toml", "[[codes]]\nid = \"trust\"\n").unwrap();
        let params = |text: &str| SemanticParams::parse(&text.parse::<toml::Table>().unwrap(), &book);
        assert_eq!(params("").unwrap().min_similarity, DEFAULT_MIN_SIMILARITY);
        assert_eq!(
            params("min_similarity_of = { trust = 0.6 }").unwrap().min_similarity_of["trust"],
            0.6
        );
        let message = params("min_similarity = 1.5").unwrap_err().to_string();
        assert!(message.contains("min_similarity = 1.5"), "{message}");
        let message = params("min_similarity_of = { blame = 0.5 }").unwrap_err().to_string();
        assert!(message.contains("`blame`") && message.contains("b.toml"), "{message}");
        assert!(params("threshold = 0.5").is_err());
    }
}
