//! Everything thematic writes for people and spreadsheets, rendered as text.
//!
//! Each renderer is a pure function of the analysis: this crate does no IO.
//! (The workbook is bytes in memory; writing it is the shell's.)
//! The shell writes what it returns, atomically.

mod dot;
mod html;
mod json_style;
mod markdown;
mod matrix;
mod themes;
mod views;
mod xlsx;

pub use dot::thematic_map_dot;
pub use html::{html_report, Provenance, StageProvenance};
pub use json_style::to_python_json;
pub use markdown::{agreement_table, markdown_report};
pub use matrix::{code_document_csv, code_document_json};
pub use rust_xlsxwriter::XlsxError;
pub use themes::{theme_participant_csv, theme_participant_json};
pub use xlsx::matrices_xlsx;

fn csv_text(header: Vec<String>, rows: impl Iterator<Item = Vec<String>>) -> String {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(&header).expect("writing to memory cannot fail");
    for row in rows {
        writer.write_record(&row).expect("writing to memory cannot fail");
    }
    csv_finished(writer)
}

/// The text a CSV writer into memory wrote.
fn csv_finished(writer: csv::Writer<Vec<u8>>) -> String {
    String::from_utf8(writer.into_inner().expect("flushing memory cannot fail")).expect("CSV of UTF-8 fields is UTF-8")
}
