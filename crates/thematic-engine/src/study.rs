//! Loading a study folder: its configuration, codebooks, participants,
//! stages and transcript files. Configuration problems are errors (exit 2);
//! problems with one input are diagnostics, and the rest still loads.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use thematic_codebook::Codebook;
use thematic_config::{
    CodebookSource, Isolation, Redaction as RedactionSource, ScriptLimits, Spanned, SpeakerAs, Stage, StageKind,
    StudyConfig, CONFIG_FILE, DEFAULT_CODED_ROLES, DEFAULT_EXTRACTS, DEFAULT_MIN_PARTICIPANTS,
};
use thematic_lua::{Limits, LuaAreaMapper, LuaCodingStrategy, LuaThemeGrouper, ScriptFiles};
use thematic_model::{CodeInfo, Participant, Question};
use thematic_packs::{Manifest, PackUse, LOCK_FILE, MANIFEST_FILE};
use thematic_pipeline::{
    area_mapper, coding_strategy, participants_from_csv, participants_from_toml, theme_grouper, Annotations,
    AreaMapper, BuildError, CoderStrategy, CodingStage, CodingStrategy, CodingsFile, Redactor, ReviewRule, RoleMap,
    ThemeGrouper, DEFAULT_ANNOTATIONS,
};
use thematic_plugins::{IsolationLimits, Plugin, PluginCodingStrategy, PluginThemeGrouper};

use crate::diagnostics::Diagnostics;
use crate::files::{load_codebook, lua_modules, sha256_hex, visible_entries, Entry};
use crate::packs;

/// The folder, inside a study, where thematic keeps its own data.
pub const STATE_DIR: &str = ".thematic";

