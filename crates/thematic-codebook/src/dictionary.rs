use std::collections::HashMap;
use std::ops::Range;

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind};
use thematic_text::{fold_into, is_space, is_word, FoldedTranscript, TURN_SEPARATOR};

use crate::{Codebook, CodebookError};

/// Every term of a codebook in one automaton, matched the way `peer_re.py`
/// matches: case-insensitive, whole words (`\b` on both sides, Python's Unicode
/// word characters), the words of a multi-word term across any run of white
/// space, and a trailing `*` letting the last word go on.
#[derive(Debug, Clone)]
pub struct DictionaryMatcher {
    automaton: DFA,
    start: StateID,
    patterns: Vec<Pattern>,
    codes: Vec<String>,
}

/// One distinct folded term and the codes it stands for.
#[derive(Debug, Clone)]
struct Pattern {
    starts_with_word: bool,
    ends_with_word: bool,
    /// Codes whose term is this one, matched as a whole word.
    whole_word_codes: Vec<u32>,
    /// Codes whose term is this one followed by `*`.
    prefix_codes: Vec<u32>,
}

/// A term found in a turn: which code, and where in the folded transcript.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub turn: usize,
    pub code: u32,
    pub folded: Range<usize>,
    /// Whether the term was a prefix (`fail*`), so the word may go on past `folded`.
    pub prefix: bool,
}

impl DictionaryMatcher {
    pub fn new(codebook: &Codebook) -> Result<DictionaryMatcher, CodebookError> {
        let codes: Vec<String> = codebook.codes.iter().map(|c| c.id.clone()).collect();
        let mut keys: Vec<Vec<u8>> = Vec::new();
        let mut patterns: Vec<Pattern> = Vec::new();
        let mut by_key: HashMap<Vec<u8>, usize> = HashMap::new();
        for (code_index, code) in codebook.codes.iter().enumerate() {
            for term in &code.terms {
                let prefix = term.text.ends_with('*');
                let words: Vec<&str> = term
                    .text
                    .trim_end_matches('*')
                    .split(is_space)
                    .filter(|w| !w.is_empty())
                    .collect();
                let mut key = Vec::new();
                fold_into(&words.join(" "), &mut key);
                let Some(first) = words.first().and_then(|w| w.chars().next()) else {
                    return Err(CodebookError::EmptyTerm {
                        file: codebook.source.clone(),
                        line: term.line,
                        code: code.id.clone(),
                    });
                };
                let last = words.last().and_then(|w| w.chars().next_back()).unwrap_or(first);
                let at = *by_key.entry(key.clone()).or_insert_with(|| {
                    keys.push(key);
                    patterns.push(Pattern {
                        starts_with_word: is_word(first),
                        ends_with_word: is_word(last),
                        whole_word_codes: Vec::new(),
                        prefix_codes: Vec::new(),
                    });
                    patterns.len() - 1
                });
                let list = if prefix {
                    &mut patterns[at].prefix_codes
                } else {
                    &mut patterns[at].whole_word_codes
                };
                if !list.contains(&(code_index as u32)) {
                    list.push(code_index as u32);
                }
            }
        }
        if keys.is_empty() {
            return Err(CodebookError::NoTerms {
                file: codebook.source.clone(),
            });
        }
        let automaton = DFA::builder()
            .match_kind(MatchKind::Standard)
            .start_kind(aho_corasick::StartKind::Unanchored)
            .prefilter(false)
            .build(&keys)
            .map_err(|e| CodebookError::Automaton(e.to_string()))?;
        let start = automaton
            .start_state(Anchored::No)
            .map_err(|e| CodebookError::Automaton(e.to_string()))?;
        Ok(DictionaryMatcher {
            automaton,
            start,
            patterns,
            codes,
        })
    }

    /// The code ids, indexed by [`Hit::code`].
    pub fn codes(&self) -> &[String] {
        &self.codes
    }

    /// Calls `on_hit` for every term occurrence that stands on word boundaries,
    /// once per code the term belongs to, in order of where the term ends.
    pub fn scan(&self, folded: &FoldedTranscript, mut on_hit: impl FnMut(Hit)) {
        let bytes = &folded.bytes;
        let mut turn = 0;
        for (end, state) in self.match_states(bytes) {
            for index in 0..self.automaton.match_len(state) {
                let id = self.automaton.match_pattern(state, index);
                let start = end - self.automaton.pattern_len(id);
                let pattern = &self.patterns[id.as_usize()];
                if word_before(bytes, start) == pattern.starts_with_word {
                    continue;
                }
                let whole_word = word_at(bytes, end) != pattern.ends_with_word;
                if !whole_word && pattern.prefix_codes.is_empty() {
                    continue;
                }
                while turn + 1 < folded.turn_starts.len() && folded.turn_starts[turn + 1] <= start {
                    turn += 1;
                }
                for &code in &pattern.prefix_codes {
                    on_hit(Hit {
                        turn,
                        code,
                        folded: start..end,
                        prefix: true,
                    });
                }
                if whole_word {
                    for &code in &pattern.whole_word_codes {
                        on_hit(Hit {
                            turn,
                            code,
                            folded: start..end,
                            prefix: false,
                        });
                    }
                }
            }
        }
    }

