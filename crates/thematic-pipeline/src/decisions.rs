//! A person's decisions as the plain files they live in: the stretches of
//! text they coded (`coders/NAME.csv`, what the `coder` strategy reads) and
//! the suggestions they rejected (`coders/NAME.rejected.csv`, the same
//! columns and the stage that suggested each). Read, added to, taken from
//! and written back here; the shell writes the text atomically.
//!
//! Rows are `transcript,code,start,end,transcript_sha256[,stage][,words]`:
//! half-open code-point offsets into the transcript's text, the SHA-256 of
//! the text they were made on, and the words coded (the workbench keeps
//! them, so that a coding finds its words again when the transcript is
//! corrected: [`Decided::placed_in`]). A file is a person's to edit by hand, so whatever it
//! holds beyond that is written back as it was: comment lines (`#`) before
//! the header and among the rows, columns of their own in their order, the
//! rows as written, Windows line ends and a byte-order mark.

use crate::CodingsFile;

/// The CSV columns, in the order thematic writes them.
const CODINGS_COLUMNS: [&str; 5] = ["transcript", "code", "start", "end", "transcript_sha256"];

/// The column a rejected suggestion adds: the stage that made it.
const STAGE_COLUMN: &str = "stage";

/// The column of the words a decision was made on.
const WORDS_COLUMN: &str = "words";

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
    /// The words at `start`–`end` when the decision was made; empty where the file gives none.
    pub words: String,
}

/// Where a decision applies in a transcript's text as it is now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Where it was made: it was made on this text (or says not on which).
    AsMade,
    /// Made on another version of the text: where its words are now, the
    /// occurrence nearest where they were.
    Found { start: usize, end: usize },
    /// Made on another version of the text, and its words are not in this
    /// one (or it did not keep them): not applied, kept as it is.
    Lost,
}

impl Decided {
    /// Where this decision applies in a transcript whose text has the
    /// SHA-256 `hash` and is (or holds) `parts`: stretches of it, each with
    /// the code-point offset it starts at (the whole text at 0, or its turns).
    pub fn placed_in<'t>(&self, parts: impl IntoIterator<Item = (usize, &'t str)>, hash: &str) -> Placement {
        if self.transcript_sha256.is_empty() || self.transcript_sha256 == hash {
            return Placement::AsMade;
        }
        if self.words.is_empty() {
            return Placement::Lost;
        }
        let length = self.words.chars().count();
        let mut nearest: Option<usize> = None;
        for (offset, part) in parts {
            let (mut chars_before, mut counted_to) = (offset, 0);
            for (at, _) in part.match_indices(self.words.as_str()) {
                chars_before += part[counted_to..at].chars().count();
                counted_to = at;
                if nearest.is_none_or(|best| chars_before.abs_diff(self.start) < best.abs_diff(self.start)) {
                    nearest = Some(chars_before);
                }
            }
        }
        match nearest {
            Some(start) => Placement::Found {
                start,
                end: start + length,
            },
            None => Placement::Lost,
        }
    }
}

/// A decisions file: what comes before its header, the header, its rows,
/// and what each row is written as.
#[derive(Debug, Clone, PartialEq)]
pub struct DecisionsFile {
    comments: Vec<String>,
    header: Vec<String>,
    rows: Vec<Decided>,
    /// Beside each row: how the file has it.
    kept: Vec<Kept>,
    /// Comment lines after the last row.
    trailing: Vec<String>,
    windows_line_ends: bool,
    byte_order_mark: bool,
}

/// What a row is written as, beyond what it decides.
#[derive(Debug, Clone, PartialEq, Default)]
struct Kept {
    /// The file's line of the row; 0 for rows added since.
    line: u64,
    /// Its fields as the file has them (with any columns of the person's
    /// own); none for rows added since.
    fields: Option<Vec<String>>,
    /// The comment lines just before it.
    comments: Vec<String>,
}

