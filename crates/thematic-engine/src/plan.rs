//! A study planned: its configuration parsed, the packs it uses expanded
//! into stages and codebooks, every reference checked, codebooks,
//! participants and the redaction list read, transcripts found, and every
//! stage's fingerprint computed — everything but starting a stage. Nothing
//! here runs a script or starts a process, so `thematic check` and
//! `thematic import` stop here, and watch mode plans again on every batch
//! to see which stages changed.
//!
//! The plan reads its files through a [`StudySource`] and does nothing
//! else with the world: it is a function of what it is given.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Result};
use globset::{GlobBuilder, GlobSet, GlobSetBuilder};
use thematic_codebook::Codebook;
use thematic_config::{
    CodebookSource, Isolation, Redaction as RedactionSource, ScriptLimits, Spanned, SpeakerAs, Stage, StageKind,
    StudyConfig, CONFIG_FILE, DEFAULT_CODED_ROLES, DEFAULT_EXTRACTS, DEFAULT_MIN_PARTICIPANTS,
};
use thematic_embed::SemanticParams;
use thematic_formats::decode_text;
use thematic_lua::{Limits, ScriptFiles};
use thematic_model::{Code, Memo, Participant, Question, MEMOS_FOLDER};
use thematic_packs::{Lock, LockedModel, Manifest, PackUse, LOCK_FILE, MANIFEST_FILE};
use thematic_pipeline::{
    coding_strategy, participants_from_csv, participants_from_toml, read_memos, Annotations, BuildError, CoderStrategy,
    CodingStrategy, CodingsFile, MemoSubjects, Redactor, ReviewRule, RoleMap, DEFAULT_ANNOTATIONS,
};
use thematic_plugins::IsolationLimits;

use crate::diagnostics::Diagnostics;
use crate::files::sha256_hex;
use crate::layout::STATE_DIR;
use crate::models::{model_hash, MODELS_DIR, MODEL_FILES};
use crate::source::{Asked, Disk, Noting, StudySource};

/// A study's redaction list and where its key goes.
pub struct Redaction {
    pub redactor: Redactor,
    pub key: PathBuf,
}

/// A study, planned.
pub struct Plan {
    pub root: PathBuf,
    pub config: StudyConfig,
    /// The configuration's SHA-256 (with the redaction list's, which changes every text).
    pub config_hash: String,
    pub questions: Vec<Question>,
    pub participants: Vec<Participant>,
    /// The codes of the codebooks coding stages use, in stage and codebook order.
    pub codes: Vec<Code>,
    pub roles: RoleMap,
    /// What coding strategies do not see of the text.
    pub annotations: Annotations,
    /// The redaction list, applied to every transcript as it is read.
    pub redaction: Option<Redaction>,
    /// Every stage, in the configuration's order (the packs' after the study's own).
    pub stages: Vec<StagePlan>,
    /// Transcript id (path relative to the study, `/`-separated) and file.
    pub transcripts: Vec<(String, PathBuf)>,
    /// Whether every code a theme names is known to a stage's codebook or
    /// file; `false` while a script's own `codes` are still to be read,
    /// which only starting it does.
    pub theme_codes_checked: bool,
    /// The models the stages run, each by name once, with its hash (checked
    /// against its pin in `thematic.lock` where there is one): a run that
    /// writes its reports makes the lock pin exactly these.
    pub models: Vec<LockedModel>,
    /// The study's memos (`memos/`), in file order.
    pub memos: Vec<Memo>,
    /// The files and folders the plan was made from, beyond the listing of
    /// transcripts (see [`Plan::holds_after`]); none when planned from memory.
    pub inputs: Option<Asked>,
}

/// One stage, as the configuration (or a pack's preset) gives it and its
/// files make it.
pub struct StagePlan {
    pub name: String,
    pub kind: StageKind,
    pub strategy_name: String,
    pub params: toml::Table,
    pub codebook: Option<Codebook>,
    /// Changes whenever the stage could give other results: the engine,
    /// strategy, parameters, codebook, script or library, and what decides
    /// what the stage sees (roles, annotations, participants for scripts, the
    /// themes or areas it is given, the review rule).
    pub fingerprint: String,
    /// Changes whenever the started stage would have to be started again:
    /// its fingerprint, and how it runs (a plugin's isolation, any limits).
    pub start_key: String,
    pub runs: Runs,
    /// The roles a coding stage codes.
    pub roles: Vec<String>,
    /// A themes stage's review rule.
    pub rule: ReviewRule,
    /// A `semantic` stage that learns from a person: the coding stage holding their codings.
    pub learn_from: Option<String>,
}

/// What a stage runs.
pub enum Runs {
    /// A builtin strategy, by the stage's strategy name.
    Builtin,
    /// A `coder` stage: a person's codings from a file.
    Coder { file: String, text: String },
    /// A Lua script, and the model its `thematic.embed` embeds with, if it names one.
    Script {
        script: ScriptFiles,
        limits: Limits,
        model: Option<ModelRun>,
    },
    /// A native plugin.
    Plugin(PluginRun),
    /// A builtin strategy that runs a sentence-embedding model (`semantic`).
    Model(ModelRun),
}

/// A model folder, where the configuration names it (`path`), and the
/// SHA-256 of its files (each file's own, hashed together in a fixed order).
pub struct ModelRun {
    pub folder: PathBuf,
    pub path: Spanned<String>,
    pub hash: String,
}

/// A native plugin's library, where the configuration names it (`path`),
/// and where and within what limits it runs.
pub struct PluginRun {
    pub library: PathBuf,
    pub path: Spanned<String>,
    pub isolation: Isolation,
    pub limits: IsolationLimits,
}

impl Plan {
    pub fn store_path(&self) -> PathBuf {
        crate::layout::store_path(&self.root)
    }

    pub fn output_dir(&self) -> PathBuf {
        self.root.join(&self.config.study.outputs.dir)
    }

