//! `thematic withdraw`: a participant who withdrew consent taken out of the
//! study, the store and the reports (see `thematic_engine::withdraw`).

use std::path::Path;

use anyhow::Result;
use thematic_engine::withdraw::{withdraw as take_out, Removal};

use crate::outcome::{say, Diagnostics, Outcome};

pub fn withdraw(participant: &str, dir: &Path, removal: Removal) -> Result<Outcome> {
    let mut diagnostics = Diagnostics::default();
    take_out(participant, dir, removal, &mut diagnostics, &mut |line| say(line))?;
    Ok(diagnostics.outcome())
}
