//! `thematic export`: a study's data for other tools — the code × document
//! matrix, the thematic map as DOT, the matrices as XLSX, and the whole project as REFI-QDA (`.qdpx`) for NVivo, ATLAS.ti,
//! MAXQDA and QualCoder.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use thematic_model::{Analysis, Segment};
use thematic_pipeline::code_document_matrix;
use thematic_refi::{codebook_xml, qdpx as qdpx_archive, BookCode, Project, Selection, Source};
use thematic_report::{matrices_xlsx, thematic_map_dot};
use thematic_store::Store;

use crate::outcome::{count, say, Diagnostics, Outcome};
use thematic_engine::analyse::{analyse, redacted_document, Carried};
use thematic_engine::files::{load_codebook, write_atomic};
use thematic_engine::study;

use crate::{print_matrix, MatrixFormat};

/// Prints the matrix, from the store's codings where they are current and
/// coding in memory where not. Writes nothing.
pub fn matrix(dir: &Path, format: MatrixFormat) -> Result<Outcome> {
    let mut diagnostics = Diagnostics::default();
    let analysis = analysis_of(dir, &mut diagnostics)?;
    let matrix = code_document_matrix(&analysis.transcripts);
    print_matrix(&matrix, format);
    Ok(diagnostics.outcome())
}

/// Prints (or writes to `output`) the thematic map as Graphviz DOT, from
/// the analysis as `matrix` makes it.
pub fn dot(dir: &Path, output: Option<&Path>) -> Result<Outcome> {
    let mut diagnostics = Diagnostics::default();
    let analysis = analysis_of(dir, &mut diagnostics)?;
    let graph = thematic_map_dot(&analysis);
    match output {
        Some(path) => {
            write_atomic(path, graph.as_bytes())?;
            say(format!("wrote {}", path.display()));
        }
        None => say(graph.trim_end()),
    }
    Ok(diagnostics.outcome())
}

/// Writes the matrices as an Excel workbook, from the analysis as `matrix` makes it.
pub fn xlsx(dir: &Path, output: &Path) -> Result<Outcome> {
    let mut diagnostics = Diagnostics::default();
    let analysis = analysis_of(dir, &mut diagnostics)?;
    let matrix = code_document_matrix(&analysis.transcripts);
    let workbook = matrices_xlsx(&analysis, &matrix).context("making the workbook")?;
    write_atomic(output, &workbook)?;
    say(format!("wrote {}", output.display()));
    Ok(diagnostics.outcome())
}

/// The study's analysis, from the store's codings where they are current
/// and coding in memory where not. Writes nothing.
fn analysis_of(dir: &Path, diagnostics: &mut Diagnostics) -> Result<Analysis> {
    let study = study::load(dir, diagnostics)?;
    let store = if study.plan.store_path().is_file() {
        Some(Store::open(&study.plan.store_path())?)
    } else {
        None
    };
    let analysed = analyse(&study, store.as_ref(), &mut Carried::default(), diagnostics)?;
    Ok(analysed.analysis)
}

/// Writes the study as a REFI-QDA project: every transcript as analysed
/// (decoded, redacted), coded afresh by every coding stage (each stage a
/// coder), with the themes and areas of the review. The same study gives
/// the same bytes.
pub fn qdpx(dir: &Path, output: &Path) -> Result<Outcome> {
    let mut diagnostics = Diagnostics::default();
    let study = study::load(dir, &mut diagnostics)?;
    let analysed = analyse(&study, None, &mut Carried::default(), &mut diagnostics)?;
    let mut texts = Vec::new();
    let paths: HashMap<&str, &PathBuf> = study
        .plan
        .transcripts
        .iter()
        .map(|(id, path)| (id.as_str(), path))
        .collect();
    for transcript in &analysed.read {
        let Some(path) = paths.get(transcript.id.as_str()) else {
            continue;
        };
        match redacted_document(&study.plan, path) {
            Ok(document) => texts.push((transcript, document.into_text())),
            Err(message) => diagnostics.fail(message),
        }
    }
    let sources = texts
        .iter()
        .map(|(transcript, text)| Source {
            id: &transcript.id,
            text,
            participant: transcript.participant.as_deref(),
        })
        .collect();
    let segments: HashMap<(&str, u32), &Segment> = analysed
        .read
        .iter()
        .flat_map(|t| t.segments.iter().map(move |s| ((t.id.as_str(), s.turn), s)))
        .collect();
    let mut selections = Vec::new();
    for made in &analysed.new_codings {
        for coding in &made.codings {
            let segment = segments.get(&(coding.transcript.as_str(), coding.turn));
            // A coding without spans is about its whole segment.
            let spans: Vec<(usize, usize)> = match (coding.spans.is_empty(), segment) {
                (false, _) => coding.spans.iter().map(|s| (s.start, s.end)).collect(),
                (true, Some(segment)) => vec![(segment.start, segment.end)],
                (true, None) => Vec::new(),
            };
            for (start, end) in spans {
                selections.push(Selection {
                    transcript: &coding.transcript,
                    coder: &made.stage.name,
                    code: &coding.code,
                    start,
                    end,
                });
            }
        }
    }
    let project = Project {
        name: &analysed.analysis.study,
        origin: concat!("thematic ", env!("CARGO_PKG_VERSION")),
        codes: &analysed.analysis.codes,
        themes: &analysed.analysis.themes,
        areas: &analysed.analysis.areas,
        participants: &study.plan.participants,
        sources,
        selections,
    };
    let selections = project.selections.len();
    write_atomic(output, &qdpx_archive(&project))?;
    say(format!(
        "wrote {}: {}, {}, {}",
        output.display(),
        count(project.sources.len(), "source"),
        count(project.codes.len(), "code"),
        count(selections, "coded selection")
    ));
    Ok(diagnostics.outcome())
}

/// Writes a codebook (CSV or TOML) as a REFI-QDA codebook (`.qdc`): codes,
/// their hierarchy and descriptions, and the dictionary terms in a line of
/// each description, so that `thematic import qdc` gives them back.
pub fn qdc(codebook: &Path, output: &Path) -> Result<Outcome> {
    let (book, _) = load_codebook(codebook)?;
    let codes: Vec<BookCode> = book.codes.iter().map(book_code).collect();
    write_atomic(
        output,
        codebook_xml(&codes, concat!("thematic ", env!("CARGO_PKG_VERSION"))).as_bytes(),
    )?;
    say(format!("wrote {}: {}", output.display(), count(codes.len(), "code")));
    Ok(Outcome::Success)
}

/// A code of a study's codebook as REFI-QDA exchange carries it.
pub fn book_code(code: &thematic_codebook::Code) -> BookCode {
    BookCode {
        id: code.id.clone(),
        name: code.name.clone(),
        description: code.description.clone(),
        parent: code.parent.clone(),
        terms: code.terms.iter().map(|t| t.text.clone()).collect(),
    }
}
