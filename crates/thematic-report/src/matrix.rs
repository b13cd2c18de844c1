use std::collections::BTreeSet;

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
    let codes: BTreeSet<&str> = matrix
        .coded_segments
        .values()
        .flat_map(|row| row.keys().map(String::as_str))
        .collect();
    let mut header = vec!["document"];
    header.extend(codes.iter().copied());
    let rows = matrix.coded_segments.iter().map(|(document, row)| {
        let mut cells = vec![document.clone()];
        cells.extend(
            codes
                .iter()
                .map(|code| row.get(*code).copied().unwrap_or(0).to_string()),
        );
        cells
    });
    crate::csv_text(header.into_iter().map(str::to_string).collect(), rows)
}
