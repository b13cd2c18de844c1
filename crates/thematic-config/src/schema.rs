use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};
use thematic_model::Unit;
use toml::Spanned;

use crate::ConfigError;

/// The file name a study folder's configuration has.
pub const CONFIG_FILE: &str = "thematic.toml";

/// A parsed `thematic.toml`, with its text kept so that later checks can
/// point at the place a value came from.
#[derive(Debug, Clone)]
pub struct StudyConfig {
    /// The file's name as shown in messages.
    pub file: String,
    pub text: String,
    pub study: Study,
}

/// The whole file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Study {
    pub study: StudyInfo,
    #[serde(default)]
    pub questions: Vec<Question>,
    #[serde(default)]
    pub transcripts: Transcripts,
    pub participants: Option<Participants>,
    pub redaction: Option<Redaction>,
    /// Presets of stages taken from installed packs.
    #[serde(default)]
    pub packs: Vec<UsedPack>,
    #[serde(default)]
    pub codebooks: Vec<CodebookSource>,
    #[serde(default)]
    pub stages: Vec<Spanned<Stage>>,
    #[serde(default)]
    pub themes: Vec<Theme>,
    #[serde(default)]
    pub areas: Vec<Area>,
    /// Pairs of coders (coding stages) whose agreement the report gives.
    #[serde(default)]
    pub agreement: Vec<AgreementPair>,
    #[serde(default)]
    pub outputs: Outputs,
}

/// Two coders whose agreement the report gives, code by code.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AgreementPair {
    /// The names of two coding stages.
    pub coders: Spanned<Vec<String>>,
    /// What a decision is about (default `segment`).
    #[serde(default)]
    pub unit: Unit,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StudyInfo {
    pub name: String,
    pub description: Option<String>,
}

/// A question put to every transcript (the thesis's "questions to the data").
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub id: Spanned<String>,
    pub text: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Transcripts {
    /// Glob patterns relative to the study folder.
    #[serde(default = "default_transcript_globs")]
    pub include: Vec<String>,
    /// Speaker label (case-insensitive) to role; unlisted labels are participants.
    #[serde(default = "default_roles")]
    pub roles: BTreeMap<String, String>,
    /// Transcript path (relative to the study folder) to participant id, for
    /// files whose name is not the participant's id.
    #[serde(default)]
    pub participants: BTreeMap<String, String>,
    /// Per transcript path: speaker label to the participant speaking (or a
    /// role), for focus groups and files whose labels are not participant ids.
    #[serde(default)]
    pub speakers: BTreeMap<String, BTreeMap<String, SpeakerAs>>,
    /// Regular expressions for non-verbal annotations and redaction marks,
    /// kept in the text but not coded; unset, the usual ones.
    #[serde(default)]
    pub annotations: Option<Vec<Spanned<String>>>,
}

impl Default for Transcripts {
    fn default() -> Self {
        Transcripts {
            include: default_transcript_globs(),
            roles: default_roles(),
            participants: BTreeMap::new(),
            speakers: BTreeMap::new(),
            annotations: None,
        }
    }
}

/// Who a speaker label in one transcript is.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum SpeakerAs {
    /// A participant, by id.
    Participant(String),
    /// Someone in a role (`{ role = "interviewer" }`).
    Role { role: String },
}

fn default_transcript_globs() -> Vec<String> {
    ["txt", "md", "vtt", "srt", "docx"]
        .iter()
        .map(|extension| format!("transcripts/*.{extension}"))
        .collect()
}

fn default_roles() -> BTreeMap<String, String> {
    BTreeMap::from([("Interviewer".to_string(), "interviewer".to_string())])
}

/// A preset of stages from an installed pack.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UsedPack {
    /// `pack@versions` or `pack/preset@versions` (`leadership-coding@1`).
    pub uses: Spanned<String>,
    /// Runs the pack's native plugins in processes of their own, whatever its presets say.
    pub isolation: Option<Spanned<Isolation>>,
}

/// Names, places and organisations replaced by pseudonyms before anything
/// else reads a transcript.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Redaction {
    /// CSV of `entry,kind,group`, relative to the study folder.
    pub list: Spanned<String>,
    /// Where the key from pseudonyms to entries is written: outside the
    /// outputs and the store.
    pub key: Spanned<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Participants {
    /// CSV: first column the participant id, further columns attributes.
    pub file: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CodebookSource {
    pub name: Spanned<String>,
    /// CSV (`code,term`) or TOML, relative to the study folder.
    pub file: String,
}

/// The three kinds of stage, run in this order whatever order they are listed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StageKind {
    /// Phase 2: codes on segments.
    Coding,
    /// Phases 3 to 5: candidate themes, their review and extracts.
    Themes,
    /// Grouping kept themes into discussion areas.
    Areas,
}

