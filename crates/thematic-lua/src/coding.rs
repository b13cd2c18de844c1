use std::collections::BTreeMap;
use std::sync::Mutex;

use mlua::{Function, LuaSerdeExt, RegistryKey, Table, Value};
use serde::{Deserialize, Serialize};
use thematic_codebook::Codebook;
use thematic_model::{Participant, Question, Segment, Span, Transcript};
use thematic_pipeline::{CodeHit, CodingStrategy, StrategyError};

use crate::sandbox::{to_lua, Limits, Sandbox, ScriptError};

/// A coding strategy written in Lua.
///
/// The script defines `code(segment, context)`, called once per segment, or
/// `code_document(segments, context)`, called once per transcript with all
/// the segments the stage codes. Both return a list of codings:
/// `{ code = "...", spans = { {first, last}, ... }, confidence = 0.8, memo = "..." }`
/// where spans are 1-based, inclusive byte positions in the segment's text
/// (what `string.find` returns) and `code_document`'s codings also name their `turn`.
pub struct LuaCodingStrategy {
    sandbox: Mutex<Sandbox>,
    context: RegistryKey,
    attributes: BTreeMap<String, BTreeMap<String, String>>,
    codes: Option<Vec<String>>,
}

/// What a script sees of a segment.
#[derive(Serialize)]
struct ScriptSegment<'a> {
    transcript: &'a str,
    turn: u32,
    speaker: Option<&'a str>,
    role: &'a str,
    participant: Option<&'a str>,
    /// The participant's attributes from the participants file.
    attributes: Option<&'a BTreeMap<String, String>>,
    text: &'a str,
}

/// What a script sees of the study.
#[derive(Serialize)]
struct ScriptContext<'a> {
    params: &'a toml::Table,
    questions: &'a [Question],
    codebook: Vec<ScriptCode<'a>>,
}

#[derive(Serialize)]
struct ScriptCode<'a> {
    id: &'a str,
    name: Option<&'a str>,
    description: Option<&'a str>,
    parent: Option<&'a str>,
    questions: &'a [String],
    terms: Vec<&'a str>,
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
    /// Loads the script `name` (shown in messages) from its text.
    pub fn new(
        name: &str,
        source: &str,
        limits: Limits,
        params: &toml::Table,
        codebook: Option<&Codebook>,
        questions: &[Question],
        participants: &[Participant],
    ) -> Result<LuaCodingStrategy, ScriptError> {
        let sandbox = Sandbox::new(name, source, limits)?;
        let has = |function: &str| matches!(sandbox.lua.globals().get::<Value>(function), Ok(Value::Function(_)));
        if !has("code") && !has("code_document") {
            return Err(ScriptError::new(format!(
                "{name}: defines neither `code(segment, context)` nor `code_document(segments, context)`"
            )));
        }
        let context = ScriptContext {
            params,
            questions,
            codebook: codebook
                .map(|book| {
                    book.codes
                        .iter()
                        .map(|c| ScriptCode {
                            id: &c.id,
                            name: c.name.as_deref(),
                            description: c.description.as_deref(),
                            parent: c.parent.as_deref(),
                            questions: &c.questions,
                            terms: c.terms.iter().map(|t| t.text.as_str()).collect(),
                        })
                        .collect()
                })
                .unwrap_or_default(),
        };
        let context = sandbox.call(|lua| to_lua(lua, &context).and_then(|v| lua.create_registry_value(v)))?;
        Ok(LuaCodingStrategy {
            context,
            attributes: participants
                .iter()
                .map(|p| (p.id.clone(), p.attributes.iter().cloned().collect()))
                .collect(),
            codes: known_codes(&sandbox, codebook)?,
            sandbox: Mutex::new(sandbox),
        })
    }

    fn script_segment<'a>(&'a self, transcript: &'a Transcript, segment: &'a Segment) -> ScriptSegment<'a> {
        ScriptSegment {
            transcript: &transcript.id,
            turn: segment.turn,
            speaker: segment.speaker.as_deref(),
            role: &segment.role,
            participant: segment.participant.as_deref(),
            attributes: segment.participant.as_ref().and_then(|p| self.attributes.get(p)),
            text: &segment.text,
        }
    }
}

impl CodingStrategy for LuaCodingStrategy {
    fn known_codes(&self) -> Option<Vec<String>> {
        self.codes.clone()
    }

    fn sequential(&self) -> bool {
        true
    }

    fn take_log(&self) -> Vec<String> {
        crate::api::take_log(&self.sandbox.lock().unwrap_or_else(|e| e.into_inner()).lua)
    }

