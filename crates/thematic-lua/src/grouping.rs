//! Theme-grouping and area-mapping strategies written in Lua.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use thematic_model::{Area, CandidateTheme, ReviewedTheme};
use thematic_pipeline::{AreaMapper, CodedText, CodingSummary, StrategyError, ThemeGrouper};

use crate::api::Embed;
use crate::host::ScriptHost;
use crate::sandbox::{Limits, Sandbox, ScriptError, ScriptFiles};

/// A script that proposes candidate themes: it defines
/// `group(summary, context)` and returns `{ {id=, name=, codes={...}, subthemes={...}}, ... }`.
pub struct LuaThemeGrouper {
    script: Script,
    /// Whether the stage names a model: its script then embeds, and sees what was said.
    embeds: bool,
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
    /// The code's segments with their words, for a stage that names a model.
    #[serde(skip_serializing_if = "Option::is_none")]
    extracts: Option<Vec<CodedText>>,
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
        embed: Option<Embed>,
        function: &'static str,
        what: &'static str,
    ) -> Result<Script, ScriptError> {
        let context = Arc::new(Context { params: params.clone() });
        let setup = Arc::new(move |sandbox: &Sandbox| {
            if let Some(embed) = &embed {
                sandbox.install_embedding(embed.clone())?;
            }
            sandbox.set_context(&*context)
        });
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
    /// Loads the script; with `embed` (the stage names a model) it gets
    /// `thematic.embed` and each code's extracts.
    pub fn new(
        script: &ScriptFiles,
        limits: Limits,
        params: &toml::Table,
        embed: Option<Embed>,
    ) -> Result<LuaThemeGrouper, ScriptError> {
        let embeds = embed.is_some();
        Ok(LuaThemeGrouper {
            script: Script::load(script, limits, params, embed, "group", "themes")?,
            embeds,
        })
    }
}

impl ThemeGrouper for LuaThemeGrouper {
    fn take_log(&self) -> Vec<String> {
        self.script.host.take_log()
    }

    fn reads_texts(&self) -> bool {
        self.embeds
    }

    fn group(&self, summary: &CodingSummary) -> Result<Vec<CandidateTheme>, StrategyError> {
        let view = SummaryView {
            codes: summary
                .codes
                .iter()
                .map(|(code, s)| {
                    let participants = s.participants.iter().cloned().collect();
                    let extracts = self
                        .embeds
                        .then(|| summary.texts.get(code).cloned().unwrap_or_default());
                    (
                        code.clone(),
                        CodeView {
                            segments: s.segments,
                            participants,
                            extracts,
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
            script: Script::load(script, limits, params, None, "map", "areas")?,
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::time::Duration;

    use thematic_pipeline::CodeSummary;

    use super::*;

    fn example_script() -> ScriptFiles {
        let read = |name: &str| {
            let path = format!("{}/../../scripts/{name}", env!("CARGO_MANIFEST_DIR"));
            std::fs::read_to_string(path).unwrap()
        };
        let module = crate::sandbox::Module {
            path: "scripts/candidate_themes.lua".into(),
            source: read("candidate_themes.lua"),
        };
        ScriptFiles {
            name: "scripts/meaning_themes.lua".into(),
            source: read("meaning_themes.lua"),
            modules: BTreeMap::from([("candidate_themes".to_string(), module)]),
        }
    }

    /// A model that knows two meanings: money (texts naming a cost) and
    /// people (texts naming someone), taking `delay` for each call.
    fn two_meanings(delay: Duration) -> Embed {
        Arc::new(move |texts: &[&str]| {
            std::thread::sleep(delay);
            Ok(texts
                .iter()
                .map(|text| match (text.contains("cost"), text.contains("sister")) {
                    (true, false) => vec![1.0, 0.1, 0.0],
                    (false, true) => vec![0.1, 1.0, 0.0],
                    _ => vec![0.0, 0.0, 1.0],
                })
                .collect())
        })
    }

    /// A summary in which each code has been put on segments saying `said`.
    fn said(codes: &[(&str, &[&str])]) -> CodingSummary {
        let mut summary = CodingSummary::default();
        for (code, texts) in codes {
            summary.codes.insert(
                code.to_string(),
                CodeSummary {
                    segments: texts.len(),
                    participants: BTreeSet::from(["P1".to_string()]),
                },
            );
            let texts = texts.iter().enumerate().map(|(turn, text)| CodedText {
                transcript: "P1.txt".into(),
                turn: turn as u32 + 1,
                participant: Some("P1".into()),
                text: text.to_string(),
            });
            summary.texts.insert(code.to_string(), texts.collect());
        }
        summary
    }

    #[test]
    fn the_example_script_joins_codes_whose_extracts_mean_alike() {
        let grouper = LuaThemeGrouper::new(
            &example_script(),
            Limits::default(),
            &toml::Table::new(),
            Some(two_meanings(Duration::ZERO)),
        )
        .unwrap();
        assert!(grouper.reads_texts());
        let summary = said(&[
            ("bills", &["the cost of the bus", "the cost of lunch", "more cost"]),
            ("rent", &["rent was a cost"]),
            ("family", &["my sister came", "my sister rang"]),
            ("carers", &["her sister helped"]),
            ("weather", &["it rained"]),
        ]);
        let themes = grouper.group(&summary).unwrap();
        let found: Vec<(&str, &str, Vec<&str>)> = themes
            .iter()
            .map(|t| {
                (
                    t.id.as_str(),
                    t.name.as_str(),
                    t.codes.iter().map(String::as_str).collect(),
                )
            })
            .collect();
        assert_eq!(
            found,
            [
                ("M1", "bills with rent", vec!["bills", "rent"]),
                ("M2", "family with carers", vec!["family", "carers"]),
            ],
            "a code alone in its meaning (weather) is no theme"
        );
        assert_eq!(
            grouper.take_log(),
            ["2 candidate theme(s) by meaning from 5 codes' extracts"]
        );
    }

    #[test]
    fn time_spent_embedding_does_not_count_against_the_script_limit() {
        let limits = Limits {
            time: Duration::from_millis(100),
            ..Limits::default()
        };
        let script = ScriptFiles {
            name: "scripts/slow.lua".into(),
            // Embedding past the limit and the watchdog's grace, then
            // enough instructions for the hook to look at the limit.
            source: "function group(summary) \
                     thematic.embed('cost') thematic.embed('sister') \
                     local n = 0 for i = 1, 200000 do n = n + i end return {} end"
                .into(),
            modules: BTreeMap::new(),
        };
        let slow_model = two_meanings(Duration::from_millis(700));
        let grouper = LuaThemeGrouper::new(&script, limits, &toml::Table::new(), Some(slow_model)).unwrap();
        assert_eq!(grouper.group(&said(&[("a", &["cost"])])).unwrap().len(), 0);
    }

    #[test]
    fn without_a_model_a_script_sees_no_extracts() {
        let script = ScriptFiles {
            name: "scripts/peek.lua".into(),
            source: "function group(summary) \
                     thematic.log(tostring(summary.codes.bills.extracts)) return {} end"
                .into(),
            modules: BTreeMap::new(),
        };
        let grouper = LuaThemeGrouper::new(&script, Limits::default(), &toml::Table::new(), None).unwrap();
        assert!(!grouper.reads_texts());
        grouper.group(&said(&[("bills", &["cost"])])).unwrap();
        assert_eq!(grouper.take_log(), ["nil"]);
    }
}