impl StageKind {
    /// The kind as `thematic.toml` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            StageKind::Coding => "coding",
            StageKind::Themes => "themes",
            StageKind::Areas => "areas",
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    pub name: Spanned<String>,
    pub kind: StageKind,
    pub strategy: Spanned<String>,
    /// Coding stages: the codebook (by name) the strategy uses.
    pub codebook: Option<Spanned<String>>,
    /// Coding stages: the speaker roles whose turns are coded.
    pub roles: Option<Vec<String>>,
    /// Theme stages: a theme must cover at least this many participants to be kept.
    pub min_participants: Option<usize>,
    /// Theme stages: how many extracts to quote per theme.
    pub extracts: Option<usize>,
    /// Parameters for the strategy, checked by the strategy.
    #[serde(default)]
    pub params: toml::Table,
    /// `lua` stages: the script, relative to the study folder.
    pub script: Option<Spanned<String>>,
    /// `lua` stages and isolated plugins: limits on the script or the plugin's process.
    pub limits: Option<ScriptLimits>,
    /// `plugin` stages: the shared library, relative to the study folder.
    pub plugin: Option<Spanned<String>>,
    /// `plugin` stages: where the plugin runs (default `none`, in thematic's process).
    pub isolation: Option<Spanned<Isolation>>,
    /// `coder` stages: the CSV of a person's codings, relative to the study folder.
    pub codings: Option<Spanned<String>>,
    /// `semantic` stages: the sentence-embedding model, by name (a folder of
    /// the study's `models/`) or by path (relative to the study folder).
    pub model: Option<Spanned<String>>,
    /// `semantic` stages: the coding stage (a person's codings) whose coded
    /// sentences the stage learns its codes from, instead of their descriptions.
    pub learn_from: Option<Spanned<String>>,
    /// A pack's stage: the SHA-256 the pack names its `model` by, which the
    /// model found must have. Never written in `thematic.toml`.
    #[serde(skip)]
    pub model_sha256: Option<String>,
}

/// Where a plugin runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Isolation {
    /// In thematic's own process: fastest, for plugins the team trusts.
    #[default]
    None,
    /// In child processes of its own: a crash or hang fails only the call.
    Process,
}

