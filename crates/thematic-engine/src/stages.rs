//! A plan's stages started: builtin strategies built, Lua scripts loaded
//! into their states, plugins loaded or their processes started. Starting
//! again from a new plan keeps every stage whose start key did not change,
//! so that watch mode starts no Lua state and no process for a batch that
//! changed only transcripts.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use anyhow::{Context, Result};
use thematic_config::{Isolation, Stage, StageKind};
use thematic_embed::{embed_keeping, Embedder, KeptEmbeddings, SemanticParams, SemanticStrategy, Taught};
use thematic_lua::{Embed, LuaAreaMapper, LuaCodingStrategy, LuaThemeGrouper};
use thematic_model::{Coding, Segment, Transcript};
use thematic_pipeline::{
    area_mapper, code_transcript, coding_strategy, theme_grouper, AreaMapper, CoderStrategy, CodingStage,
    CodingStrategy, CodingsFile, ReviewRule, ThemeGrouper,
};
use thematic_plugins::{Plugin, PluginCodingStrategy, PluginThemeGrouper};

use crate::files::sha256_hex;
use crate::kept_embeddings::StudyEmbeddings;
use crate::models::ModelFolder;
use crate::plan::{check_theme_codes, located, ModelRun, Plan, PluginRun, Runs, StagePlan};
use crate::reading::read_one;

pub struct ThemeStage {
    pub name: String,
    pub strategy_name: String,
    /// The engine, strategy, parameters, script and library the stage runs,
    /// the themes it is given and the review rule.
    pub fingerprint: String,
    pub grouper: Box<dyn ThemeGrouper>,
    pub rule: ReviewRule,
}

pub struct AreaStage {
    pub name: String,
    pub strategy_name: String,
    /// The engine, strategy, parameters and script, and the areas it is given.
    pub fingerprint: String,
    pub mapper: Box<dyn AreaMapper>,
}

/// Started stages, each with the start key it was started under.
#[derive(Default)]
pub struct Stages {
    pub coding: Vec<CodingStage>,
    pub themes: Option<ThemeStage>,
    pub areas: Option<AreaStage>,
    /// Stage name to the start key it runs under.
    keys: HashMap<String, String>,
    /// The stages this start started (the others were kept running).
    pub started: Vec<String>,
}

/// A started stage of any kind, before it takes its place.
enum Started {
    Coding(CodingStage),
    Themes(ThemeStage),
    Areas(AreaStage),
}

impl Stages {
    /// Starts every stage of `plan`. `executable` is the `thematic` binary,
    /// which isolated plugins run in.
    pub fn start(plan: &Plan, executable: &Path) -> Result<Stages> {
        Stages::default().restart(plan, executable)
    }

    /// The stages of `plan`: those of these under the same start key kept
    /// as they run, the rest started (and those no longer planned stopped).
    pub fn restart(self, plan: &Plan, executable: &Path) -> Result<Stages> {
        let mut running: HashMap<String, Started> = HashMap::new();
        for stage in self.coding {
            running.insert(stage.name.clone(), Started::Coding(stage));
        }
        if let Some(stage) = self.themes {
            running.insert(stage.name.clone(), Started::Themes(stage));
        }
        if let Some(stage) = self.areas {
            running.insert(stage.name.clone(), Started::Areas(stage));
        }
        let mut stages = Stages::default();
        for planned in &plan.stages {
            // A stage that learns is started again whenever what it is taught changed.
            let teaching = match &planned.learn_from {
                Some(from) => Some(Teaching::read(plan, from, &stages.coding)?),
                None => None,
            };
            let key = match &teaching {
                Some(teaching) => sha256_hex(format!("{}\ntaught {}", planned.start_key, teaching.digest).as_bytes()),
                None => planned.start_key.clone(),
            };
            let kept = running
                .remove(&planned.name)
                .filter(|_| self.keys.get(&planned.name) == Some(&key));
            let stage = match kept {
                Some(stage) => stage,
                None => {
                    stages.started.push(planned.name.clone());
                    start(plan, planned, executable, teaching.as_ref())?
                }
            };
            stages.keys.insert(planned.name.clone(), key);
            match stage {
                Started::Coding(stage) => stages.coding.push(stage),
                Started::Themes(stage) => stages.themes = Some(stage),
                Started::Areas(stage) => stages.areas = Some(stage),
            }
        }
        if !plan.theme_codes_checked {
            let known: BTreeSet<String> = stages
                .coding
                .iter()
                .flat_map(|s| s.strategy.known_codes().unwrap_or_default())
                .collect();
            check_theme_codes(&plan.config, &known)?;
        }
        Ok(stages)
    }
}