/// The stages (and codebooks) of the presets the study takes from packs,
/// added to its own, once each pack is checked against `thematic.lock`: the
/// version the study asks for, the files the lock pins, a thematic and
/// plugin ABI it runs on, native code allowed. Anything wrong stops here,
/// before anything runs, pointing at the `uses` line.
/// Returns the folders of the packs checked, where their scripts may lie.
fn add_pack_stages(root: &Path, config: &mut StudyConfig) -> Result<Vec<PathBuf>> {
    if config.study.packs.is_empty() {
        return Ok(Vec::new());
    }
    let lock = packs::read_lock(root)?;
    let (mut codebooks, mut stages, mut roots) = (Vec::new(), Vec::new(), Vec::new());
    for used in &config.study.packs {
        let at = |message: String| -> anyhow::Error { config.error_at(&used.uses, message).into() };
        let wanted = PackUse::parse(used.uses.get_ref()).map_err(|m| at(format!("packs.uses: {m}")))?;
        let name = wanted.pack.as_str();
        let locked = lock.get(name).ok_or_else(|| {
            at(format!(
                "pack `{name}` is not in {LOCK_FILE}; install it with `thematic pack install PATH`"
            ))
        })?;
        let version = semver::Version::parse(&locked.version)
            .map_err(|e| at(format!("{LOCK_FILE}: pack `{name}`: version `{}`: {e}", locked.version)))?;
        if !wanted.versions.matches(&version) {
            return Err(at(format!(
                "pack `{name}` is locked at {version}, which `{}` does not accept; install a version that it does",
                used.uses.get_ref()
            )));
        }
        let dir = packs::verified(root, locked).map_err(at)?;
        roots.push(dir.clone());
        let manifest_path = dir.join(MANIFEST_FILE);
        let manifest_text =
            fs::read_to_string(&manifest_path).with_context(|| format!("reading {}", manifest_path.display()))?;
        let manifest = Manifest::parse(&manifest_path.display().to_string(), &manifest_text)?;
        manifest
            .check_compatible(env!("CARGO_PKG_VERSION"), thematic_plugin_api::ABI_VERSION)
            .map_err(|e| at(e.to_string()))?;
        let preset = manifest.preset(wanted.preset.as_deref()).ok_or_else(|| {
            at(format!(
                "pack `{name}` has no preset {}(it has: {})",
                wanted.preset.as_deref().map_or(String::new(), |p| format!("`{p}` ")),
                manifest
                    .presets
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        // Everything added points at the `uses` line, where the study asked for it.
        let span = used.uses.span();
        let spanned = |value: String| Spanned::new(span.clone(), value);
        let inside = |path: &Spanned<String>| dir.join(path.get_ref()).display().to_string();
        for (codebook, path) in &manifest.provides.codebooks {
            codebooks.push(CodebookSource {
                name: spanned(format!("{name}/{codebook}")),
                file: inside(path),
            });
        }
        for stage in &preset.stages {
            let plugin = match &stage.plugin {
                Some(plugin) => {
                    if !locked.native {
                        return Err(at(format!(
                            "pack `{name}` runs native code (plugin `{}`); allow it by installing with `--allow-native`",
                            plugin.get_ref()
                        )));
                    }
                    // The exact target triple first, then the shorter `arch-os`.
                    let triple = env!("THEMATIC_TARGET");
                    let short = format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS);
                    let builds = &manifest.provides.plugins[plugin.get_ref()];
                    let library = builds.get(triple).or_else(|| builds.get(&short)).ok_or_else(|| {
                        at(format!(
                            "pack `{name}` has no build of plugin `{}` for {triple} (or {short})",
                            plugin.get_ref()
                        ))
                    })?;
                    Some(spanned(inside(library)))
                }
                None => None,
            };
            let stage = Stage {
                name: spanned(format!("{name}/{}", stage.name)),
                kind: stage.kind,
                strategy: spanned(stage.strategy.clone()),
                codebook: stage
                    .codebook
                    .as_ref()
                    .map(|c| spanned(format!("{name}/{}", c.get_ref()))),
                roles: stage.roles.clone(),
                min_participants: stage.min_participants,
                extracts: stage.extracts,
                params: stage.params.clone(),
                script: stage
                    .script
                    .as_ref()
                    .map(|s| spanned(inside(&manifest.provides.scripts[s.get_ref()]))),
                limits: None,
                isolation: plugin.as_ref().and(used.isolation.clone()),
                plugin,
                codings: None,
            };
            stages.push(Spanned::new(span.clone(), stage));
        }
    }
    config.study.codebooks.extend(codebooks);
    config.study.stages.extend(stages);
    // Names stay unique and references resolve with the packs' stages too
    // (a pack used twice, a study codebook named like a pack's).
    config.check_references()?;
    Ok(roots)
}

/// Whether a participants file is TOML (else CSV), by its extension.
pub fn is_toml(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml"))
}

/// A study's redaction list and where its key goes.
pub struct Redaction {
    pub redactor: Redactor,
    pub key: PathBuf,
}

pub struct Study {
    pub root: PathBuf,
    pub config: StudyConfig,
    pub config_hash: String,
    pub participants: Vec<Participant>,
    /// The codes of the codebooks coding stages use, in stage and codebook order.
    pub codes: Vec<CodeInfo>,
    pub roles: RoleMap,
    /// What coding strategies do not see of the text.
    pub annotations: Annotations,
    /// The redaction list, applied to every transcript as it is read.
    pub redaction: Option<Redaction>,
    pub coding_stages: Vec<CodingStage>,
    pub themes: Option<ThemeStage>,
    pub areas: Option<AreaStage>,
    /// Transcript id (path relative to the study, `/`-separated) and file.
    pub transcripts: Vec<(String, PathBuf)>,
}

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

impl Study {
    pub fn store_path(&self) -> PathBuf {
        self.root.join(STATE_DIR).join("store.db")
    }

    /// `text` with the redaction list's entries replaced (as it is, without one).
    pub fn redacted(&self, text: &str) -> String {
        match &self.redaction {
            Some(redaction) => redaction.redactor.redact(text),
            None => text.to_string(),
        }
    }

    pub fn output_dir(&self) -> PathBuf {
        self.root.join(&self.config.study.outputs.dir)
    }

    /// How the speakers of transcript `id` are told apart: the study's
    /// roles, with the transcript's own speaker map where it has one. Labels
    /// are matched as redacted, as they stand in the redacted text.
    pub fn roles_of(&self, id: &str) -> Cow<'_, RoleMap> {
        match self.config.study.transcripts.speakers.get(id) {
            Some(speakers) => {
                let speakers = speakers
                    .iter()
                    .map(|(label, speaker)| (self.redacted(label), speaker.clone()))
                    .collect();
                Cow::Owned(self.roles.with_speakers(&speakers))
            }
            None => Cow::Borrowed(&self.roles),
        }
    }

    /// The participant a transcript is with, unless its speakers are mapped
    /// one by one (a focus group speaks for several).
    pub fn interviewee_of(&self, id: &str) -> Option<String> {
        match self.config.study.transcripts.speakers.contains_key(id) {
            true => None,
            false => Some(self.participant_of(id)),
        }
    }

    /// The participant a transcript is with: the mapping in `thematic.toml`
    /// if it names the file, else the file's name without its extension.
    pub fn participant_of(&self, id: &str) -> String {
        match self.config.study.transcripts.participants.get(id) {
            Some(participant) => participant.clone(),
            None => thematic_pipeline::document_name(id),
        }
    }
}

/// Loads the study in `root`. Errors are configuration errors; problems
/// with participants go to `diagnostics`.
pub fn load(root: &Path, diagnostics: &mut Diagnostics) -> Result<Study> {
    let config_path = root.join(CONFIG_FILE);
    if !config_path.is_file() {
        bail!(
            "{}: no {CONFIG_FILE} here; `thematic init {}` makes a study, `thematic init --demo DIR` a demo",
            root.display(),
            root.display()
        );
    }
    let text = fs::read_to_string(&config_path).with_context(|| format!("reading {}", config_path.display()))?;
    let mut config = StudyConfig::parse(&config_path.display().to_string(), &text)?;
    let pack_roots = add_pack_stages(root, &mut config)?;
    let study = &config.study;

    let mut codebooks: BTreeMap<String, (Codebook, String)> = BTreeMap::new();
    for source in &study.codebooks {
        let path = root.join(&source.file);
        if !path.is_file() {
            return Err(config
                .error_at(&source.name, format!("codebook file {} not found", path.display()))
                .into());
        }
        let (book, hash) = load_codebook(&path)?;
        codebooks.insert(source.name.get_ref().clone(), (book, hash));
    }

    // Scripts see the participants' attributes: the file's hash is part of their stages' fingerprints.
    let (participants, participants_hash) = match &study.participants {
        Some(source) => {
            let path = root.join(&source.file);
            match fs::read_to_string(&path) {
                Ok(text) => {
                    let (participants, problems) = match is_toml(&path) {
                        true => participants_from_toml(&path.display().to_string(), &text),
                        false => participants_from_csv(&path.display().to_string(), &text),
                    };
                    problems.into_iter().for_each(|p| diagnostics.fail(p));
                    (participants, sha256_hex(text.as_bytes()))
                }
                Err(e) => bail!("{}: {e}", path.display()),
            }
        }
        None => (Vec::new(), String::new()),
    };

    let redaction = match &study.redaction {
        Some(source) => Some(load_redaction(root, &config, source)?),
        None => None,
    };
    let mut participants = participants;
    if let Some((redaction, _)) = &redaction {
        // Participant ids and attributes reach the reports: none may hold a name.
        participants.retain_mut(|participant| {
            for (_, value) in &mut participant.attributes {
                *value = redaction.redactor.redact(value);
            }
            let named = redaction.redactor.find(&participant.id);
            if let Some((_, entry)) = named.first() {
                diagnostics.fail(format!(
                    "participant `{}`: the id holds an entry of the redaction list ({}); give the participant a code (it is left out)",
                    redaction.redactor.redact(&participant.id),
                    redaction.redactor.entries()[*entry].pseudonym
                ));
            }
            named.is_empty()
        });
    }
    let mut annotation_patterns: Vec<String> = match &study.transcripts.annotations {
        Some(patterns) => {
            for pattern in patterns {
                Annotations::check(pattern.get_ref()).map_err(|e| {
                    config.error_at(
                        pattern,
                        format!("transcripts.annotations: bad pattern `{}`: {e}", pattern.get_ref()),
                    )
                })?;
            }
            patterns.iter().map(|p| p.get_ref().clone()).collect()
        }
        None => DEFAULT_ANNOTATIONS.map(str::to_string).to_vec(),
    };
    // Pseudonyms are names too: no strategy codes them.
    annotation_patterns.extend(redaction.as_ref().and_then(|(r, _)| r.redactor.pseudonym_pattern()));
    let annotations = Annotations::new(&annotation_patterns)
        .map_err(|e| anyhow::anyhow!("{}: transcripts.annotations: {e}", config.file))?;

    let questions: Vec<Question> = study
        .questions
        .iter()
        .map(|q| Question {
            id: q.id.get_ref().clone(),
            text: q.text.clone(),
        })
        .collect();
    let mut coding_stages = Vec::new();
    // (codings file, transcript id) of every transcript a coder's file codes.
    let mut coded_elsewhere: BTreeSet<(String, String)> = BTreeSet::new();
    let mut themes = None;
    let mut areas = None;
    for spanned in &study.stages {
        let stage = spanned.get_ref();
        let located = |e: BuildError| -> anyhow::Error {
            match e {
                BuildError::Stage(message) => config
                    .error_at(&stage.strategy, format!("stage `{}`: {message}", stage.name.get_ref()))
                    .into(),
                BuildError::Codebook(e) => e.into(),
            }
        };
        let strategy = stage.strategy.get_ref().as_str();
        let script = match &stage.script {
            Some(path) => Some(read_script(root, &config, path, &pack_roots)?),
            None => None,
        };
        let limits = script_limits(stage.limits.as_ref());
        let plugin = match &stage.plugin {
            Some(path) => Some(load_plugin(root, &config, stage, path)?),
            None => None,
        };
        let codings = match &stage.codings {
            Some(path) => {
                let file = root.join(path.get_ref());
                let text = fs::read_to_string(&file)
                    .map_err(|e| config.error_at(path, format!("codings {}: {e}", file.display())))?;
                let hash = sha256_hex(text.as_bytes());
                Some((path.get_ref().clone(), text, hash))
            }
            None => None,
        };
        // What every kind of stage runs; coding stages add what decides which text they see.
        let recipe = format!(
            "engine {}\nstage {}\nstrategy {strategy}\nparams {}\nscript {}\nplugin {}\n",
            env!("CARGO_PKG_VERSION"),
            stage.name.get_ref(),
            toml::to_string(&stage.params).unwrap_or_default(),
            script.as_ref().map_or(String::new(), script_fingerprint),
            plugin.as_ref().map_or("", |(_, hash)| hash.as_str()),
        );
        match stage.kind {
            StageKind::Coding => {
                let codebook = stage.codebook.as_ref().map(|name| &codebooks[name.get_ref()]);
                let roles: Vec<String> = stage
                    .roles
                    .clone()
                    .unwrap_or_else(|| DEFAULT_CODED_ROLES.iter().map(|r| r.to_string()).collect());
                let fingerprint = sha256_hex(
                    format!(
                        "{recipe}speaker roles {:?}\nannotations {:?}\ncoded roles {}\ncodebook {}\nparticipants {}\ncodings {}\n",
                        (&study.transcripts.roles, &study.transcripts.speakers),
                        annotation_patterns,
                        roles.join(","),
                        codebook.map_or("", |(_, hash)| hash.as_str()),
                        if script.is_some() { participants_hash.as_str() } else { "" },
                        codings.as_ref().map_or("", |(_, _, hash)| hash.as_str()),
                    )
                    .as_bytes(),
                );
                let book = codebook.map(|(book, _)| book);
                let built: Box<dyn CodingStrategy> = match (script, plugin) {
                    (_, Some((plugin, _))) => Box::new(PluginCodingStrategy::new(
                        plugin,
                        serde_json::to_value(&stage.params).unwrap_or_default(),
                        book,
                    )),
                    (Some(script), None) => Box::new(LuaCodingStrategy::new(
                        &script,
                        limits,
                        &stage.params,
                        book,
                        &questions,
                        &participants,
                    )?),
                    (None, None) => match &codings {
                        Some((name, text, _)) => {
                            let coder =
                                CoderStrategy::new(&CodingsFile { name, text }, book).map_err(anyhow::Error::msg)?;
                            coded_elsewhere.extend(coder.transcripts().map(|id| (name.clone(), id.to_string())));
                            Box::new(coder)
                        }
                        None => coding_strategy(strategy, &stage.params, book).map_err(located)?,
                    },
                };
                coding_stages.push(CodingStage {
                    name: stage.name.get_ref().clone(),
                    strategy_name: strategy.to_string(),
                    fingerprint,
                    roles,
                    strategy: built,
                });
            }
            StageKind::Themes => {
                if themes.is_some() {
                    return Err(config.error_at(&stage.name, "only one themes stage can run").into());
                }
                let rule = ReviewRule {
                    min_participants: stage.min_participants.unwrap_or(DEFAULT_MIN_PARTICIPANTS),
                    extracts: stage.extracts.unwrap_or(DEFAULT_EXTRACTS),
                };
                let fingerprint = sha256_hex(
                    format!(
                        "{recipe}themes {}\nmin participants {}\nextracts {}\n",
                        serde_json::to_string(&study.themes).unwrap_or_default(),
                        rule.min_participants,
                        rule.extracts
                    )
                    .as_bytes(),
                );
                themes = Some(ThemeStage {
                    name: stage.name.get_ref().clone(),
                    strategy_name: strategy.to_string(),
                    fingerprint,
                    grouper: match (&script, plugin) {
                        (_, Some((plugin, _))) => Box::new(PluginThemeGrouper::new(
                            plugin,
                            serde_json::to_value(&stage.params).unwrap_or_default(),
                        )),
                        (Some(script), None) => Box::new(LuaThemeGrouper::new(script, limits, &stage.params)?),
                        (None, None) => theme_grouper(strategy, &stage.params, &study.themes).map_err(located)?,
                    },
                    rule,
                });
            }
            StageKind::Areas => {
                if areas.is_some() {
                    return Err(config.error_at(&stage.name, "only one areas stage can run").into());
                }
                let fingerprint = sha256_hex(
                    format!(
                        "{recipe}areas {}\n",
                        serde_json::to_string(&study.areas).unwrap_or_default()
                    )
                    .as_bytes(),
                );
                areas = Some(AreaStage {
                    name: stage.name.get_ref().clone(),
                    strategy_name: strategy.to_string(),
                    fingerprint,
                    mapper: match &script {
                        Some(script) => Box::new(LuaAreaMapper::new(script, limits, &stage.params)?),
                        None => area_mapper(strategy, &stage.params, &study.areas).map_err(located)?,
                    },
                });
            }
        }
    }

    let codes = used_codes(&config, &codebooks, diagnostics);
    let known_codes: BTreeSet<String> = coding_stages
        .iter()
        .flat_map(|s| s.strategy.known_codes().unwrap_or_default())
        .collect();
    for theme in config.all_themes() {
        for code in &theme.codes {
            if !known_codes.contains(code.get_ref()) {
                return Err(config
                    .error_at(
                        code,
                        format!(
                            "theme `{}` names code `{}`, which no coding stage's codebook defines",
                            theme.id.get_ref(),
                            code.get_ref()
                        ),
                    )
                    .into());
            }
        }
    }

    let mut transcripts = find_transcripts(root, &config)?;
    if let Some((redaction, _)) = &redaction {
        // A file named after someone would carry the name into every output.
        transcripts.retain(|(id, _)| {
            let named = redaction.redactor.find(id);
            if let Some((_, entry)) = named.first() {
                diagnostics.fail(format!(
                    "{}: the file's name holds an entry of the redaction list ({}); rename the file (it is left out)",
                    redaction.redactor.redact(id),
                    redaction.redactor.entries()[*entry].pseudonym
                ));
            }
            named.is_empty()
        });
    }
    let ids: BTreeSet<&str> = transcripts.iter().map(|(id, _)| id.as_str()).collect();
    for (file, id) in &coded_elsewhere {
        if !ids.contains(id.as_str()) {
            diagnostics.warn(format!(
                "{file}: codes `{id}`, which is not a transcript of the study; those rows are not used"
            ));
        }
    }
    if transcripts.is_empty() {
        diagnostics.warn(format!(
            "{}: no transcripts match {}",
            root.display(),
            study.transcripts.include.join(", ")
        ));
    }
    // A changed redaction list changes every transcript's text, as a changed configuration would.
    let config_hash = match &redaction {
        Some((_, list_hash)) => {
            sha256_hex(format!("{}\nredaction {list_hash}", sha256_hex(text.as_bytes())).as_bytes())
        }
        None => sha256_hex(text.as_bytes()),
    };
    let redactor = redaction.as_ref().map(|(redaction, _)| &redaction.redactor);
    let roles: BTreeMap<String, String> = study
        .transcripts
        .roles
        .iter()
        .map(|(label, role)| (redactor.map_or(label.clone(), |r| r.redact(label)), role.clone()))
        .collect();
    let roles = RoleMap::new(&roles);
    let study = Study {
        root: root.to_path_buf(),
        config,
        config_hash,
        participants,
        codes,
        roles,
        annotations,
        redaction: redaction.map(|(redaction, _)| redaction),
        coding_stages,
        themes,
        areas,
        transcripts,
    };
    check_participant_rows(&study, diagnostics);
    Ok(study)
}

/// The redaction list (with its file's hash) and the key's place, which
/// must not be among the outputs or in the store's folder: the key is the
/// one file that pairs pseudonyms with names.
fn load_redaction(root: &Path, config: &StudyConfig, source: &RedactionSource) -> Result<(Redaction, String)> {
    let list = root.join(source.list.get_ref());
    let text = fs::read_to_string(&list)
        .map_err(|e| config.error_at(&source.list, format!("redaction list {}: {e}", list.display())))?;
    let redactor = Redactor::from_csv(&list.display().to_string(), &text).map_err(anyhow::Error::msg)?;
    let root = root
        .canonicalize()
        .with_context(|| format!("reading {}", root.display()))?;
    let key = lexically_normal(&root.join(source.key.get_ref()));
    let outputs = lexically_normal(&root.join(&config.study.outputs.dir));
    let state = lexically_normal(&root.join(STATE_DIR));
    if key.starts_with(&outputs) || key.starts_with(&state) {
        return Err(config
            .error_at(
                &source.key,
                "the redaction key must be kept apart from the outputs and the store: name a file outside them",
            )
            .into());
    }
    Ok((Redaction { redactor, key }, sha256_hex(text.as_bytes())))
}

/// `a/b/../c` as `a/c`, without asking the file system (the file may not exist yet).
fn lexically_normal(path: &Path) -> PathBuf {
    let mut normal = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::CurDir => {}
            std::path::Component::ParentDir => {
                normal.pop();
            }
            other => normal.push(other),
        }
    }
    normal
}

