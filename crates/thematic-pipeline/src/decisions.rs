//! A person's decisions as the plain files they live in: the stretches of
//! text they coded (`coders/NAME.csv`, what the `coder` strategy reads) and
//! the suggestions they rejected (`coders/NAME.rejected.csv`, the same
//! columns and the stage that suggested each). Read, added to, taken from
//! and written back here; the shell writes the text atomically.
//!
//! Rows are `transcript,code,start,end,transcript_sha256[,stage]`: half-open
//! code-point offsets into the transcript's text and the SHA-256 of the text
//! they were made on. Lines starting with `#` before the header (whose
//! codings these are) are kept as they are.

use crate::CodingsFile;

/// The CSV columns, in the order thematic writes them.
const CODINGS_COLUMNS: [&str; 5] = ["transcript", "code", "start", "end", "transcript_sha256"];

/// The column a rejected suggestion adds: the stage that made it.
const STAGE_COLUMN: &str = "stage";

/// One decided stretch of a transcript.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Decided {
    pub transcript: String,
    pub code: String,
    pub start: usize,
    pub end: usize,
    /// The SHA-256 of the text the decision was made on; empty where the file gives none.
    pub transcript_sha256: String,
    /// The stage whose suggestion this was; empty in a person's codings.
    pub stage: String,
}

/// A decisions file: its leading comments, its rows and the line each came from.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionsFile {
    comments: Vec<String>,
    rows: Vec<Decided>,
    /// The file's line of each row; rows added since have 0.
    lines: Vec<u64>,
    /// Whether rows name the stage they were suggested by.
    staged: bool,
}

impl DecisionsFile {
    /// A file with no rows yet, headed by `comment` (without its `# `).
    pub fn new(comment: &str, staged: bool) -> DecisionsFile {
        DecisionsFile {
            comments: vec![format!("# {comment}")],
            rows: Vec::new(),
            lines: Vec::new(),
            staged,
        }
    }

    /// Reads a decisions file; an error names the file and the line.
    pub fn parse(file: &CodingsFile) -> Result<DecisionsFile, String> {
        let name = file.name;
        let text = file.text.trim_start_matches('\u{feff}');
        let comments: Vec<String> = text
            .lines()
            .take_while(|line| line.starts_with('#'))
            .map(str::to_string)
            .collect();
        let mut reader = csv::ReaderBuilder::new()
            .comment(Some(b'#'))
            .from_reader(text.as_bytes());
        let headers = reader.headers().map_err(|e| format!("{name}:1: {e}"))?.clone();
        let column = |wanted: &str| headers.iter().position(|h| h.trim() == wanted);
        let [Some(transcript), Some(code), Some(start), Some(end)] =
            [column("transcript"), column("code"), column("start"), column("end")]
        else {
            return Err(format!(
                "{name}:{}: the header must name the columns `transcript,code,start,end` (and may add `transcript_sha256`)",
                comments.len() + 1
            ));
        };
        let (hash, stage) = (column("transcript_sha256"), column(STAGE_COLUMN));
        let mut decisions = DecisionsFile {
            comments,
            rows: Vec::new(),
            lines: Vec::new(),
            staged: stage.is_some(),
        };
        for record in reader.records() {
            let record = record.map_err(|e| format!("{name}:{}: {e}", e.position().map_or(0, |p| p.line())))?;
            let line = record.position().map_or(0, |p| p.line());
            let field = |at: Option<usize>| at.and_then(|at| record.get(at)).unwrap_or("").trim();
            let offset = |at: usize, what: &str| -> Result<usize, String> {
                field(Some(at))
                    .parse()
                    .map_err(|_| format!("{name}:{line}: {what} `{}` is not a whole number", field(Some(at))))
            };
            let (first, last) = (offset(start, "start")?, offset(end, "end")?);
            if first >= last {
                return Err(format!("{name}:{line}: start {first} is not before end {last}"));
            }
            if field(Some(code)).is_empty() || field(Some(transcript)).is_empty() {
                return Err(format!("{name}:{line}: a row needs a transcript and a code"));
            }
            decisions.rows.push(Decided {
                transcript: field(Some(transcript)).to_string(),
                code: field(Some(code)).to_string(),
                start: first,
                end: last,
                transcript_sha256: field(hash).to_string(),
                stage: field(stage).to_string(),
            });
            decisions.lines.push(line);
        }
        Ok(decisions)
    }

    pub fn rows(&self) -> &[Decided] {
        &self.rows
    }

    /// Each row with the line of the file it came from (0 for rows added since).
    pub fn rows_with_lines(&self) -> impl Iterator<Item = (u64, &Decided)> {
        self.lines.iter().copied().zip(&self.rows)
    }

    /// Adds `row` at the end unless the file has it already; whether it was added.
    pub fn add(&mut self, row: Decided) -> bool {
        if self.rows.contains(&row) {
            return false;
        }
        self.rows.push(row);
        self.lines.push(0);
        true
    }

