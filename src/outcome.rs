//! The command line's side of an outcome: its exit code, and lines on stdout.

use std::process::ExitCode;

pub use thematic_engine::diagnostics::{count, Diagnostics, Outcome};

use crate::cli::MatrixFormat;

/// The exit code that says what happened.
pub fn exit_code(outcome: Outcome) -> ExitCode {
    ExitCode::from(match outcome {
        Outcome::Success => 0,
        Outcome::InputsFailed => 1,
        Outcome::ConfigError => 2,
    })
}

/// Prints a line on stdout. A reader that has gone away (`thematic … | head`)
/// is not an error: the command's work is done all the same.
pub fn say(line: impl std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{line}");
}

/// Renders the code × document matrix and prints it, ending in one newline.
pub fn print_matrix(matrix: &thematic_model::CodeDocumentMatrix, format: MatrixFormat) {
    let text = match format {
        MatrixFormat::Json => thematic_report::code_document_json(matrix),
        MatrixFormat::Csv => thematic_report::code_document_csv(matrix),
    };
    say(text.trim_end_matches('\n'));
}