/// A stage's script, named as messages show it (relative to the study), with
/// the modules of the study's `scripts/` folder it may `require` (a pack's
/// script: those of its own folder). It must lie inside the study folder or
/// an installed pack.
fn read_script(
    root: &Path,
    config: &StudyConfig,
    path: &Spanned<String>,
    pack_roots: &[PathBuf],
) -> Result<ScriptFiles> {
    let file = root.join(path.get_ref());
    let canonical = file
        .canonicalize()
        .map_err(|e| config.error_at(path, format!("script {}: {e}", file.display())))?;
    let study = root
        .canonicalize()
        .with_context(|| format!("reading {}", root.display()))?;
    // A pack's script lies in a pack the lock was checked for (in the
    // study's .thematic/packs/, or installed for the user outside it) and
    // requires only the pack's modules.
    let in_pack = pack_roots.iter().any(|dir| canonical.starts_with(dir));
    if !canonical.starts_with(&study) && !in_pack {
        return Err(config
            .error_at(path, format!("script `{}` is outside the study folder", path.get_ref()))
            .into());
    }
    let source = fs::read_to_string(&canonical).with_context(|| format!("reading the script {}", file.display()))?;
    let modules = match (in_pack, canonical.parent()) {
        (true, Some(folder)) => lua_modules(folder, &folder.display().to_string())?,
        _ => lua_modules(&root.join("scripts"), "scripts")?,
    };
    Ok(ScriptFiles {
        name: path.get_ref().trim_start_matches("./").to_string(),
        source,
        modules,
    })
}