    /// Takes every row equal to `row` out; whether there was one.
    pub fn remove(&mut self, row: &Decided) -> bool {
        let before = self.rows.len();
        let mut lines = self.lines.iter();
        let kept: Vec<(u64, Decided)> = std::mem::take(&mut self.rows)
            .into_iter()
            .map(|r| (lines.next().copied().unwrap_or(0), r))
            .filter(|(_, r)| r != row)
            .collect();
        (self.lines, self.rows) = kept.into_iter().unzip();
        self.rows.len() != before
    }

    /// The file's text: its comments, the header and a line per row.
    pub fn render(&self) -> String {
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        let mut header: Vec<&str> = CODINGS_COLUMNS.to_vec();
        if self.staged {
            header.push(STAGE_COLUMN);
        }
        // Writing to a Vec fails only on a record of another length, which these are not.
        let _ = writer.write_record(&header);
        for row in &self.rows {
            let (start, end) = (row.start.to_string(), row.end.to_string());
            let mut fields = vec![row.transcript.as_str(), &row.code, &start, &end, &row.transcript_sha256];
            if self.staged {
                fields.push(&row.stage);
            }
            let _ = writer.write_record(&fields);
        }
        let body = writer
            .into_inner()
            .map(String::from_utf8)
            .ok()
            .and_then(Result::ok)
            .unwrap_or_default();
        let mut text = String::new();
        for comment in &self.comments {
            text.push_str(comment);
            text.push('\n');
        }
        text.push_str(&body);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> Result<DecisionsFile, String> {
        DecisionsFile::parse(&CodingsFile {
            name: "coders/ana.csv",
            text,
        })
    }

    fn row(code: &str, start: usize, end: usize) -> Decided {
        Decided {
            transcript: "transcripts/P1.txt".into(),
            code: code.into(),
            start,
            end,
            transcript_sha256: "ab12".into(),
            stage: String::new(),
        }
    }

    #[test]
    fn a_file_read_changed_and_written_keeps_its_comments_and_order() {
        let text = "# Codings of \"Ana\"\ntranscript,code,start,end,transcript_sha256\ntranscripts/P1.txt,ownership,4,9,ab12\ntranscripts/P1.txt,risk,12,20,ab12\n";
        let mut file = parsed(text).unwrap();
        assert_eq!(file.render(), text, "read and written back unchanged");
        assert!(!file.add(row("ownership", 4, 9)), "already there");
        assert!(file.add(row("\"quoted, code\"", 30, 41)));
        assert!(file.remove(&row("ownership", 4, 9)));
        assert!(!file.remove(&row("ownership", 4, 9)));
        let written = file.render();
        assert_eq!(
            written,
            "# Codings of \"Ana\"\ntranscript,code,start,end,transcript_sha256\ntranscripts/P1.txt,risk,12,20,ab12\ntranscripts/P1.txt,\"\"\"quoted, code\"\"\",30,41,ab12\n"
        );
        let again = parsed(&written).unwrap();
        assert_eq!(again.rows(), file.rows(), "what is written reads back the same");
        let lines: Vec<u64> = again.rows_with_lines().map(|(line, _)| line).collect();
        assert_eq!(lines, [3, 4]);
    }

    #[test]
    fn rejected_suggestions_carry_their_stage() {
        let mut file = DecisionsFile::new("Suggestions Ana rejected", true);
        let mut rejected = row("risk", 1, 5);
        rejected.stage = "code-meaning".into();
        file.add(rejected.clone());
        let written = file.render();
        assert_eq!(
            written,
            "# Suggestions Ana rejected\ntranscript,code,start,end,transcript_sha256,stage\ntranscripts/P1.txt,risk,1,5,ab12,code-meaning\n"
        );
        assert_eq!(parsed(&written).unwrap().rows(), [rejected]);
    }

    #[test]
    fn bad_rows_are_named_by_file_and_line() {
        for (csv, expected) in [
            ("code,start,end\n", "coders/ana.csv:1: the header must name"),
            ("# whose\ncode,start,end\n", "coders/ana.csv:2: the header must name"),
            (
                "transcript,code,start,end\nt,c,4,x\n",
                "coders/ana.csv:2: end `x` is not a whole number",
            ),
            (
                "transcript,code,start,end\nt,c,4,4\n",
                "coders/ana.csv:2: start 4 is not before end 4",
            ),
            (
                "transcript,code,start,end\nt,,1,4\n",
                "coders/ana.csv:2: a row needs a transcript and a code",
            ),
            (
                "transcript,code,start,end\nt,c,1,4\nt,c,1\n",
                "coders/ana.csv:3: CSV error: record 2 (line: 3, byte: 34): found record with 3 fields",
            ),
        ] {
            let error = parsed(csv).err().unwrap();
            assert!(error.starts_with(expected), "{error}");
        }
    }
}
