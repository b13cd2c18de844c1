use std::collections::HashSet;

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
    let mut codes: Vec<&str> = matrix
        .coded_segments
        .values()
        .flat_map(|row| row.keys().map(String::as_str))
        .collect::<HashSet<&str>>()
        .into_iter()
        .collect();
    codes.sort_unstable();
    let mut header = vec!["document"];
    header.extend(codes.iter().copied());
    let rows = matrix.coded_segments.iter().map(|(document, row)| {
        // Both in code order: each row is walked once beside the columns.
        let mut counts = row.iter().peekable();
        let mut cells = vec![document.clone()];
        cells.extend(
            codes
                .iter()
                .map(|&code| match counts.next_if(|(name, _)| name.as_str() == code) {
                    Some((_, n)) => n.to_string(),
                    None => "0".to_string(),
                }),
        );
        cells
    });
    crate::csv_text(header.into_iter().map(str::to_string).collect(), rows)
}
