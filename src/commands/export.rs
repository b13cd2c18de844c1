//! `thematic export`: a study's data for other tools — the code × document
//! matrix, the thematic map as DOT, the matrices as XLSX, and the whole project as REFI-QDA (`.qdpx`) for NVivo, ATLAS.ti,
//! MAXQDA and QualCoder.

use std::io::BufWriter;
use std::path::Path;

use anyhow::{Context, Result};
use thematic_model::Analysis;
use thematic_pipeline::code_document_matrix;
use thematic_refi::codebook_xml;
use thematic_report::{matrices_xlsx, thematic_map_dot};

use crate::outcome::{count, say, Diagnostics, Outcome};
use thematic_engine::exchange::write_project;
use thematic_engine::files::{load_codebook, write_atomic, write_atomic_with};
use thematic_engine::run::look;
use thematic_engine::served::Served;
use thematic_engine::session::Session;

use crate::cli::MatrixFormat;
use crate::outcome::print_matrix;

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

/// The study's analysis, from the store where it is current and made in
/// memory where not. Writes nothing.
fn analysis_of(dir: &Path, diagnostics: &mut Diagnostics) -> Result<Analysis> {
    Ok(look(&mut Session::new(dir)?, diagnostics)?.analysis)
}

/// Writes the study as a REFI-QDA project: every transcript as analysed
/// (decoded, redacted), every coding stage's codings (each stage a coder),
/// with the themes and areas of the review and the memos as notes. The same
/// study gives the same bytes.
pub fn qdpx(dir: &Path, output: &Path) -> Result<Outcome> {
    let mut diagnostics = Diagnostics::default();
    let mut session = Session::new(dir)?;
    let analysed = look(&mut session, &mut diagnostics)?;
    let (study, store) = session.study_and_existing_store()?;
    let served = Served::new(study, store, &analysed);
    let project = write_atomic_with(output, |file| {
        let (written, project) = write_project(
            study,
            &served,
            &analysed.analysis,
            &mut diagnostics,
            BufWriter::new(file),
        )?;
        written.into_inner().map_err(|e| e.into_error())?;
        Ok(project)
    })?;
    let notes = match project.notes {
        0 => String::new(),
        notes => format!(", {} (memos)", count(notes, "note")),
    };
    say(format!(
        "wrote {}: {}, {}, {}{notes}",
        output.display(),
        count(project.sources, "source"),
        count(project.codes, "code"),
        count(project.selections, "coded selection")
    ));
    Ok(diagnostics.outcome())
}

/// Writes a codebook (CSV or TOML) as a REFI-QDA codebook (`.qdc`): codes,
/// their hierarchy and descriptions, and the dictionary terms in a line of
/// each description, so that `thematic import qdc` gives them back.
pub fn qdc(codebook: &Path, output: &Path) -> Result<Outcome> {
    let (book, _) = load_codebook(codebook)?;
    write_atomic(
        output,
        codebook_xml(&book.codes, concat!("thematic ", env!("CARGO_PKG_VERSION"))).as_bytes(),
    )?;
    say(format!(
        "wrote {}: {}",
        output.display(),
        count(book.codes.len(), "code")
    ));
    Ok(Outcome::Success)
}
