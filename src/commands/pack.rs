//! `thematic pack`: make, build, install, list, verify, update and remove
//! plugin packs (see `thematic_engine::pack_commands`), each step said as it is done.

use std::path::Path;

use anyhow::Result;
use thematic_engine::pack_commands as packs;

use crate::outcome::{say, Outcome};

pub fn new(name: &str, parent: &Path) -> Result<Outcome> {
    packs::new(name, parent, &mut say)
}

pub fn build(dir: &Path, output: Option<&Path>) -> Result<Outcome> {
    packs::build(dir, output, &mut say)
}

pub fn install(source: &Path, study: &Path, global: bool, allow_native: bool) -> Result<Outcome> {
    packs::install(source, study, global, allow_native, &mut say)
}

pub fn list(study: &Path) -> Result<Outcome> {
    packs::list(study, &mut say)
}

pub fn verify(study: &Path) -> Result<Outcome> {
    packs::verify(study, &mut say)
}

pub fn update(name: &str, study: &Path, allow_native: bool) -> Result<Outcome> {
    packs::update(name, study, allow_native, &mut say)
}

pub fn remove(name: &str, study: &Path) -> Result<Outcome> {
    packs::remove(name, study, &mut say)
}
