use crate::chars::{has_double_space, is_plain_ascii, is_space, lowercase_plain_ascii};
use crate::turns::Turn;

/// Placed between turns in a [`FoldedTranscript`]. It is not UTF-8, so no
/// dictionary term can contain it and no match can run from one turn into the next.
pub const TURN_SEPARATOR: u8 = 0xFF;

/// A transcript's turns in the form dictionary matching runs on: every
/// character case-folded, every run of white space one ASCII space, turns
/// separated by [`TURN_SEPARATOR`].
#[derive(Debug, Default, Clone)]
pub struct FoldedTranscript {
    pub bytes: Vec<u8>,
    /// Where each turn starts in `bytes`.
    pub turn_starts: Vec<usize>,
}

const ASCII_FOLD: [u8; 128] = {
    let mut table = [0u8; 128];
    let mut b = 0;
    while b < 128 {
        table[b] = match b as u8 {
            b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | 0x1c..=0x1f => b' ',
            upper @ b'A'..=b'Z' => upper + 32,
            other => other,
        };
        b += 1;
    }
    table
};

/// Folds `text`'s turns into `out`, reusing its buffers.
pub fn fold_turns(text: &str, turns: &[Turn], out: &mut FoldedTranscript) {
    fold_texts(turns.iter().map(|turn| &text[turn.range.clone()]), out);
}

/// Folds separate turn texts into `out`, one turn each, reusing its buffers.
pub fn fold_texts<'a>(texts: impl Iterator<Item = &'a str>, out: &mut FoldedTranscript) {
    out.bytes.clear();
    out.turn_starts.clear();
    for (i, text) in texts.enumerate() {
        if i > 0 {
            out.bytes.push(TURN_SEPARATOR);
        }
        out.turn_starts.push(out.bytes.len());
        fold_into(text, &mut out.bytes);
    }
}

/// For each character of `text`, where its folded form starts in
/// [`fold_into`]'s output, plus the output's length at the end: maps a
/// position in folded text back to a character index with `partition_point`.
pub fn folded_starts(text: &str) -> Vec<usize> {
    let mut starts = Vec::with_capacity(text.len() + 1);
    let mut at = 0;
    let mut previous_space = false;
    for c in text.chars() {
        starts.push(at);
        if is_space(c) {
            at += usize::from(!previous_space);
            previous_space = true;
        } else {
            at += fold_char(c).len_utf8();
            previous_space = false;
        }
    }
    starts.push(at);
    starts
}