/// What a stage that learns from a person is taught: each transcript the
/// person's stage covers, read as a pass reads it (annotations blanked), with
/// that stage's codings of it.
struct Teaching {
    from: String,
    transcripts: Vec<(Transcript, Vec<Coding>)>,
    /// Changes whenever what is taught could: the person's stage and the
    /// text of each transcript it covers.
    digest: String,
}

impl Teaching {
    /// `started` are the stages started so far, the person's among them
    /// (the configuration lists it before the stage that learns from it).
    fn read(plan: &Plan, from: &str, started: &[CodingStage]) -> Result<Teaching> {
        let source = started
            .iter()
            .find(|s| s.name == from)
            .context("a stage learns from a coding stage listed before it (checked by the configuration)")?;
        let mut digest = format!("{}\n", source.fingerprint);
        let mut transcripts = Vec::new();
        for (id, path) in plan.transcripts.iter().filter(|(id, _)| source.strategy.covers(id)) {
            // One that cannot be read teaches nothing; the pass reports it.
            let Ok((read, _)) = read_one(plan, id, path) else {
                continue;
            };
            let transcript = plan.annotations.blanked(&read.transcript).unwrap_or(read.transcript);
            // Nor does one the person's stage cannot code (codings made on another text of it); the pass reports it.
            let Ok(codings) = code_transcript(source, &transcript) else {
                continue;
            };
            digest.push_str(&format!("{id} {}\n", transcript.content_hash));
            transcripts.push((transcript, codings));
        }
        // What the person's stage said while teaching, the pass says again when it codes.
        drop(source.strategy.take_log());
        Ok(Teaching {
            from: from.to_string(),
            transcripts,
            digest: sha256_hex(digest.as_bytes()),
        })
    }
}

/// Starts one planned stage; a stage that learns from a person is handed what it is taught.
fn start(plan: &Plan, planned: &StagePlan, executable: &Path, teaching: Option<&Teaching>) -> Result<Started> {
    let config = &plan.config;
    let stage = config
        .study
        .stages
        .iter()
        .map(|s| s.get_ref())
        .find(|s| s.name.get_ref() == &planned.name)
        .expect("a planned stage is one of the configuration's");
    let params = &planned.params;
    let json_params = || serde_json::to_value(params).unwrap_or_default();
    let book = planned.codebook.as_ref();
    let plugin = match &planned.runs {
        Runs::Plugin(run) => Some(start_plugin(plan, planned.kind, run, executable)?),
        _ => None,
    };
    Ok(match planned.kind {
        StageKind::Coding => {
            let strategy: Box<dyn CodingStrategy> = match (&planned.runs, plugin) {
                (_, Some(plugin)) => Box::new(PluginCodingStrategy::new(plugin, json_params(), book)),
                (Runs::Script { script, limits, model }, None) => Box::new(LuaCodingStrategy::new(
                    script,
                    *limits,
                    params,
                    book,
                    &plan.questions,
                    &plan.participants,
                    model.as_ref().map(|run| embed_for_scripts(plan, run)).transpose()?,
                )?),
                (Runs::Coder { file, text }, None) => {
                    Box::new(CoderStrategy::new(&CodingsFile { name: file, text }, book).map_err(anyhow::Error::msg)?)
                }
                (Runs::Model(run), None) => Box::new(start_semantic(plan, stage, planned, run, teaching)?),
                _ => coding_strategy(&planned.strategy_name, params, book).map_err(|e| located(config, stage, e))?,
            };
            Started::Coding(CodingStage {
                name: planned.name.clone(),
                strategy_name: planned.strategy_name.clone(),
                // What a stage learnt is part of what decides its codings.
                fingerprint: match teaching {
                    Some(teaching) => {
                        sha256_hex(format!("{}\ntaught {}", planned.fingerprint, teaching.digest).as_bytes())
                    }
                    None => planned.fingerprint.clone(),
                },
                roles: planned.roles.clone(),
                strategy,
            })
        }
        StageKind::Themes => Started::Themes(ThemeStage {
            name: planned.name.clone(),
            strategy_name: planned.strategy_name.clone(),
            fingerprint: planned.fingerprint.clone(),
            grouper: match (&planned.runs, plugin) {
                (_, Some(plugin)) => Box::new(PluginThemeGrouper::new(plugin, json_params())),
                (Runs::Script { script, limits, model }, None) => Box::new(LuaThemeGrouper::new(
                    script,
                    *limits,
                    params,
                    model.as_ref().map(|run| embed_for_scripts(plan, run)).transpose()?,
                )?),
                _ => theme_grouper(&planned.strategy_name, params, &config.study.themes)
                    .map_err(|e| located(config, stage, e))?,
            },
            rule: planned.rule,
        }),
        StageKind::Areas => Started::Areas(AreaStage {
            name: planned.name.clone(),
            strategy_name: planned.strategy_name.clone(),
            fingerprint: planned.fingerprint.clone(),
            mapper: match &planned.runs {
                Runs::Script { script, limits, .. } => Box::new(LuaAreaMapper::new(script, *limits, params)?),
                _ => area_mapper(&planned.strategy_name, params, &config.study.areas)
                    .map_err(|e| located(config, stage, e))?,
            },
        }),
    })
}