    /// Whether planning again after `changed` (files that changed, were
    /// added or went) would give this plan: every one is a transcript it
    /// planned, still there, and none is among the files it was made from.
    /// Planning reads no transcript's text, only their list.
    pub fn holds_after<'c>(
        &self,
        changed: impl IntoIterator<Item = &'c Path>,
        still_there: impl Fn(&Path) -> bool,
    ) -> bool {
        let Some(inputs) = &self.inputs else {
            return false;
        };
        let Some(taught) = self.taught_transcripts() else {
            return false;
        };
        let planned: HashMap<&Path, &str> = self
            .transcripts
            .iter()
            .map(|(id, path)| (path.as_path(), id.as_str()))
            .collect();
        // A stage that learns from a person learns again when a transcript they coded changes,
        // which only starting the stages again sees.
        changed.into_iter().all(|path| {
            planned.get(path).is_some_and(|id| !taught.contains(id)) && !inputs.covers(path) && still_there(path)
        })
    }

    /// The transcripts the people that stages learn from have coded; `None`
    /// where a codings file cannot be read (then nothing is known to hold).
    fn taught_transcripts(&self) -> Option<BTreeSet<&str>> {
        let mut taught = BTreeSet::new();
        for source in self.stages.iter().filter_map(|s| s.learn_from.as_deref()) {
            let stage = self.stages.iter().find(|s| s.name == source)?;
            let Runs::Coder { file, text } = &stage.runs else {
                return None;
            };
            let coder = CoderStrategy::new(&CodingsFile { name: file, text }, stage.codebook.as_ref()).ok()?;
            let coded: BTreeSet<String> = coder.transcripts().map(str::to_string).collect();
            taught.extend(
                self.transcripts
                    .iter()
                    .map(|(id, _)| id.as_str())
                    .filter(|id| coded.contains(*id)),
            );
        }
        Some(taught)
    }

    /// `text` with the redaction list's entries replaced (as it is, without one).
    pub fn redacted(&self, text: &str) -> String {
        match &self.redaction {
            Some(redaction) => redaction.redactor.redact(text),
            None => text.to_string(),
        }
    }

    pub fn coding_stages(&self) -> impl Iterator<Item = &StagePlan> {
        self.stages.iter().filter(|s| s.kind == StageKind::Coding)
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

/// Plans the study in the folder `root`, as it is on disk.
pub fn plan_folder(root: &Path, diagnostics: &mut Diagnostics) -> Result<Plan> {
    let noting = Noting::new(&Disk);
    let mut plan = plan(root, &noting, diagnostics)?;
    plan.inputs = Some(noting.asked());
    Ok(plan)
}

/// Plans the study in `root` from what `source` gives. Errors are
/// configuration errors; problems with participants, transcripts' names or
/// codes' questions go to `diagnostics`, and the rest is planned.
pub fn plan(root: &Path, source: &dyn StudySource, diagnostics: &mut Diagnostics) -> Result<Plan> {
    let config_path = root.join(CONFIG_FILE);
    if !source.is_file(&config_path) {
        bail!(
            "{}: no {CONFIG_FILE} here; `thematic init {}` makes a study, `thematic init --demo DIR` a demo",
            root.display(),
            root.display()
        );
    }
    let text = source.text(&config_path).map_err(|e| anyhow::anyhow!("reading {e}"))?;
    let mut config = StudyConfig::parse(&config_path.display().to_string(), &text)?;
    let lock = read_lock(root, source)?;
    let pack_roots = add_pack_stages(root, source, &mut config, &lock)?;
    let codebooks = read_codebooks(root, source, &config)?;
    let (participants, participants_hash) = read_participants(root, source, &config, diagnostics)?;
    let redaction = match &config.study.redaction {
        Some(list) => Some(read_redaction(root, source, &config, list)?),
        None => None,
    };
    let participants = match &redaction {
        Some((redaction, _)) => redact_participants(participants, &redaction.redactor, diagnostics),
        None => participants,
    };
    let annotation_patterns = annotation_patterns(&config, redaction.as_ref().map(|(r, _)| &r.redactor))?;
    let annotations = Annotations::new(&annotation_patterns)
        .map_err(|e| anyhow::anyhow!("{}: transcripts.annotations: {e}", config.file))?;
    let questions: Vec<Question> = config
        .study
        .questions
        .iter()
        .map(|q| Question {
            id: q.id.get_ref().clone(),
            text: q.text.clone(),
        })
        .collect();
    let seen = Seen {
        annotations: &annotation_patterns,
        participants: &participants_hash,
    };
    let mut stages = Vec::new();
    for spanned in &config.study.stages {
        stages.push(plan_stage(
            root,
            source,
            &config,
            spanned.get_ref(),
            &codebooks,
            &pack_roots,
            &seen,
        )?);
    }
    for kind in [StageKind::Themes, StageKind::Areas] {
        if let Some(second) = config.study.stages.iter().filter(|s| s.get_ref().kind == kind).nth(1) {
            let what = if kind == StageKind::Themes { "themes" } else { "areas" };
            return Err(config
                .error_at(&second.get_ref().name, format!("only one {what} stage can run"))
                .into());
        }
    }
    let models = check_model_pins(&config, &stages, &lock)?;
    check_teaching_sources(&config, &stages)?;
    let codes = used_codes(&config, &codebooks, diagnostics);
    let known = known_codes(&stages)?;
    let theme_codes_checked = known.is_some();
    if let Some(known) = known {
        check_theme_codes(&config, &known)?;
    }
    let transcripts = find_transcripts(root, source, &config)?;
    let transcripts = match &redaction {
        Some((redaction, _)) => unnamed_transcripts(transcripts, &redaction.redactor, diagnostics),
        None => transcripts,
    };
    warn_of_coded_elsewhere(&stages, &transcripts, diagnostics);
    if transcripts.is_empty() {
        diagnostics.warn(format!(
            "{}: no transcripts match {}",
            root.display(),
            config.study.transcripts.include.join(", ")
        ));
    }
    let mut memos = find_memos(root, source, &config, &codes, &transcripts, diagnostics);
    // Reports and exports quote memos: under a redaction list they see pseudonyms only, as of transcripts.
    if let Some((redaction, _)) = &redaction {
        for memo in &mut memos {
            memo.text = redaction.redactor.redact(&memo.text);
        }
    }
    // A changed redaction list changes every transcript's text, as a changed configuration would.
    let config_hash = match &redaction {
        Some((_, list_hash)) => {
            sha256_hex(format!("{}\nredaction {list_hash}", sha256_hex(text.as_bytes())).as_bytes())
        }
        None => sha256_hex(text.as_bytes()),
    };
    let redactor = redaction.as_ref().map(|(redaction, _)| &redaction.redactor);
    let roles: BTreeMap<String, String> = config
        .study
        .transcripts
        .roles
        .iter()
        .map(|(label, role)| (redactor.map_or(label.clone(), |r| r.redact(label)), role.clone()))
        .collect();
    let plan = Plan {
        root: root.to_path_buf(),
        config,
        config_hash,
        questions,
        participants,
        codes,
        roles: RoleMap::new(&roles),
        annotations,
        redaction: redaction.map(|(redaction, _)| redaction),
        stages,
        transcripts,
        theme_codes_checked,
        models,
        memos,
        inputs: None,
    };
    check_participant_rows(&plan, diagnostics);
    Ok(plan)
}

/// The stages (and codebooks) of the presets the study takes from packs,
/// added to its own, once each pack is checked against `thematic.lock`: the
/// version the study asks for, the files the lock pins, a thematic and
/// plugin ABI it runs on, native code allowed. Anything wrong stops here,
/// before anything runs, pointing at the `uses` line.
/// Returns the folders of the packs checked, where their scripts may lie.
fn add_pack_stages(
    root: &Path,
    source: &dyn StudySource,
    config: &mut StudyConfig,
    lock: &Lock,
) -> Result<Vec<PathBuf>> {
    if config.study.packs.is_empty() {
        return Ok(Vec::new());
    }
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
        let dir = source.verified_pack(root, locked).map_err(at)?;
        roots.push(dir.clone());
        let manifest_path = dir.join(MANIFEST_FILE);
        let manifest_text = source
            .text(&manifest_path)
            .map_err(|e| anyhow::anyhow!("reading {e}"))?;
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
            // The pack's stage as the study's: its names taken under the pack's, its files inside it.
            let stage = Stage {
                name: spanned(format!("{name}/{}", stage.name.get_ref())),
                strategy: spanned(stage.strategy.get_ref().clone()),
                codebook: stage
                    .codebook
                    .as_ref()
                    .map(|c| spanned(format!("{name}/{}", c.get_ref()))),
                script: stage
                    .script
                    .as_ref()
                    .map(|s| spanned(inside(&manifest.provides.scripts[s.get_ref()]))),
                isolation: plugin.as_ref().and(used.isolation.clone()),
                plugin,
                model: stage.model.as_ref().map(|m| spanned(m.get_ref().clone())),
                model_sha256: stage
                    .model
                    .as_ref()
                    .map(|m| manifest.provides.models[m.get_ref()].get_ref().clone()),
                ..stage.clone()
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

/// The study's `thematic.lock`; none is an empty one.
fn read_lock(root: &Path, source: &dyn StudySource) -> Result<Lock> {
    let path = root.join(LOCK_FILE);
    if !source.is_file(&path) {
        return Ok(Lock::default());
    }
    let text = source.text(&path).map_err(|e| anyhow::anyhow!("reading {e}"))?;
    Lock::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", root.display()))
}

/// A codebook, CSV or TOML by its name's extension, from its text.
pub fn parse_codebook(path: &Path, text: &str) -> Result<Codebook> {
    let source = path.display().to_string();
    Ok(match path.extension().and_then(|e| e.to_str()) {
        Some(e) if e.eq_ignore_ascii_case("toml") => Codebook::from_toml(&source, text),
        _ => Codebook::from_csv(&source, text),
    }?)
}

/// Every codebook the study names, by name, with the SHA-256 of its text.
fn read_codebooks(
    root: &Path,
    source: &dyn StudySource,
    config: &StudyConfig,
) -> Result<BTreeMap<String, (Codebook, String)>> {
    let mut codebooks = BTreeMap::new();
    for named in &config.study.codebooks {
        let path = root.join(&named.file);
        if !source.is_file(&path) {
            return Err(config
                .error_at(&named.name, format!("codebook file {} not found", path.display()))
                .into());
        }
        let text = source
            .text(&path)
            .map_err(|e| anyhow::anyhow!("reading the codebook {e}"))?;
        let book = parse_codebook(&path, &text)?;
        codebooks.insert(named.name.get_ref().clone(), (book, sha256_hex(text.as_bytes())));
    }
    Ok(codebooks)
}

/// Whether a participants file is TOML (else CSV), by its extension.
pub fn is_toml(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("toml"))
}

/// The participants and their file's SHA-256 (scripts see the participants'
/// attributes: it is part of their stages' fingerprints). A bad row is a
/// failure of its own; the rest are read.
fn read_participants(
    root: &Path,
    source: &dyn StudySource,
    config: &StudyConfig,
    diagnostics: &mut Diagnostics,
) -> Result<(Vec<Participant>, String)> {
    let Some(named) = &config.study.participants else {
        return Ok((Vec::new(), String::new()));
    };
    let path = root.join(&named.file);
    let text = source.text(&path).map_err(anyhow::Error::msg)?;
    let (participants, problems) = match is_toml(&path) {
        true => participants_from_toml(&path.display().to_string(), &text),
        false => participants_from_csv(&path.display().to_string(), &text),
    };
    problems.into_iter().for_each(|p| diagnostics.fail(p));
    Ok((participants, sha256_hex(text.as_bytes())))
}

/// Participant ids and attributes reach the reports: attributes are
/// redacted, and a participant whose id holds a name is left out.
fn redact_participants(
    mut participants: Vec<Participant>,
    redactor: &Redactor,
    diagnostics: &mut Diagnostics,
) -> Vec<Participant> {
    participants.retain_mut(|participant| {
        for (_, value) in &mut participant.attributes {
            *value = redactor.redact(value);
        }
        let named = redactor.find(&participant.id);
        if let Some((_, entry)) = named.first() {
            diagnostics.fail(format!(
                "participant `{}`: the id holds an entry of the redaction list ({}); give the participant a code (it is left out)",
                redactor.redact(&participant.id),
                redactor.entries()[*entry].pseudonym
            ));
        }
        named.is_empty()
    });
    participants
}

/// The redaction list (with its file's hash) and the key's place, which
/// must not be among the outputs or in the store's folder: the key is the
/// one file that pairs pseudonyms with names.
fn read_redaction(
    root: &Path,
    source: &dyn StudySource,
    config: &StudyConfig,
    named: &RedactionSource,
) -> Result<(Redaction, String)> {
    let list = root.join(named.list.get_ref());
    let text = source
        .text(&list)
        .map_err(|e| config.error_at(&named.list, format!("redaction list {e}")))?;
    let redactor = Redactor::from_csv(&list.display().to_string(), &text).map_err(anyhow::Error::msg)?;
    let root = source.canonical(root).map_err(|e| anyhow::anyhow!("reading {e}"))?;
    let key = lexically_normal(&root.join(named.key.get_ref()));
    let outputs = lexically_normal(&root.join(&config.study.outputs.dir));
    let state = lexically_normal(&root.join(STATE_DIR));
    if key.starts_with(&outputs) || key.starts_with(&state) {
        return Err(config
            .error_at(
                &named.key,
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

/// The patterns of what strategies do not see: the study's (checked), or
/// the defaults; and the pseudonyms, which are names too.
fn annotation_patterns(config: &StudyConfig, redactor: Option<&Redactor>) -> Result<Vec<String>> {
    let mut patterns: Vec<String> = match &config.study.transcripts.annotations {
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
    patterns.extend(redactor.and_then(Redactor::pseudonym_pattern));
    Ok(patterns)
}

/// What decides which text coding stages see, beyond the stage itself.
struct Seen<'a> {
    annotations: &'a [String],
    /// The participants file's SHA-256: scripts see participants' attributes.
    participants: &'a str,
}

/// One stage planned: its files read, what it runs, its fingerprints.
fn plan_stage(
    root: &Path,
    source: &dyn StudySource,
    config: &StudyConfig,
    stage: &Stage,
    codebooks: &BTreeMap<String, (Codebook, String)>,
    pack_roots: &[PathBuf],
    seen: &Seen,
) -> Result<StagePlan> {
    let strategy = stage.strategy.get_ref().as_str();
    let codebook = stage.codebook.as_ref().map(|name| &codebooks[name.get_ref()]);
    let model = match &stage.model {
        Some(model) => Some(model_run(root, source, config, model)?),
        None => None,
    };
    if let (Some(run), Some(named)) = (&model, &stage.model_sha256) {
        if &run.hash != named {
            let message = format!(
                "stage `{}` asks for model `{}` with sha256 {named}, but the model found ({}) is {}; \
                 add the model the pack names to the store (`thematic model add` or `thematic model fetch`)",
                stage.name.get_ref(),
                run.path.get_ref(),
                run.folder.display(),
                run.hash
            );
            return Err(config.error_at(&run.path, message).into());
        }
    }
    let runs = match (model, &stage.plugin, &stage.script, &stage.codings) {
        // A script may embed with a model of its own (`thematic.embed`).
        (model, None, Some(path), _) => Runs::Script {
            script: read_script(root, source, config, path, pack_roots)?,
            limits: script_limits(stage.limits.as_ref()),
            model,
        },
        (Some(model), ..) => Runs::Model(model),
        (None, Some(path), _, _) => plugin_runs(root, source, config, stage, path)?,
        (None, None, None, Some(path)) => {
            let file = root.join(path.get_ref());
            let text = source
                .text(&file)
                .map_err(|e| config.error_at(path, format!("codings {e}")))?;
            Runs::Coder {
                file: path.get_ref().clone(),
                text,
            }
        }
        (None, None, None, None) => Runs::Builtin,
    };
    let library_hash = match &runs {
        Runs::Plugin(run) => library_hash(source, config, run)?,
        _ => String::new(),
    };
    // What every kind of stage runs; each kind adds what decides its results.
    let recipe = format!(
        "engine {}\nstage {}\nstrategy {strategy}\nparams {}\nscript {}\nplugin {library_hash}\n{}",
        env!("CARGO_PKG_VERSION"),
        stage.name.get_ref(),
        toml::to_string(&stage.params).unwrap_or_default(),
        match &runs {
            Runs::Script { script, .. } => script_fingerprint(script),
            _ => String::new(),
        },
        match &runs {
            Runs::Model(model) | Runs::Script { model: Some(model), .. } => format!("model {}\n", model.hash),
            _ => String::new(),
        },
    );
    let roles: Vec<String> = stage
        .roles
        .clone()
        .unwrap_or_else(|| DEFAULT_CODED_ROLES.iter().map(|r| r.to_string()).collect());
    let rule = ReviewRule {
        min_participants: stage.min_participants.unwrap_or(DEFAULT_MIN_PARTICIPANTS),
        extracts: stage.extracts.unwrap_or(DEFAULT_EXTRACTS),
    };
    let study = &config.study;
    let fingerprint = sha256_hex(
        match stage.kind {
            StageKind::Coding => format!(
                "{recipe}speaker roles {:?}\nannotations {:?}\ncoded roles {}\ncodebook {}\nparticipants {}\ncodings {}\n",
                (&study.transcripts.roles, &study.transcripts.speakers),
                seen.annotations,
                roles.join(","),
                codebook.map_or("", |(_, hash)| hash.as_str()),
                if matches!(runs, Runs::Script { .. }) { seen.participants } else { "" },
                match &runs {
                    Runs::Coder { text, .. } => sha256_hex(text.as_bytes()),
                    _ => String::new(),
                },
            ),
            StageKind::Themes => format!(
                "{recipe}themes {}\nmin participants {}\nextracts {}\n",
                serde_json::to_string(&study.themes).unwrap_or_default(),
                rule.min_participants,
                rule.extracts
            ),
            StageKind::Areas => format!("{recipe}areas {}\n", serde_json::to_string(&study.areas).unwrap_or_default()),
        }
        .as_bytes(),
    );
    let start_key = sha256_hex(format!("{fingerprint}\n{:?}", (&stage.isolation, &stage.limits)).as_bytes());
    let planned = StagePlan {
        name: stage.name.get_ref().clone(),
        kind: stage.kind,
        strategy_name: strategy.to_string(),
        params: stage.params.clone(),
        codebook: codebook.map(|(book, _)| book.clone()),
        fingerprint,
        start_key,
        runs,
        roles,
        rule,
        learn_from: stage.learn_from.as_ref().map(|from| from.get_ref().clone()),
    };
    check_builtin(config, stage, &planned)?;
    Ok(planned)
}

/// A builtin stage's strategy name and parameters, checked as building it
/// would (builtins are pure, so this starts nothing; a model is not loaded),
/// located at the stage.
fn check_builtin(config: &StudyConfig, stage: &Stage, planned: &StagePlan) -> Result<()> {
    if let Runs::Model(_) = planned.runs {
        let Some(book) = planned.codebook.as_ref() else {
            let message = format!("stage `{}`: strategy `semantic` needs a `codebook`", planned.name);
            return Err(config.error_at(&stage.strategy, message).into());
        };
        if let (Some(from), false) = (&stage.learn_from, planned.params.is_empty()) {
            let message = format!(
                "stage `{}`: `params` set the similarity a code needs; a stage that learns from `{}` \
                 takes none (what it learnt decides)",
                planned.name,
                from.get_ref()
            );
            return Err(config.error_at(from, message).into());
        }
        return SemanticParams::parse(&planned.params, book)
            .map(drop)
            .map_err(|e| located(config, stage, e));
    }
    if !matches!(planned.runs, Runs::Builtin) {
        return Ok(());
    }
    let built = match stage.kind {
        StageKind::Coding => {
            coding_strategy(&planned.strategy_name, &planned.params, planned.codebook.as_ref()).map(drop)
        }
        StageKind::Themes => {
            thematic_pipeline::theme_grouper(&planned.strategy_name, &planned.params, &config.study.themes).map(drop)
        }
        StageKind::Areas => {
            thematic_pipeline::area_mapper(&planned.strategy_name, &planned.params, &config.study.areas).map(drop)
        }
    };
    built.map_err(|e| located(config, stage, e))
}

/// A strategy's refusal, at the stage's `strategy` key.
pub fn located(config: &StudyConfig, stage: &Stage, e: BuildError) -> anyhow::Error {
    match e {
        BuildError::Stage(message) => config
            .error_at(&stage.strategy, format!("stage `{}`: {message}", stage.name.get_ref()))
            .into(),
        BuildError::Codebook(e) => e.into(),
    }
}

/// A stage's script, named as messages show it (relative to the study), with
/// the modules of the study's `scripts/` folder it may `require` (a pack's
/// script: those of its own folder). It must lie inside the study folder or
/// an installed pack.
fn read_script(
    root: &Path,
    source: &dyn StudySource,
    config: &StudyConfig,
    path: &Spanned<String>,
    pack_roots: &[PathBuf],
) -> Result<ScriptFiles> {
    let file = root.join(path.get_ref());
    let canonical = source
        .canonical(&file)
        .map_err(|e| config.error_at(path, format!("script {e}")))?;
    let study = source.canonical(root).map_err(|e| anyhow::anyhow!("reading {e}"))?;
    // A pack's script lies in a pack the lock was checked for (in the
    // study's .thematic/packs/, or installed for the user outside it) and
    // requires only the pack's modules.
    let in_pack = pack_roots.iter().any(|dir| canonical.starts_with(dir));
    if !canonical.starts_with(&study) && !in_pack {
        return Err(config
            .error_at(path, format!("script `{}` is outside the study folder", path.get_ref()))
            .into());
    }
    let text = source
        .text(&canonical)
        .map_err(|e| anyhow::anyhow!("reading the script {e}"))?;
    let modules = match (in_pack, canonical.parent()) {
        (true, Some(folder)) => source.lua_modules(folder, &folder.display().to_string()),
        _ => source.lua_modules(&root.join("scripts"), "scripts"),
    }
    .map_err(anyhow::Error::msg)?;
    Ok(ScriptFiles {
        name: path.get_ref().trim_start_matches("./").to_string(),
        source: text,
        modules,
    })
}

/// What a plugin stage runs: its library, found in the study folder, and
/// where and within what limits it runs.
fn plugin_runs(
    root: &Path,
    source: &dyn StudySource,
    config: &StudyConfig,
    stage: &Stage,
    path: &Spanned<String>,
) -> Result<Runs> {
    let library = find_plugin(root, source, path.get_ref()).map_err(|message| config.error_at(path, message))?;
    let isolation = stage.isolation.as_ref().map(|i| *i.get_ref()).unwrap_or_default();
    if isolation == Isolation::Process && !cfg!(unix) && stage.limits.as_ref().is_some_and(|l| l.memory_mib.is_some()) {
        return Err(config
            .error_at(path, "`limits.memory_mib` on an isolated plugin needs Unix")
            .into());
    }
    Ok(Runs::Plugin(PluginRun {
        library,
        path: path.clone(),
        isolation,
        limits: isolation_limits(stage.limits.as_ref()),
    }))
}

/// A `semantic` stage's model: `name` is a folder of the study's `models/`
/// or else of the user's model store (no `/`), or a path relative to the
/// study folder; every file the model needs must be there. Its hash covers
/// every file thematic reads of it.
fn model_run(root: &Path, source: &dyn StudySource, config: &StudyConfig, path: &Spanned<String>) -> Result<ModelRun> {
    let name = path.get_ref();
    let is_path = name.contains(['/', '\\']) || name.starts_with('.');
    let in_study = root.join(MODELS_DIR).join(name);
    let stored = (!is_path)
        .then(|| crate::models::user_models_dir().ok())
        .flatten()
        .map(|store| store.join(name))
        .filter(|stored| {
            !source.is_file(&in_study.join(thematic_embed::CONFIG_FILE))
                && source.is_file(&stored.join(thematic_embed::CONFIG_FILE))
        });
    let folder = match (is_path, stored) {
        (true, _) => root.join(name),
        (false, Some(stored)) => stored,
        (false, None) => in_study,
    };
    let mut read = Vec::with_capacity(MODEL_FILES.len());
    for (file, required) in MODEL_FILES {
        let at = folder.join(file);
        if !source.is_file(&at) {
            if !required {
                continue;
            }
            let elsewhere = match is_path {
                true => String::new(),
                false => format!(
                    ", nor is a model `{name}` in the model store; add one with `thematic model add PATH` \
                     or, online, `thematic model fetch {name}`"
                ),
            };
            let message = format!(
                "model `{name}`: {} is missing{elsewhere}; a model folder holds {} (a sentence-transformers model of the BERT family, such as all-MiniLM-L6-v2)",
                at.display(),
                MODEL_FILES.iter().filter(|(_, required)| *required).map(|(f, _)| *f).collect::<Vec<_>>().join(", ")
            );
            return Err(config.error_at(path, message).into());
        }
        let bytes = source
            .bytes(&at)
            .map_err(|e| config.error_at(path, format!("model {e}")))?;
        read.push((file, bytes));
    }
    Ok(ModelRun {
        folder,
        path: path.clone(),
        hash: model_hash(read.iter().map(|(file, bytes)| (*file, bytes.as_slice()))),
    })
}

/// The models the stages run checked against the pins of `thematic.lock`: a
/// model found under a pinned name must be the one pinned. Returns every
/// model the stages run, each name once, for the run to pin.
fn check_model_pins(config: &StudyConfig, stages: &[StagePlan], lock: &Lock) -> Result<Vec<LockedModel>> {
    let mut models: Vec<LockedModel> = Vec::new();
    for stage in stages {
        let (Runs::Model(run) | Runs::Script { model: Some(run), .. }) = &stage.runs else {
            continue;
        };
        let name = run.path.get_ref();
        if let Some(pinned) = lock.model(name).filter(|pinned| pinned.sha256 != run.hash) {
            let message = format!(
                "model `{name}` is pinned by {LOCK_FILE} to sha256 {}, but the model found ({}) is {}; \
                 restore the pinned model, or delete its entry from {LOCK_FILE} to pin this one",
                pinned.sha256,
                run.folder.display(),
                run.hash
            );
            return Err(config.error_at(&run.path, message).into());
        }
        if !models.iter().any(|m| &m.name == name) {
            models.push(LockedModel {
                name: name.clone(),
                sha256: run.hash.clone(),
            });
        }
    }
    Ok(models)
}

/// The SHA-256 of a plugin's library, once it is seen to be one (without
/// loading it, which would run its code).
fn library_hash(source: &dyn StudySource, config: &StudyConfig, run: &PluginRun) -> Result<String> {
    let bytes = source
        .bytes(&run.library)
        .map_err(|e| config.error_at(&run.path, format!("plugin {e}")))?;
    if !thematic_plugins::looks_like_library(&bytes) {
        let refused = thematic_plugins::PluginError::NotALibrary {
            path: run.library.display().to_string(),
            message: "it does not start as a library of any platform does".into(),
        };
        return Err(config.error_at(&run.path, refused.to_string()).into());
    }
    Ok(sha256_hex(&bytes))
}

/// A plugin's library: `name` is a path relative to the study folder, or a
/// bare name (no folder, no extension) of a library in the study's `plugins/`
/// folder, spelt as this platform names libraries (`libNAME.so` on Linux),
/// with `-` standing for the `_` cargo writes.
fn find_plugin(root: &Path, source: &dyn StudySource, name: &str) -> Result<PathBuf, String> {
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
    match candidates.iter().find(|c| source.is_file(&root.join(c))) {
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
) -> Vec<Code> {
    let questions: BTreeSet<&str> = config.study.questions.iter().map(|q| q.id.get_ref().as_str()).collect();
    let mut codes: Vec<Code> = Vec::new();
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
            codes.push(code.clone());
        }
    }
    codes
}

/// The codes the coding stages may apply, as far as the plan can tell
/// without starting them: `None` while a script without a codebook is among
/// them (its own `codes` are read when it starts).
fn known_codes(stages: &[StagePlan]) -> Result<Option<BTreeSet<String>>> {
    let mut known = BTreeSet::new();
    for stage in stages.iter().filter(|s| s.kind == StageKind::Coding) {
        match (&stage.runs, &stage.codebook) {
            (Runs::Coder { file, text }, book) => {
                let coder =
                    CoderStrategy::new(&CodingsFile { name: file, text }, book.as_ref()).map_err(anyhow::Error::msg)?;
                known.extend(coder.known_codes().unwrap_or_default());
            }
            (_, Some(book)) => known.extend(book.codes.iter().map(|c| c.id.clone())),
            (Runs::Script { .. }, None) => return Ok(None),
            (Runs::Builtin | Runs::Plugin(_) | Runs::Model(_), None) => {}
        }
    }
    Ok(Some(known))
}

/// Every code a theme (or sub-theme) names must be one a coding stage may apply.
pub fn check_theme_codes(config: &StudyConfig, known: &BTreeSet<String>) -> Result<()> {
    for theme in config.all_themes() {
        for code in &theme.codes {
            if !known.contains(code.get_ref()) {
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
    Ok(())
}

/// A file named after someone would carry the name into every output: it is left out.
fn unnamed_transcripts(
    transcripts: Vec<(String, PathBuf)>,
    redactor: &Redactor,
    diagnostics: &mut Diagnostics,
) -> Vec<(String, PathBuf)> {
    transcripts
        .into_iter()
        .filter(|(id, _)| {
            let named = redactor.find(id);
            if let Some((_, entry)) = named.first() {
                diagnostics.fail(format!(
                    "{}: the file's name holds an entry of the redaction list ({}); rename the file (it is left out)",
                    redactor.redact(id),
                    redactor.entries()[*entry].pseudonym
                ));
            }
            named.is_empty()
        })
        .collect()
}

/// A stage that learns from a person whose codings file holds no codings
/// at all has nothing to learn: refused at its `learn_from`, naming both
/// stages, before anything runs (`thematic check` says so too). Codings
/// only of transcripts the study does not have are found when the stage
/// starts.
fn check_teaching_sources(config: &StudyConfig, stages: &[StagePlan]) -> Result<()> {
    for stage in &config.study.stages {
        let Some(from) = &stage.get_ref().learn_from else {
            continue;
        };
        let source = stages.iter().find(|s| &s.name == from.get_ref());
        let Some(Runs::Coder { file, text }) = source.map(|s| &s.runs) else {
            continue;
        };
        let book = source.and_then(|s| s.codebook.as_ref());
        let coded = CoderStrategy::new(&CodingsFile { name: file, text }, book)
            .map_or(true, |coder| coder.transcripts().next().is_some());
        if !coded {
            let message = format!(
                "stage `{}`: learn_from: stage `{}` has no codings to learn from ({file} has none); \
                 code some transcripts there first",
                stage.get_ref().name.get_ref(),
                from.get_ref()
            );
            return Err(config.error_at(from, message).into());
        }
    }
    Ok(())
}

/// A person's codings file naming a transcript the study does not have is a warning.
fn warn_of_coded_elsewhere(stages: &[StagePlan], transcripts: &[(String, PathBuf)], diagnostics: &mut Diagnostics) {
    let ids: BTreeSet<&str> = transcripts.iter().map(|(id, _)| id.as_str()).collect();
    for stage in stages {
        let Runs::Coder { file, text } = &stage.runs else {
            continue;
        };
        let Ok(coder) = CoderStrategy::new(&CodingsFile { name: file, text }, stage.codebook.as_ref()) else {
            continue;
        };
        for id in coder.transcripts().filter(|id| !ids.contains(id)) {
            diagnostics.warn(format!(
                "{file}: codes `{id}`, which is not a transcript of the study; those rows are not used"
            ));
        }
    }
}

/// How many participants without a transcript are named each on a line of their own.
const NAMED_ONE_BY_ONE: usize = 5;

fn check_participant_rows(plan: &Plan, diagnostics: &mut Diagnostics) {
    let Some(source) = &plan.config.study.participants else {
        return;
    };
    let listed: BTreeSet<&str> = plan.participants.iter().map(|p| p.id.as_str()).collect();
    let mut interviewed = BTreeSet::new();
    for (id, _) in &plan.transcripts {
        let speaking: Vec<String> = match plan.config.study.transcripts.speakers.get(id) {
            Some(speakers) => speakers
                .values()
                .filter_map(|speaker| match speaker {
                    SpeakerAs::Participant(participant) => Some(participant.clone()),
                    SpeakerAs::Role { .. } => None,
                })
                .collect(),
            None => vec![plan.participant_of(id)],
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
    let without: Vec<&str> = plan
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
    for (key, named) in [
        (
            "transcripts.speakers",
            plan.config.study.transcripts.speakers.keys().collect::<Vec<_>>(),
        ),
        (
            "transcripts.participants",
            plan.config.study.transcripts.participants.keys().collect(),
        ),
    ] {
        for named in named {
            if !plan.transcripts.iter().any(|(id, _)| id == named) {
                diagnostics.warn(format!(
                    "{}: {key} names `{named}`, which is not a transcript of the study",
                    plan.config.file
                ));
            }
        }
    }
}

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

/// Files matching the study's transcript globs, sorted, outside hidden
/// folders, the store and the reports.
fn find_transcripts(root: &Path, source: &dyn StudySource, config: &StudyConfig) -> Result<Vec<(String, PathBuf)>> {
    let globs = transcript_matcher(config)?;
    let files = source
        .files_below(root, &root.join(&config.study.outputs.dir))
        .map_err(anyhow::Error::msg)?;
    Ok(files.into_iter().filter(|(id, _)| globs.is_match(id)).collect())
}

/// The memos under `memos/`, each with what its place says it is about; a
/// file that cannot be read, or whose place names nothing the study has, is
/// named in a warning (the second kept as a memo on the study).
fn find_memos(
    root: &Path,
    source: &dyn StudySource,
    config: &StudyConfig,
    codes: &[Code],
    transcripts: &[(String, PathBuf)],
    diagnostics: &mut Diagnostics,
) -> Vec<Memo> {
    let codes: Vec<&str> = codes.iter().map(|c| c.id.as_str()).collect();
    let themes: Vec<&str> = config.all_themes().iter().map(|t| t.id.get_ref().as_str()).collect();
    let transcripts: Vec<&str> = transcripts.iter().map(|(id, _)| id.as_str()).collect();
    let subjects = MemoSubjects {
        codes: &codes,
        themes: &themes,
        transcripts: &transcripts,
    };
    let (memos, warnings) = memos_below(root, source, &root.join(&config.study.outputs.dir), &subjects);
    for warning in warnings {
        diagnostics.warn(warning);
    }
    memos
}

/// The memos under the study's `memos/` folder (none where it is not
/// there), outside `outputs`, and a warning for each that cannot be read or
/// names nothing of `subjects`.
pub fn memos_below(
    root: &Path,
    source: &dyn StudySource,
    outputs: &Path,
    subjects: &MemoSubjects,
) -> (Vec<Memo>, Vec<String>) {
    let found = match source.files_below(&root.join(MEMOS_FOLDER), outputs) {
        Ok(found) => found,
        Err(error) => return (Vec::new(), vec![format!("memos not read: {error}")]),
    };
    let mut unread = Vec::new();
    let mut files = Vec::new();
    for (id, path) in found.into_iter().filter(|(id, _)| id.ends_with(".md")) {
        // Read as transcripts are: an editor may save UTF-16 or Windows line ends.
        let text = source
            .bytes(&path)
            .and_then(|bytes| decode_text(&bytes).map_err(|e| format!("{}: {e}", path.display())));
        match text {
            Ok(text) => files.push((format!("{MEMOS_FOLDER}/{id}"), text)),
            Err(error) => unread.push(format!("memo not read: {error}")),
        }
    }
    let (memos, mut warnings) = read_memos(files, subjects);
    warnings.extend(unread);
    (memos, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::in_memory::InMemory;
    use thematic_model::MemoAbout;

    const CONFIG: &str = r#"
[study]
name = "In memory"

[transcripts]
include = ["transcripts/*.txt"]

[participants]
file = "participants.csv"

[[codebooks]]
name = "book"
file = "codebook.csv"

[[stages]]
name = "code"
kind = "coding"
strategy = "dictionary"
codebook = "book"

[[stages]]
name = "themes"
kind = "themes"
strategy = "defined"

[[themes]]
id = "T1"
name = "Support"
codes = ["support"]
"#;

    fn study(config: &str) -> InMemory {
        InMemory::new("/study")
            .with("thematic.toml", config)
            .with("codebook.csv", "code,term\nsupport,help*\n")
            .with("participants.csv", "participant,tier\nP1,Tier 1\nP2,Tier 2\n")
            .with("transcripts/P1.txt", "P1: It helped.\n")
            .with("transcripts/P2.txt", "P2: Nobody helped.\n")
            .with("transcripts/notes.md", "not matched by the globs\n")
            .with("reports/P9.txt", "an output, never a transcript\n")
    }

    fn planned(source: &InMemory) -> (Result<Plan>, Diagnostics) {
        let mut diagnostics = Diagnostics::quiet();
        let plan = plan(Path::new("/study"), source, &mut diagnostics);
        (plan, diagnostics)
    }

    #[test]
    fn a_study_is_planned_from_what_its_source_gives() {
        let (plan, diagnostics) = planned(&study(CONFIG));
        let plan = plan.unwrap();
        assert!(
            diagnostics.failures.is_empty() && diagnostics.warnings.is_empty(),
            "{diagnostics:?}"
        );
        let ids: Vec<&str> = plan.transcripts.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["transcripts/P1.txt", "transcripts/P2.txt"]);
        assert_eq!(plan.participants.len(), 2);
        let stages: Vec<(&str, StageKind)> = plan.stages.iter().map(|s| (s.name.as_str(), s.kind)).collect();
        assert_eq!(stages, [("code", StageKind::Coding), ("themes", StageKind::Themes)]);
        assert!(plan
            .stages
            .iter()
            .all(|s| s.fingerprint.len() == 64 && s.start_key.len() == 64));
        assert!(plan.theme_codes_checked);
        assert_eq!(
            plan.codes.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
            ["support"]
        );
    }

    #[test]
    fn the_memos_are_planned_with_what_their_places_say_they_are_about() {
        let source = study(CONFIG)
            .with("memos/journal.md", "Week 1.\n")
            .with("memos/codes/support.md", "Broad.\n")
            .with("memos/transcripts/P2.md", "Short.\n")
            .with_bytes("memos/themes/T1.md", b"\xff\xfeK\0e\0e\0p\0.\0\r\0\n\0")
            .with("memos/codes/gone.md", "Old.\n")
            .with("memos/sketch.png", "not a memo\n");
        let (plan, diagnostics) = planned(&source);
        let memos = plan.unwrap().memos;
        let theme_memo = memos
            .iter()
            .find(|m| m.file == "memos/themes/T1.md")
            .map(|m| m.text.as_str());
        assert_eq!(
            theme_memo,
            Some("Keep.\n"),
            "a memo saved as UTF-16 with Windows line ends"
        );
        let memos: Vec<(String, MemoAbout)> = memos.into_iter().map(|m| (m.file, m.about)).collect();
        assert_eq!(
            memos,
            [
                ("memos/codes/gone.md".into(), MemoAbout::Study),
                ("memos/codes/support.md".into(), MemoAbout::Code("support".into())),
                ("memos/journal.md".into(), MemoAbout::Study),
                ("memos/themes/T1.md".into(), MemoAbout::Theme("T1".into())),
                (
                    "memos/transcripts/P2.md".into(),
                    MemoAbout::Transcript("transcripts/P2.txt".into())
                ),
            ]
        );
        assert_eq!(
            diagnostics.warnings,
            ["memos/codes/gone.md: the study has no code `gone`; kept as a memo on the study"]
        );
    }

    #[test]
    fn a_learning_study_replans_only_when_a_transcript_the_person_coded_changes() {
        let config = CONFIG.replacen(
            "[[stages]]\nname = \"themes\"",
            "[[stages]]\nname = \"person\"\nkind = \"coding\"\nstrategy = \"coder\"\ncodebook = \"book\"\n\
             codings = \"coders/person.csv\"\n\n\
             [[stages]]\nname = \"learnt\"\nkind = \"coding\"\nstrategy = \"semantic\"\ncodebook = \"book\"\n\
             model = \"tiny\"\nlearn_from = \"person\"\n\n[[stages]]\nname = \"themes\"",
            1,
        );
        let mut source = study(&config).with(
            "coders/person.csv",
            "transcript,code,start,end\ntranscripts/P1.txt,support,0,3\n",
        );
        for (file, _) in MODEL_FILES {
            source = source.with(&format!("models/tiny/{file}"), "{}");
        }
        let noting = Noting::new(&source);
        let mut plan = plan(Path::new("/study"), &noting, &mut Diagnostics::quiet()).unwrap();
        plan.inputs = Some(noting.asked());
        let holds = |changed: &str| plan.holds_after([Path::new("/study").join(changed).as_path()], |_| true);
        assert!(
            !holds("transcripts/P1.txt"),
            "the person coded P1: the stage learns again"
        );
        assert!(holds("transcripts/P2.txt"), "P2 only gets coded");
    }

    #[test]
    fn a_plan_holds_after_changes_to_its_transcripts_only() {
        let source = study(CONFIG);
        let noting = Noting::new(&source);
        let mut plan = plan(Path::new("/study"), &noting, &mut Diagnostics::quiet()).unwrap();
        let at = |path: &str| PathBuf::from("/study").join(path);
        let holds = |plan: &Plan, changed: &[&str], gone: &str| {
            let changed: Vec<PathBuf> = changed.iter().map(|p| at(p)).collect();
            plan.holds_after(changed.iter().map(PathBuf::as_path), |path| path != at(gone))
        };
        assert!(
            !holds(&plan, &["transcripts/P1.txt"], ""),
            "planned from memory: not known to hold"
        );
        plan.inputs = Some(noting.asked());
        assert!(holds(&plan, &["transcripts/P1.txt", "transcripts/P2.txt"], ""));
        assert!(
            !holds(&plan, &["transcripts/P1.txt"], "transcripts/P1.txt"),
            "a transcript gone"
        );
        assert!(!holds(&plan, &["transcripts/P3.txt"], ""), "a transcript added");
        for input in ["thematic.toml", "codebook.csv", "participants.csv"] {
            assert!(!holds(&plan, &["transcripts/P1.txt", input], ""), "{input}");
        }
        assert!(
            !holds(&plan, &["transcripts/notes.md"], ""),
            "a file the plan did not take"
        );
    }

    #[test]
    fn a_fingerprint_follows_what_the_stage_depends_on_and_the_start_key_how_it_runs() {
        let fingerprints = |source: &InMemory| -> Vec<(String, String)> {
            let plan = planned(source).0.unwrap();
            plan.stages
                .iter()
                .map(|s| (s.fingerprint.clone(), s.start_key.clone()))
                .collect()
        };
        let lua = CONFIG.replace(
            "strategy = \"dictionary\"\ncodebook = \"book\"",
            "strategy = \"lua\"\nscript = \"scripts/mine.lua\"\ncodebook = \"book\"",
        );
        let with_script = study(&lua)
            .with(
                "scripts/mine.lua",
                "local h = require('helpers')\nfunction code(t) return {} end\n",
            )
            .with("scripts/helpers.lua", "return {}\n");
        let base = fingerprints(&with_script);
        // A module the script may require is part of what it is.
        let module_changed = fingerprints(&with_script.clone().with("scripts/helpers.lua", "return { x = 1 }\n"));
        assert_ne!(module_changed[0].0, base[0].0);
        assert_eq!(module_changed[1], base[1], "the themes stage is untouched");
        // Scripts see participants' attributes; a transcript's text is no part of any stage.
        let participants = fingerprints(
            &with_script
                .clone()
                .with("participants.csv", "participant,tier\nP1,Tier 3\n"),
        );
        assert_ne!(participants[0].0, base[0].0);
        let transcript = fingerprints(&with_script.clone().with("transcripts/P3.txt", "P3: New.\n"));
        assert_eq!(transcript, base);
        // A limit changes how the stage runs, not what it gives.
        let limited = lua.replace(
            "codebook = \"book\"\n\n[[stages]]\nname = \"themes\"",
            "codebook = \"book\"\nlimits = { seconds = 9 }\n\n[[stages]]\nname = \"themes\"",
        );
        let limited = fingerprints(&with_script.clone().with("thematic.toml", &limited));
        assert_eq!(limited[0].0, base[0].0);
        assert_ne!(limited[0].1, base[0].1);
    }

    #[test]
    fn a_scripts_own_codes_are_checked_when_it_starts_and_a_codebooks_at_once() {
        let unknown = CONFIG.replace("codes = [\"support\"]", "codes = [\"trust\"]");
        let (plan, _) = planned(&study(&unknown));
        let error = plan.err().unwrap().to_string();
        assert!(
            error.contains("theme `T1` names code `trust`, which no coding stage's codebook defines"),
            "{error}"
        );
        let script_without_book = unknown.replace(
            "strategy = \"dictionary\"\ncodebook = \"book\"",
            "strategy = \"lua\"\nscript = \"scripts/mine.lua\"",
        );
        let source = study(&script_without_book).with("scripts/mine.lua", "codes = { 'trust' }\n");
        let plan = planned(&source).0.unwrap();
        assert!(
            !plan.theme_codes_checked,
            "the script's `codes` are read only when it runs"
        );
    }

    #[test]
    fn what_the_configuration_names_is_checked_where_it_names_it() {
        let outside = CONFIG.replace(
            "strategy = \"dictionary\"\ncodebook = \"book\"",
            "strategy = \"lua\"\nscript = \"../elsewhere.lua\"",
        );
        let source = study(&outside).with("/elsewhere.lua", "function code() return {} end\n");
        let error = planned(&source).0.err().unwrap().to_string();
        assert!(
            error.starts_with("/study/thematic.toml:") && error.contains("is outside the study folder"),
            "{error}"
        );
        let library = CONFIG.replace(
            "strategy = \"dictionary\"\ncodebook = \"book\"",
            "strategy = \"plugin\"\nplugin = \"plugins/mine.so\"",
        );
        let source = study(&library).with("plugins/mine.so", "text, not a library");
        let error = planned(&source).0.err().unwrap().to_string();
        assert!(
            error.contains("plugins/mine.so: not a shared library that can be loaded"),
            "{error}"
        );
        let unknown = CONFIG.replace("strategy = \"dictionary\"", "strategy = \"dictionery\"");
        let error = planned(&study(&unknown)).0.err().unwrap().to_string();
        assert!(
            error.contains("stage `code`: unknown coding strategy `dictionery`"),
            "{error}"
        );
    }
}
