use rustc_hash::{FxHashMap, FxHashSet};
use thematic_model::CodeDocumentMatrix;

use crate::json_style::to_python_json;

/// The code × document matrix as JSON, in exactly the shape and bytes
/// `peer_re.py --json` writes: `{"coded_segments": {doc: {code: n}}, "segments": S}`.
pub fn code_document_json(matrix: &CodeDocumentMatrix) -> String {
    to_python_json(matrix)
}

/// The code × document matrix as CSV: a row per document, a column per code
/// (every code seen in any document), cells counting coded segments.
pub fn code_document_csv(matrix: &CodeDocumentMatrix) -> String {
    let columns = MatrixColumns::of(matrix);
    let mut writer = csv::Writer::from_writer(Vec::new());
    let header = std::iter::once("document").chain(columns.codes.iter().copied());
    writer.write_record(header).expect("writing to memory cannot fail");
    // A study's matrix has a cell per document and code: numbers are written
    // straight from a reused row, not made into strings one by one.
    let mut counts = Vec::new();
    let mut number = itoa::Buffer::new();
    for (document, row) in &matrix.coded_segments {
        columns.counts(row, &mut counts);
        writer.write_field(document).expect("writing to memory cannot fail");
        for &n in &counts {
            writer
                .write_field(number.format(n))
                .expect("writing to memory cannot fail");
        }
        writer
            .write_record(None::<&[u8]>)
            .expect("writing to memory cannot fail");
    }
    crate::csv_finished(writer)
}

/// The matrix's columns: every code seen in any document, sorted.
pub(crate) struct MatrixColumns<'a> {
    pub codes: Vec<&'a str>,
    column: FxHashMap<&'a str, usize>,
}

impl<'a> MatrixColumns<'a> {
    pub fn of(matrix: &CodeDocumentMatrix<'a>) -> MatrixColumns<'a> {
        let mut codes: Vec<&str> = matrix
            .coded_segments
            .values()
            .flat_map(|row| row.iter().map(|&(code, _)| code))
            .collect::<FxHashSet<&str>>()
            .into_iter()
            .collect();
        codes.sort_unstable();
        let column = codes.iter().enumerate().map(|(i, &code)| (code, i)).collect();
        MatrixColumns { codes, column }
    }

    /// A document's row as a count per column, into `counts` (reused between rows).
    pub fn counts(&self, row: &[(&str, usize)], counts: &mut Vec<usize>) {
        counts.clear();
        counts.resize(self.codes.len(), 0);
        for &(code, n) in row {
            counts[self.column[code]] = n;
        }
    }
}
