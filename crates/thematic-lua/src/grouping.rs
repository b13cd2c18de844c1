//! Theme-grouping and area-mapping strategies written in Lua.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use thematic_model::{Area, CandidateTheme, ReviewedTheme};
use thematic_pipeline::{AreaMapper, CodingSummary, StrategyError, ThemeGrouper};

use crate::host::ScriptHost;
use crate::sandbox::{Limits, Sandbox, ScriptError, ScriptFiles};

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
    host: ScriptHost,
    function: &'static str,
    /// What the function returns a list of, for messages.
    what: &'static str,
}

#[derive(Serialize)]
struct SummaryView {
    /// Code to its segments and participants.
    codes: BTreeMap<String, CodeView>,
    /// `{ a, b, segments, participants }` for each pair of codes on one segment, `a < b`.
    cooccurrence: Vec<Pair>,
}

#[derive(Serialize)]
struct CodeView {
    segments: usize,
    participants: Vec<String>,
}

#[derive(Serialize)]
struct Pair {
    a: String,
    b: String,
    segments: usize,
    participants: Vec<String>,
}

#[derive(Serialize)]
struct Context {
    params: toml::Table,
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
struct ThemeView {
    id: String,
    name: String,
    codes: Vec<String>,
    covered: Vec<String>,
    /// The review's reason for discarding the theme; absent (nil) when kept.
    discarded: Option<String>,
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
        script: &ScriptFiles,
        limits: Limits,
        params: &toml::Table,
        function: &'static str,
        what: &'static str,
    ) -> Result<Script, ScriptError> {
        let context = Arc::new(Context { params: params.clone() });
        let setup = Arc::new(move |sandbox: &Sandbox| sandbox.set_context(&*context));
        let host = ScriptHost::start(script, limits, setup)?;
        host.run(move |sandbox| {
            if sandbox.defines(function) {
                Ok(())
            } else {
                Err(ScriptError::new(format!(
                    "{}: does not define `{function}`",
                    sandbox.name
                )))
            }
        })?;
        Ok(Script { host, function, what })
    }

    /// Calls the stage's function with `input` and the context, and reads
    /// its result as a list of `R`.
    fn call<R: DeserializeOwned + Send + 'static>(
        &self,
        input: impl Serialize + Send + 'static,
    ) -> Result<Vec<R>, StrategyError> {
        let (function, what) = (self.function, self.what);
        self.host
            .run(move |sandbox| sandbox.call_list(function, &input, what))
            .map_err(|e| StrategyError::Failed(e.message))
    }
}

impl LuaThemeGrouper {
    pub fn new(script: &ScriptFiles, limits: Limits, params: &toml::Table) -> Result<LuaThemeGrouper, ScriptError> {
        Ok(LuaThemeGrouper {
            script: Script::load(script, limits, params, "group", "themes")?,
        })
    }
}

impl ThemeGrouper for LuaThemeGrouper {
    fn take_log(&self) -> Vec<String> {
        self.script.host.take_log()
    }

    fn group(&self, summary: &CodingSummary) -> Result<Vec<CandidateTheme>, StrategyError> {
        let view = SummaryView {
            codes: summary
                .codes
                .iter()
                .map(|(code, s)| {
                    let participants = s.participants.iter().cloned().collect();
                    (
                        code.clone(),
                        CodeView {
                            segments: s.segments,
                            participants,
                        },
                    )
                })
                .collect(),
            cooccurrence: summary
                .cooccurrence
                .iter()
                .map(|((a, b), pair)| Pair {
                    a: a.clone(),
                    b: b.clone(),
                    segments: pair.segments,
                    participants: pair.participants.iter().cloned().collect(),
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
            .call::<ScriptTheme>(view)?
            .into_iter()
            .map(convert)
            .collect())
    }
}

impl LuaAreaMapper {
    pub fn new(script: &ScriptFiles, limits: Limits, params: &toml::Table) -> Result<LuaAreaMapper, ScriptError> {
        Ok(LuaAreaMapper {
            script: Script::load(script, limits, params, "map", "areas")?,
        })
    }
}

impl AreaMapper for LuaAreaMapper {
    fn take_log(&self) -> Vec<String> {
        self.script.host.take_log()
    }

    fn map(&self, themes: &[ReviewedTheme]) -> Result<Vec<Area>, StrategyError> {
        let view: Vec<ThemeView> = themes
            .iter()
            .map(|t| ThemeView {
                id: t.id.clone(),
                name: t.name.clone(),
                codes: t.codes.clone(),
                covered: t.covered.iter().cloned().collect(),
                discarded: t.discarded.clone(),
            })
            .collect();
        let areas = self.script.call::<ScriptArea>(view)?;
        Ok(areas
            .into_iter()
            .map(|a| Area {
                id: a.id,
                name: a.name,
                themes: a.themes,
            })
            .collect())
    }
}