/// A stage's plugin, loaded from the study folder (in this process, or
/// started in its own when the stage asks for isolation), with the SHA-256
/// of the library.
fn load_plugin(root: &Path, config: &StudyConfig, stage: &Stage, path: &Spanned<String>) -> Result<(Plugin, String)> {
    let file = find_plugin(root, path.get_ref()).map_err(|message| config.error_at(path, message))?;
    let bytes = fs::read(&file).map_err(|e| config.error_at(path, format!("plugin {}: {e}", file.display())))?;
    let isolation = stage.isolation.as_ref().map(|i| *i.get_ref()).unwrap_or_default();
    let plugin = match isolation {
        Isolation::None => Plugin::load(&file),
        Isolation::Process => {
            if !cfg!(unix) && stage.limits.as_ref().is_some_and(|l| l.memory_mib.is_some()) {
                return Err(config
                    .error_at(path, "`limits.memory_mib` on an isolated plugin needs Unix")
                    .into());
            }
            let executable = std::env::current_exe().context("finding the thematic executable to run the plugin")?;
            Plugin::isolated(&executable, &file, isolation_limits(stage.limits.as_ref()))
        }
    }
    .map_err(|e| config.error_at(path, e.to_string()))?;
    let (serves, kind) = match stage.kind {
        StageKind::Coding => (plugin.codes_segments(), "coding"),
        StageKind::Themes => (plugin.groups_codes(), "themes"),
        StageKind::Areas => (false, "areas"),
    };
    if !serves {
        return Err(config
            .error_at(
                path,
                format!(
                    "plugin `{}` does not serve {kind} stages (it serves: {})",
                    plugin.name(),
                    plugin.kinds().join(", ")
                ),
            )
            .into());
    }
    Ok((plugin, sha256_hex(&bytes)))
}

