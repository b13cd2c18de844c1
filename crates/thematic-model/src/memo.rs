//! Memos: what a researcher writes down as they analyse, each a Markdown
//! file of the study under `memos/`, about a code, a theme, a transcript or
//! the study as a whole (the journal, and any memo a person puts there by hand).

use serde::{Deserialize, Serialize};

/// The folder of memos, relative to the study.
pub const MEMOS_FOLDER: &str = "memos";

/// The study's journal, relative to the study.
pub const JOURNAL_FILE: &str = "memos/journal.md";

/// What a memo is about, as its place under `memos/` says.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "lowercase")]
pub enum MemoAbout {
    /// The study as a whole: the journal, or a memo of no code, theme or transcript.
    Study,
    Code(String),
    Theme(String),
    Transcript(String),
}

/// One memo as the study holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Memo {
    /// Its file, relative to the study, `/`-separated (`memos/codes/C1.md`).
    pub file: String,
    pub about: MemoAbout,
    /// Its Markdown, as written.
    pub text: String,
}

impl std::fmt::Display for MemoAbout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MemoAbout::Study => f.write_str("the study"),
            MemoAbout::Code(id) => write!(f, "code `{id}`"),
            MemoAbout::Theme(id) => write!(f, "theme `{id}`"),
            MemoAbout::Transcript(id) => write!(f, "transcript `{id}`"),
        }
    }
}
