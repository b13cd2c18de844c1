//! Non-verbal annotations and redaction marks (`[laughs]`, `[pause]`,
//! `(redacted)`): kept in the transcript, its segments and extracts, but
//! blanked out of the text coding strategies see, so that no dictionary term
//! or script matches inside them.
//!
//! A blanked character is replaced by white space of the same UTF-8 length,
//! so byte and code-point offsets into the text strategies see are offsets
//! into the transcript itself.

use regex::Regex;
use thematic_model::Transcript;

/// The annotations transcribers write when nothing else is said: any short
/// bracketed note, and the usual parenthesised ones.
pub const DEFAULT_ANNOTATIONS: [&str; 2] = [
    r"\[[^\[\]\n]{1,80}\]",
    r"(?i)\((?:redacted|inaudible|unclear|crosstalk|laughs|laughing|laughter|pause|long pause|sighs|silence|coughs|cries|crying)\)",
];

/// What strategies must not see.
#[derive(Debug, Clone)]
pub struct Annotations {
    pattern: Option<Regex>,
}

impl Annotations {
    /// One expression for all `patterns` (regular expressions); none blanks nothing.
    pub fn new(patterns: &[String]) -> Result<Annotations, regex::Error> {
        if patterns.is_empty() {
            return Ok(Annotations { pattern: None });
        }
        let alternatives: Vec<String> = patterns.iter().map(|p| format!("(?:{p})")).collect();
        Ok(Annotations {
            pattern: Some(Regex::new(&alternatives.join("|"))?),
        })
    }

    /// Checks one pattern on its own, so that an error can name it.
    pub fn check(pattern: &str) -> Result<(), regex::Error> {
        Regex::new(pattern).map(|_| ())
    }

    /// The transcript as coding strategies see it, or `None` when it holds no annotation.
    pub fn blanked(&self, transcript: &Transcript) -> Option<Transcript> {
        let pattern = self.pattern.as_ref()?;
        if !transcript.segments.iter().any(|s| pattern.is_match(&s.text)) {
            return None;
        }
        let mut blanked = transcript.clone();
        for segment in &mut blanked.segments {
            if pattern.is_match(&segment.text) {
                segment.text = pattern
                    .replace_all(&segment.text, |found: &regex::Captures| blank(&found[0]))
                    .into_owned();
            }
        }
        Some(blanked)
    }
}

/// White space of the same UTF-8 length as each character of `text`.
fn blank(text: &str) -> String {
    text.chars()
        .map(|c| match c.len_utf8() {
            1 => ' ',
            2 => '\u{a0}',
            3 => '\u{3000}',
            // Tag space: no word character, four bytes.
            _ => '\u{e0020}',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{transcript_from_text, RoleMap};

    fn defaults() -> Annotations {
        Annotations::new(&DEFAULT_ANNOTATIONS.map(str::to_string)).unwrap()
    }

    #[test]
    fn annotations_are_blanked_to_the_same_length() {
        let text = "P1: I was alone [laughs] at (Redacted), [inaudible — ça] truly (alone).";
        let (transcript, _) = transcript_from_text("t", text, "h", Some("P1"), &RoleMap::default());
        let blanked = defaults().blanked(&transcript).unwrap();
        let seen = &blanked.segments[0].text;
        assert_eq!(seen.len(), transcript.segments[0].text.len());
        assert_eq!(seen.chars().count(), transcript.segments[0].text.chars().count());
        assert!(
            !seen.contains("laughs") && !seen.contains("Redacted") && !seen.contains("inaudible"),
            "{seen}"
        );
        assert!(
            seen.contains("I was alone") && seen.contains("truly (alone)."),
            "{seen}"
        );
        assert_eq!(transcript.segments[0].text, text, "the transcript itself keeps them");
    }

    #[test]
    fn nothing_to_blank_is_no_copy() {
        let (transcript, _) = transcript_from_text("t", "P1: plain words", "h", None, &RoleMap::default());
        assert!(defaults().blanked(&transcript).is_none());
        assert!(Annotations::new(&[]).unwrap().blanked(&transcript).is_none());
    }
}
