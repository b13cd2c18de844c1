//! `thematic agree`: how far two coders agree, code by code — for example
//! the study's dictionary stage against a human coder imported from NVivo,
//! to show how far an automatic coder can be trusted. Coders are the
//! study's coding stages. The report gives the same table for each pair
//! `[[agreement]]` names.

use std::path::Path;

use anyhow::{bail, Result};
use thematic_engine::agreement::{compare, AgreementCache};
use thematic_engine::run::look;
use thematic_engine::served::Served;
use thematic_engine::session::Session;
use thematic_model::Unit;
use thematic_report::agreement_table;

use crate::outcome::{count, say, Diagnostics, Outcome};

pub fn run(dir: &Path, coders: &[String], unit: Unit) -> Result<Outcome> {
    let [first, second] = coders else {
        bail!("--coders names two coders, as `--coders dictionary,hedging`");
    };
    let mut diagnostics = Diagnostics::default();
    let mut session = Session::new(dir)?;
    let analysed = look(&mut session, &mut diagnostics)?;
    let (study, store) = session.study_and_existing_store()?;
    let served = Served::new(study, store, &analysed);
    let transcripts = &analysed.analysis.transcripts;
    let cache = &mut AgreementCache::default();
    let agreement = compare(
        study,
        &served,
        transcripts,
        (first, second),
        unit,
        cache,
        &mut diagnostics,
    )?;
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
