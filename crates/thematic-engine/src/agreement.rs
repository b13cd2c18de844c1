//! How far two coders (coding stages) of a study agree, code by code.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Result};
use thematic_model::{CoderAgreement, Unit};
use thematic_pipeline::{code_transcript, decisions, CodingStage, Decisions};

use crate::analyse::read_transcripts;
use crate::diagnostics::Diagnostics;
use crate::study::Study;

/// Codes every transcript both coders decide on (a person, those they
/// coded) with both and compares them, code by code, over the units both
/// look at: segments in roles both code. The pooled figures take the codes
/// both coders may apply.
pub fn compare(
    study: &Study,
    first: &str,
    second: &str,
    unit: Unit,
    diagnostics: &mut Diagnostics,
) -> Result<CoderAgreement> {
    let stage = |name: &str| -> Result<&CodingStage> {
        match study.stages.coding.iter().find(|s| s.name == name) {
            Some(stage) => Ok(stage),
            None => bail!(
                "no coding stage `{name}` in {} (its coding stages: {})",
                study.plan.root.display(),
                study
                    .stages
                    .coding
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    };
    let (first, second) = (stage(first)?, stage(second)?);
    let transcripts = read_transcripts(&study.plan, diagnostics);
    // Each coder's codes; `None` for a strategy bound to no codebook, which may apply any.
    let known = [first.strategy.known_codes(), second.strategy.known_codes()];
    let mut codes: BTreeSet<String> = known.iter().flatten().flatten().cloned().collect();
    let may_apply = |code: &str| {
        known
            .iter()
            .all(|coder| coder.as_ref().is_none_or(|codes| codes.iter().any(|k| k == code)))
    };
    let mut coded = Vec::new();
    let both_decide = |id: &str| first.strategy.covers(id) && second.strategy.covers(id);
    for transcript in transcripts.iter().filter(|t| both_decide(&t.id)) {
        let seen = study.plan.annotations.blanked(transcript);
        let seen = seen.as_ref().unwrap_or(transcript);
        match (code_transcript(first, seen), code_transcript(second, seen)) {
            (Ok(a), Ok(b)) => {
                codes.extend(a.iter().chain(&b).map(|c| c.code.clone()));
                coded.push((transcript, a, b));
            }
            (Err(e), _) | (_, Err(e)) => diagnostics.fail(format!("{}: {e}", transcript.id)),
        }
    }
    let codes: Vec<String> = codes.into_iter().collect();
    let mut table: BTreeMap<String, Decisions> = BTreeMap::new();
    for (transcript, a, b) in &coded {
        let units: Vec<_> = transcript
            .segments
            .iter()
            .filter(|s| first.roles.contains(&s.role) && second.roles.contains(&s.role))
            .collect();
        for (code, decided) in decisions(unit, &units, a, b, &codes) {
            table.entry(code).or_default().merge(decided);
        }
    }
    let mut pooled = Decisions::default();
    for (code, decided) in &table {
        if may_apply(code) {
            pooled.merge(*decided);
        }
    }
    Ok(CoderAgreement {
        first: first.name.clone(),
        second: second.name.clone(),
        unit,
        transcripts: coded.len(),
        codes: table.into_iter().map(|(code, d)| (code, d.agreement())).collect(),
        pooled: pooled.agreement(),
    })
}
