//! `thematic export matrix`: the code × document matrix of a study.

use std::path::Path;

use anyhow::Result;
use thematic_pipeline::code_document_matrix;
use thematic_store::Store;

use crate::analyse::{analyse, Carried};
use crate::outcome::{Diagnostics, Outcome};
use crate::{print_matrix, study, MatrixFormat};

/// Prints the matrix, from the store's codings where they are current and
/// coding in memory where not. Writes nothing.
pub fn matrix(dir: &Path, format: MatrixFormat) -> Result<Outcome> {
    let mut diagnostics = Diagnostics::default();
    let study = study::load(dir, &mut diagnostics)?;
    let store = if study.store_path().is_file() {
        Some(Store::open(&study.store_path())?)
    } else {
        None
    };
    let analysed = analyse(&study, store.as_ref(), &mut Carried::default(), &mut diagnostics)?;
    let matrix = code_document_matrix(&analysed.analysis.transcripts);
    print_matrix(&matrix, format);
    Ok(diagnostics.outcome())
}
