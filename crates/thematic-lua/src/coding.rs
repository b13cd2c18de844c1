use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use mlua::{LuaSerdeExt, Value};
use serde::{Deserialize, Serialize};
use thematic_codebook::Codebook;
use thematic_model::{Participant, Question, Segment, Transcript};
use thematic_pipeline::{CodeHit, CodingStrategy, StrategyError};

use crate::api::Embed;
use crate::host::{ScriptHost, Setup};
use crate::sandbox::{Limits, Sandbox, ScriptError, ScriptFiles};

const CODE: &str = "code";
const CODE_DOCUMENT: &str = "code_document";

/// A coding strategy written in Lua.
///
/// The script defines `code(segment, context)`, called once per segment, or
/// `code_document(segments, context)`, called once per transcript with all
/// the segments the stage codes. Both return a list of codings:
/// `{ code = "...", spans = { {first, last}, ... }, confidence = 0.8, memo = "..." }`
/// where spans are 1-based, inclusive byte positions in the segment's text
/// (what `string.find` returns) and `code_document`'s codings also name their `turn`.
pub struct LuaCodingStrategy {
    /// What the script is told of the study, given afresh for each
    /// transcript, so that a script changing it affects no other transcript.
    context: Arc<ScriptContext>,
    /// States of the script not in use; transcripts coded at once each take
    /// one (and a new one is started when none is free).
    idle: Mutex<Vec<ScriptHost>>,
    script: ScriptFiles,
    limits: Limits,
    setup: Setup,
    attributes: BTreeMap<String, BTreeMap<String, String>>,
    codes: Option<Vec<String>>,
    /// Whether the script defines `code_document` (else `code`).
    per_document: bool,
}

/// What a script sees of a segment.
#[derive(Serialize)]
struct ScriptSegment {
    transcript: String,
    turn: u32,
    speaker: Option<String>,
    role: String,
    participant: Option<String>,
    /// The participant's attributes from the participants file.
    attributes: Option<BTreeMap<String, String>>,
    text: String,
    /// When it was said (milliseconds), for captions and timestamped transcripts.
    start_ms: Option<u64>,
    end_ms: Option<u64>,
}

/// What a script sees of the study.
#[derive(Serialize)]
struct ScriptContext {
    params: toml::Table,
    questions: Vec<Question>,
    codebook: Vec<ScriptCode>,
}

#[derive(Serialize)]
struct ScriptCode {
    id: String,
    name: Option<String>,
    description: Option<String>,
    parent: Option<String>,
    questions: Vec<String>,
    terms: Vec<String>,
}

/// A coding as a script returns it.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptCoding {
    code: String,
    turn: Option<u32>,
    #[serde(default)]
    spans: Vec<(usize, usize)>,
    confidence: Option<f64>,
    memo: Option<String>,
}

