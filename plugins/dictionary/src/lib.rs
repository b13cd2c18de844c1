//! The builtin `dictionary` strategy as a plugin: codes each segment with the
//! stage codebook's terms (sent in the request), exactly as the builtin does.
//! It exists to measure what the plugin boundary costs.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

use thematic_codebook::{Code, Codebook, Term};
use thematic_model::{Segment, Transcript};
use thematic_pipeline::{CodingStrategy, DictionaryStrategy};
use thematic_plugin_api::{export_plugin, CodeRequest, CodeResponse, RequestCode, ResponseCoding};

export_plugin!(name: "dictionary", code: code);

/// The matcher of the last codebook seen, by a hash of its terms: building it
/// is the costly part, and a stage sends the same codebook with every transcript.
static MATCHER: Mutex<Option<(u64, Arc<DictionaryStrategy>)>> = Mutex::new(None);

fn matcher(codebook: &[RequestCode]) -> Result<Arc<DictionaryStrategy>, String> {
    let mut hasher = DefaultHasher::new();
    for code in codebook {
        code.id.hash(&mut hasher);
        code.terms.hash(&mut hasher);
    }
    let key = hasher.finish();
    let mut cached = MATCHER.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((cached_key, strategy)) = cached.as_ref() {
        if *cached_key == key {
            return Ok(strategy.clone());
        }
    }
    let book = Codebook {
        source: "the stage's codebook".into(),
        codes: codebook
            .iter()
            .map(|c| Code {
                id: c.id.clone(),
                terms: c
                    .terms
                    .iter()
                    .enumerate()
                    .map(|(i, t)| Term {
                        text: t.clone(),
                        line: i as u64 + 1,
                    })
                    .collect(),
                ..Code::default()
            })
            .collect(),
    };
    let strategy = Arc::new(DictionaryStrategy::new(&book).map_err(|e| e.to_string())?);
    *cached = Some((key, strategy.clone()));
    Ok(strategy)
}

fn code(request: CodeRequest) -> Result<CodeResponse, String> {
    if request.codebook.is_empty() {
        return Err("the stage names no codebook".into());
    }
    let strategy = matcher(&request.codebook)?;
    // Segments with offsets from 0, so the builtin's code-point spans are
    // within each segment's own text.
    let segments: Vec<Segment> = request
        .segments
        .iter()
        .map(|s| Segment {
            turn: s.turn,
            speaker: s.speaker.clone(),
            role: s.role.clone(),
            participant: s.participant.clone(),
            start: 0,
            end: s.text.chars().count(),
            text: s.text.clone(),
            start_ms: None,
            end_ms: None,
        })
        .collect();
    let transcript = Transcript {
        id: request.transcript.clone(),
        participant: None,
        content_hash: String::new(),
        segments: Vec::new(),
    };
    let refs: Vec<&Segment> = segments.iter().collect();
    let hits = strategy.code(&transcript, &refs).map_err(|e| e.to_string())?;
    // Byte offset of each character, per segment with hits, for the spans.
    let mut offsets: std::collections::HashMap<u32, Vec<usize>> = std::collections::HashMap::new();
    let codings = hits
        .into_iter()
        .map(|hit| {
            let text = segments
                .iter()
                .find(|s| s.turn == hit.turn)
                .map_or("", |s| s.text.as_str());
            let bytes = offsets.entry(hit.turn).or_insert_with(|| {
                text.char_indices()
                    .map(|(b, _)| b)
                    .chain(std::iter::once(text.len()))
                    .collect()
            });
            ResponseCoding {
                turn: hit.turn,
                code: hit.code,
                spans: hit.spans.iter().map(|s| (bytes[s.start], bytes[s.end])).collect(),
                confidence: hit.confidence,
                memo: hit.memo,
            }
        })
        .collect();
    Ok(CodeResponse { codings })
}
