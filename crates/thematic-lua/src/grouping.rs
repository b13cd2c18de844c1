//! Theme-grouping and area-mapping strategies written in Lua.

use std::collections::BTreeMap;
use std::sync::Mutex;

use mlua::{Function, LuaSerdeExt, Value};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use thematic_model::{Area, CandidateTheme, ReviewedTheme};
use thematic_pipeline::{AreaMapper, CodingSummary, StrategyError, ThemeGrouper};

use crate::sandbox::{to_lua, Limits, Sandbox, ScriptError};

/// A script that proposes candidate themes: it defines
/// `group(summary, context)` and returns `{ {id=, name=, codes={...}, subthemes={...}}, ... }`.
pub struct LuaThemeGrouper {
    script: Script,
}

/// A script that maps kept themes to discussion areas: it defines
/// `map(themes, context)` and returns `{ {id=, name=, themes={...}}, ... }`.
pub struct LuaAreaMapper {
    script: Script,
}

/// A loaded script with the one function its stage calls.
struct Script {
    sandbox: Mutex<Sandbox>,
    function: &'static str,
    params: toml::Table,
}

#[derive(Serialize)]
struct SummaryView<'a> {
    /// Code to its segments and participants.
    codes: BTreeMap<&'a str, CodeView<'a>>,
    /// `{ a, b, segments }` for each pair of codes on one segment, `a < b`.
    cooccurrence: Vec<Pair<'a>>,
}

#[derive(Serialize)]
struct CodeView<'a> {
    segments: usize,
    participants: Vec<&'a str>,
}

#[derive(Serialize)]
struct Pair<'a> {
    a: &'a str,
    b: &'a str,
    segments: usize,
}

#[derive(Serialize)]
struct Context<'a> {
    params: &'a toml::Table,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptTheme {
    id: String,
    name: String,
    #[serde(default)]
    codes: Vec<String>,
    #[serde(default)]
    subthemes: Vec<ScriptTheme>,
}

#[derive(Serialize)]
struct ThemeView<'a> {
    id: &'a str,
    name: &'a str,
    codes: &'a [String],
    covered: Vec<&'a str>,
    discarded: Option<&'a str>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScriptArea {
    id: String,
    name: String,
    #[serde(default)]
    themes: Vec<String>,
}

impl Script {
    fn load(
        name: &str,
        source: &str,
        limits: Limits,
        params: &toml::Table,
        function: &'static str,
    ) -> Result<Script, ScriptError> {
        let sandbox = Sandbox::new(name, source, limits)?;
        if !matches!(sandbox.lua.globals().get::<Value>(function), Ok(Value::Function(_))) {
            return Err(ScriptError::new(format!("{name}: does not define `{function}`")));
        }
        Ok(Script {
            sandbox: Mutex::new(sandbox),
            function,
            params: params.clone(),
        })
    }

    /// Calls the stage's function with `input` and the context, and reads
    /// its result as a list of `R`.
    fn call<R: DeserializeOwned>(&self, input: &impl Serialize) -> Result<Vec<R>, StrategyError> {
        let sandbox = self.sandbox.lock().unwrap_or_else(|e| e.into_inner());
        sandbox
            .call(|lua| {
                let function: Function = lua.globals().get(self.function)?;
                let context = Context { params: &self.params };
                let value: Value = function.call((to_lua(lua, input)?, to_lua(lua, &context)?))?;
                match value {
                    Value::Nil => Ok(Vec::new()),
                    Value::Table(_) => lua.from_value(value).map_err(|e| {
                        mlua::Error::runtime(format!("{}() returned a malformed list: {e}", self.function))
                    }),
                    other => Err(mlua::Error::runtime(format!(
                        "{}() must return a list (or nil), not a {}",
                        self.function,
                        other.type_name()
                    ))),
                }
            })
            .map_err(|e| StrategyError::Failed(e.message))
    }
}

impl LuaThemeGrouper {
    pub fn new(name: &str, source: &str, limits: Limits, params: &toml::Table) -> Result<LuaThemeGrouper, ScriptError> {
        Ok(LuaThemeGrouper {
            script: Script::load(name, source, limits, params, "group")?,
        })
    }
}

impl Script {
    fn take_log(&self) -> Vec<String> {
        crate::api::take_log(&self.sandbox.lock().unwrap_or_else(|e| e.into_inner()).lua)
    }
}

impl ThemeGrouper for LuaThemeGrouper {
    fn take_log(&self) -> Vec<String> {
        self.script.take_log()
    }

    fn group(&self, summary: &CodingSummary) -> Result<Vec<CandidateTheme>, StrategyError> {
        let view = SummaryView {
            codes: summary
                .codes
                .iter()
                .map(|(code, s)| {
                    (
                        code.as_str(),
                        CodeView {
                            segments: s.segments,
                            participants: s.participants.iter().map(String::as_str).collect(),
                        },
                    )
                })
                .collect(),
            cooccurrence: summary
                .cooccurrence
                .iter()
                .map(|((a, b), segments)| Pair {
                    a,
                    b,
                    segments: *segments,
                })
                .collect(),
        };
        fn convert(theme: ScriptTheme) -> CandidateTheme {
            CandidateTheme {
                id: theme.id,
                name: theme.name,
                codes: theme.codes,
                subthemes: theme.subthemes.into_iter().map(convert).collect(),
            }
        }
        Ok(self
            .script
            .call::<ScriptTheme>(&view)?
            .into_iter()
            .map(convert)
            .collect())
    }
}

impl LuaAreaMapper {
    pub fn new(name: &str, source: &str, limits: Limits, params: &toml::Table) -> Result<LuaAreaMapper, ScriptError> {
        Ok(LuaAreaMapper {
            script: Script::load(name, source, limits, params, "map")?,
        })
    }
}

impl AreaMapper for LuaAreaMapper {
    fn take_log(&self) -> Vec<String> {
        self.script.take_log()
    }

    fn map(&self, themes: &[ReviewedTheme]) -> Result<Vec<Area>, StrategyError> {
        let view: Vec<ThemeView> = themes
            .iter()
            .map(|t| ThemeView {
                id: &t.id,
                name: &t.name,
                codes: &t.codes,
                covered: t.covered.iter().map(String::as_str).collect(),
                discarded: t.discarded.as_deref(),
            })
            .collect();
        Ok(self
            .script
            .call::<ScriptArea>(&view)?
            .into_iter()
            .map(|a| Area {
                id: a.id,
                name: a.name,
                themes: a.themes,
            })
            .collect())
    }
}