impl DecisionsFile {
    /// A file with no rows yet, headed by `comment` (without its `# `).
    pub fn new(comment: &str, staged: bool) -> DecisionsFile {
        let mut header: Vec<String> = CODINGS_COLUMNS.iter().map(|c| c.to_string()).collect();
        if staged {
            header.push(STAGE_COLUMN.into());
        }
        DecisionsFile {
            comments: vec![format!("# {comment}")],
            header,
            rows: Vec::new(),
            kept: Vec::new(),
            trailing: Vec::new(),
            windows_line_ends: false,
            byte_order_mark: false,
        }
    }

    /// Reads a decisions file; an error names the file and the line.
    pub fn parse(file: &CodingsFile) -> Result<DecisionsFile, String> {
        let name = file.name;
        let byte_order_mark = file.text.starts_with('\u{feff}');
        let text = file.text.trim_start_matches('\u{feff}');
        // Blank lines among them are passed over, as the reader does.
        let comments = leading_comments(text);
        let mut reader = csv::ReaderBuilder::new()
            .comment(Some(b'#'))
            // A row added by hand may leave out the columns after `end`.
            .flexible(true)
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
        let (hash, stage, words) = (column("transcript_sha256"), column(STAGE_COLUMN), column(WORDS_COLUMN));
        let mut decisions = DecisionsFile {
            comments,
            header: headers.iter().map(str::to_string).collect(),
            rows: Vec::new(),
            kept: Vec::new(),
            trailing: Vec::new(),
            windows_line_ends: text.contains("\r\n"),
            byte_order_mark,
        };
        // Where the header and each row end, to find the comment lines among the rows.
        let mut ends = vec![reader.position().byte() as usize];
        let mut record = csv::StringRecord::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(format!("{name}:{}: {e}", e.position().map_or(0, |p| p.line()))),
            }
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
            ends.push(reader.position().byte() as usize);
            decisions.rows.push(Decided {
                transcript: field(Some(transcript)).to_string(),
                code: field(Some(code)).to_string(),
                start: first,
                end: last,
                transcript_sha256: field(hash).to_string(),
                stage: field(stage).to_string(),
                // As written: the words' own spaces are part of them.
                words: words.and_then(|at| record.get(at)).unwrap_or("").to_string(),
            });
            decisions.kept.push(Kept {
                line,
                fields: Some(record.iter().map(str::to_string).collect()),
                comments: Vec::new(),
            });
        }
        decisions.place_inner_comments(text, &ends);
        Ok(decisions)
    }

    /// Puts the comment lines among the rows with the row after them: those
    /// that open the stretch of text between one row's end and the next's
    /// (`ends`: the header's end, then each row's), before the row's own
    /// lines (where a quoted field may hold a line starting with `#`).
    fn place_inner_comments(&mut self, text: &str, ends: &[usize]) {
        for (row, stretch) in ends.windows(2).enumerate() {
            let comments = leading_comments(text.get(stretch[0]..stretch[1]).unwrap_or(""));
            self.kept[row].comments = comments;
        }
        let after = ends.last().map_or("", |&end| text.get(end..).unwrap_or(""));
        self.trailing = leading_comments(after);
    }

    pub fn rows(&self) -> &[Decided] {
        &self.rows
    }

    /// Each row with the line of the file it came from (0 for rows added since).
    pub fn rows_with_lines(&self) -> impl Iterator<Item = (u64, &Decided)> {
        self.kept.iter().map(|kept| kept.line).zip(&self.rows)
    }

    /// Adds `row` at the end unless the file has it already; whether it was added.
    pub fn add(&mut self, row: Decided) -> bool {
        if self.rows.contains(&row) {
            return false;
        }
        self.rows.push(row);
        self.kept.push(Kept::default());
        true
    }

    /// Gives the row equal to `row` the code `to`, kept where it is with
    /// all the file has of it; whether there was one.
    pub fn recode(&mut self, row: &Decided, to: &str) -> bool {
        let recoded = Decided {
            code: to.to_string(),
            ..row.clone()
        };
        // The same coding already there under `to`: one row of it is enough.
        if self.rows.contains(&recoded) {
            return self.remove(row);
        }
        let Some(at) = self.rows.iter().position(|r| r == row) else {
            return false;
        };
        self.rows[at] = recoded;
        let code_column = self.header.iter().position(|h| h.trim() == "code");
        if let (Some(fields), Some(column)) = (&mut self.kept[at].fields, code_column) {
            if let Some(field) = fields.get_mut(column) {
                *field = to.to_string();
            }
        }
        true
    }

    /// Takes every row equal to `row` out, the comments before it kept
    /// before the next; whether there was one.
    pub fn remove(&mut self, row: &Decided) -> bool {
        let before = self.rows.len();
        let mut kept_rows = Vec::with_capacity(before);
        let mut kept = Vec::with_capacity(before);
        let mut orphaned: Vec<String> = Vec::new();
        for (decided, mut how) in std::mem::take(&mut self.rows)
            .into_iter()
            .zip(std::mem::take(&mut self.kept))
        {
            if decided == *row {
                orphaned.append(&mut how.comments);
                continue;
            }
            if !orphaned.is_empty() {
                orphaned.append(&mut how.comments);
                how.comments = std::mem::take(&mut orphaned);
            }
            kept_rows.push(decided);
            kept.push(how);
        }
        orphaned.append(&mut self.trailing);
        self.trailing = orphaned;
        (self.rows, self.kept) = (kept_rows, kept);
        self.rows.len() != before
    }

    /// The file's text: as it was read, with the rows added since at the end
    /// and those taken out gone.
    pub fn render(&self) -> String {
        let mut header = self.header.clone();
        let position = |header: &[String], name: &str| header.iter().position(|h| h.trim() == name);
        // A column the rows added since need, that a file written by hand lacks.
        for (needed, column) in [
            (
                self.rows.iter().any(|r| !r.transcript_sha256.is_empty()),
                CODINGS_COLUMNS[4],
            ),
            (self.rows.iter().any(|r| !r.stage.is_empty()), STAGE_COLUMN),
            (self.rows.iter().any(|r| !r.words.is_empty()), WORDS_COLUMN),
        ] {
            if needed && position(&header, column).is_none() {
                // After every field a row written by hand has, so that none of those is read as the new column.
                let widest = self.kept.iter().filter_map(|k| k.fields.as_ref()).map(Vec::len).max();
                header.resize(header.len().max(widest.unwrap_or(0)), String::new());
                header.push(column.to_string());
            }
        }
        let line_end = if self.windows_line_ends { "\r\n" } else { "\n" };
        let mut text = String::new();
        if self.byte_order_mark {
            text.push('\u{feff}');
        }
        let put_line = |text: &mut String, line: &str| {
            text.push_str(line.trim_end_matches('\n'));
            text.push_str(line_end);
        };
        for comment in &self.comments {
            put_line(&mut text, comment);
        }
        put_line(&mut text, &csv_line(&header));
        for (row, kept) in self.rows.iter().zip(&self.kept) {
            for comment in &kept.comments {
                put_line(&mut text, comment);
            }
            let fields = match &kept.fields {
                Some(fields) => {
                    let mut fields = fields.clone();
                    fields.resize(header.len().max(fields.len()), String::new());
                    fields
                }
                None => {
                    let mut fields = vec![String::new(); header.len()];
                    let values = [
                        row.transcript.clone(),
                        row.code.clone(),
                        row.start.to_string(),
                        row.end.to_string(),
                        row.transcript_sha256.clone(),
                    ];
                    for (column, value) in CODINGS_COLUMNS.iter().zip(values) {
                        if let Some(at) = position(&header, column) {
                            fields[at] = value;
                        }
                    }
                    if let Some(at) = position(&header, STAGE_COLUMN) {
                        fields[at] = row.stage.clone();
                    }
                    if let Some(at) = position(&header, WORDS_COLUMN) {
                        fields[at] = row.words.clone();
                    }
                    fields
                }
            };
            put_line(&mut text, &csv_line(&fields));
        }
        for comment in &self.trailing {
            put_line(&mut text, comment);
        }
        text
    }
}

