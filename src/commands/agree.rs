//! `thematic agree`: how far two coders agree, code by code — for example
//! the study's dictionary stage against a human coder imported from NVivo,
//! to show how far an automatic coder can be trusted. Coders are the
//! study's coding stages. The report gives the same table for each pair
//! `[[agreement]]` names.

use std::path::Path;

use anyhow::{bail, Result};
use thematic_engine::agreement::compare;
use thematic_engine::study;
use thematic_model::Unit;
use thematic_report::agreement_table;

use crate::outcome::{count, say, Diagnostics, Outcome};

pub fn run(dir: &Path, coders: &[String], unit: Unit) -> Result<Outcome> {
    let mut diagnostics = Diagnostics::default();
    let study = study::load(dir, &mut diagnostics)?;
    let [first, second] = coders else {
        bail!("--coders names two coders, as `--coders dictionary,hedging`");
    };
    let agreement = compare(&study, first, second, unit, &mut diagnostics)?;
    say(format!(
        "agreement of `{}` and `{}`, by {}, over {}",
        agreement.first,
        agreement.second,
        unit.as_str(),
        count(agreement.transcripts, "transcript")
    ));
    say(agreement_table(&agreement).trim_end());
    Ok(diagnostics.outcome())
}
