//! `thematic model`: the user's store of sentence-embedding models.

use std::path::Path;

use anyhow::Result;
use thematic_engine::models::{self, StoredModel};

use crate::outcome::{say, Outcome};

pub fn add(path: &Path, name: Option<&str>) -> Result<Outcome> {
    stored(&models::add(path, name)?);
    Ok(Outcome::Success)
}

pub fn fetch(name: &str) -> Result<Outcome> {
    stored(&models::fetch(name)?);
    Ok(Outcome::Success)
}

fn stored(model: &StoredModel) {
    let manifest = &model.manifest;
    match model.added {
        true => say(format!(
            "added model `{}` to the store: {}",
            manifest.name,
            model.folder.display()
        )),
        false => say(format!(
            "model `{}` is in the store already: {}",
            manifest.name,
            model.folder.display()
        )),
    }
    say(format!("  sha256 {}", manifest.sha256));
    say(format!("  a stage uses it with: model = \"{}\"", manifest.name));
}

pub fn list() -> Result<Outcome> {
    let listed = models::list()?;
    if listed.is_empty() {
        say(format!(
            "no models in the store ({}); add one with `thematic model add PATH`",
            models::user_models_dir()?.display()
        ));
    }
    let mut outcome = Outcome::Success;
    for model in listed {
        match model {
            Ok(model) => say(format!(
                "{}  sha256 {}  {}",
                model.manifest.name,
                model.manifest.sha256,
                model.folder.display()
            )),
            Err(problem) => {
                eprintln!("error: {problem}");
                outcome = Outcome::InputsFailed;
            }
        }
    }
    Ok(outcome)
}