/// The `#` lines `text` starts with (blank lines between them passed over,
/// as the reader does), without their line ends.
fn leading_comments(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| line.trim_end_matches('\r'))
        .take_while(|line| line.starts_with('#') || line.trim().is_empty())
        .filter(|line| line.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// One record as a CSV line, quoted where it needs to be, without its line end.
fn csv_line(fields: &[String]) -> String {
    let mut writer = csv::WriterBuilder::new()
        // A field starting with `#` is quoted, so that it is not read back as a comment.
        .comment(Some(b'#'))
        .from_writer(Vec::new());
    // Writing one record to a Vec cannot fail.
    let _ = writer.write_record(fields);
    let line = writer
        .into_inner()
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .unwrap_or_default();
    line.trim_end_matches(['\r', '\n']).to_string()
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
            words: String::new(),
        }
    }

    #[test]
    fn a_decision_made_on_another_text_is_placed_where_its_words_are_now() {
        let mut made = row("risk", 10, 14);
        assert_eq!(made.placed_in([(0, "anything")], "ab12"), Placement::AsMade);
        made.words = "risk".into();
        let now = "risk first, then 🙂 risk again, and risk";
        let second = now.find("risk again").map(|at| now[..at].chars().count()).unwrap();
        assert_eq!(
            made.placed_in([(0, now)], "cd34"),
            Placement::Found {
                start: second,
                end: second + 4
            },
            "the occurrence nearest where it was, counted in code points"
        );
        assert_eq!(
            made.placed_in([(0, "ri"), (100, "sk at a hundred and two: risk")], "cd34"),
            Placement::Found { start: 125, end: 129 },
            "found in a part at the part's offset, never across parts"
        );
        assert_eq!(made.placed_in([(0, "no such words")], "cd34"), Placement::Lost);
        made.words.clear();
        assert_eq!(made.placed_in([(0, now)], "cd34"), Placement::Lost, "kept no words");
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
    fn a_file_edited_by_hand_is_written_back_with_all_it_holds() {
        let text = "\u{feff}# Ana's codings\r\ntranscript,code,note,start,end\r\n# wave 1\r\ntranscripts/P1.txt,risk,\"my note, long\",4,9\r\n# checked with Bo\r\ntranscripts/P2.txt,risk,,1,3\r\n# end of wave 1\r\n";
        let mut file = parsed(text).unwrap();
        assert_eq!(file.render(), text, "read and written back unchanged");
        let mut taken = row("risk", 4, 9);
        taken.transcript_sha256.clear();
        assert!(file.remove(&taken));
        assert!(file.add(Decided {
            transcript: "#odd name.txt".into(),
            ..row("trust", 2, 5)
        }));
        assert_eq!(
            file.render(),
            "\u{feff}# Ana's codings\r\ntranscript,code,note,start,end,transcript_sha256\r\n# wave 1\r\n# checked with Bo\r\ntranscripts/P2.txt,risk,,1,3,\r\n\"#odd name.txt\",trust,,2,5,ab12\r\n# end of wave 1\r\n",
            "a comment before a row taken out stays; a column the new row needs is added; an id starting with # is quoted"
        );
        let again = parsed(&file.render()).unwrap();
        assert_eq!(again.rows(), file.rows());

        let mut wider = parsed("transcript,code,start,end\nt,risk,1,4,checked\n").unwrap();
        wider.add(Decided {
            transcript: "t".into(),
            ..row("trust", 2, 5)
        });
        let written = wider.render();
        assert_eq!(
            written,
            "transcript,code,start,end,,transcript_sha256\nt,risk,1,4,checked,\nt,trust,2,5,,ab12\n"
        );
        assert_eq!(
            parsed(&written).unwrap().rows()[0].transcript_sha256,
            "",
            "a field of the person's own is not read as a hash"
        );

        let mut noted =
            parsed("# first\n\n# second\ntranscript,code,note,start,end\n# why\nt,risk,my note,4,9\n").unwrap();
        let mut risk = row("risk", 4, 9);
        risk.transcript = "t".into();
        risk.transcript_sha256.clear();
        assert!(noted.recode(&risk, "trust"));
        assert_eq!(
            noted.render(),
            "# first\n# second\ntranscript,code,note,start,end\n# why\nt,trust,my note,4,9\n",
            "a recoded row keeps its own columns and the comment before it"
        );
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
                "coders/ana.csv:3: end `` is not a whole number",
            ),
        ] {
            let error = parsed(csv).err().unwrap();
            assert!(error.starts_with(expected), "{error}");
        }
    }
}
