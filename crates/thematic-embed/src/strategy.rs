//! The `semantic` coding strategy: a turn's sentences coded by meaning.
//!
//! Each code is known by what its codebook says it means: its description,
//! its name, and its `examples` (sentences that are the code); its
//! `counter_examples` are sentences that are not. A sentence gets a code
//! when its embedding is at least `min_similarity` (cosine) from the nearest
//! of the code's meanings and nearer to it than to any counter-example. The
//! coding's span is the sentence and its confidence that similarity.
//!
//! A stage that learns from a person (`learn_from`) knows its codes instead
//! by the sentences that person coded and left uncoded (see [`crate::learning`]):
//! it codes the transcripts the person did not, and each coding names the
//! person's examples nearest to the sentence that carried it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use serde::Deserialize;
use thematic_codebook::Codebook;
use thematic_model::{Coding, LearntAgreement, Segment, Span, Transcript};
use thematic_pipeline::{parse_params, BuildError, CodeHit, CodingStrategy, StrategyError};

use crate::learning::{self, Decided, Learnt, THRESHOLD};
use crate::{cosine, embed_keeping, sentences, Embedder, KeptEmbeddings};

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

/// How the stage knows its codes.
enum Knowledge {
    /// By what the codebook says each code means.
    Described(Vec<CodeMeaning>),
    /// By what a person coded.
    Learnt {
        learnt: Learnt,
        agreement: LearntAgreement,
        /// The transcripts the person coded, which the stage leaves to them.
        taught: BTreeSet<String>,
    },
}

/// A transcript a person coded, as a stage that learns from them is taught
/// it: the segments of the roles the stage codes, annotations blanked, and
/// the person's codings of it.
pub struct Taught<'t> {
    pub id: &'t str,
    pub segments: Vec<&'t Segment>,
    pub codings: &'t [Coding],
}

/// The examples a coding of a learnt code names.
const NEAREST_EXAMPLES: usize = 2;

pub struct SemanticStrategy {
    embedder: Arc<Embedder>,
    knowledge: Knowledge,
    /// Sentences embedded so far, by their text: a watch session embeds a sentence once.
    embedded: Mutex<HashMap<String, Arc<[f32]>>>,
    /// Embeddings kept between runs, where the stage has somewhere to keep them.
    kept: Option<Arc<dyn KeptEmbeddings>>,
    /// Sentences embedded, and found kept, since the log was last taken.
    counts: Mutex<(usize, usize)>,
    /// What learning found worth saying once, in the next log.
    notice: Mutex<Option<String>>,
}

impl SemanticStrategy {
    /// Embeds every code's meanings; a code with nothing to embed is known by its id.
    pub fn new(
        embedder: Arc<Embedder>,
        kept: Option<Arc<dyn KeptEmbeddings>>,
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
            knowledge: Knowledge::Described(codes),
            embedded: Mutex::new(HashMap::new()),
            kept,
            counts: Mutex::new((0, 0)),
            notice: Mutex::new(None),
        })
    }

    /// Learns the codebook's codes from a person's codings: each sentence of
    /// `taught` carries the codes whose codings cover any of it. What the
    /// codebook says a code means (its description, name and examples) is
    /// taught too, so that a code with few examples starts from its meaning. `stage` is
    /// the learning stage's name and `from` the person's stage's.
    pub fn learn(
        embedder: Arc<Embedder>,
        kept: Option<Arc<dyn KeptEmbeddings>>,
        codebook: &Codebook,
        (stage, from): (&str, &str),
        taught: &[Taught],
    ) -> Result<SemanticStrategy, BuildError> {
        let coded = taught.iter().map(|t| t.codings.len()).sum::<usize>();
        if coded == 0 {
            return Err(BuildError::Stage(format!(
                "learn_from: stage `{from}` has no codings to learn from (in {} transcript{} it covers); \
                 code some transcripts there first",
                taught.len(),
                if taught.len() == 1 { "" } else { "s" }
            )));
        }
        let mut strategy = SemanticStrategy {
            embedder,
            knowledge: Knowledge::Described(Vec::new()),
            embedded: Mutex::new(HashMap::new()),
            kept,
            counts: Mutex::new((0, 0)),
            notice: Mutex::new(None),
        };
        let codes: Vec<String> = codebook.codes.iter().map(|c| c.id.clone()).collect();
        let unknown: std::collections::BTreeSet<&str> = taught
            .iter()
            .flat_map(|t| t.codings.iter().map(|c| c.code.as_str()))
            .filter(|code| !codes.iter().any(|c| c == code))
            .collect();
        if !unknown.is_empty() {
            let listed: Vec<String> = unknown.iter().map(|c| format!("`{c}`")).collect();
            *strategy.notice.get_mut().unwrap_or_else(PoisonError::into_inner) = Some(format!(
                "stage `{from}` codes {}, which codebook {} does not have: not learnt",
                listed.join(", "),
                codebook.source
            ));
        }
        let mut labelled = Vec::new();
        for (place, transcript) in taught.iter().enumerate() {
            for sentence in sentences_of(&transcript.segments) {
                let carried = codes
                    .iter()
                    .enumerate()
                    .filter(|(_, code)| {
                        transcript
                            .codings
                            .iter()
                            .any(|c| &c.code == *code && covers(c, &sentence))
                    })
                    .map(|(index, _)| index)
                    .collect();
                labelled.push((Some(place), sentence.text, carried));
            }
        }
        for (index, code) in codebook.codes.iter().enumerate() {
            for meaning in code.description.iter().chain(&code.name).chain(&code.examples) {
                labelled.push((None, meaning.as_str(), vec![index]));
            }
        }
        let texts: Vec<&str> = labelled.iter().map(|(_, text, _)| *text).collect();
        let embeddings = strategy
            .embeddings(&texts)
            .map_err(|e| BuildError::Stage(e.to_string()))?;
        let dimension = embeddings.first().map_or(0, |e| e.len());
        let decided: Vec<Decided> = labelled
            .into_iter()
            .zip(&embeddings)
            .map(|((transcript, text, codes), embedding)| Decided {
                transcript,
                text,
                embedding,
                codes,
            })
            .collect();
        let (learnt, measured, folds) = learning::learn(&codes, &decided, taught.len(), dimension);
        strategy.knowledge = Knowledge::Learnt {
            learnt,
            agreement: LearntAgreement {
                stage: stage.to_string(),
                from: from.to_string(),
                transcripts: taught.len(),
                folds,
                min_examples: learning::MIN_EXAMPLES,
                codes: measured,
            },
            taught: taught.iter().map(|t| t.id.to_string()).collect(),
        };
        Ok(strategy)
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
        let made = self.kept_or_embedded(missing)?;
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

    /// The embeddings of `texts` (each once), from those kept between runs
    /// where there are, the others made now and kept.
    fn kept_or_embedded<'t>(&self, texts: Vec<&'t str>) -> Result<HashMap<&'t str, Arc<[f32]>>, StrategyError> {
        let (embeddings, found) = embed_keeping(&self.embedder, self.kept.as_deref(), &texts)
            .map_err(|e| StrategyError::Failed(e.to_string()))?;
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        *counts = (counts.0 + texts.len() - found, counts.1 + found);
        Ok(texts.into_iter().zip(embeddings.into_iter().map(Arc::from)).collect())
    }

    /// The codes `embedding` carries, each with its similarity (or, learnt,
    /// its score) and, learnt, the person's examples nearest to it.
    fn codes_of(&self, embedding: &[f32]) -> Vec<(&str, f32, Option<String>)> {
        match &self.knowledge {
            Knowledge::Described(codes) => {
                let nearest = |to: &[Vec<f32>]| {
                    to.iter()
                        .map(|m| cosine(embedding, m))
                        .fold(f32::NEG_INFINITY, f32::max)
                };
                codes
                    .iter()
                    .filter_map(|code| {
                        let similarity = nearest(&code.meanings);
                        let carried = similarity >= code.min_similarity && similarity > nearest(&code.counter_examples);
                        carried.then_some((code.id.as_str(), similarity, None))
                    })
                    .collect()
            }
            Knowledge::Learnt { learnt, .. } => learnt
                .codes
                .iter()
                .filter_map(|code| {
                    let score = code.classifier.as_ref()?.score(embedding);
                    (score >= THRESHOLD)
                        .then(|| (code.id.as_str(), score.min(1.0), Some(nearest_memo(code, embedding))))
                })
                .collect(),
        }
    }
}