impl LuaCodingStrategy {
    /// Loads the script.
    pub fn new(
        script: &ScriptFiles,
        limits: Limits,
        params: &toml::Table,
        codebook: Option<&Codebook>,
        questions: &[Question],
        participants: &[Participant],
        embed: Option<Embed>,
    ) -> Result<LuaCodingStrategy, ScriptError> {
        let context = Arc::new(ScriptContext {
            params: params.clone(),
            questions: questions.to_vec(),
            codebook: codebook
                .map(|book| {
                    book.codes
                        .iter()
                        .map(|c| ScriptCode {
                            id: c.id.clone(),
                            name: c.name.clone(),
                            description: c.description.clone(),
                            parent: c.parent.clone(),
                            questions: c.questions.clone(),
                            terms: c.terms.iter().map(|t| t.text.clone()).collect(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        });
        let installed = context.clone();
        let setup: Setup = Arc::new(move |sandbox: &Sandbox| {
            if let Some(embed) = &embed {
                sandbox.install_embedding(embed.clone())?;
            }
            sandbox.set_context(&*installed)
        });
        let host = ScriptHost::start(script, limits, setup.clone())?;
        let book_codes: Option<Vec<String>> = codebook.map(|book| book.codes.iter().map(|c| c.id.clone()).collect());
        let (per_document, codes) = host.run(move |sandbox| {
            if !sandbox.defines(CODE) && !sandbox.defines(CODE_DOCUMENT) {
                return Err(ScriptError::new(format!(
                    "{}: defines neither `code(segment, context)` nor `code_document(segments, context)`",
                    sandbox.name
                )));
            }
            Ok((sandbox.defines(CODE_DOCUMENT), known_codes(sandbox, book_codes)?))
        })?;
        Ok(LuaCodingStrategy {
            context,
            idle: Mutex::new(vec![host]),
            script: script.clone(),
            limits,
            setup,
            attributes: participants
                .iter()
                .map(|p| (p.id.clone(), p.attributes.iter().cloned().collect()))
                .collect(),
            codes,
            per_document,
        })
    }

    fn script_segment(&self, transcript: &Transcript, segment: &Segment) -> ScriptSegment {
        ScriptSegment {
            transcript: transcript.id.clone(),
            turn: segment.turn,
            speaker: segment.speaker.clone(),
            role: segment.role.clone(),
            participant: segment.participant.clone(),
            attributes: segment
                .participant
                .as_ref()
                .and_then(|p| self.attributes.get(p))
                .cloned(),
            text: segment.text.clone(),
            start_ms: segment.start_ms,
            end_ms: segment.end_ms,
        }
    }
}

impl CodingStrategy for LuaCodingStrategy {
    fn known_codes(&self) -> Option<Vec<String>> {
        self.codes.clone()
    }

    fn take_log(&self) -> Vec<String> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        idle.iter().flat_map(ScriptHost::take_log).collect()
    }

    fn code(&self, transcript: &Transcript, segments: &[&Segment]) -> Result<Vec<CodeHit>, StrategyError> {
        let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let host = match idle {
            Some(host) => host,
            None => ScriptHost::start(&self.script, self.limits, self.setup.clone())
                .map_err(|e| StrategyError::Failed(e.message))?,
        };
        let result = self.code_with(&host, transcript, segments);
        self.idle.lock().unwrap_or_else(|e| e.into_inner()).push(host);
        result
    }
}

impl LuaCodingStrategy {
    /// Codes a transcript on one of the script's states.
    fn code_with(
        &self,
        host: &ScriptHost,
        transcript: &Transcript,
        segments: &[&Segment],
    ) -> Result<Vec<CodeHit>, StrategyError> {
        let failed = |turn: Option<u32>, e: ScriptError| {
            StrategyError::Failed(match turn {
                Some(turn) => format!("turn {turn}: {}", e.message),
                None => e.message,
            })
        };
        let mut hits = Vec::new();
        if self.per_document {
            let list: Vec<ScriptSegment> = segments.iter().map(|s| self.script_segment(transcript, s)).collect();
            let context = self.context.clone();
            let returned: Vec<ScriptCoding> = host
                .run(move |sandbox| {
                    sandbox.set_context(&*context)?;
                    sandbox.call_list(CODE_DOCUMENT, &list, "codings")
                })
                .map_err(|e| failed(None, e))?;
            for coding in returned {
                let Some(turn) = coding.turn else {
                    let message = format!("{}: a coding from code_document() has no `turn`", host.name());
                    return Err(failed(None, ScriptError::new(message)));
                };
                let Some(segment) = segments.iter().find(|s| s.turn == turn) else {
                    return Err(StrategyError::UnknownTurn { turn });
                };
                hits.push(hit(segment, coding).map_err(|e| failed(Some(turn), host.named(e)))?);
            }
            return Ok(hits);
        }
        // One job for the whole transcript, each segment a call under the time limit.
        let inputs: Vec<ScriptSegment> = segments.iter().map(|s| self.script_segment(transcript, s)).collect();
        let context = self.context.clone();
        let returned = host
            .run_calls(inputs.len(), move |sandbox| {
                sandbox.set_context(&*context)?;
                let mut returned: Vec<Vec<ScriptCoding>> = Vec::with_capacity(inputs.len());
                for input in &inputs {
                    match sandbox.call_list(CODE, input, "codings") {
                        Ok(codings) => returned.push(codings),
                        Err(e) => return Ok(Err((input.turn, e))),
                    }
                }
                Ok(Ok(returned))
            })
            .map_err(|e| failed(None, e))?
            .map_err(|(turn, e)| failed(Some(turn), e))?;
        for (segment, codings) in segments.iter().zip(returned) {
            for coding in codings {
                if coding.turn.is_some() {
                    let message = format!("{}: `turn` belongs only to codings from code_document()", host.name());
                    return Err(failed(Some(segment.turn), ScriptError::new(message)));
                }
                hits.push(hit(segment, coding).map_err(|e| failed(Some(segment.turn), host.named(e)))?);
            }
        }
        Ok(hits)
    }
}

/// The codes the script may return: its codebook's, and those it lists in a
/// global `codes` table. `None` (any code) when it has neither.
fn known_codes(sandbox: &Sandbox, from_book: Option<Vec<String>>) -> Result<Option<Vec<String>>, ScriptError> {
    let declared: Option<Vec<String>> = match sandbox.global("codes") {
        Value::Nil => None,
        value => Some(sandbox.call(|lua| {
            lua.from_value(value)
                .map_err(|e| mlua::Error::runtime(format!("the global `codes` must be a list of code names: {e}")))
        })?),
    };
    Ok(match (declared, from_book) {
        (None, None) => None,
        (declared, from_book) => Some(
            declared
                .into_iter()
                .flatten()
                .chain(from_book.into_iter().flatten())
                .collect(),
        ),
    })
}

/// A script's coding as a hit, its spans turned into code points of the transcript.
fn hit(segment: &Segment, coding: ScriptCoding) -> Result<CodeHit, ScriptError> {
    let mut spans = Vec::with_capacity(coding.spans.len());
    for (first, last) in coding.spans {
        let span = first
            .checked_sub(1)
            .and_then(|start| segment.span_of_bytes(start, last));
        let Some(span) = span else {
            return Err(ScriptError::new(format!(
                "code `{}`: span {{{first}, {last}}} is not a stretch of the segment's text (bytes 1 to {}, first <= last, on character boundaries)",
                coding.code,
                segment.text.len()
            )));
        };
        spans.push(span);
    }
    Ok(CodeHit {
        turn: segment.turn,
        code: coding.code,
        spans,
        confidence: coding.confidence,
        memo: coding.memo,
    })
}