/// A plugin's library: `name` is a path relative to the study folder, or a
/// bare name (no folder, no extension) of a library in the study's `plugins/`
/// folder, spelt as this platform names libraries (`libNAME.so` on Linux),
/// with `-` standing for the `_` cargo writes.
fn find_plugin(root: &Path, name: &str) -> Result<PathBuf, String> {
    let bare = !name.contains(['/', '\\', '.']);
    if !bare {
        return Ok(root.join(name));
    }
    let candidates: Vec<PathBuf> = [name.to_string(), name.replace('-', "_")]
        .iter()
        .map(|stem| {
            Path::new("plugins").join(format!(
                "{}{stem}{}",
                std::env::consts::DLL_PREFIX,
                std::env::consts::DLL_SUFFIX
            ))
        })
        .collect();
    match candidates.iter().find(|c| root.join(c).is_file()) {
        Some(found) => Ok(root.join(found)),
        None => Err(format!(
            "plugin `{name}`: not in the study's plugins/ folder (looked for {})",
            candidates
                .iter()
                .map(|c| c.display().to_string())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect::<Vec<_>>()
                .join(" and ")
        )),
    }
}

/// What of a script decides what it codes: its text and every module it could require.
fn script_fingerprint(script: &ScriptFiles) -> String {
    let mut text = script.source.clone();
    for (name, module) in &script.modules {
        text.push_str(&format!("\n-- module {name}\n{}", module.source));
    }
    sha256_hex(text.as_bytes())
}

