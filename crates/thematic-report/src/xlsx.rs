//! The matrices as an Excel workbook, for those who go on in a spreadsheet:
//! numbers as numbers, headers frozen and filterable, counts shaded.

use rust_xlsxwriter::{
    ConditionalFormat2ColorScale, DocProperties, ExcelDateTime, Format, Workbook, Worksheet, XlsxError,
};
use thematic_model::{Analysis, CodeDocumentMatrix};

use crate::matrix::MatrixColumns;
use crate::themes::theme_matrix_rows;
use crate::views::{attribute_columns, heading};

/// Widest a label column is made, in characters.
const MAX_COLUMN_WIDTH: usize = 60;

/// Columns a worksheet holds (Excel's limit).
const MAX_COLUMNS: usize = 16_384;

#[derive(Debug, thiserror::Error)]
pub enum WorkbookError {
    #[error("the sheet \"{sheet}\" would need {columns} columns, more than Excel's {MAX_COLUMNS}; `thematic export matrix --format csv` has no such limit")]
    TooWide { sheet: &'static str, columns: usize },
    #[error(transparent)]
    Xlsx(#[from] XlsxError),
}

/// A workbook of three sheets: themes by participant (sub-themes under their
/// themes), codes by transcript, and the participants with their attributes.
/// The same analysis gives the same bytes.
pub fn matrices_xlsx(analysis: &Analysis, matrix: &CodeDocumentMatrix) -> Result<Vec<u8>, WorkbookError> {
    let header = Format::new().set_bold().set_background_color("#EDF2F7");
    let mut workbook = Workbook::new();
    // The file says when it was made unless told; a fixed date keeps it reproducible.
    workbook.set_properties(&DocProperties::new().set_creation_datetime(&ExcelDateTime::from_ymd(2000, 1, 1)?));

    let participants = analysis.participant_ids();
    let sheet_name = "Themes by participant";
    let mut columns: Vec<String> = vec!["Theme".into(), "Name".into(), "Parent".into()];
    columns.extend(participants.iter().map(|p| p.to_string()));
    columns.extend(["Participants".into(), "Kept".into()]);
    let sheet = new_sheet(&mut workbook, sheet_name, &columns, &header)?;
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
        sheet.write_string(r, after + 1, row.kept())?;
    }
    let names = rows.iter().map(|row| row.theme.name.as_str());
    let layout = Layout {
        rows: rows.len(),
        label_column: 1,
        first_count: 3,
        counts: participants.len(),
    };
    finish_sheet(sheet, &columns, &layout, names)?;

    let matrix_columns = MatrixColumns::of(matrix);
    let mut columns: Vec<String> = vec!["Transcript".into()];
    columns.extend(matrix_columns.codes.iter().map(|c| c.to_string()));
    let sheet = new_sheet(&mut workbook, "Codes by transcript", &columns, &header)?;
    let mut counts = Vec::new();
    for (r, (document, row)) in matrix.coded_segments.iter().enumerate() {
        let r = r as u32 + 1;
        sheet.write_string(r, 0, document)?;
        matrix_columns.counts(row, &mut counts);
        for (c, &n) in counts.iter().enumerate() {
            sheet.write_number(r, c as u16 + 1, n as f64)?;
        }
    }
    let documents = matrix.coded_segments.keys().map(String::as_str);
    let layout = Layout {
        rows: matrix.coded_segments.len(),
        label_column: 0,
        first_count: 1,
        counts: matrix_columns.codes.len(),
    };
    finish_sheet(sheet, &columns, &layout, documents)?;

    // Every participant the first sheet has a column for, attributes where the participants file gives them.
    let attributes = attribute_columns(analysis);
    let mut columns: Vec<String> = vec!["Participant".into()];
    columns.extend(attributes.iter().map(|a| heading(a)));
    let sheet = new_sheet(&mut workbook, "Participants", &columns, &header)?;
    for (r, id) in participants.iter().enumerate() {
        let r = r as u32 + 1;
        sheet.write_string(r, 0, *id)?;
        if let Some(participant) = analysis.participants.iter().find(|p| p.id == *id) {
            for (c, name) in attributes.iter().enumerate() {
                sheet.write_string(r, c as u16 + 1, participant.attribute(name))?;
            }
        }
    }
    let layout = Layout {
        rows: participants.len(),
        label_column: 0,
        first_count: 1,
        counts: 0,
    };
    finish_sheet(sheet, &columns, &layout, participants.iter().copied())?;

    Ok(workbook.save_to_buffer()?)
}

/// A sheet named `name` with a bold header row of `columns`.
fn new_sheet<'w>(
    workbook: &'w mut Workbook,
    name: &'static str,
    columns: &[String],
    format: &Format,
) -> Result<&'w mut Worksheet, WorkbookError> {
    if columns.len() > MAX_COLUMNS {
        return Err(WorkbookError::TooWide {
            sheet: name,
            columns: columns.len(),
        });
    }
    let sheet = workbook.add_worksheet().set_name(name)?;
    for (c, column) in columns.iter().enumerate() {
        sheet.write_string_with_format(0, c as u16, column, format)?;
    }
    Ok(sheet)
}