/// Case-folds `text` onto the end of `out`, white-space runs made one space.
pub fn fold_into(text: &str, out: &mut Vec<u8>) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len());
    let mut previous_space = false;
    // Transcripts repeat the same few non-ASCII characters (’ – é), whose
    // folding takes table look-ups.
    let mut last_folded = ('\0', '\0');
    let mut i = 0;
    while i < bytes.len() {
        if let Some(chunk) = bytes.get(i..i + 8) {
            let chunk = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
            if is_plain_ascii(chunk) && !has_double_space(chunk) && !(previous_space && chunk as u8 == b' ') {
                let lower = lowercase_plain_ascii(chunk).to_le_bytes();
                out.extend_from_slice(&lower);
                previous_space = lower[7] == b' ';
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        if b < 0x80 {
            let folded = ASCII_FOLD[b as usize];
            if folded != b' ' || !previous_space {
                out.push(folded);
            }
            previous_space = folded == b' ';
            i += 1;
            continue;
        }
        let c = text[i..].chars().next().expect("i is on a character boundary");
        i += c.len_utf8();
        if is_space(c) {
            if !previous_space {
                out.push(b' ');
            }
            previous_space = true;
        } else {
            if last_folded.0 != c {
                last_folded = (c, fold_char(c));
            }
            let mut buffer = [0u8; 4];
            out.extend_from_slice(last_folded.1.encode_utf8(&mut buffer).as_bytes());
            previous_space = false;
        }
    }
}

/// The case-insensitive identity of a character, as Python's `re.IGNORECASE`
/// sees it: its simple lowercase, then one representative for each of `re`'s
/// extra equivalence classes (`ı`/`i`, `ſ`/`s`, `ς`/`σ`, ...).
///
/// One difference from `re` is kept on purpose: U+0345 (combining ypogegrammeni)
/// is not folded to `ι`, because it is not a word character and `ι` is; folding it
/// would move word boundaries.
pub fn fold_char(c: char) -> char {
    let lower = match c {
        'A'..='Z' => return c.to_ascii_lowercase(),
        '\0'..='\x7f' => return c,
        // Simple lowercase of U+0130; `to_lowercase` gives the two-character full mapping.
        '\u{130}' => 'i',
        _ => c.to_lowercase().next().unwrap_or(c),
    };
    // Rust's case tables are newer than Unicode 14: a character Python does
    // not know yet has no case mapping there.
    if !crate::chars::is_assigned(c) {
        return c;
    }
    match lower {
        '\u{131}' => 'i',
        '\u{17f}' => 's',
        '\u{3bc}' => '\u{b5}',
        '\u{1fbe}' => '\u{3b9}',
        '\u{1fd3}' => '\u{390}',
        '\u{1fe3}' => '\u{3b0}',
        '\u{3d0}' => '\u{3b2}',
        '\u{3f5}' => '\u{3b5}',
        '\u{3d1}' => '\u{3b8}',
        '\u{3f0}' => '\u{3ba}',
        '\u{3d6}' => '\u{3c0}',
        '\u{3f1}' => '\u{3c1}',
        '\u{3c3}' => '\u{3c2}',
        '\u{3d5}' => '\u{3c6}',
        '\u{1c80}' => '\u{432}',
        '\u{1c81}' => '\u{434}',
        '\u{1c82}' => '\u{43e}',
        '\u{1c83}' => '\u{441}',
        '\u{1c84}' | '\u{1c85}' => '\u{442}',
        '\u{1c86}' => '\u{44a}',
        '\u{1c87}' => '\u{463}',
        '\u{a64b}' => '\u{1c88}',
        '\u{1e9b}' => '\u{1e61}',
        '\u{fb06}' => '\u{fb05}',
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{is_word, split_turns};

    #[test]
    fn folding_never_changes_whether_a_character_is_a_word_or_space_character() {
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let folded = fold_char(c);
            assert_eq!(is_word(c), is_word(folded), "{c:?} -> {folded:?}");
            assert_eq!(is_space(c), is_space(folded), "{c:?} -> {folded:?}");
            assert_eq!(fold_char(folded), folded, "{c:?} folds in one step");
        }
    }

    #[test]
    fn folding_joins_python_case_equivalences() {
        assert_eq!(fold_char('İ'), fold_char('i'));
        assert_eq!(fold_char('ı'), fold_char('I'));
        assert_eq!(fold_char('ſ'), fold_char('S'));
        assert_eq!(fold_char('Σ'), fold_char('ς'));
        assert_eq!(fold_char('\u{212A}'), 'k', "Kelvin sign");
        assert_ne!(fold_char('ß'), 's');
    }

    #[test]
    fn folded_starts_map_folded_positions_back_to_characters() {
        let text = "A  \u{212A}é\nb";
        let mut folded = Vec::new();
        fold_into(text, &mut folded);
        assert_eq!(folded, "a ké b".as_bytes());
        let starts = folded_starts(text);
        assert_eq!(starts, vec![0, 1, 2, 2, 3, 5, 6, 7]);
        assert_eq!(starts.last(), Some(&folded.len()));
    }

    #[test]
    fn turns_are_folded_with_space_runs_collapsed_and_separated() {
        let text = "Interviewer: Was IT hard?\nP1: Yes,\n\n\t very   HARD.";
        let turns = split_turns(text);
        let mut folded = FoldedTranscript::default();
        fold_turns(text, &turns, &mut folded);
        let mut expected = b"interviewer: was it hard?".to_vec();
        expected.push(TURN_SEPARATOR);
        expected.extend_from_slice(b"p1: yes, very hard.");
        assert_eq!(folded.bytes, expected);
        assert_eq!(folded.turn_starts, vec![0, 26]);
    }
}