fn script_limits(limits: Option<&ScriptLimits>) -> Limits {
    let defaults = Limits::default();
    Limits {
        memory_bytes: limits
            .and_then(|l| l.memory_mib)
            .map_or(defaults.memory_bytes, |mib| mib * 1024 * 1024),
        time: limit_seconds(limits).unwrap_or(defaults.time),
    }
}

fn isolation_limits(limits: Option<&ScriptLimits>) -> IsolationLimits {
    IsolationLimits {
        time: limit_seconds(limits).unwrap_or(IsolationLimits::default().time),
        memory_mib: limits.and_then(|l| l.memory_mib).map(|mib| mib as u64),
    }
}

fn limit_seconds(limits: Option<&ScriptLimits>) -> Option<Duration> {
    limits
        .and_then(|l| l.seconds)
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
}

/// The codes of every codebook a coding stage names, each once; a link to a
/// research question the study does not ask is a warning.
fn used_codes(
    config: &StudyConfig,
    codebooks: &BTreeMap<String, (Codebook, String)>,
    diagnostics: &mut Diagnostics,
) -> Vec<CodeInfo> {
    let questions: BTreeSet<&str> = config.study.questions.iter().map(|q| q.id.get_ref().as_str()).collect();
    let mut codes: Vec<CodeInfo> = Vec::new();
    let used = config
        .stages_of(StageKind::Coding)
        .filter_map(|stage| stage.codebook.as_ref());
    for name in used {
        let (book, _) = &codebooks[name.get_ref()];
        for code in &book.codes {
            if codes.iter().any(|c| c.id == code.id) {
                continue;
            }
            for question in code.questions.iter().filter(|q| !questions.contains(q.as_str())) {
                diagnostics.warn(format!(
                    "{}: code `{}` links to question `{question}`, which [[questions]] does not define",
                    book.source, code.id
                ));
            }
            codes.push(CodeInfo {
                id: code.id.clone(),
                name: code.name.clone(),
                description: code.description.clone(),
                parent: code.parent.clone(),
                questions: code.questions.clone(),
            });
        }
    }
    codes
}

