use thiserror::Error;

/// What is wrong with a codebook, always naming the file and the place in it.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CodebookError {
    #[error("{file}:{line}: {message}")]
    Csv { file: String, line: u64, message: String },
    #[error("{file}: the header has no `{column}` column (expected `code,term`)")]
    MissingColumn { file: String, column: &'static str },
    #[error("{file}:{line}: empty code id")]
    EmptyCode { file: String, line: u64 },
    #[error("{file}:{line}: code `{code}` has an empty term")]
    EmptyTerm { file: String, line: u64, code: String },
    #[error("{file}:{line}:{column}: {message}")]
    Toml {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: code `{code}` is defined twice")]
    DuplicateCode { file: String, code: String },
    #[error("{file}: code `{code}` names parent `{parent}`, which is not a code of this codebook")]
    UnknownParent { file: String, code: String, parent: String },
    #[error("{file}: code `{code}` is its own ancestor (the parent links form a cycle)")]
    ParentCycle { file: String, code: String },
    #[error("{file}:{line}: code `{code}`: invalid regular expression `{pattern}`: {message}")]
    InvalidRegex {
        file: String,
        line: u64,
        code: String,
        pattern: String,
        message: String,
    },
    #[error("{file}: the codebook has no terms")]
    NoTerms { file: String },
    #[error("building the matcher failed: {0}")]
    Automaton(String),
}
