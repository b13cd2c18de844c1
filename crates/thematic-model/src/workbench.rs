//! What the workbench page (`thematic watch --serve`) is shown and what it
//! sends back: a transcript with everyone's codings of it, and a person's
//! decisions about them.

use serde::{Deserialize, Serialize};

use crate::{Code, CoderAgreement, MemoAbout};

/// What the workbench lists: whose decisions it saves and where, the
/// transcripts, the code tree, and the agreement the last run measured.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeskOutline {
    pub coder: String,
    /// The person's codings file, relative to the study.
    pub codings_file: String,
    /// The coding stage that reads the person's file, once there is one.
    pub coder_stage: Option<String>,
    /// Why the person's codings cannot be shown or added to (a bad line in their file).
    pub problem: Option<String>,
    pub transcripts: Vec<DeskTranscript>,
    pub codes: Vec<Code>,
    /// The themes as `thematic.toml` defines them, sub-themes after their
    /// theme, then any a stage proposed that it does not.
    pub themes: Vec<DeskTheme>,
    /// The discussion areas `thematic.toml` defines.
    pub areas: Vec<DeskArea>,
    pub agreements: Vec<CoderAgreement>,
    /// The study's memos as their files hold them now.
    pub memos: Vec<MemoView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeskTheme {
    pub id: String,
    pub name: String,
    /// The theme a sub-theme is under.
    pub parent: Option<String>,
    pub codes: Vec<String>,
    /// The discussion area the theme is in, if one.
    pub area: Option<String>,
    /// Whether `thematic.toml` defines it (and the workbench can shape it),
    /// rather than a stage proposing it.
    pub defined: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeskArea {
    pub id: String,
    pub name: String,
}

/// A change to the themes and areas `thematic.toml` defines, made in the workbench.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ThemeChange {
    /// A new theme, or a sub-theme under `parent`.
    NewTheme {
        id: String,
        name: String,
        parent: Option<String>,
    },
    RenameTheme {
        id: String,
        name: String,
    },
    /// A code taken out of every theme and put in `to` (in none without one).
    MoveCode {
        code: String,
        to: Option<String>,
    },
    /// A theme taken out of every area and put in `area` (in none without one).
    MoveTheme {
        theme: String,
        area: Option<String>,
    },
    NewArea {
        id: String,
        name: String,
    },
}

/// A memo as the workbench shows it, with the version a change to it must start from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MemoView {
    pub file: String,
    pub about: MemoAbout,
    pub text: String,
    /// The SHA-256 of the file as read: a change sent with another was made on an older text.
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeskTranscript {
    pub id: String,
    pub participant: Option<String>,
}

/// One transcript as the workbench shows it: its text, its turns, and
/// every coding of it, the person's own and the stages' suggestions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TranscriptView {
    pub id: String,
    pub participant: Option<String>,
    /// The SHA-256 of the text, which the person's codings of it carry.
    pub content_hash: String,
    pub text: String,
    pub turns: Vec<ViewTurn>,
    pub codings: Vec<ViewCoding>,
    /// What could not be shown, and why (a bad line in a decisions file).
    pub problems: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ViewTurn {
    pub turn: u32,
    pub speaker: Option<String>,
    pub role: String,
    pub participant: Option<String>,
    /// Code-point offsets of the turn in the text, half-open.
    pub start: usize,
    pub end: usize,
    pub start_ms: Option<u64>,
    pub end_ms: Option<u64>,
}

/// Where a coding the workbench shows stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Standing {
    /// The person's own coding.
    Own,
    /// The person's own coding, made on another version of the text and found
    /// again at the same words (shown where they are now).
    Found,
    /// The person's own coding, made on another version of the text whose
    /// words are not in it now: kept, not applied.
    Stale,
    /// A stage's suggestion the person has not decided on.
    Suggested,
    /// A stage's suggestion the person has coded the same way.
    Accepted,
    /// A stage's suggestion the person rejected.
    Rejected,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ViewCoding {
    pub code: String,
    /// The stage that suggested it; empty for the person's own.
    pub stage: String,
    pub strategy: String,
    /// Code-point offsets in the text, half-open.
    pub start: usize,
    pub end: usize,
    pub confidence: Option<f64>,
    pub standing: Standing,
}

/// A decision the person makes in the workbench. Offsets are code points of
/// the transcript's text, half-open.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Decision {
    /// Codes a stretch (a selection, or a suggestion accepted).
    Code {
        transcript: String,
        code: String,
        start: usize,
        end: usize,
        /// The SHA-256 of the text the offsets count in, as the page had it
        /// ([`TranscriptView::content_hash`]); refused when the text is another now.
        #[serde(default)]
        text_sha256: Option<String>,
    },
    /// Takes one of the person's own codings away (at the offsets the page shows it at).
    Uncode {
        transcript: String,
        code: String,
        start: usize,
        end: usize,
        /// As in [`Decision::Code`].
        #[serde(default)]
        text_sha256: Option<String>,
    },
    /// One of the person's codings given another code.
    Recode {
        transcript: String,
        code: String,
        start: usize,
        end: usize,
        to: String,
        /// As in [`Decision::Code`].
        #[serde(default)]
        text_sha256: Option<String>,
    },
    /// A stage's suggestion rejected.
    Reject {
        transcript: String,
        stage: String,
        code: String,
        start: usize,
        end: usize,
        /// As in [`Decision::Code`].
        #[serde(default)]
        text_sha256: Option<String>,
    },
    /// A rejection taken back.
    Unreject {
        transcript: String,
        stage: String,
        code: String,
        start: usize,
        end: usize,
    },
}

impl Decision {
    /// The text the page counted the offsets in, where it says.
    pub fn made_on(&self) -> Option<&str> {
        match self {
            Decision::Code { text_sha256, .. }
            | Decision::Uncode { text_sha256, .. }
            | Decision::Recode { text_sha256, .. }
            | Decision::Reject { text_sha256, .. } => text_sha256.as_deref(),
            Decision::Unreject { .. } => None,
        }
    }

    pub fn transcript(&self) -> &str {
        match self {
            Decision::Code { transcript, .. }
            | Decision::Uncode { transcript, .. }
            | Decision::Recode { transcript, .. }
            | Decision::Reject { transcript, .. }
            | Decision::Unreject { transcript, .. } => transcript,
        }
    }
}

/// A memo written in the workbench (its Markdown), or taken away (no text).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoChange {
    pub about: MemoAbout,
    pub text: String,
    /// The version of the memo the text was written on ([`MemoView::version`]); empty for a new memo.
    pub was: String,
}

/// A decision saved: the file it went to, relative to the study, and what was done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Saved {
    pub file: String,
    pub said: String,
}

/// Why the workbench could not do what the page asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeskError {
    /// Nothing of the study is named so (a transcript, a code).
    NotFound(String),
    /// The request cannot be done as asked; nothing was written.
    Refused(String),
    /// The decision could be made but not saved (a read-only folder, a full
    /// disk); nothing already saved is lost.
    NotSaved(String),
    /// What the decision was made on has changed since (a memo edited by
    /// someone else); nothing was written.
    Conflict(String),
    /// The study could not be read (the store); nothing was written.
    Unavailable(String),
}

impl std::fmt::Display for DeskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeskError::NotFound(why) | DeskError::Refused(why) | DeskError::Conflict(why) => f.write_str(why),
            DeskError::Unavailable(why) => write!(f, "the study cannot be read now: {why}"),
            DeskError::NotSaved(why) => write!(f, "not saved: {why}"),
        }
    }
}

impl std::error::Error for DeskError {}