/// How many participants without a transcript are named each on a line of their own.
const NAMED_ONE_BY_ONE: usize = 5;

fn check_participant_rows(study: &Study, diagnostics: &mut Diagnostics) {
    let Some(source) = &study.config.study.participants else {
        return;
    };
    let listed: BTreeSet<&str> = study.participants.iter().map(|p| p.id.as_str()).collect();
    let mut interviewed = BTreeSet::new();
    for (id, _) in &study.transcripts {
        let speaking: Vec<String> = match study.config.study.transcripts.speakers.get(id) {
            Some(speakers) => speakers
                .values()
                .filter_map(|speaker| match speaker {
                    SpeakerAs::Participant(participant) => Some(participant.clone()),
                    SpeakerAs::Role { .. } => None,
                })
                .collect(),
            None => vec![study.participant_of(id)],
        };
        for participant in speaking {
            if !listed.contains(participant.as_str()) {
                diagnostics.warn(format!(
                    "{id}: participant `{participant}` has no row in {}",
                    source.file
                ));
            }
            interviewed.insert(participant);
        }
    }
    let without: Vec<&str> = study
        .participants
        .iter()
        .map(|p| p.id.as_str())
        .filter(|id| !interviewed.contains(*id))
        .collect();
    if without.len() <= NAMED_ONE_BY_ONE {
        for participant in without {
            diagnostics.warn(format!(
                "{}: participant `{participant}` has no transcript",
                source.file
            ));
        }
    } else {
        // A participants file prepared for the whole study, early in it: one line, not hundreds.
        let named: Vec<String> = without[..NAMED_ONE_BY_ONE].iter().map(|id| format!("`{id}`")).collect();
        diagnostics.warn(format!(
            "{}: {} participants have no transcript yet: {}, and {} more",
            source.file,
            without.len(),
            named.join(", "),
            without.len() - NAMED_ONE_BY_ONE
        ));
    }
    for named in study.config.study.transcripts.speakers.keys() {
        if !study.transcripts.iter().any(|(id, _)| id == named) {
            diagnostics.warn(format!(
                "{}: transcripts.speakers names `{named}`, which is not a transcript of the study",
                study.config.file
            ));
        }
    }
    for named in study.config.study.transcripts.participants.keys() {
        if !study.transcripts.iter().any(|(id, _)| id == named) {
            diagnostics.warn(format!(
                "{}: transcripts.participants names `{named}`, which is not a transcript of the study",
                study.config.file
            ));
        }
    }
}

