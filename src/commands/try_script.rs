//! `thematic try`: run a coding script on a text and show what it codes, for
//! the write-run-look loop of a script author.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Result;
use thematic_lua::{Limits, LuaCodingStrategy, ScriptFiles};
use thematic_model::Segment;
use thematic_pipeline::{
    code_transcript, transcript_from_text, Annotations, CodingStage, RoleMap, DEFAULT_ANNOTATIONS,
};

use crate::outcome::{say, Diagnostics, Outcome};
use thematic_engine::files::{load_codebook, lua_modules, read_transcript, sha256_hex};
use thematic_engine::source::{Disk, StudySource};

pub struct TryInput {
    pub script: PathBuf,
    pub text: Option<String>,
    pub file: Option<PathBuf>,
    pub speaker: Option<String>,
    pub codebook: Option<PathBuf>,
}

pub fn run(input: TryInput) -> Result<Outcome> {
    let source = Disk
        .text(&input.script)
        .map_err(|e| anyhow::anyhow!("reading the script {e}"))?;
    let text = match (&input.text, &input.file) {
        (Some(text), _) => text.clone(),
        (None, Some(file)) => read_transcript(file).map_err(anyhow::Error::msg)?,
        (None, None) => anyhow::bail!("give the text to code with --text TEXT or --file FILE"),
    };
    // A bare sentence is one turn of the given speaker.
    let text = match &input.speaker {
        Some(speaker) => format!("{speaker}: {text}"),
        None => text,
    };
    let codebook = input.codebook.as_deref().map(load_codebook).transpose()?;
    let name = display_name(&input.script);
    let folder = input
        .script
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let shown = display_name(folder);
    let script = ScriptFiles {
        name: name.clone(),
        source,
        modules: lua_modules(folder, &shown)?,
    };
    let strategy = LuaCodingStrategy::new(
        &script,
        Limits::default(),
        &toml::Table::new(),
        codebook.as_ref().map(|(book, _)| book),
        &[],
        &[],
        None,
    )?;
    let mut diagnostics = Diagnostics::default();
    // Unlabelled text is expected here: it is one turn, and no warning is owed.
    let (transcript, _) = transcript_from_text("text", &text, &sha256_hex(text.as_bytes()), None, &RoleMap::default());
    let roles: Vec<String> = transcript.segments.iter().map(|s| s.role.clone()).collect();
    let stage = CodingStage {
        name: "try".into(),
        strategy_name: "lua".into(),
        fingerprint: String::new(),
        roles,
        strategy: Box::new(strategy),
    };
    // As in a study with the usual annotations: `[laughs]` and the like are not seen.
    let annotations =
        Annotations::new(&DEFAULT_ANNOTATIONS.map(str::to_string)).expect("the usual annotations compile");
    let blanked = annotations.blanked(&transcript);
    let codings = match code_transcript(&stage, blanked.as_ref().unwrap_or(&transcript)) {
        Ok(codings) => codings,
        Err(e) => {
            diagnostics.fail(e.to_string());
            Vec::new()
        }
    };
    let segments: BTreeMap<u32, &Segment> = transcript.segments.iter().map(|s| (s.turn, s)).collect();
    let chars: Vec<char> = text.chars().collect();
    for coding in &codings {
        let speaker = segments
            .get(&coding.turn)
            .and_then(|s| s.speaker.as_deref())
            .unwrap_or("-");
        let evidence: Vec<String> = coding
            .spans
            .iter()
            .map(|span| {
                format!(
                    "{:?} {}..{}",
                    chars[span.start..span.end].iter().collect::<String>(),
                    span.start,
                    span.end
                )
            })
            .collect();
        let mut line = format!("turn {} ({speaker}): {}", coding.turn, coding.code);
        if !evidence.is_empty() {
            line.push_str(&format!("  {}", evidence.join(", ")));
        }
        if let Some(confidence) = coding.confidence {
            line.push_str(&format!("  confidence {confidence}"));
        }
        if let Some(memo) = &coding.memo {
            line.push_str(&format!("  memo: {memo}"));
        }
        say(line);
    }
    if codings.is_empty() && diagnostics.failures.is_empty() {
        say(format!("{name} coded nothing in {} turn(s)", transcript.segments.len()));
    }
    for message in stage.strategy.take_log() {
        say(format!("log: {message}"));
    }
    Ok(diagnostics.outcome())
}

/// The script's path as messages show it: relative to the current folder where it can be.
fn display_name(script: &Path) -> String {
    let relative = std::env::current_dir()
        .ok()
        .and_then(|cwd| script.strip_prefix(cwd).ok().map(Path::to_path_buf));
    relative.unwrap_or_else(|| script.to_path_buf()).display().to_string()
}
