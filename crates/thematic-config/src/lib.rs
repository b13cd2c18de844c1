//! `thematic.toml`: what a study is made of and which stages run on it.
//!
//! Parsing is a pure function of the file's text. Unknown keys and wrong types
//! are errors located by `file:line:col`; so are references between sections
//! (a stage naming a codebook that is not declared, an area naming a theme that
//! is not defined). References into files the config names (codes inside
//! codebooks) are checked by the shell once it has read them, located through
//! [`StudyConfig::error_at`].

mod error;
mod schema;

pub use error::ConfigError;
pub use schema::*;
pub use toml::Spanned;
