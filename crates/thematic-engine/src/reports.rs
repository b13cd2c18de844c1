//! Writing a run's reports into the study's output folder, each file atomically.

use std::path::PathBuf;

use anyhow::Result;
use thematic_config::OutputFormat;
use thematic_model::Analysis;
use thematic_pipeline::code_document_matrix;
use thematic_report::{Provenance, StageProvenance};

use crate::clock::now;
use crate::files::write_atomic;
use crate::parallel;
use crate::plan::Plan;
use crate::study::Study;

pub const MARKDOWN_REPORT: &str = "report.md";
pub const HTML_REPORT: &str = "report.html";

const CODE_DOCUMENT_CSV: &str = "code-document-matrix.csv";
const THEME_PARTICIPANT_CSV: &str = "theme-participant-matrix.csv";
const CODE_DOCUMENT_JSON: &str = "code-document-matrix.json";
const THEME_PARTICIPANT_JSON: &str = "theme-participant-matrix.json";

/// Every file thematic may write into the output folder.
pub const ALL_REPORTS: [&str; 6] = [
    MARKDOWN_REPORT,
    HTML_REPORT,
    CODE_DOCUMENT_CSV,
    THEME_PARTICIPANT_CSV,
    CODE_DOCUMENT_JSON,
    THEME_PARTICIPANT_JSON,
];

/// What made this run's reports: the engine, the configuration, every stage,
/// and the time now (every report of a run, served ones too, says the same).
pub fn provenance(study: &Study) -> Provenance {
    let coding = study
        .stages
        .coding
        .iter()
        .map(|s| ("coding", &s.name, &s.strategy_name, &s.fingerprint));
    let themes = study
        .stages
        .themes
        .iter()
        .map(|s| ("themes", &s.name, &s.strategy_name, &s.fingerprint));
    let areas = study
        .stages
        .areas
        .iter()
        .map(|s| ("areas", &s.name, &s.strategy_name, &s.fingerprint));
    Provenance {
        engine_version: env!("CARGO_PKG_VERSION").to_string(),
        configuration_sha256: study.plan.config_hash.clone(),
        stages: coding
            .chain(themes)
            .chain(areas)
            .map(|(kind, name, strategy, fingerprint)| StageProvenance {
                kind,
                name: name.clone(),
                strategy: strategy.clone(),
                fingerprint: fingerprint.clone(),
            })
            .collect(),
        written_at: now(),
    }
}

/// A report's file name and how to render it.
type Render<'a> = (&'static str, Box<dyn Fn() -> String + Sync + 'a>);

/// What a run wrote into the output folder.
pub struct Written {
    pub paths: Vec<PathBuf>,
    /// `report.html` as written, when `[outputs]` asks for it.
    pub page: Option<String>,
}

/// Writes every report the study's `[outputs]` asks for. The reports are
/// rendered side by side, one per core (each is a pure function of the
/// analysis), and each written by the thread that rendered it, so that one
/// waits for the disk while another renders.
pub fn write_reports(plan: &Plan, analysis: &Analysis, provenance: &Provenance) -> Result<Written> {
    let dir = plan.output_dir();
    let matrix = code_document_matrix(&analysis.transcripts);
    let matrix = &matrix;
    let mut renders: Vec<Render> = Vec::new();
    for format in &plan.config.study.outputs.formats {
        match format {
            OutputFormat::Markdown => renders.push((
                MARKDOWN_REPORT,
                Box::new(|| thematic_report::markdown_report(analysis, env!("CARGO_PKG_VERSION"))),
            )),
            OutputFormat::Html => renders.push((
                HTML_REPORT,
                Box::new(|| thematic_report::html_report(analysis, provenance)),
            )),
            OutputFormat::Csv => {
                renders.push((
                    CODE_DOCUMENT_CSV,
                    Box::new(|| thematic_report::code_document_csv(matrix)),
                ));
                renders.push((
                    THEME_PARTICIPANT_CSV,
                    Box::new(|| thematic_report::theme_participant_csv(analysis)),
                ));
            }
            OutputFormat::Json => {
                renders.push((
                    CODE_DOCUMENT_JSON,
                    Box::new(|| thematic_report::code_document_json(matrix)),
                ));
                renders.push((
                    THEME_PARTICIPANT_JSON,
                    Box::new(|| thematic_report::theme_participant_json(analysis)),
                ));
            }
        }
    }
    let written = parallel::map_ordered(
        &renders,
        || (),
        |(name, render), _| {
            let contents = render();
            let path = dir.join(name);
            write_atomic(&path, contents.as_bytes()).map(|()| (path, contents))
        },
        || {},
    );
    let mut reports = Written {
        paths: Vec::new(),
        page: None,
    };
    for ((name, _), result) in renders.iter().zip(written) {
        let (path, contents) = result?;
        reports.paths.push(path);
        if *name == HTML_REPORT {
            reports.page = Some(contents);
        }
    }
    Ok(reports)
}
