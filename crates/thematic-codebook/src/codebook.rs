use std::collections::{HashMap, HashSet};

use serde::Deserialize;

use crate::CodebookError;

/// Codes with their terms, from one codebook file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Codebook {
    /// The file the codebook came from, as shown in messages.
    pub source: String,
    pub codes: Vec<Code>,
}

pub use thematic_model::{Code, Term};

impl Codebook {
    /// Parses `code,term` CSV rows (the second column may also be called
    /// `pattern`). Codes keep the order of their first row. Fields are taken
    /// as written, spaces included, and columns beyond the two are ignored, as
    /// Python's `csv.DictReader` in the reference coder takes them.
    pub fn from_csv(source: &str, text: &str) -> Result<Codebook, CodebookError> {
        let csv_error = |e: csv::Error| CodebookError::Csv {
            file: source.to_string(),
            line: e.position().map_or(1, |p| p.line()),
            message: e.to_string(),
        };
        let mut reader = csv::ReaderBuilder::new()
            .flexible(true)
            .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
        let headers = reader.headers().map_err(csv_error)?.clone();
        let column = |names: &[&str], column: &'static str| {
            headers
                .iter()
                .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
                .ok_or(CodebookError::MissingColumn {
                    file: source.to_string(),
                    column,
                })
        };
        let code_column = column(&["code"], "code")?;
        let term_column = column(&["term", "pattern"], "term")?;
        let mut codes: Vec<Code> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for record in reader.records() {
            let record = record.map_err(csv_error)?;
            let line = record.position().map_or(0, |p| p.line());
            let code = record.get(code_column).unwrap_or("");
            let term = record.get(term_column).unwrap_or("");
            if code.trim().is_empty() {
                return Err(CodebookError::EmptyCode {
                    file: source.to_string(),
                    line,
                });
            }
            if term.is_empty() || term.chars().all(|c| c == '*' || thematic_text::is_space(c)) {
                return Err(CodebookError::EmptyTerm {
                    file: source.to_string(),
                    line,
                    code: code.to_string(),
                });
            }
            let at = *index.entry(code.to_string()).or_insert_with(|| {
                codes.push(Code {
                    id: code.to_string(),
                    ..Code::default()
                });
                codes.len() - 1
            });
            codes[at].terms.push(Term {
                text: term.to_string(),
                line,
            });
        }
        let book = Codebook {
            source: source.to_string(),
            codes,
        };
        book.check_has_terms()?;
        Ok(book)
    }

    /// Parses a TOML codebook: `[[codes]]` tables with `id`, optional `name`,
    /// `description`, `parent` (the code hierarchy), `questions` and `terms`.
    pub fn from_toml(source: &str, text: &str) -> Result<Codebook, CodebookError> {
        let file: TomlCodebook = toml::from_str(text).map_err(|e| toml_error(source, text, &e))?;
        let mut seen = HashSet::new();
        let mut codes = Vec::with_capacity(file.codes.len());
        for code in file.codes {
            let line = line_of(text, code.id.span().start) as u64;
            let id = code.id.into_inner();
            if id.trim().is_empty() {
                return Err(CodebookError::EmptyCode {
                    file: source.to_string(),
                    line,
                });
            }
            if !seen.insert(id.clone()) {
                return Err(CodebookError::DuplicateCode {
                    file: source.to_string(),
                    code: id,
                });
            }
            let mut terms = Vec::with_capacity(code.terms.len());
            for term in code.terms {
                let line = line_of(text, term.span().start) as u64;
                let term = term.into_inner();
                if term.trim_matches(|c| c == '*' || thematic_text::is_space(c)).is_empty() {
                    return Err(CodebookError::EmptyTerm {
                        file: source.to_string(),
                        line,
                        code: id,
                    });
                }
                terms.push(Term { text: term, line });
            }
            codes.push(Code {
                id,
                name: code.name,
                description: code.description,
                parent: code.parent,
                questions: code.questions,
                terms,
                examples: code.examples,
                counter_examples: code.counter_examples,
            });
        }
        let book = Codebook {
            source: source.to_string(),
            codes,
        };
        book.check_hierarchy()?;
        Ok(book)
    }

    /// Every (code, term) pair, in codebook order.
    pub fn entries(&self) -> impl Iterator<Item = (&Code, &Term)> {
        self.codes
            .iter()
            .flat_map(|code| code.terms.iter().map(move |term| (code, term)))
    }

    pub fn code(&self, id: &str) -> Option<&Code> {
        self.codes.iter().find(|c| c.id == id)
    }

    fn check_has_terms(&self) -> Result<(), CodebookError> {
        if self.entries().next().is_none() {
            return Err(CodebookError::NoTerms {
                file: self.source.clone(),
            });
        }
        Ok(())
    }

    fn check_hierarchy(&self) -> Result<(), CodebookError> {
        let parents: HashMap<&str, Option<&str>> = self
            .codes
            .iter()
            .map(|c| (c.id.as_str(), c.parent.as_deref()))
            .collect();
        for code in &self.codes {
            let mut steps = 0;
            let mut at = code.parent.as_deref();
            while let Some(parent) = at {
                let Some(grandparent) = parents.get(parent) else {
                    return Err(CodebookError::UnknownParent {
                        file: self.source.clone(),
                        code: code.id.clone(),
                        parent: parent.to_string(),
                    });
                };
                steps += 1;
                if steps > parents.len() {
                    return Err(CodebookError::ParentCycle {
                        file: self.source.clone(),
                        code: code.id.clone(),
                    });
                }
                at = *grandparent;
            }
        }
        Ok(())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlCodebook {
    #[serde(default)]
    codes: Vec<TomlCode>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TomlCode {
    id: toml::Spanned<String>,
    name: Option<String>,
    description: Option<String>,
    parent: Option<String>,
    #[serde(default)]
    questions: Vec<String>,
    #[serde(default)]
    terms: Vec<toml::Spanned<String>>,
    #[serde(default)]
    examples: Vec<String>,
    #[serde(default)]
    counter_examples: Vec<String>,
}

fn line_of(text: &str, byte: usize) -> usize {
    thematic_text::line_column(text, byte).0
}

fn toml_error(source: &str, text: &str, error: &toml::de::Error) -> CodebookError {
    let (line, column) = thematic_text::line_column(text, error.span().map_or(0, |s| s.start));
    CodebookError::Toml {
        file: source.to_string(),
        line,
        column,
        message: error.message().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_rows_group_terms_by_code_in_first_seen_order() {
        let book = Codebook::from_csv("book.csv", "code,term\nrisk,fail*\ntrust,trust\nrisk,warning sign\n").unwrap();
        let ids: Vec<_> = book.codes.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids, ["risk", "trust"]);
        assert_eq!(
            book.codes[0].terms[1],
            Term {
                text: "warning sign".into(),
                line: 4
            }
        );
    }

    #[test]
    fn an_empty_term_names_file_row_and_code() {
        let err = Codebook::from_csv("book.csv", "code,term\nrisk,fail\nblame, \n").unwrap_err();
        assert_eq!(err.to_string(), "book.csv:3: code `blame` has an empty term");
        let err = Codebook::from_csv("book.csv", "code,term\nrisk,*\n").unwrap_err();
        assert_eq!(err.to_string(), "book.csv:2: code `risk` has an empty term");
    }

    #[test]
    fn a_missing_column_is_named() {
        let err = Codebook::from_csv("book.csv", "label,term\nrisk,fail\n").unwrap_err();
        assert!(err.to_string().contains("no `code` column"), "{err}");
    }

    #[test]
    fn toml_codebooks_carry_hierarchy_and_question_links() {
        let text = r#"
[[codes]]
id = "inspection"
description = "The inspection itself"

[[codes]]
id = "unravelling"
parent = "inspection"
questions = ["RQ2"]
terms = ["unravel*",
  "fell apart"]
"#;
        let book = Codebook::from_toml("book.toml", text).unwrap();
        let code = book.code("unravelling").unwrap();
        assert_eq!(code.parent.as_deref(), Some("inspection"));
        assert_eq!(code.questions, ["RQ2"]);
        assert_eq!(code.terms[1].line, 11);
    }

    #[test]
    fn toml_errors_name_line_and_column() {
        let err = Codebook::from_toml("book.toml", "[[codes]]\nid = \"a\"\nterm = [\"x\"]\n").unwrap_err();
        let CodebookError::Toml { line, column, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!((*line, *column), (3, 1), "{err}");
    }

    #[test]
    fn an_empty_code_id_is_refused_with_its_line() {
        let err = Codebook::from_toml("b.toml", "[[codes]]\nid = \"a\"\n[[codes]]\nid = \" \"\n").unwrap_err();
        assert_eq!(err.to_string(), "b.toml:4: empty code id");
    }

    #[test]
    fn unknown_parents_and_cycles_are_refused() {
        let unknown = "[[codes]]\nid = \"a\"\nparent = \"b\"\n";
        assert!(matches!(
            Codebook::from_toml("b.toml", unknown),
            Err(CodebookError::UnknownParent { .. })
        ));
        let cycle = "[[codes]]\nid = \"a\"\nparent = \"b\"\n[[codes]]\nid = \"b\"\nparent = \"a\"\n";
        assert!(matches!(
            Codebook::from_toml("b.toml", cycle),
            Err(CodebookError::ParentCycle { .. })
        ));
    }
}