/// Limits on a script or an isolated plugin; unset ones keep their defaults.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptLimits {
    /// Memory the script's Lua state may hold, in MiB (default 256); for an
    /// isolated plugin, its process's address space (default unlimited).
    pub memory_mib: Option<usize>,
    /// Time one call into the script may take, in seconds (default 5; 60 for
    /// an isolated plugin).
    pub seconds: Option<f64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Theme {
    pub id: Spanned<String>,
    pub name: String,
    #[serde(default)]
    pub codes: Vec<Spanned<String>>,
    #[serde(default)]
    pub subthemes: Vec<Theme>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Area {
    pub id: Spanned<String>,
    pub name: String,
    #[serde(default)]
    pub themes: Vec<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Outputs {
    /// Folder for reports, relative to the study folder.
    #[serde(default = "default_output_dir")]
    pub dir: String,
    #[serde(default = "default_formats")]
    pub formats: Vec<OutputFormat>,
}

impl Default for Outputs {
    fn default() -> Self {
        Outputs {
            dir: default_output_dir(),
            formats: default_formats(),
        }
    }
}

fn default_output_dir() -> String {
    "reports".to_string()
}

fn default_formats() -> Vec<OutputFormat> {
    vec![
        OutputFormat::Markdown,
        OutputFormat::Html,
        OutputFormat::Csv,
        OutputFormat::Json,
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    Markdown,
    /// `report.html`: self-contained, with the heat map and the thematic map.
    Html,
    Csv,
    Json,
}

impl ScriptLimits {
    /// The largest memory limit a script can be given, in MiB (64 GiB).
    pub const MAX_MEMORY_MIB: usize = 64 * 1024;
    /// The smallest memory limit an isolated plugin's process can be given, in MiB.
    pub const MIN_PROCESS_MIB: usize = 64;
    /// The longest time limit a call can be given, in seconds (an hour).
    pub const MAX_SECONDS: f64 = 3600.0;

    /// What is wrong with these limits, if anything.
    fn problem(&self) -> Option<String> {
        if let Some(mib) = self.memory_mib.filter(|&m| m == 0 || m > Self::MAX_MEMORY_MIB) {
            return Some(format!(
                "`limits.memory_mib` is {mib}; it must be from 1 to {}",
                Self::MAX_MEMORY_MIB
            ));
        }
        if let Some(seconds) = self.seconds.filter(|&s| !(s > 0.0 && s <= Self::MAX_SECONDS)) {
            return Some(format!(
                "`limits.seconds` is {seconds}; it must be more than 0 and at most {}",
                Self::MAX_SECONDS
            ));
        }
        None
    }
}

/// Roles coded when a coding stage does not say.
pub const DEFAULT_CODED_ROLES: [&str; 1] = ["participant"];
/// Participants a theme must cover when its stage does not say.
pub const DEFAULT_MIN_PARTICIPANTS: usize = 1;
/// Extracts quoted per theme when its stage does not say.
pub const DEFAULT_EXTRACTS: usize = 3;

impl StudyConfig {
    /// Parses and checks a `thematic.toml`'s text; `file` names it in messages.
    pub fn parse(file: &str, text: &str) -> Result<StudyConfig, ConfigError> {
        let study: Study = toml::from_str(text)
            .map_err(|e| ConfigError::at(file, text, e.span().map_or(0, |s| s.start), e.message().trim_end()))?;
        let config = StudyConfig {
            file: file.to_string(),
            text: text.to_string(),
            study,
        };
        config.check_references()?;
        Ok(config)
    }

    /// An error pointing at `value` in this file.
    pub fn error_at<T>(&self, value: &Spanned<T>, message: impl Into<String>) -> ConfigError {
        ConfigError::at(&self.file, &self.text, value.span().start, message)
    }

    pub fn stages_of(&self, kind: StageKind) -> impl Iterator<Item = &Stage> {
        self.study
            .stages
            .iter()
            .map(|s| s.get_ref())
            .filter(move |s| s.kind == kind)
    }

    /// Every theme and sub-theme, depth first.
    pub fn all_themes(&self) -> Vec<&Theme> {
        fn walk<'a>(themes: &'a [Theme], out: &mut Vec<&'a Theme>) {
            for theme in themes {
                out.push(theme);
                walk(&theme.subthemes, out);
            }
        }
        let mut out = Vec::new();
        walk(&self.study.themes, &mut out);
        out
    }

    /// Names unique, references resolved, keys where they apply; run again
    /// after stages are added from packs.
    pub fn check_references(&self) -> Result<(), ConfigError> {
        let study = &self.study;
        unique(self, study.questions.iter().map(|q| &q.id), "question")?;
        unique(self, study.codebooks.iter().map(|c| &c.name), "codebook")?;
        unique(self, study.stages.iter().map(|s| &s.get_ref().name), "stage")?;
        unique(self, self.all_themes().into_iter().map(|t| &t.id), "theme")?;
        unique(self, study.areas.iter().map(|a| &a.id), "area")?;
        let codebooks: HashSet<&str> = study.codebooks.iter().map(|c| c.name.get_ref().as_str()).collect();
        for stage in &study.stages {
            self.check_kind_keys(stage)?;
            self.check_strategy_keys(stage.get_ref())?;
            self.check_limits(stage)?;
            if let Some(name) = &stage.get_ref().codebook {
                if !codebooks.contains(name.get_ref().as_str()) {
                    return Err(self.error_at(
                        name,
                        format!("no codebook is named `{}` in [[codebooks]]", name.get_ref()),
                    ));
                }
            }
        }
        self.check_agreements()?;
        self.check_learn_from()?;
        self.check_theme_nesting()?;
        self.check_areas()
    }

    /// Keys that belong to one kind of stage are not set on another.
    fn check_kind_keys(&self, spanned: &Spanned<Stage>) -> Result<(), ConfigError> {
        let stage = spanned.get_ref();
        let keys = [
            (StageKind::Coding, stage.codebook.is_some(), "codebook"),
            (StageKind::Coding, stage.roles.is_some(), "roles"),
            (StageKind::Themes, stage.min_participants.is_some(), "min_participants"),
            (StageKind::Themes, stage.extracts.is_some(), "extracts"),
        ];
        match keys
            .into_iter()
            .find(|&(kind, present, _)| present && stage.kind != kind)
        {
            Some((kind, _, key)) => Err(self.error_at(
                spanned,
                format!(
                    "stage `{}`: `{key}` applies only to {} stages",
                    stage.name.get_ref(),
                    kind.as_str()
                ),
            )),
            None => Ok(()),
        }
    }

    /// Each strategy that needs a key of its own has it, and no other
    /// strategy sets it; strategies serve the kinds of stage they can.
    fn check_strategy_keys(&self, stage: &Stage) -> Result<(), ConfigError> {
        let name = stage.name.get_ref();
        let keys = [
            (&stage.script, "script", "lua", "a `script`"),
            (&stage.plugin, "plugin", "plugin", "a `plugin` (the library)"),
            (
                &stage.codings,
                "codings",
                "coder",
                "`codings` (a CSV of a coder's codings, as `thematic import qdpx` writes)",
            ),
            (
                &stage.model,
                "model",
                "semantic",
                "a `model` (a sentence-transformers folder: a name in the study's `models/`, or a path)",
            ),
        ];
        // A `lua` coding or themes stage may name a model too, for its script's `thematic.embed`.
        let embeds_in_script =
            stage.strategy.get_ref() == "lua" && matches!(stage.kind, StageKind::Coding | StageKind::Themes);
        for (value, key, strategy, needs) in keys {
            if key == "model" && embeds_in_script {
                continue;
            }
            match (value, stage.strategy.get_ref() == strategy) {
                (None, true) => {
                    let message = format!("stage `{name}`: strategy `{strategy}` needs {needs}");
                    return Err(self.error_at(&stage.strategy, message));
                }
                (Some(value), false) => {
                    let also = if key == "model" {
                        " (and to `lua` coding and themes stages)"
                    } else {
                        ""
                    };
                    let message = format!("stage `{name}`: `{key}` applies only to strategy `{strategy}`{also}");
                    return Err(self.error_at(value, message));
                }
                _ => {}
            }
        }
        let strategy = stage.strategy.get_ref().as_str();
        let misplaced = match (stage.kind, strategy) {
            (StageKind::Themes | StageKind::Areas, "coder" | "semantic") => {
                Some(format!("strategy `{strategy}` codes; it serves coding stages only"))
            }
            (StageKind::Areas, "plugin") => {
                Some("plugins serve coding and themes stages; an areas stage cannot use strategy `plugin`".to_string())
            }
            _ => None,
        };
        if let Some(problem) = misplaced {
            return Err(self.error_at(&stage.strategy, format!("stage `{name}`: {problem}")));
        }
        if let (Some(isolation), None) = (&stage.isolation, &stage.plugin) {
            let message = format!("stage `{name}`: `isolation` applies only to strategy `plugin`");
            return Err(self.error_at(isolation, message));
        }
        if let (Some(learn_from), false) = (&stage.learn_from, strategy == "semantic") {
            let message = format!("stage `{name}`: `learn_from` applies only to strategy `semantic`");
            return Err(self.error_at(learn_from, message));
        }
        Ok(())
    }

    /// A stage that learns from another names a coding stage listed before it
    /// (stages start in order, and it learns from what that stage coded).
    fn check_learn_from(&self) -> Result<(), ConfigError> {
        let stages: Vec<&Stage> = self.study.stages.iter().map(|s| s.get_ref()).collect();
        for (place, stage) in stages.iter().enumerate() {
            let Some(learn_from) = &stage.learn_from else {
                continue;
            };
            let (name, from) = (stage.name.get_ref(), learn_from.get_ref());
            let problem = match stages.iter().position(|s| s.name.get_ref() == from) {
                _ if from == name => Some("a stage cannot learn from itself".to_string()),
                None => Some(format!("no stage is named `{from}`")),
                Some(other) if stages[other].kind != StageKind::Coding => {
                    Some(format!("`{from}` is not a coding stage"))
                }
                Some(other) if stages[other].strategy.get_ref() != "coder" => Some(format!(
                    "`{from}` is not a person's codings (a `coder` stage); a stage learns from what a person coded"
                )),
                Some(other) if other > place => {
                    Some(format!("`{from}` comes after it; list the stage it learns from first"))
                }
                Some(_) => None,
            };
            if let Some(problem) = problem {
                return Err(self.error_at(learn_from, format!("stage `{name}`: learn_from: {problem}")));
            }
        }
        Ok(())
    }

    /// `limits` bound a Lua state or a plugin's process, and within reason.
    fn check_limits(&self, spanned: &Spanned<Stage>) -> Result<(), ConfigError> {
        let stage = spanned.get_ref();
        let Some(limits) = &stage.limits else {
            return Ok(());
        };
        let scripted = stage.strategy.get_ref() == "lua";
        let isolated = stage.isolation.as_ref().map(|i| *i.get_ref()) == Some(Isolation::Process);
        let problem = if !scripted && !isolated {
            Some("`limits` applies only to strategy `lua` and to plugins with `isolation = \"process\"`".to_string())
        } else if let Some(mib) = limits
            .memory_mib
            .filter(|&m| isolated && m < ScriptLimits::MIN_PROCESS_MIB)
        {
            Some(format!(
                "`limits.memory_mib` is {mib}; a plugin's process holds thematic too and needs at least {}",
                ScriptLimits::MIN_PROCESS_MIB
            ))
        } else {
            limits.problem()
        };
        match problem {
            Some(problem) => Err(self.error_at(spanned, format!("stage `{}`: {problem}", stage.name.get_ref()))),
            None => Ok(()),
        }
    }

    /// Each `[[agreement]]` names two different coding stages.
    fn check_agreements(&self) -> Result<(), ConfigError> {
        let coding: Vec<&str> = self
            .stages_of(StageKind::Coding)
            .map(|s| s.name.get_ref().as_str())
            .collect();
        for pair in &self.study.agreement {
            let problem = match pair.coders.get_ref().as_slice() {
                [first, second] if first == second => Some(format!("names `{first}` twice; it needs two coders")),
                [first, second] => [first, second]
                    .into_iter()
                    .find(|name| !coding.contains(&name.as_str()))
                    .map(|name| format!("names `{name}`, which is not a coding stage ({})", coding.join(", "))),
                _ => Some("names two coders, as `coders = [\"dictionary\", \"Coder A\"]`".to_string()),
            };
            if let Some(problem) = problem {
                return Err(self.error_at(&pair.coders, format!("agreement: {problem}")));
            }
        }
        Ok(())
    }

    /// Themes nest one level.
    fn check_theme_nesting(&self) -> Result<(), ConfigError> {
        for theme in &self.study.themes {
            if let Some(nested) = theme.subthemes.iter().find_map(|sub| sub.subthemes.first()) {
                return Err(self.error_at(
                    &nested.id,
                    format!(
                        "theme `{}`: themes nest one level (a sub-theme has no sub-themes)",
                        theme.id.get_ref()
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Areas group whole themes that are defined.
    fn check_areas(&self) -> Result<(), ConfigError> {
        let top_level: HashSet<&str> = self.study.themes.iter().map(|t| t.id.get_ref().as_str()).collect();
        let all: HashSet<&str> = self.all_themes().iter().map(|t| t.id.get_ref().as_str()).collect();
        for area in &self.study.areas {
            for theme in &area.themes {
                let id = theme.get_ref().as_str();
                if !top_level.contains(id) {
                    let why = if all.contains(id) {
                        "is a sub-theme; areas group whole themes"
                    } else {
                        "is not defined in [[themes]]"
                    };
                    return Err(self.error_at(
                        theme,
                        format!("area `{}` names theme `{id}`, which {why}", area.id.get_ref()),
                    ));
                }
            }
        }
        Ok(())
    }
}

fn unique<'a>(
    config: &StudyConfig,
    ids: impl Iterator<Item = &'a Spanned<String>>,
    what: &str,
) -> Result<(), ConfigError> {
    let mut seen = HashSet::new();
    for id in ids {
        if !seen.insert(id.get_ref().as_str()) {
            return Err(config.error_at(id, format!("{what} `{}` is defined twice", id.get_ref())));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "[study]\nname = \"A study\"\n";

    fn parse(text: &str) -> Result<StudyConfig, ConfigError> {
        StudyConfig::parse("thematic.toml", text)
    }

    #[test]
    fn a_minimal_study_gets_defaults() {
        let config = parse(MINIMAL).unwrap();
        assert_eq!(
            config.study.transcripts.include,
            [
                "transcripts/*.txt",
                "transcripts/*.md",
                "transcripts/*.vtt",
                "transcripts/*.srt",
                "transcripts/*.docx"
            ]
        );
        assert_eq!(config.study.transcripts.roles["Interviewer"], "interviewer");
        assert_eq!(config.study.outputs.dir, "reports");
    }

    #[test]
    fn an_unknown_key_is_located() {
        let err = parse("[study]\nname = \"x\"\n\n[outputs]\ndirectory = \"out\"\n").unwrap_err();
        assert_eq!((err.line, err.column), (5, 1), "{err}");
        assert!(err.message.contains("unknown field `directory`"), "{err}");
        assert!(err.to_string().starts_with("thematic.toml:5:1: "), "{err}");
    }

    #[test]
    fn a_wrong_type_is_located() {
        let err = parse("[study]\nname = \"x\"\n[[stages]]\nname = \"t\"\nkind = \"themes\"\nstrategy = \"defined\"\nmin_participants = \"four\"\n").unwrap_err();
        assert_eq!(err.line, 7, "{err}");
        assert!(err.message.contains("invalid type"), "{err}");
    }

    #[test]
    fn an_unknown_stage_kind_is_located() {
        let err = parse("[study]\nname = \"x\"\n[[stages]]\nname = \"t\"\nkind = \"tagging\"\nstrategy = \"x\"\n")
            .unwrap_err();
        assert_eq!((err.line, err.column), (5, 8), "{err}");
        assert!(err.message.contains("unknown variant `tagging`"), "{err}");
    }

    #[test]
    fn a_missing_codebook_reference_is_located() {
        let text = "[study]\nname = \"x\"\n[[stages]]\nname = \"c\"\nkind = \"coding\"\nstrategy = \"dictionary\"\ncodebook = \"nope\"\n";
        let err = parse(text).unwrap_err();
        assert_eq!((err.line, err.column), (7, 12), "{err}");
        assert!(err.message.contains("no codebook is named `nope`"), "{err}");
    }

    #[test]
    fn themes_nest_one_level_and_areas_group_whole_themes() {
        let nested = "[study]\nname = \"x\"\n[[themes]]\nid = \"T1\"\nname = \"a\"\n[[themes.subthemes]]\nid = \"T1a\"\nname = \"b\"\n\
                      [[themes.subthemes.subthemes]]\nid = \"T1ai\"\nname = \"c\"\n";
        let err = parse(nested).unwrap_err();
        assert_eq!(err.line, 10, "{err}");
        assert!(err.message.contains("themes nest one level"), "{err}");
        let sub_in_area = "[study]\nname = \"x\"\n[[themes]]\nid = \"T1\"\nname = \"a\"\n[[themes.subthemes]]\nid = \"T1a\"\nname = \"b\"\n\
                           [[areas]]\nid = \"A\"\nname = \"A\"\nthemes = [\"T1a\"]\n";
        let err = parse(sub_in_area).unwrap_err();
        assert!(err.message.contains("`T1a`, which is a sub-theme"), "{err}");
    }

    #[test]
    fn script_limits_must_be_usable() {
        let stage = |limits: &str| {
            format!("[study]\nname = \"x\"\n[[stages]]\nname = \"s\"\nkind = \"coding\"\nstrategy = \"lua\"\nscript = \"a.lua\"\nlimits = {{ {limits} }}\n")
        };
        for (limits, expected) in [
            ("memory_mib = 0", "`limits.memory_mib` is 0; it must be from 1 to 65536"),
            ("memory_mib = 17592186044416", "`limits.memory_mib` is 17592186044416"),
            ("seconds = 0", "`limits.seconds` is 0; it must be more than 0"),
            ("seconds = -1", "`limits.seconds` is -1"),
            ("seconds = 1.8e19", "`limits.seconds` is 18000000000000000000"),
            ("seconds = nan", "`limits.seconds` is NaN"),
        ] {
            let err = parse(&stage(limits)).unwrap_err();
            assert!(err.message.contains(expected), "{limits}: {err}");
            assert_eq!(err.line, 3, "{err}");
        }
        assert!(parse(&stage("memory_mib = 64, seconds = 0.5")).is_ok());
    }

    #[test]
    fn keys_for_another_kind_of_stage_are_refused() {
        let text =
            "[study]\nname = \"x\"\n[[stages]]\nname = \"a\"\nkind = \"areas\"\nstrategy = \"defined\"\nextracts = 2\n";
        let err = parse(text).unwrap_err();
        assert!(
            err.message.contains("`extracts` applies only to themes stages"),
            "{err}"
        );
    }

    #[test]
    fn agreement_names_two_coding_stages() {
        let study = "[study]\nname = \"x\"\n[[codebooks]]\nname = \"b\"\nfile = \"b.csv\"\n[[stages]]\nname = \"dictionary\"\nkind = \"coding\"\nstrategy = \"dictionary\"\ncodebook = \"b\"\n[[stages]]\nname = \"themes\"\nkind = \"themes\"\nstrategy = \"defined\"\n";
        for (coders, expected) in [
            (
                "[\"dictionary\", \"nobody\"]",
                "agreement: names `nobody`, which is not a coding stage (dictionary)",
            ),
            (
                "[\"dictionary\", \"themes\"]",
                "agreement: names `themes`, which is not a coding stage",
            ),
            (
                "[\"dictionary\", \"dictionary\"]",
                "agreement: names `dictionary` twice",
            ),
            ("[\"dictionary\"]", "agreement: names two coders"),
        ] {
            let text = format!("{study}[[agreement]]\ncoders = {coders}\n");
            let error = parse(&text).and_then(|c| c.check_references()).unwrap_err().to_string();
            assert!(error.contains(expected) && error.contains(":16:"), "{error}");
        }
        let text = format!("{study}[[agreement]]\ncoders = [\"dictionary\", \"dictionary\"]\nunit = \"word\"\n");
        assert!(parse(&text).is_err(), "units are segment or character");
    }

    #[test]
    fn a_coder_stage_needs_its_codings_and_only_it_has_them() {
        let stage =
            |keys: &str| format!("[study]\nname = \"x\"\n[[stages]]\nname = \"anna\"\nkind = \"coding\"\n{keys}\n");
        let error = |keys: &str| {
            parse(&stage(keys))
                .and_then(|c| c.check_references())
                .unwrap_err()
                .to_string()
        };
        assert!(error("strategy = \"coder\"").contains("strategy `coder` needs `codings`"));
        assert!(error("strategy = \"semantic\"").contains("strategy `semantic` needs a `model`"));
        assert!(error("strategy = \"dictionary\"\nmodel = \"all-MiniLM-L6-v2\"")
            .contains("`model` applies only to strategy `semantic` (and to `lua` coding and themes stages)"));
        let script_with_model = stage("strategy = \"lua\"\nscript = \"s.lua\"\nmodel = \"all-MiniLM-L6-v2\"");
        assert!(parse(&script_with_model).and_then(|c| c.check_references()).is_ok());
        let themes_script_with_model = script_with_model.replace("\"coding\"", "\"themes\"");
        assert!(parse(&themes_script_with_model)
            .and_then(|c| c.check_references())
            .is_ok());
        let areas_script_with_model = script_with_model.replace("\"coding\"", "\"areas\"");
        assert!(parse(&areas_script_with_model)
            .and_then(|c| c.check_references())
            .unwrap_err()
            .to_string()
            .contains("`model` applies only to strategy `semantic`"));
        assert!(error("strategy = \"dictionary\"\nlearn_from = \"anna\"")
            .contains("`learn_from` applies only to strategy `semantic`"));
        assert!(error("strategy = \"dictionary\"\ncodings = \"coders/a.csv\"")
            .contains("`codings` applies only to strategy `coder`"));
        assert!(parse(&stage("strategy = \"coder\"\ncodings = \"coders/a.csv\""))
            .unwrap()
            .check_references()
            .is_ok());
    }

    #[test]
    fn each_stage_key_is_refused_where_it_does_not_apply_at_its_place() {
        let study = "[study]\nname = \"x\"\n[[codebooks]]\nname = \"b\"\nfile = \"b.csv\"\n[[stages]]\nname = \"s\"\n";
        for (keys, expected, line) in [
            ("kind = \"themes\"\nstrategy = \"defined\"\ncodebook = \"b\"", "`codebook` applies only to coding stages", 6),
            ("kind = \"areas\"\nstrategy = \"defined\"\nroles = []", "`roles` applies only to coding stages", 6),
            ("kind = \"coding\"\nstrategy = \"dictionary\"\nextracts = 2", "`extracts` applies only to themes stages", 6),
            ("kind = \"coding\"\nstrategy = \"lua\"", "strategy `lua` needs a `script`", 9),
            ("kind = \"coding\"\nstrategy = \"dictionary\"\nscript = \"a.lua\"", "`script` applies only to strategy `lua`", 10),
            ("kind = \"coding\"\nstrategy = \"plugin\"", "strategy `plugin` needs a `plugin` (the library)", 9),
            ("kind = \"themes\"\nstrategy = \"coder\"\ncodings = \"c.csv\"", "strategy `coder` codes; it serves coding stages only", 9),
            ("kind = \"areas\"\nstrategy = \"plugin\"\nplugin = \"p.so\"", "an areas stage cannot use strategy `plugin`", 9),
            ("kind = \"coding\"\nstrategy = \"dictionary\"\nisolation = \"process\"", "`isolation` applies only to strategy `plugin`", 10),
            ("kind = \"coding\"\nstrategy = \"dictionary\"\n[stages.limits]\nseconds = 1.0", "`limits` applies only to strategy `lua`", 6),
            ("kind = \"coding\"\nstrategy = \"plugin\"\nplugin = \"p.so\"\nisolation = \"process\"\n[stages.limits]\nmemory_mib = 1", "`limits.memory_mib` is 1", 6),
            ("kind = \"coding\"\nstrategy = \"dictionary\"\ncodebook = \"nothing\"", "no codebook is named `nothing`", 10),
        ] {
            let error = parse(&format!("{study}{keys}\n")).unwrap_err();
            assert!(error.message.contains(expected) && error.line == line, "{keys}: {error}");
        }
    }

    #[test]
    fn a_learning_stage_names_a_coding_stage_listed_before_it() {
        let stage = |name: &str, keys: &str| format!("[[stages]]\nname = \"{name}\"\nkind = \"coding\"\n{keys}\n");
        let person = stage("anna", "strategy = \"coder\"\ncodings = \"coders/a.csv\"");
        let learner = |from: &str| {
            stage(
                "meaning",
                &format!("strategy = \"semantic\"\nmodel = \"m\"\nlearn_from = \"{from}\""),
            )
        };
        let themes = "[[stages]]\nname = \"themes\"\nkind = \"themes\"\nstrategy = \"defined\"\n";
        let study = |stages: &[&str]| format!("[study]\nname = \"x\"\n{}", stages.concat());
        assert!(parse(&study(&[&person, &learner("anna")])).is_ok());
        for (stages, expected) in [
            (
                study(&[&learner("anna"), &person]),
                "stage `meaning`: learn_from: `anna` comes after it",
            ),
            (
                study(&[&person, &learner("bob")]),
                "stage `meaning`: learn_from: no stage is named `bob`",
            ),
            (
                study(&[&person, &learner("meaning")]),
                "a stage cannot learn from itself",
            ),
            (study(&[themes, &learner("themes")]), "`themes` is not a coding stage"),
            (
                study(&[&stage("words", "strategy = \"regex\""), &learner("words")]),
                "`words` is not a person's codings (a `coder` stage)",
            ),
        ] {
            let error = parse(&stages).unwrap_err();
            assert!(error.message.contains(expected), "{error}");
            let line = stages[..stages.find("learn_from").unwrap()].lines().count() + 1;
            assert_eq!(error.line, line, "{error}");
        }
    }

    #[test]
    fn areas_must_name_defined_themes_and_ids_must_be_unique() {
        let text = "[study]\nname = \"x\"\n[[themes]]\nid = \"T1\"\nname = \"One\"\n[[areas]]\nid = \"A\"\nname = \"A\"\nthemes = [\"T1\", \"T9\"]\n";
        let err = parse(text).unwrap_err();
        assert_eq!((err.line, err.column), (9, 17), "{err}");
        assert!(
            err.message
                .ends_with("names theme `T9`, which is not defined in [[themes]]"),
            "{err}"
        );
        let text = "[study]\nname = \"x\"\n[[themes]]\nid = \"T1\"\nname = \"One\"\n[[themes.subthemes]]\nid = \"T1\"\nname = \"Again\"\n";
        let err = parse(text).unwrap_err();
        assert!(err.message.contains("theme `T1` is defined twice"), "{err}");
        assert_eq!(err.line, 7);
    }
}

#[cfg(test)]
mod documentation {
    use super::*;

    const DOCS: &str = include_str!("../../../docs/configuration.md");

    /// The first ```toml block after "## A complete example".
    fn complete_example() -> &'static str {
        let from = DOCS
            .find("## A complete example")
            .expect("the docs have a complete example");
        let start = DOCS[from..].find("```toml\n").unwrap() + from + "```toml\n".len();
        let end = DOCS[start..].find("```").unwrap() + start;
        &DOCS[start..end]
    }

    fn keys(value: &toml::Value, out: &mut Vec<String>) {
        match value {
            toml::Value::Table(table) => {
                for (key, value) in table {
                    out.push(key.clone());
                    keys(value, out);
                }
            }
            toml::Value::Array(items) => items.iter().for_each(|v| keys(v, out)),
            _ => {}
        }
    }

    #[test]
    fn the_documented_example_is_valid_and_every_key_it_sets_is_documented() {
        let config = StudyConfig::parse("docs/configuration.md", complete_example()).unwrap();
        let mut found = Vec::new();
        keys(&toml::Value::try_from(&config.study).unwrap(), &mut found);
        let free_form = [
            "Interviewer",
            "Second interviewer",
            "transcripts/interview-03.txt",
            "case_insensitive",
            "code",
            "doubt",
        ];
        for key in found.iter().filter(|k| !free_form.contains(&k.as_str())) {
            let documented = [format!("`{key}`"), format!("`[{key}]`"), format!("`[[{key}]]`")];
            assert!(
                documented.iter().any(|d| DOCS.contains(d)),
                "key `{key}` is not documented in docs/configuration.md"
            );
        }
        for section in [
            "study",
            "questions",
            "transcripts",
            "participants",
            "codebooks",
            "stages",
            "themes",
            "areas",
            "outputs",
        ] {
            assert!(found.iter().any(|k| k == section), "the example leaves out [{section}]");
        }
        let stage_keys = [
            "codebook",
            "roles",
            "min_participants",
            "extracts",
            "params",
            "script",
            "limits",
            "memory_mib",
            "seconds",
            "subthemes",
            "description",
        ];
        for key in stage_keys {
            assert!(found.iter().any(|k| k == key), "the example leaves out `{key}`");
        }
    }
}
