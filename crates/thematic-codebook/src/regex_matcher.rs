use std::ops::Range;

use regex::{Regex, RegexBuilder};

use crate::{Codebook, CodebookError};

/// A codebook whose terms are regular expressions (Rust `regex` syntax,
/// case-insensitive unless a pattern says `(?-i)`).
#[derive(Debug, Clone)]
pub struct RegexMatcher {
    codes: Vec<(String, Regex)>,
}

impl RegexMatcher {
    pub fn new(codebook: &Codebook, case_insensitive: bool) -> Result<RegexMatcher, CodebookError> {
        let mut codes = Vec::new();
        for code in &codebook.codes {
            for term in &code.terms {
                RegexBuilder::new(&term.text)
                    .build()
                    .map_err(|e| CodebookError::InvalidRegex {
                        file: codebook.source.clone(),
                        line: term.line,
                        code: code.id.clone(),
                        pattern: term.text.clone(),
                        message: e.to_string().lines().last().unwrap_or_default().trim().to_string(),
                    })?;
            }
            if code.terms.is_empty() {
                continue;
            }
            let alternation = code
                .terms
                .iter()
                .map(|t| format!("(?:{})", t.text))
                .collect::<Vec<_>>()
                .join("|");
            let regex = RegexBuilder::new(&alternation)
                .case_insensitive(case_insensitive)
                .build()
                .map_err(|e| CodebookError::Automaton(e.to_string()))?;
            codes.push((code.id.clone(), regex));
        }
        if codes.is_empty() {
            return Err(CodebookError::NoTerms {
                file: codebook.source.clone(),
            });
        }
        Ok(RegexMatcher { codes })
    }

    /// Each code that matches `text`, with the byte ranges of its matches.
    pub fn matches<'a>(&'a self, text: &'a str) -> impl Iterator<Item = (&'a str, Vec<Range<usize>>)> + 'a {
        self.codes.iter().filter_map(move |(code, regex)| {
            let spans: Vec<Range<usize>> = regex
                .find_iter(text)
                .filter(|m| !m.is_empty())
                .map(|m| m.range())
                .collect();
            (!spans.is_empty()).then_some((code.as_str(), spans))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_pattern_names_file_row_and_code() {
        let book = Codebook::from_csv("rx.csv", "code,pattern\nok,fine\nbad,(unclosed\n").unwrap();
        let err = RegexMatcher::new(&book, true).unwrap_err().to_string();
        assert!(
            err.starts_with("rx.csv:3: code `bad`: invalid regular expression `(unclosed`"),
            "{err}"
        );
    }

    #[test]
    fn matches_report_codes_and_spans() {
        let book = Codebook::from_csv("rx.csv", "code,pattern\nhedge,\\b(maybe|perhaps)\\b\n").unwrap();
        let matcher = RegexMatcher::new(&book, true).unwrap();
        let found: Vec<_> = matcher.matches("Maybe, perhaps.").collect();
        assert_eq!(found, vec![("hedge", vec![0..5, 7..14])]);
    }
}
