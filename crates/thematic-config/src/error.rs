use thiserror::Error;

/// A problem in a configuration file, located by line and column (both from 1).
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl ConfigError {
    /// An error at byte `offset` of `text`.
    pub fn at(file: &str, text: &str, offset: usize, message: impl Into<String>) -> ConfigError {
        let (line, column) = thematic_text::line_column(text, offset);
        ConfigError {
            file: file.to_string(),
            line,
            column,
            message: message.into(),
        }
    }
}
