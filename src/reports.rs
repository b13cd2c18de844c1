//! Writing a run's reports into the study's output folder, each file atomically.

use std::path::PathBuf;

use anyhow::Result;
use thematic_config::OutputFormat;
use thematic_model::Analysis;
use thematic_pipeline::code_document_matrix;

use crate::files::write_atomic;
use crate::study::Study;

pub const MARKDOWN_REPORT: &str = "report.md";

const CODE_DOCUMENT_CSV: &str = "code-document-matrix.csv";
const THEME_PARTICIPANT_CSV: &str = "theme-participant-matrix.csv";
const CODE_DOCUMENT_JSON: &str = "code-document-matrix.json";
const THEME_PARTICIPANT_JSON: &str = "theme-participant-matrix.json";

/// Every file thematic may write into the output folder.
pub const ALL_REPORTS: [&str; 5] = [
    MARKDOWN_REPORT,
    CODE_DOCUMENT_CSV,
    THEME_PARTICIPANT_CSV,
    CODE_DOCUMENT_JSON,
    THEME_PARTICIPANT_JSON,
];

/// Writes every report the study's `[outputs]` asks for; returns their paths.
pub fn write_reports(study: &Study, analysis: &Analysis) -> Result<Vec<PathBuf>> {
    let dir = study.output_dir();
    let mut files: Vec<(String, String)> = Vec::new();
    let matrix = code_document_matrix(&analysis.transcripts);
    for format in &study.config.study.outputs.formats {
        match format {
            OutputFormat::Markdown => files.push((
                MARKDOWN_REPORT.into(),
                thematic_report::markdown_report(analysis, env!("CARGO_PKG_VERSION")),
            )),
            OutputFormat::Csv => {
                files.push((CODE_DOCUMENT_CSV.into(), thematic_report::code_document_csv(&matrix)));
                files.push((
                    THEME_PARTICIPANT_CSV.into(),
                    thematic_report::theme_participant_csv(analysis),
                ));
            }
            OutputFormat::Json => {
                files.push((CODE_DOCUMENT_JSON.into(), thematic_report::code_document_json(&matrix)));
                files.push((
                    THEME_PARTICIPANT_JSON.into(),
                    thematic_report::theme_participant_json(analysis),
                ));
            }
        }
    }
    let mut written = Vec::new();
    for (name, contents) in files {
        let path = dir.join(name);
        write_atomic(&path, contents.as_bytes())?;
        written.push(path);
    }
    Ok(written)
}