/// Where a sheet's data lies: its rows below the header, the column of its
/// row labels, and `counts` columns of numbers from `first_count` on.
struct Layout {
    rows: usize,
    label_column: u16,
    first_count: u16,
    counts: usize,
}

/// Freezes the header row and the columns before the counts, adds a filter,
/// shades the counts, and widens the label column to its longest label.
fn finish_sheet<'a>(
    sheet: &mut Worksheet,
    columns: &'a [String],
    layout: &Layout,
    labels: impl Iterator<Item = &'a str>,
) -> Result<(), XlsxError> {
    sheet.set_freeze_panes(1, layout.first_count)?;
    let last_column = columns.len().saturating_sub(1) as u16;
    sheet.autofilter(0, 0, layout.rows as u32, last_column)?;
    if layout.counts > 0 && layout.rows > 0 {
        let shading = ConditionalFormat2ColorScale::new()
            .set_minimum_color("#FFFFFF")
            .set_maximum_color("#2B6CB0");
        let last_count = layout.first_count + layout.counts as u16 - 1;
        sheet.add_conditional_format(1, layout.first_count, layout.rows as u32, last_count, &shading)?;
    }
    let header = columns.get(layout.label_column as usize).map_or("", String::as_str);
    let widest = labels
        .chain(std::iter::once(header))
        .map(|label| label.chars().count())
        .max()
        .unwrap_or(0);
    sheet.set_column_width(layout.label_column, widest.clamp(8, MAX_COLUMN_WIDTH) as f64 + 2.0)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn analysis() -> Analysis {
        Analysis {
            study: "s".into(),
            questions: Vec::new(),
            codes: Vec::new(),
            participants: Vec::new(),
            transcripts: Vec::new(),
            themes: Vec::new(),
            areas: Vec::new(),
            min_participants: 2,
            agreements: Vec::new(),
            learnt: Vec::new(),
            memos: Vec::new(),
            warnings: Vec::new(),
        }
    }

    #[test]
    fn an_empty_analysis_makes_the_same_workbook_twice() {
        let matrix = CodeDocumentMatrix {
            coded_segments: Default::default(),
            segments: 0,
        };
        let bytes = matrices_xlsx(&analysis(), &matrix).unwrap();
        assert_eq!(&bytes[..2], b"PK", "a zip archive");
        assert_eq!(bytes, matrices_xlsx(&analysis(), &matrix).unwrap());
    }

    #[test]
    fn more_codes_than_excel_has_columns_is_an_error_that_says_so() {
        let codes: Vec<String> = (0..MAX_COLUMNS).map(|i| format!("c{i}")).collect();
        let row: Vec<(&str, usize)> = codes.iter().map(|c| (c.as_str(), 1)).collect();
        let matrix = CodeDocumentMatrix {
            coded_segments: [("t".to_string(), row)].into_iter().collect(),
            segments: 1,
        };
        let error = matrices_xlsx(&analysis(), &matrix).unwrap_err().to_string();
        assert!(
            error.contains("\"Codes by transcript\" would need 16385 columns"),
            "{error}"
        );
    }
}
