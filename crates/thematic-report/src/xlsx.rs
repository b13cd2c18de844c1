//! The matrices as an Excel workbook, for those who go on in a spreadsheet:
//! numbers as numbers, headers frozen and filterable, counts shaded.

use rust_xlsxwriter::{ConditionalFormat2ColorScale, Format, Workbook, Worksheet, XlsxError};
use thematic_model::{Analysis, CodeDocumentMatrix};

use crate::matrix::matrix_codes;
use crate::themes::theme_matrix_rows;
use crate::views::{attribute_columns, heading};

/// Widest a text column is made, in characters.
const MOST_WIDTH: usize = 60;

/// A workbook of three sheets: themes by participant (sub-themes under their
/// themes), codes by transcript, and the participants with their attributes.
pub fn matrices_xlsx(analysis: &Analysis, matrix: &CodeDocumentMatrix) -> Result<Vec<u8>, XlsxError> {
    let header = Format::new().set_bold().set_background_color("#EDF2F7");
    let mut workbook = Workbook::new();

    let participants = analysis.participant_ids();
    let sheet = workbook.add_worksheet().set_name("Themes by participant")?;
    let mut columns: Vec<String> = vec!["Theme".into(), "Name".into(), "Parent".into()];
    columns.extend(participants.iter().map(|p| p.to_string()));
    columns.extend(["Participants".into(), "Kept".into()]);
    write_header(sheet, &columns, &header)?;
    let rows = theme_matrix_rows(analysis, &participants);
    for (r, row) in rows.iter().enumerate() {
        let r = r as u32 + 1;
        sheet.write_string(r, 0, &row.theme.id)?;
        sheet.write_string(r, 1, &row.theme.name)?;
        sheet.write_string(r, 2, row.parent)?;
        for (c, &n) in row.segments.iter().enumerate() {
            sheet.write_number(r, c as u16 + 3, n as f64)?;
        }
        let after = participants.len() as u16 + 3;
        sheet.write_number(r, after, row.theme.covered.len() as f64)?;
        sheet.write_string(r, after + 1, if row.theme.discarded.is_none() { "yes" } else { "no" })?;
    }
    let names = rows.iter().map(|row| row.theme.name.as_str());
    finish(sheet, &columns, rows.len(), 3, participants.len(), names)?;

    let sheet = workbook.add_worksheet().set_name("Codes by transcript")?;
    let codes = matrix_codes(matrix);
    let mut columns: Vec<String> = vec!["Transcript".into()];
    columns.extend(codes.iter().map(|c| c.to_string()));
    write_header(sheet, &columns, &header)?;
    for (r, (document, row)) in matrix.coded_segments.iter().enumerate() {
        let r = r as u32 + 1;
        sheet.write_string(r, 0, document)?;
        for (c, code) in codes.iter().enumerate() {
            let n = row.iter().find(|(coded, _)| coded == code).map_or(0, |&(_, n)| n);
            sheet.write_number(r, c as u16 + 1, n as f64)?;
        }
    }
    let documents = matrix.coded_segments.keys().map(String::as_str);
    finish(sheet, &columns, matrix.coded_segments.len(), 1, codes.len(), documents)?;

    let sheet = workbook.add_worksheet().set_name("Participants")?;
    let attributes = attribute_columns(analysis);
    let mut columns: Vec<String> = vec!["Participant".into()];
    columns.extend(attributes.iter().map(|a| heading(a)));
    write_header(sheet, &columns, &header)?;
    for (r, participant) in analysis.participants.iter().enumerate() {
        let r = r as u32 + 1;
        sheet.write_string(r, 0, &participant.id)?;
        for (c, name) in attributes.iter().enumerate() {
            sheet.write_string(r, c as u16 + 1, participant.attribute(name))?;
        }
    }
    let ids = analysis.participants.iter().map(|p| p.id.as_str());
    finish(sheet, &columns, analysis.participants.len(), 1, 0, ids)?;

    workbook.save_to_buffer()
}

fn write_header(sheet: &mut Worksheet, columns: &[String], format: &Format) -> Result<(), XlsxError> {
    for (c, name) in columns.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, name, format)?;
    }
    Ok(())
}

/// Freezes the header row and the label columns before the counts, adds a
/// filter, shades the `counts` columns from `first_count` on, and widens the
/// column before them to its longest label.
fn finish<'a>(
    sheet: &mut Worksheet,
    columns: &'a [String],
    rows: usize,
    first_count: u16,
    counts: usize,
    labels: impl Iterator<Item = &'a str>,
) -> Result<(), XlsxError> {
    sheet.set_freeze_panes(1, first_count)?;
    let last_column = columns.len().saturating_sub(1) as u16;
    sheet.autofilter(0, 0, rows as u32, last_column)?;
    if counts > 0 && rows > 0 {
        let shading = ConditionalFormat2ColorScale::new()
            .set_minimum_color("#FFFFFF")
            .set_maximum_color("#2B6CB0");
        sheet.add_conditional_format(1, first_count, rows as u32, first_count + counts as u16 - 1, &shading)?;
    }
    let widest = labels
        .chain(std::iter::once(columns[first_count as usize - 1].as_str()))
        .map(|label| label.chars().count())
        .max()
        .unwrap_or(0);
    sheet.set_column_width(first_count - 1, widest.clamp(8, MOST_WIDTH) as f64 + 2.0)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_analysis_still_makes_a_workbook_of_three_sheets() {
        let analysis = Analysis {
            study: "s".into(),
            questions: Vec::new(),
            codes: Vec::new(),
            participants: Vec::new(),
            transcripts: Vec::new(),
            themes: Vec::new(),
            areas: Vec::new(),
            min_participants: 2,
            agreements: Vec::new(),
            warnings: Vec::new(),
        };
        let matrix = CodeDocumentMatrix {
            coded_segments: Default::default(),
            segments: 0,
        };
        let bytes = matrices_xlsx(&analysis, &matrix).unwrap();
        assert_eq!(&bytes[..2], b"PK", "a zip archive");
    }
}