    /// Every position where some term ends, with the automaton's match state
    /// there, in order.
    ///
    /// This is the hot loop, so the automaton is stepped by hand, and the text
    /// is walked as two independent halves at once, split at a turn separator
    /// (where the automaton is back at its start state): each step waits on a
    /// memory load, and two chains of loads overlap where one cannot.
    fn match_states(&self, bytes: &[u8]) -> Vec<(usize, StateID)> {
        let dfa = &self.automaton;
        let half = bytes.len() / 2;
        let middle = bytes[half..]
            .iter()
            .position(|&b| b == TURN_SEPARATOR)
            .map_or(bytes.len(), |i| half + i + 1);
        let (first, second) = bytes.split_at(middle);
        let (mut found_first, mut found_second) = (Vec::new(), Vec::new());
        // The two states live in locals so that they stay in registers.
        let (mut state_first, mut state_second) = (self.start, self.start);
        for (at, (&a, &b)) in first.iter().zip(second).enumerate() {
            state_first = dfa.next_state(Anchored::No, state_first, a);
            state_second = dfa.next_state(Anchored::No, state_second, b);
            if dfa.is_special(state_first) && dfa.is_match(state_first) {
                found_first.push((at + 1, state_first));
            }
            if dfa.is_special(state_second) && dfa.is_match(state_second) {
                found_second.push((middle + at + 1, state_second));
            }
        }
        let paired = first.len().min(second.len());
        let rest = [
            (first, paired, state_first, &mut found_first),
            (second, middle + paired, state_second, &mut found_second),
        ];
        for (part, offset, mut state, found) in rest {
            for (at, &byte) in part[paired..].iter().enumerate() {
                state = dfa.next_state(Anchored::No, state, byte);
                if dfa.is_special(state) && dfa.is_match(state) {
                    found.push((offset + at + 1, state));
                }
            }
        }
        found_first.append(&mut found_second);
        found_first
    }
}

/// Whether the character that ends just before `at` is a word character.
#[inline]
fn word_before(bytes: &[u8], at: usize) -> bool {
    if at == 0 {
        return false;
    }
    let last = bytes[at - 1];
    if last < 0x80 {
        return last.is_ascii_alphanumeric() || last == b'_';
    }
    if last == TURN_SEPARATOR {
        return false;
    }
    let mut lead = at - 1;
    while lead > 0 && bytes[lead] & 0xC0 == 0x80 {
        lead -= 1;
    }
    decode(&bytes[lead..at]).is_some_and(is_word)
}

/// Whether the character that starts at `at` is a word character.
#[inline]
fn word_at(bytes: &[u8], at: usize) -> bool {
    let Some(&first) = bytes.get(at) else { return false };
    if first < 0x80 {
        return first.is_ascii_alphanumeric() || first == b'_';
    }
    if first == TURN_SEPARATOR {
        return false;
    }
    let width = match first {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    };
    decode(&bytes[at..(at + width).min(bytes.len())]).is_some_and(is_word)
}

fn decode(bytes: &[u8]) -> Option<char> {
    std::str::from_utf8(bytes).ok()?.chars().next()
}

#[cfg(test)]
mod tests {
    use super::*;
    use thematic_text::{fold_turns, split_turns};

    fn coded(book: &str, text: &str) -> Vec<(usize, String)> {
        let book = Codebook::from_csv("book.csv", book).unwrap();
        let matcher = DictionaryMatcher::new(&book).unwrap();
        let turns = split_turns(text);
        let mut folded = FoldedTranscript::default();
        fold_turns(text, &turns, &mut folded);
        let mut hits = Vec::new();
        matcher.scan(&folded, |hit| {
            hits.push((hit.turn, matcher.codes()[hit.code as usize].clone()))
        });
        hits.sort();
        hits.dedup();
        hits
    }

    #[test]
    fn terms_match_whole_words_only() {
        let book = "code,term\nblame,blame\n";
        assert_eq!(coded(book, "P1: I got the BLAME."), vec![(0, "blame".into())]);
        assert!(coded(book, "P1: blameless").is_empty());
        assert!(
            coded(book, "P1: self_blame").is_empty(),
            "underscore is a word character"
        );
    }

    #[test]
    fn a_trailing_star_lets_the_word_go_on() {
        let book = "code,term\nrisk,fail*\n";
        assert_eq!(coded(book, "P1: we were failing"), vec![(0, "risk".into())]);
        assert!(coded(book, "P1: unfailing").is_empty(), "must start on a boundary");
    }

    #[test]
    fn multi_word_terms_span_any_white_space_but_not_turns() {
        let book = "code,term\nsupport,line manager\n";
        assert_eq!(coded(book, "P1: my line\n\n   manager"), vec![(0, "support".into())]);
        assert!(coded(book, "P1: a line\nP2: manager").is_empty());
    }

    #[test]
    fn a_failed_longer_term_does_not_hide_a_shorter_one() {
        let book = "code,term\nshort,team\nlong,team lead\n";
        assert_eq!(coded(book, "P1: team leader"), vec![(0, "short".into())]);
    }

    #[test]
    fn case_folding_is_unicode_aware() {
        let book = "code,term\nsad,ÉMU\nsigma,σοφία\n";
        assert_eq!(coded(book, "P1: émus? no, émù. Ému!"), vec![(0, "sad".into())]);
        assert_eq!(coded(book, "P1: ΣΟΦΊΑ"), vec![(0, "sigma".into())]);
    }

    #[test]
    fn terms_that_begin_with_punctuation_need_a_word_before_them() {
        // `\b-ish` in Python: the boundary is between a word character and `-`.
        let book = "code,term\nhedge,-ish\n";
        assert_eq!(coded(book, "P1: good-ish"), vec![(0, "hedge".into())]);
        assert!(coded(book, "P1: good -ish").is_empty());
    }
}
