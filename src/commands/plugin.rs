//! `thematic plugin`: try a plugin before a study relies on it, and serve
//! isolated plugins in child processes.

use std::path::Path;

use anyhow::{Context, Result};
use thematic_plugin_api::{CodeRequest, GroupRequest, RequestSegment, SummaryCode, SummaryPair, ABI_VERSION};
use thematic_plugins::{IsolationLimits, Plugin, Served};

use crate::outcome::{count, say, Diagnostics, Outcome};

/// Loads the library (in a child process when `isolated`), prints its name,
/// kinds and ABI version, and the result of a smoke call for each kind.
pub fn check(path: &Path, params: &str, isolated: bool) -> Result<Outcome> {
    let params: toml::Table = toml::from_str(params).map_err(|e| anyhow::anyhow!("--params: {}", e.message()))?;
    let params = serde_json::to_value(&params)?;
    let plugin = if isolated {
        let executable = std::env::current_exe().context("finding the thematic executable to run the plugin")?;
        Plugin::isolated(&executable, path, IsolationLimits::default())?
    } else {
        Plugin::load(path)?
    };
    say(format!("{}: plugin `{}`", path.display(), plugin.name()));
    say(format!("  ABI version {ABI_VERSION} (the same as this thematic's)"));
    say(format!("  kinds: {}", plugin.kinds().join(", ")));
    if plugin.is_isolated() {
        say("  running in a process of its own");
    }
    let mut diagnostics = Diagnostics::default();
    if plugin.codes_segments() {
        match plugin.code(&smoke_coding(params.clone())) {
            Ok(response) => say(format!(
                "  coding smoke call: ok, {} on one turn",
                count(response.codings.len(), "coding")
            )),
            Err(e) => diagnostics.fail(format!("coding smoke call: {e}")),
        }
    }
    if plugin.groups_codes() {
        match plugin.group(&smoke_grouping(params)) {
            Ok(response) => say(format!(
                "  themes smoke call: ok, {} from three codes",
                count(response.themes.len(), "candidate theme")
            )),
            Err(e) => diagnostics.fail(format!("themes smoke call: {e}")),
        }
    }
    Ok(diagnostics.outcome())
}

/// The child's side of `isolation = "process"`. A refused library is
/// reported by the thematic that started this child, not here.
pub fn serve(path: &Path, memory_mib: Option<u64>) -> Result<Outcome> {
    let served =
        thematic_plugins::serve(path, memory_mib).with_context(|| format!("serving the plugin {}", path.display()))?;
    Ok(match served {
        Served::Finished => Outcome::Success,
        Served::Refused => Outcome::ConfigError,
    })
}

fn smoke_coding(params: serde_json::Value) -> CodeRequest {
    CodeRequest {
        transcript: "smoke-test".into(),
        segments: vec![RequestSegment {
            turn: 1,
            speaker: Some("P1".into()),
            role: "participant".into(),
            participant: Some("P1".into()),
            text: "P1: I was not sure at first, then I felt supported.".into(),
        }],
        params,
        codebook: Vec::new(),
    }
}

/// Three codes over three participants, two of them often together.
fn smoke_grouping(params: serde_json::Value) -> GroupRequest {
    let people = |ids: &[&str]| ids.iter().map(|id| id.to_string()).collect::<Vec<_>>();
    let code = |segments, ids: &[&str]| SummaryCode {
        segments,
        participants: people(ids),
    };
    GroupRequest {
        codes: [
            ("mentoring".to_string(), code(4, &["P1", "P2", "P3"])),
            ("support".to_string(), code(5, &["P1", "P2", "P3"])),
            ("workload".to_string(), code(2, &["P3"])),
        ]
        .into_iter()
        .collect(),
        cooccurrence: vec![SummaryPair {
            a: "mentoring".into(),
            b: "support".into(),
            segments: 3,
            participants: people(&["P1", "P2", "P3"]),
        }],
        params,
    }
}
