//! The strategies that come with the engine, and the registry that builds a
//! stage's strategy from its name and parameters.

mod coder;
mod defined;
mod dictionary;
mod regex;

use serde::de::DeserializeOwned;
use thematic_codebook::{Codebook, CodebookError};
use thematic_config::Theme;

pub use coder::{CoderStrategy, CodingsFile};
pub use defined::{DefinedAreas, DefinedThemes};
pub use dictionary::DictionaryStrategy;
pub use regex::RegexStrategy;

use crate::{AreaMapper, CodingStrategy, ThemeGrouper};

/// Why a stage's strategy could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A problem with the stage's settings; the caller locates it in the config.
    #[error("{0}")]
    Stage(String),
    /// A problem inside the codebook, located in the codebook's own file.
    #[error(transparent)]
    Codebook(#[from] CodebookError),
}

pub fn coding_strategy(
    strategy: &str,
    params: &toml::Table,
    codebook: Option<&Codebook>,
) -> Result<Box<dyn CodingStrategy>, BuildError> {
    let needs_codebook = || BuildError::Stage(format!("strategy `{strategy}` needs a `codebook`"));
    match strategy {
        "dictionary" => {
            parse_params::<NoParams>(params)?;
            Ok(Box::new(DictionaryStrategy::new(codebook.ok_or_else(needs_codebook)?)?))
        }
        "regex" => {
            let params: regex::RegexParams = parse_params(params)?;
            Ok(Box::new(RegexStrategy::new(
                codebook.ok_or_else(needs_codebook)?,
                params.case_insensitive,
            )?))
        }
        other => Err(BuildError::Stage(format!(
            "unknown coding strategy `{other}` (builtins: dictionary, regex; and coder, lua, plugin with their files)"
        ))),
    }
}

pub fn theme_grouper(
    strategy: &str,
    params: &toml::Table,
    themes: &[Theme],
) -> Result<Box<dyn ThemeGrouper>, BuildError> {
    match strategy {
        "defined" => {
            parse_params::<NoParams>(params)?;
            Ok(Box::new(DefinedThemes::new(themes)))
        }
        other => Err(BuildError::Stage(format!(
            "unknown theme strategy `{other}` (builtins: defined)"
        ))),
    }
}

pub fn area_mapper(
    strategy: &str,
    params: &toml::Table,
    areas: &[thematic_config::Area],
) -> Result<Box<dyn AreaMapper>, BuildError> {
    match strategy {
        "defined" => {
            parse_params::<NoParams>(params)?;
            Ok(Box::new(DefinedAreas::new(areas)))
        }
        other => Err(BuildError::Stage(format!(
            "unknown area strategy `{other}` (builtins: defined)"
        ))),
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NoParams {}

/// A stage's `params` as a strategy's parameters; an unknown or mistyped one is an error.
pub fn parse_params<T: DeserializeOwned>(params: &toml::Table) -> Result<T, BuildError> {
    params
        .clone()
        .try_into()
        .map_err(|e: toml::de::Error| BuildError::Stage(format!("params: {}", e.message())))
}
