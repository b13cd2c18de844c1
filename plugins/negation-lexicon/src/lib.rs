//! A lexicon coder as a native plugin: codes a segment with a code when one
//! of its words occurs, unless a negation ("not", "never", "no", "n't")
//! stands within the three words before it in the same sentence.
//!
//! The lexicon comes from the stage's `params`:
//! `params = { lexicon = { anger = ["angry", "furious"], relief = ["relieved"] } }`.

use std::collections::BTreeMap;

use thematic_plugin_api::{export_plugin, CodeRequest, CodeResponse, ResponseCoding};

export_plugin!(name: "negation-lexicon", code: code);

const NEGATIONS: [&str; 5] = ["not", "never", "no", "nor", "without"];
const WINDOW: usize = 3;

fn code(request: CodeRequest) -> Result<CodeResponse, String> {
    let lexicon: BTreeMap<String, Vec<String>> = match request.params.get("lexicon") {
        Some(value) => serde_json::from_value(value.clone())
            .map_err(|e| format!("params.lexicon must map codes to lists of words: {e}"))?,
        None => return Err("params.lexicon is missing: give it as { code = [\"word\", ...] }".to_string()),
    };
    let mut codings = Vec::new();
    for segment in &request.segments {
        let words = words(&segment.text);
        for (code, terms) in &lexicon {
            let spans: Vec<(usize, usize)> = words
                .iter()
                .enumerate()
                .filter(|(_, (start, end))| {
                    terms
                        .iter()
                        .any(|t| t.eq_ignore_ascii_case(&segment.text[*start..*end]))
                })
                .filter(|(i, _)| !negated(&segment.text, &words, *i))
                .map(|(_, span)| *span)
                .collect();
            if !spans.is_empty() {
                codings.push(ResponseCoding {
                    turn: segment.turn,
                    code: code.clone(),
                    spans,
                    confidence: None,
                    memo: None,
                });
            }
        }
    }
    Ok(CodeResponse { codings })
}

/// Byte ranges of the words (letters, digits, apostrophes inside) of `text`.
fn words(text: &str) -> Vec<(usize, usize)> {
    let mut ranges = Vec::new();
    let mut start = None;
    for (at, c) in text.char_indices() {
        let part = c.is_alphanumeric() || (matches!(c, '\'' | '’') && start.is_some());
        match (part, start) {
            (true, None) => start = Some(at),
            (false, Some(from)) => {
                ranges.push((from, at));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(from) = start {
        ranges.push((from, text.len()));
    }
    ranges
}

/// Whether a negation is among the `WINDOW` words before word `i`, in its sentence.
fn negated(text: &str, words: &[(usize, usize)], i: usize) -> bool {
    let first = i.saturating_sub(WINDOW);
    (first..i)
        .rev()
        .take_while(|&j| !text[words[j].1..words[i].0].contains(['.', '!', '?', ';']))
        .any(|j| {
            let word = text[words[j].0..words[j].1].to_lowercase();
            NEGATIONS.contains(&word.as_str()) || word.ends_with("n't") || word.ends_with("n’t")
        })
}