/// A `semantic` stage: its model read and loaded, its codes' meanings
/// embedded, or learnt from what it is taught.
fn start_semantic(
    plan: &Plan,
    stage: &Stage,
    planned: &StagePlan,
    run: &ModelRun,
    teaching: Option<&Teaching>,
) -> Result<SemanticStrategy> {
    let config = &plan.config;
    let embedder = load_model(plan, run)?;
    let kept: Option<Arc<dyn KeptEmbeddings>> = Some(Arc::new(StudyEmbeddings::new(&plan.root, &run.hash)));
    let book = planned
        .codebook
        .as_ref()
        .context("a semantic stage has a codebook (checked by the plan)")?;
    let (Some(teaching), Some(learn_from)) = (teaching, &stage.learn_from) else {
        let params = SemanticParams::parse(&planned.params, book).map_err(|e| located(config, stage, e))?;
        return SemanticStrategy::new(embedder, kept, book, params).map_err(|e| located(config, stage, e));
    };
    let taught: Vec<Taught> = teaching
        .transcripts
        .iter()
        .map(|(transcript, codings)| Taught {
            id: &transcript.id,
            segments: transcript
                .segments
                .iter()
                .filter(|s| planned.roles.contains(&s.role))
                .collect::<Vec<&Segment>>(),
            codings,
        })
        .collect();
    SemanticStrategy::learn(embedder, kept, book, (&planned.name, &teaching.from), &taught).map_err(|e| {
        let message = format!("stage `{}`: {e}", planned.name);
        anyhow::Error::from(config.error_at(learn_from, message))
    })
}

/// The models loaded in this process, by hash: stages that name the same
/// model share one (its memory, its load time and its turns at embedding).
static LOADED_MODELS: Mutex<BTreeMap<String, Weak<Embedder>>> = Mutex::new(BTreeMap::new());

/// A stage's model, loaded once however many stages name it; a missing or
/// damaged file is an error at the stage's `model`, naming it.
fn load_model(plan: &Plan, run: &ModelRun) -> Result<Arc<Embedder>> {
    let mut loaded = LOADED_MODELS.lock().unwrap_or_else(PoisonError::into_inner);
    loaded.retain(|_, model| model.strong_count() > 0);
    if let Some(model) = loaded.get(&run.hash).and_then(Weak::upgrade) {
        return Ok(model);
    }
    let model = read_model(plan, run)?;
    loaded.insert(run.hash.clone(), Arc::downgrade(&model));
    Ok(model)
}

