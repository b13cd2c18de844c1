//! A turn cut into sentences: the units a semantic strategy embeds and
//! codes, so that a coding's span is the sentence that carried it.

use std::ops::Range;

/// Words after which a full stop seldom ends a sentence.
const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "st", "e.g", "i.e", "etc", "vs", "approx",
];

/// The byte ranges of `text`'s sentences, in order, each without the
/// whitespace around it; text with no letters or digits is no sentence. A
/// sentence ends at `.`, `!`, `?` or `…` (and any closing quotes or brackets
/// after them) followed by whitespace, at `。`, `！` or `？`, at a line break,
/// or at the end.
pub fn sentences(text: &str) -> Vec<Range<usize>> {
    let mut found = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let end = match c {
            '\n' | '\r' | '\u{2028}' | '\u{2029}' => Some(at),
            // Full-width marks end a sentence with no space after them.
            '。' | '！' | '？' => {
                let mut after = at + c.len_utf8();
                while let Some(&(next_at, next)) = chars
                    .peek()
                    .filter(|(_, next)| matches!(next, '」' | '』' | '）' | '】'))
                {
                    after = next_at + next.len_utf8();
                    chars.next();
                }
                Some(after)
            }
            '.' | '!' | '?' | '…' => {
                let mut after = at + c.len_utf8();
                while let Some(&(next_at, next)) = chars.peek() {
                    if !matches!(
                        next,
                        '.' | '!' | '?' | '…' | '"' | '\'' | ')' | ']' | '”' | '’' | '»' | '」' | '』' | '）' | '】'
                    ) {
                        break;
                    }
                    after = next_at + next.len_utf8();
                    chars.next();
                }
                let at_a_break = chars.peek().is_none_or(|&(_, next)| next.is_whitespace());
                (at_a_break && !(c == '.' && abbreviated(&text[start..at]))).then_some(after)
            }
            _ => None,
        };
        if let Some(end) = end {
            push_trimmed(text, start..end, &mut found);
            start = end;
        }
    }
    push_trimmed(text, start..text.len(), &mut found);
    found
}

/// Whether `before` (a sentence up to a full stop) ends in an abbreviation or a lone initial.
fn abbreviated(before: &str) -> bool {
    let word = before
        .rsplit(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or("");
    let lower = word.to_lowercase();
    // A lone capital is an initial (J. Okafor), but "I." ends a sentence ("So did I.").
    let initial = word.chars().count() == 1 && word != "I" && word.chars().all(char::is_uppercase);
    ABBREVIATIONS.contains(&lower.as_str()) || initial
}

fn push_trimmed(text: &str, range: Range<usize>, found: &mut Vec<Range<usize>>) {
    let piece = &text[range.clone()];
    let trimmed = piece.trim();
    if trimmed.chars().any(char::is_alphanumeric) {
        let start = range.start + (piece.len() - piece.trim_start().len());
        found.push(start..start + trimmed.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cut(text: &str) -> Vec<&str> {
        sentences(text).into_iter().map(|r| &text[r]).collect()
    }

    #[test]
    fn sentences_end_at_their_marks_quotes_and_line_breaks() {
        assert_eq!(
            cut("Nobody rang me. Not once! Why would they?\nI waited…  and then \"I gave up.\" Fine"),
            [
                "Nobody rang me.",
                "Not once!",
                "Why would they?",
                "I waited…",
                "and then \"I gave up.\"",
                "Fine"
            ]
        );
    }

    #[test]
    fn abbreviations_initials_and_numbers_do_not_end_a_sentence() {
        assert_eq!(
            cut("I saw Dr. Okafor at 3.30 with J. and her team, e.g. the nurse. Then home."),
            [
                "I saw Dr. Okafor at 3.30 with J. and her team, e.g. the nurse.",
                "Then home."
            ]
        );
    }

    #[test]
    fn text_without_words_is_no_sentence_and_odd_text_is_no_panic() {
        assert_eq!(cut(""), Vec::<&str>::new());
        assert_eq!(cut("  ...  \n\n --- "), Vec::<&str>::new());
        assert_eq!(
            cut("ça va. 好的。我们走吧！Да!"),
            ["ça va.", "好的。", "我们走吧！", "Да!"]
        );
        let long = "word ".repeat(20_000);
        assert_eq!(sentences(&long), vec![0..long.len() - 1]);
    }
}
