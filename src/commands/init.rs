//! `thematic init`: a new study folder, or the demo study.

use std::path::Path;

use anyhow::{bail, Result};
use thematic_config::CONFIG_FILE;

use crate::outcome::{say, Outcome};
use crate::templates::{TemplateFile, DEMO, STARTER};
use thematic_engine::files::write_atomic;

pub fn run(dir: &Path, demo: bool) -> Result<Outcome> {
    if dir.join(CONFIG_FILE).exists() {
        bail!(
            "{}: already holds a study ({CONFIG_FILE} exists); nothing was written",
            dir.display()
        );
    }
    let files: &[TemplateFile] = if demo { DEMO } else { STARTER };
    if let Some((name, _)) = files.iter().find(|(name, _)| dir.join(name).exists()) {
        bail!("{}: already exists; nothing was written", dir.join(name).display());
    }
    for (name, contents) in files {
        write_atomic(&dir.join(name), contents.as_bytes())?;
    }
    let shown = dir.display();
    if demo {
        say(format!("Wrote the demo study (7 interviews, 8 themes) to {shown}."));
    } else {
        say(format!("Wrote a new study to {shown}."));
        say(format!(
            "Add transcripts to {shown}/transcripts/ (`Name: words` at the start of each turn),"
        ));
        say("list participants in participants.csv and codes in codebook.csv.");
    }
    say(format!("Next: thematic run {shown}"));
    Ok(Outcome::Success)
}