/// Files matching the study's transcript globs, sorted, outside hidden
/// folders, the store and the reports.
/// The study's `include` patterns, matching transcript ids (paths relative
/// to the study, `/`-separated).
pub fn transcript_matcher(config: &StudyConfig) -> Result<GlobSet> {
    let mut globs = GlobSetBuilder::new();
    for pattern in &config.study.transcripts.include {
        let glob = GlobBuilder::new(pattern)
            .literal_separator(true)
            .build()
            .map_err(|e| anyhow::anyhow!("{}: transcripts.include: bad pattern `{pattern}`: {e}", config.file))?;
        globs.add(glob);
    }
    Ok(globs.build()?)
}

/// The id of the file at `relative` (to the study folder): its path with `/` between folders.
pub fn transcript_id(relative: &Path) -> String {
    relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

fn find_transcripts(root: &Path, config: &StudyConfig) -> Result<Vec<(String, PathBuf)>> {
    let globs = transcript_matcher(config)?;
    let outputs = root.join(&config.study.outputs.dir);
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    let mut searched: BTreeSet<PathBuf> = root.canonicalize().into_iter().collect();
    while let Some(dir) = pending.pop() {
        for Entry { path, is_dir } in visible_entries(&dir)? {
            if path == outputs {
                continue;
            }
            if is_dir {
                // Linked folders are followed, each real folder once, so a link
                // back up the tree cannot loop.
                if path.canonicalize().is_ok_and(|real| searched.insert(real)) {
                    pending.push(path);
                }
            } else if let Ok(relative) = path.strip_prefix(root) {
                let id = transcript_id(relative);
                if globs.is_match(&id) {
                    found.push((id, path));
                }
            }
        }
    }
    found.sort();
    Ok(found)
}