    fn code(&self, transcript: &Transcript, segments: &[&Segment]) -> Result<Vec<CodeHit>, StrategyError> {
        let sandbox = self.sandbox.lock().unwrap_or_else(|e| e.into_inner());
        let failed = |turn: Option<u32>, e: ScriptError| {
            StrategyError::Failed(match turn {
                Some(turn) => format!("turn {turn}: {}", e.message),
                None => e.message,
            })
        };
        let document: Option<Function> = sandbox.lua.globals().get("code_document").ok();
        let mut hits = Vec::new();
        if let Some(code_document) = document {
            let returned = sandbox
                .call(|lua| {
                    let list: Vec<ScriptSegment> =
                        segments.iter().map(|s| self.script_segment(transcript, s)).collect();
                    let context: Table = lua.registry_value(&self.context)?;
                    let value: Value = code_document.call((to_lua(lua, &list)?, context))?;
                    read_codings(lua, value, "code_document")
                })
                .map_err(|e| failed(None, e))?;
            for coding in returned {
                let Some(turn) = coding.turn else {
                    return Err(failed(
                        None,
                        ScriptError::new(format!("{}: a coding from code_document() has no `turn`", sandbox.name)),
                    ));
                };
                let Some(segment) = segments.iter().find(|s| s.turn == turn) else {
                    return Err(StrategyError::UnknownTurn { turn });
                };
                hits.push(hit(segment, coding).map_err(|e| failed(Some(turn), e))?);
            }
            return Ok(hits);
        }
        let code: Function = sandbox
            .lua
            .globals()
            .get("code")
            .map_err(|e| failed(None, ScriptError::from_lua(&e)))?;
        for segment in segments {
            let returned = sandbox
                .call(|lua| {
                    let context: Table = lua.registry_value(&self.context)?;
                    let value: Value = code.call((to_lua(lua, &self.script_segment(transcript, segment))?, context))?;
                    read_codings(lua, value, "code")
                })
                .map_err(|e| failed(Some(segment.turn), e))?;
            for coding in returned {
                hits.push(hit(segment, coding).map_err(|e| failed(Some(segment.turn), e))?);
            }
        }
        Ok(hits)
    }
}

/// The codes the script may return: its codebook's, and those it lists in a
/// global `codes` table. `None` (any code) when it has neither.
fn known_codes(sandbox: &Sandbox, codebook: Option<&Codebook>) -> Result<Option<Vec<String>>, ScriptError> {
    let declared: Option<Vec<String>> = match sandbox.lua.globals().get::<Value>("codes") {
        Ok(Value::Nil) | Err(_) => None,
        Ok(value) => Some(sandbox.lua.from_value(value).map_err(|e| {
            ScriptError::new(format!(
                "{}: the global `codes` must be a list of code names: {e}",
                sandbox.name
            ))
        })?),
    };
    let from_book = codebook.map(|book| book.codes.iter().map(|c| c.id.clone()));
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

/// Reads what `function` returned: nil, or a list of codings.
fn read_codings(lua: &mlua::Lua, value: Value, function: &str) -> mlua::Result<Vec<ScriptCoding>> {
    match value {
        Value::Nil => Ok(Vec::new()),
        Value::Table(_) => lua
            .from_value(value)
            .map_err(|e| mlua::Error::runtime(format!("{function}() returned a malformed list of codings: {e}"))),
        other => Err(mlua::Error::runtime(format!(
            "{function}() must return a list of codings (or nil), not a {}",
            other.type_name()
        ))),
    }
}

/// A script's coding as a hit, its spans turned into code points of the transcript.
fn hit(segment: &Segment, coding: ScriptCoding) -> Result<CodeHit, ScriptError> {
    let text = &segment.text;
    let mut spans = Vec::with_capacity(coding.spans.len());
    for (first, last) in coding.spans {
        let (start, end) = (first.wrapping_sub(1), last);
        if first == 0 || start > end || end > text.len() || !text.is_char_boundary(start) || !text.is_char_boundary(end)
        {
            return Err(ScriptError::new(format!(
                "code `{}`: span {{{first}, {last}}} is not inside the segment's text (bytes 1 to {}) on character boundaries",
                coding.code,
                text.len()
            )));
        }
        let char_at = |byte: usize| segment.start + text[..byte].chars().count();
        spans.push(Span {
            start: char_at(start),
            end: char_at(end),
        });
    }
    Ok(CodeHit {
        turn: segment.turn,
        code: coding.code,
        spans,
        confidence: coding.confidence,
        memo: coding.memo,
    })
}
