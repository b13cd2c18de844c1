//! A study's memos from the Markdown files under `memos/`: what each is
//! about is told by its place, `memos/codes/ID.md`, `memos/themes/ID.md`,
//! `memos/transcripts/NAME.md` (the transcript's file name without its
//! extension, or its whole path where two transcripts share a name), and
//! `memos/journal.md`. Any other Markdown file there is a memo on the study.

use thematic_model::{Memo, MemoAbout, JOURNAL_FILE, MEMOS_FOLDER};

/// What the study has that memos can be about: codes, themes and transcripts by id.
#[derive(Debug, Clone, Copy)]
pub struct MemoSubjects<'a> {
    pub codes: &'a [&'a str],
    pub themes: &'a [&'a str],
    pub transcripts: &'a [&'a str],
}

impl MemoSubjects<'_> {
    /// Where a memo about `about` is kept, relative to the study.
    pub fn file_of(&self, about: &MemoAbout) -> String {
        match about {
            MemoAbout::Study => JOURNAL_FILE.to_string(),
            MemoAbout::Code(id) => format!("{MEMOS_FOLDER}/codes/{}.md", file_stem(id)),
            MemoAbout::Theme(id) => format!("{MEMOS_FOLDER}/themes/{}.md", file_stem(id)),
            MemoAbout::Transcript(id) => format!("{MEMOS_FOLDER}/transcripts/{}.md", self.transcript_stem(id)),
        }
    }

    /// What the memo at `file` (relative to the study) is about, or why its
    /// place names nothing the study has (it is then a memo on the study).
    pub fn about(&self, file: &str) -> Result<MemoAbout, String> {
        let Some(below) = file.strip_prefix(MEMOS_FOLDER).and_then(|f| f.strip_prefix('/')) else {
            return Ok(MemoAbout::Study);
        };
        let Some((folder, stem)) = below.strip_suffix(".md").and_then(|f| f.split_once('/')) else {
            return Ok(MemoAbout::Study);
        };
        if stem.contains('/') {
            return Ok(MemoAbout::Study);
        }
        let find = |ids: &[&str], kind: &str, stem_of: &dyn Fn(&str) -> Vec<String>| {
            ids.iter()
                .find(|id| stem_of(id).iter().any(|s| s == stem))
                .map(|id| id.to_string())
                .ok_or_else(|| format!("{file}: the study has no {kind} `{stem}`; kept as a memo on the study"))
        };
        match folder {
            "codes" => find(self.codes, "code", &|id| vec![file_stem(id)]).map(MemoAbout::Code),
            "themes" => find(self.themes, "theme", &|id| vec![file_stem(id)]).map(MemoAbout::Theme),
            "transcripts" => find(self.transcripts, "transcript", &|id| {
                vec![self.transcript_stem(id), file_stem(id)]
            })
            .map(MemoAbout::Transcript),
            _ => Ok(MemoAbout::Study),
        }
    }

    /// A transcript's file name without its extension where no other
    /// transcript has it, else its whole path.
    fn transcript_stem(&self, id: &str) -> String {
        let short = |id: &str| {
            let name = id.rsplit('/').next().unwrap_or(id);
            file_stem(name.rsplit_once('.').map_or(name, |(stem, _)| stem))
        };
        let own = short(id);
        let shared = self.transcripts.iter().filter(|other| short(other) == own).count() > 1;
        if shared {
            file_stem(id)
        } else {
            own
        }
    }
}

/// The memos of the Markdown files found under `memos/` (path relative to
/// the study, `/`-separated, and text), in path order, each with what it is
/// about; a warning for each whose place names nothing the study has.
pub fn read_memos(files: Vec<(String, String)>, subjects: &MemoSubjects) -> (Vec<Memo>, Vec<String>) {
    let mut warnings = Vec::new();
    let mut memos: Vec<Memo> = files
        .into_iter()
        .filter(|(file, _)| file.ends_with(".md"))
        .map(|(file, text)| {
            let about = subjects.about(&file).unwrap_or_else(|warning| {
                warnings.push(warning);
                MemoAbout::Study
            });
            Memo { file, about, text }
        })
        .collect();
    memos.sort_by(|a, b| a.file.cmp(&b.file));
    (memos, warnings)
}

/// An id as a file name: letters, digits, `-`, `_` and `.` kept, anything
/// else (a slash, a space) made `_`, and no leading dot (a hidden file).
fn file_stem(id: &str) -> String {
    let stem: String = id
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let stem = stem.trim_start_matches('.');
    if stem.is_empty() {
        "_".to_string()
    } else {
        stem.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBJECTS: MemoSubjects = MemoSubjects {
        codes: &["C1", "peer support", ".hidden"],
        themes: &["T1"],
        transcripts: &["transcripts/P1.txt", "wave1/P2.txt", "wave2/P2.txt"],
    };

    #[test]
    fn each_memo_is_kept_where_its_place_says_what_it_is_about() {
        let cases = [
            (MemoAbout::Study, "memos/journal.md"),
            (MemoAbout::Code("C1".into()), "memos/codes/C1.md"),
            (MemoAbout::Code("peer support".into()), "memos/codes/peer_support.md"),
            (MemoAbout::Code(".hidden".into()), "memos/codes/hidden.md"),
            (MemoAbout::Theme("T1".into()), "memos/themes/T1.md"),
            (
                MemoAbout::Transcript("transcripts/P1.txt".into()),
                "memos/transcripts/P1.md",
            ),
            (
                MemoAbout::Transcript("wave1/P2.txt".into()),
                "memos/transcripts/wave1_P2.txt.md",
            ),
        ];
        for (about, file) in cases {
            assert_eq!(SUBJECTS.file_of(&about), file);
            assert_eq!(SUBJECTS.about(file), Ok(about.clone()), "{file}");
        }
    }

    #[test]
    fn a_memo_put_anywhere_else_under_memos_is_a_memo_on_the_study() {
        for file in [
            "memos/ideas.md",
            "memos/2026/week1.md",
            "memos/other/C1.md",
            "memos/codes/deeper/C1.md",
        ] {
            assert_eq!(SUBJECTS.about(file), Ok(MemoAbout::Study), "{file}");
        }
        assert_eq!(
            SUBJECTS.about("memos/transcripts/transcripts_P1.txt.md"),
            Ok(MemoAbout::Transcript("transcripts/P1.txt".into())),
            "a transcript's whole path names it too"
        );
    }

    #[test]
    fn a_memo_naming_nothing_the_study_has_is_kept_on_the_study_with_a_warning() {
        let files = vec![
            ("memos/codes/C9.md".to_string(), "Gone?".to_string()),
            ("memos/journal.md".to_string(), "Day one.".to_string()),
            ("memos/codes/C1.md".to_string(), "About C1.".to_string()),
            ("memos/notes.txt".to_string(), "not Markdown".to_string()),
        ];
        let (memos, warnings) = read_memos(files, &SUBJECTS);
        let read: Vec<(&str, &MemoAbout)> = memos.iter().map(|m| (m.file.as_str(), &m.about)).collect();
        assert_eq!(
            read,
            [
                ("memos/codes/C1.md", &MemoAbout::Code("C1".into())),
                ("memos/codes/C9.md", &MemoAbout::Study),
                ("memos/journal.md", &MemoAbout::Study),
            ]
        );
        assert_eq!(
            warnings,
            ["memos/codes/C9.md: the study has no code `C9`; kept as a memo on the study"]
        );
    }
}
