//! `thematic plugin check`: load a plugin and try it, before a study relies on it.

use std::path::Path;

use anyhow::Result;
use thematic_plugin_api::{CodeRequest, RequestSegment, ABI_VERSION};
use thematic_plugins::Plugin;

use crate::outcome::{say, Diagnostics, Outcome};

/// Loads the library, prints its name, kinds and ABI version, and the result
/// of a smoke call on one short turn.
pub fn check(path: &Path, params: &str) -> Result<Outcome> {
    let params: toml::Table = toml::from_str(params).map_err(|e| anyhow::anyhow!("--params: {}", e.message()))?;
    let plugin = Plugin::load(path)?;
    say(format!("{}: plugin `{}`", path.display(), plugin.name()));
    say(format!("  ABI version {ABI_VERSION} (the same as this thematic's)"));
    say(format!("  kinds: {}", plugin.kinds().join(", ")));
    let mut diagnostics = Diagnostics::default();
    if plugin.codes_segments() {
        let request = CodeRequest {
            transcript: "smoke-test".into(),
            segments: vec![RequestSegment {
                turn: 1,
                speaker: Some("P1".into()),
                role: "participant".into(),
                participant: Some("P1".into()),
                text: "P1: I was not sure at first, then I felt supported.".into(),
            }],
            params: serde_json::to_value(&params)?,
            codebook: Vec::new(),
        };
        match plugin.code(&request) {
            Ok(response) => say(format!(
                "  smoke call: ok, {} coding(s) on one turn",
                response.codings.len()
            )),
            Err(e) => diagnostics.fail(format!("smoke call: {e}")),
        }
    }
    Ok(diagnostics.outcome())
}
