//! A study ready to analyse: its plan, and the plan's stages started.

use std::path::Path;

use anyhow::{Context, Result};

use crate::diagnostics::Diagnostics;
use crate::plan::{plan_folder, Plan};
use crate::stages::Stages;

pub struct Study {
    pub plan: Plan,
    pub stages: Stages,
}

/// Plans the study in `root` from its folder and starts its stages. Errors
/// are configuration errors; problems with one input go to `diagnostics`.
pub fn load(root: &Path, diagnostics: &mut Diagnostics) -> Result<Study> {
    let plan = plan_folder(root, diagnostics)?;
    let stages = Stages::start(&plan, &thematic_executable()?)?;
    Ok(Study { plan, stages })
}

/// The `thematic` binary, which runs isolated plugins' processes.
pub fn thematic_executable() -> Result<std::path::PathBuf> {
    std::env::current_exe().context("finding the thematic executable to run the plugin")
}
