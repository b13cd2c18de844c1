use std::ops::Range;

use crate::chars::{is_decimal_digit, is_plain_ascii, is_space, is_word};

/// One speaker turn: the unit that is coded (a *segment*).
///
/// Ranges are byte offsets into the transcript text. The turn runs from its
/// first non-blank character to the end of its last non-blank line, with
/// trailing white space left out; blank lines inside it stay in the range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    /// The speaker label without its colon, or `None` for text before the first label.
    pub label: Option<Range<usize>>,
    pub range: Range<usize>,
}

/// The longest label, in characters after the first, that opens a turn.
const MAX_LABEL_TAIL: usize = 40;

/// Splits a transcript into speaker turns.
///
/// A line that starts with `Label: ` opens a turn (a letter, then up to 40
/// letters, digits, spaces or `. ' -`, a colon and a white-space character);
/// every other non-blank line continues the current turn. Non-blank text
/// before the first label is a turn without a speaker. Lines end where
/// Python's `str.splitlines` ends them.
pub fn split_turns(text: &str) -> Vec<Turn> {
    let mut turns = Vec::new();
    let mut current: Option<Turn> = None;
    for line in Lines::new(text) {
        let content = &text[line.clone()];
        if let Some(colon) = label_colon(content) {
            turns.extend(current.take());
            let label = line.start..line.start + content[..colon].trim_end_matches(' ').len();
            current = Some(Turn {
                label: Some(label),
                range: line.start..line.start + trimmed_len(content),
            });
        } else if let Some(first) = content.find(|c: char| !is_space(c)) {
            let end = line.start + trimmed_len(content);
            match current.as_mut() {
                Some(turn) => turn.range.end = end,
                None => {
                    current = Some(Turn {
                        label: None,
                        range: line.start + first..end,
                    })
                }
            }
        }
    }
    turns.extend(current);
    turns
}

fn trimmed_len(content: &str) -> usize {
    content.trim_end_matches(is_space).len()
}

/// The byte index of the colon that ends a speaker label at the start of `line`.
fn label_colon(line: &str) -> Option<usize> {
    let mut chars = line.char_indices();
    let (_, first) = chars.next()?;
    if !is_word(first) || is_decimal_digit(first) || first == '_' {
        return None;
    }
    let mut tail = 0;
    while let Some((at, c)) = chars.next() {
        if c == ':' {
            return match chars.next() {
                Some((_, after)) if is_space(after) => Some(at),
                _ => None,
            };
        }
        if !(is_word(c) || matches!(c, ' ' | '.' | '\'' | '-')) {
            return None;
        }
        tail += 1;
        if tail > MAX_LABEL_TAIL {
            return None;
        }
    }
    None
}

/// Line content ranges, split as `str.splitlines` splits (terminators left out).
struct Lines<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Lines<'a> {
    fn new(text: &'a str) -> Self {
        Lines {
            bytes: text.as_bytes(),
            at: 0,
        }
    }
}

impl Iterator for Lines<'_> {
    type Item = Range<usize>;

    fn next(&mut self) -> Option<Range<usize>> {
        let bytes = self.bytes;
        let start = self.at;
        if start >= bytes.len() {
            return None;
        }
        let mut i = start;
        while i < bytes.len() {
            if let Some(chunk) = bytes.get(i..i + 8) {
                if is_plain_ascii(u64::from_le_bytes(chunk.try_into().expect("eight bytes"))) {
                    i += 8;
                    continue;
                }
            }
            let terminator = match bytes[i] {
                b'\r' if bytes.get(i + 1) == Some(&b'\n') => 2,
                b'\n' | b'\r' | 0x0b | 0x0c | 0x1c..=0x1e => 1,
                0xC2 if bytes.get(i + 1) == Some(&0x85) => 2,
                0xE2 if bytes.get(i + 1) == Some(&0x80) && matches!(bytes.get(i + 2), Some(0xA8 | 0xA9)) => 3,
                _ => 0,
            };
            if terminator > 0 {
                self.at = i + terminator;
                return Some(start..i);
            }
            i += 1;
        }
        self.at = bytes.len();
        Some(start..bytes.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels_and_texts(text: &str) -> Vec<(Option<&str>, &str)> {
        split_turns(text)
            .into_iter()
            .map(|t| (t.label.map(|l| &text[l]), &text[t.range]))
            .collect()
    }

    #[test]
    fn labels_open_turns_and_other_lines_continue_them() {
        let text = "Interviewer: How was it?\n\nP1: Hard.\n\nIt went on.\n  \nInterviewer: Why?\n";
        assert_eq!(
            labels_and_texts(text),
            vec![
                (Some("Interviewer"), "Interviewer: How was it?"),
                (Some("P1"), "P1: Hard.\n\nIt went on."),
                (Some("Interviewer"), "Interviewer: Why?"),
            ]
        );
    }

    #[test]
    fn text_before_the_first_label_is_a_turn_without_speaker() {
        assert_eq!(
            labels_and_texts("  Recorded on day two.\nP2: Yes."),
            vec![(None, "Recorded on day two."), (Some("P2"), "P2: Yes.")]
        );
    }

    #[test]
    fn label_rules_match_the_reference_pattern() {
        assert!(label_colon("Dr. O'Neil-Ray: hi").is_some());
        assert!(label_colon("Zoë 2: hi").is_some());
        assert!(label_colon("P1:\tx").is_some());
        assert!(label_colon("P1:").is_none(), "needs white space after the colon");
        assert!(label_colon("P1:x").is_none());
        assert!(label_colon("1P: x").is_none(), "must start with a letter");
        assert!(label_colon("_P: x").is_none());
        assert!(label_colon(" P1: x").is_none(), "must start the line");
        assert!(label_colon("Note, then: x").is_none(), "comma is not allowed");
        let forty_one = format!("A{}: x", "b".repeat(40));
        assert!(label_colon(&forty_one).is_some());
        let forty_two = format!("A{}: x", "b".repeat(41));
        assert!(label_colon(&forty_two).is_none());
    }

    #[test]
    fn lines_break_like_python_splitlines() {
        let text = "a\r\nb\rc\u{0b}d\u{0c}e\u{1c}f\u{85}g\u{2028}h\u{2029}i\u{1f}j";
        let lines: Vec<&str> = Lines::new(text).map(|r| &text[r]).collect();
        assert_eq!(lines, ["a", "b", "c", "d", "e", "f", "g", "h", "i\u{1f}j"]);
    }

    #[test]
    fn no_labels_gives_one_turn() {
        let turns = split_turns("just some words\nand more\n");
        assert_eq!(turns.len(), 1);
        assert_eq!(turns[0].label, None);
    }

    #[test]
    fn empty_and_blank_text_give_no_turns() {
        assert!(split_turns("").is_empty());
        assert!(split_turns(" \n\t\n").is_empty());
    }
}
