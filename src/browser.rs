//! Opening a report or the live page in the user's browser.

use std::process::{Command, Stdio};

use anyhow::{Context, Result};

/// Opens `target` (a file or an address) with the program `$BROWSER` names,
/// as `cargo doc --open` does, or else the system's default for it. The
/// browser is not waited for: it may stay open long after thematic is done.
pub fn open(target: &str) -> Result<()> {
    match std::env::var_os("BROWSER").filter(|browser| !browser.is_empty()) {
        Some(browser) => {
            Command::new(&browser)
                .arg(target)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .with_context(|| format!("starting $BROWSER ({})", browser.to_string_lossy()))?;
            Ok(())
        }
        None => opener::open(target).with_context(|| format!("opening {target} with the system's default program")),
    }
}
