//! Transcript files read from their bytes: plain text and Markdown in any
//! of the encodings transcribers save in, WebVTT from Zoom and Teams, SRT
//! from subtitle tools and Word documents from transcription services.
//!
//! Everything here is a pure function of a file's bytes; this crate does no
//! IO. A reader is chosen by the file's extension and checks the content it
//! is given: a `.vtt` without its header or a `.docx` that is no zip is an
//! error, never a guess. Errors name the place (byte offset, line) but never
//! quote the text, which may hold what redaction is there to hide.

mod cues;
mod decode;
mod docx;
mod held;
mod references;
mod zipped;

use thiserror::Error;

pub use decode::{decode_as_written, decode_text, has_byte_order_mark, unix_line_ends};
pub use held::{each_held, Held, Unmarked};
pub use zipped::Zipped;

/// How a file is read, by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `.txt`, `.md`: speaker labels (`Name: `) at line starts.
    Text,
    /// `.vtt`: cues with `<v Name>` voice tags or `Name: ` in the cue text.
    WebVtt,
    /// `.srt`: numbered cues with `Name: ` in the cue text.
    Srt,
    /// `.docx`: paragraphs with speaker labels, or a speaker line with a
    /// timestamp above each stretch of speech.
    Docx,
}

impl Format {
    /// The format of a file with this name, if thematic reads it.
    pub fn of(name: &str) -> Option<Format> {
        let extension = name.rsplit_once('.')?.1.to_ascii_lowercase();
        match extension.as_str() {
            "txt" | "md" | "markdown" => Some(Format::Text),
            "vtt" => Some(Format::WebVtt),
            "srt" => Some(Format::Srt),
            "docx" => Some(Format::Docx),
            _ => None,
        }
    }
}

/// A transcript as its file gave it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Document {
    /// Text whose turns are found by their speaker labels.
    Text(String),
    /// Turns the file itself marks (cues, speaker lines), in order.
    Turns(Vec<TimedTurn>),
}

impl Document {
    /// The text the document is analysed as: turns a file marks itself
    /// written out as [`text_of_turns`] writes them.
    pub fn into_text(self) -> String {
        match self {
            Document::Text(text) => text,
            Document::Turns(turns) => text_of_turns(&turns),
        }
    }
}

/// The text a transcript whose file marks its own turns (captions,
/// timestamped speaker lines) is analysed as: `Speaker: what was said`, a
/// blank line between turns, as a plain transcript would be written.
pub fn text_of_turns(turns: &[TimedTurn]) -> String {
    let written: Vec<String> = turns
        .iter()
        .map(|turn| match &turn.speaker {
            Some(speaker) => format!("{speaker}: {}", turn.text),
            None => turn.text.clone(),
        })
        .collect();
    written.join("\n\n")
}

/// One speaker's stretch of speech, as a file with timings marks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimedTurn {
    pub speaker: Option<String>,
    pub text: String,
    /// Milliseconds from the start of the recording, where the file says.
    pub start_ms: Option<u64>,
    pub end_ms: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FormatError {
    #[error("not valid UTF-8 at byte {offset}")]
    Utf8 { offset: usize },
    #[error("not valid UTF-16 at byte {offset} (half of a surrogate pair)")]
    Utf16 { offset: usize },
    #[error("not a text file: a NUL byte at byte {offset} (UTF-16 text needs a byte-order mark)")]
    Binary { offset: usize },
    #[error("not a text file: a NUL character at byte {offset} (UTF-32, or binary data behind a byte-order mark)")]
    NulCharacter { offset: usize },
    #[error("line {line}: {message}")]
    Line { line: usize, message: String },
    #[error("not a Word document: {0}")]
    Docx(String),
}

/// Reads a file's bytes as `format`.
pub fn read(format: Format, bytes: &[u8]) -> Result<Document, FormatError> {
    match format {
        Format::Text => decode_text(bytes).map(Document::Text),
        Format::WebVtt => cues::read_webvtt(&decode_text(bytes)?).map(Document::Turns),
        Format::Srt => cues::read_srt(&decode_text(bytes)?).map(Document::Turns),
        Format::Docx => docx::read_docx(bytes),
    }
}
