//! Codebooks and the matchers built from them.
//!
//! A codebook is parsed from text (CSV `code,term` rows or a TOML file with a
//! code hierarchy); this crate does no IO. [`DictionaryMatcher`] compiles every
//! term of a codebook into one Aho-Corasick automaton that reproduces the
//! whole-word, case-insensitive semantics of the reference coder `peer_re.py`;
//! [`RegexMatcher`] treats the terms as regular expressions.

mod codebook;
mod dictionary;
mod error;
mod regex_matcher;

pub use codebook::{Code, Codebook, Term};
pub use dictionary::{DictionaryMatcher, Hit};
pub use error::CodebookError;
pub use regex_matcher::RegexMatcher;
