//! Writing a run's reports into the study's output folder, each file atomically.

use std::path::PathBuf;

use anyhow::Result;
use thematic_config::OutputFormat;
use thematic_model::Analysis;
use thematic_pipeline::code_document_matrix;

use crate::files::write_atomic;
use crate::study::Study;

pub const MARKDOWN_REPORT: &str = "report.md";

/// Writes every report the study's `[outputs]` asks for; returns their paths.
pub fn write_reports(study: &Study, analysis: &Analysis) -> Result<Vec<PathBuf>> {
    let dir = study.output_dir();
    let mut files: Vec<(String, String)> = Vec::new();
    let matrix = code_document_matrix(&analysis.transcripts, &analysis.codings);
    for format in &study.config.study.outputs.formats {
        match format {
            OutputFormat::Markdown => files.push((
                MARKDOWN_REPORT.into(),
                thematic_report::markdown_report(analysis, env!("CARGO_PKG_VERSION")),
            )),
            OutputFormat::Csv => {
                files.push((
                    "code-document-matrix.csv".into(),
                    thematic_report::code_document_csv(&matrix),
                ));
                files.push((
                    "theme-participant-matrix.csv".into(),
                    thematic_report::theme_participant_csv(analysis),
                ));
            }
            OutputFormat::Json => {
                files.push((
                    "code-document-matrix.json".into(),
                    thematic_report::code_document_json(&matrix),
                ));
                files.push((
                    "theme-participant-matrix.json".into(),
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