/// A stage's model, read from its folder and loaded.
fn read_model(plan: &Plan, run: &ModelRun) -> Result<Arc<Embedder>> {
    let in_model = |e: String| {
        plan.config
            .error_at(&run.path, format!("model {}: {e}", run.folder.display()))
    };
    let folder = ModelFolder::read(&run.folder).map_err(in_model)?;
    // The model loaded must be the model the stage's fingerprint was made from.
    if folder.hash() != run.hash {
        return Err(in_model("changed while the study was being planned; run again".into()).into());
    }
    Ok(Arc::new(folder.load().map_err(in_model)?))
}

/// What a script's `thematic.embed` embeds with: the stage's model, each
/// sentence embedded once across runs (the study's embedding cache).
fn embed_for_scripts(plan: &Plan, run: &ModelRun) -> Result<Embed> {
    let embedder = load_model(plan, run)?;
    let kept = StudyEmbeddings::new(&plan.root, &run.hash);
    Ok(Arc::new(move |texts: &[&str]| {
        embed_keeping(&embedder, Some(&kept), texts)
            .map(|(embeddings, _)| embeddings)
            .map_err(|e| e.to_string())
    }))
}

/// A stage's plugin, loaded in this process or started in processes of its
/// own as the stage asks, and checked to serve the stage's kind.
fn start_plugin(plan: &Plan, kind: StageKind, run: &PluginRun, executable: &Path) -> Result<Plugin> {
    let config = &plan.config;
    let plugin = match run.isolation {
        Isolation::None => Plugin::load(&run.library),
        Isolation::Process => Plugin::isolated(executable, &run.library, run.limits),
    }
    .map_err(|e| config.error_at(&run.path, e.to_string()))?;
    let (serves, kind) = match kind {
        StageKind::Coding => (plugin.codes_segments(), "coding"),
        StageKind::Themes => (plugin.groups_codes(), "themes"),
        StageKind::Areas => (false, "areas"),
    };
    if !serves {
        return Err(config
            .error_at(
                &run.path,
                format!(
                    "plugin `{}` does not serve {kind} stages (it serves: {})",
                    plugin.name(),
                    plugin.kinds().join(", ")
                ),
            )
            .into());
    }
    Ok(plugin)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::diagnostics::Diagnostics;
    use crate::plan::plan;
    use crate::source::in_memory::InMemory;

    fn study(script: &str, book: &str) -> InMemory {
        InMemory::new("/study")
            .with(
                "thematic.toml",
                "[study]\nname = \"s\"\n[[codebooks]]\nname = \"book\"\nfile = \"book.csv\"\n\
                 [[stages]]\nname = \"words\"\nkind = \"coding\"\nstrategy = \"dictionary\"\ncodebook = \"book\"\n\
                 [[stages]]\nname = \"script\"\nkind = \"coding\"\nstrategy = \"lua\"\nscript = \"scripts/mine.lua\"\n",
            )
            .with("book.csv", book)
            .with("scripts/mine.lua", script)
    }

    fn planned(source: &InMemory) -> Plan {
        plan(Path::new("/study"), source, &mut Diagnostics::quiet()).unwrap()
    }

    #[test]
    fn starting_again_keeps_every_stage_whose_start_key_did_not_change() {
        let script = "codes = { 'x' }\nfunction code(t) return {} end\n";
        let first = planned(&study(script, "code,term\nx,a\n"));
        let stages = Stages::start(&first, Path::new("thematic")).unwrap();
        assert_eq!(stages.started, ["words", "script"]);
        let stages = stages.restart(&first, Path::new("thematic")).unwrap();
        assert!(stages.started.is_empty(), "the same plan starts nothing");
        let codebook_changed = planned(&study(script, "code,term\nx,b\n"));
        let stages = stages.restart(&codebook_changed, Path::new("thematic")).unwrap();
        assert_eq!(stages.started, ["words"], "only the dictionary stage is built again");
        let names: Vec<&str> = stages.coding.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["words", "script"], "in the plan's order");
        let script_changed = planned(&study(
            "codes = { 'y' }\nfunction code(t) return {} end\n",
            "code,term\nx,b\n",
        ));
        let stages = stages.restart(&script_changed, Path::new("thematic")).unwrap();
        assert_eq!(stages.started, ["script"], "only the script's state is started again");
        assert_eq!(stages.coding[1].strategy.known_codes(), Some(vec!["y".to_string()]));
    }
}