/// Why a sentence got a learnt code: the person's examples nearest to it.
fn nearest_memo(code: &learning::LearntCodeModel, embedding: &[f32]) -> String {
    let examples: Vec<String> = code
        .nearest_examples(embedding, NEAREST_EXAMPLES)
        .into_iter()
        .map(|(text, similarity)| format!("“{text}” ({similarity:.2})"))
        .collect();
    format!("nearest examples: {}", examples.join("; "))
}

/// Whether a person's coding covers any of `sentence` (a coding with no spans covers its whole turn).
fn covers(coding: &Coding, sentence: &Sentence) -> bool {
    coding.turn == sentence.turn
        && (coding.spans.is_empty()
            || coding
                .spans
                .iter()
                .any(|span| span.start < sentence.span.end && sentence.span.start < span.end))
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
    fn take_log(&self) -> Vec<String> {
        let mut log: Vec<String> = self
            .notice
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .into_iter()
            .collect();
        log.extend(self.kept.iter().flat_map(|kept| kept.take_problems()));
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let (embedded, found) = std::mem::take(&mut *counts);
        if embedded + found > 0 {
            log.push(format!(
                "{embedded} sentence{} embedded, {found} found embedded before",
                if embedded == 1 { "" } else { "s" }
            ));
        }
        log
    }

    fn known_codes(&self) -> Option<Vec<String>> {
        Some(match &self.knowledge {
            Knowledge::Described(codes) => codes.iter().map(|c| c.id.clone()).collect(),
            Knowledge::Learnt { learnt, .. } => learnt.codes.iter().map(|c| c.id.clone()).collect(),
        })
    }

    fn covers(&self, id: &str) -> bool {
        match &self.knowledge {
            Knowledge::Described(_) => true,
            Knowledge::Learnt { taught, .. } => !taught.contains(id),
        }
    }

    fn learnt(&self) -> Option<LearntAgreement> {
        match &self.knowledge {
            Knowledge::Described(_) => None,
            Knowledge::Learnt { agreement, .. } => Some(agreement.clone()),
        }
    }

    fn code(&self, transcript: &Transcript, segments: &[&Segment]) -> Result<Vec<CodeHit>, StrategyError> {
        if !self.covers(&transcript.id) {
            return Ok(Vec::new());
        }
        let sentences = sentences_of(segments);
        let texts: Vec<&str> = sentences.iter().map(|s| s.text).collect();
        let embeddings = self.embeddings(&texts)?;
        // One coding per (turn, code): its spans the sentences that carried it, its confidence the best of theirs.
        let mut by_turn_and_code: BTreeMap<(u32, &str), CodeHit> = BTreeMap::new();
        for (sentence, embedding) in sentences.iter().zip(&embeddings) {
            for (code, similarity, memo) in self.codes_of(embedding) {
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
                // The memo names the examples nearest to the sentence that carried the code best.
                if hit.confidence.is_some_and(|best| round(similarity) > best) {
                    hit.confidence = Some(round(similarity));
                    hit.memo = memo;
                }
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
