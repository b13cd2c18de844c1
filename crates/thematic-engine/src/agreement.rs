//! How far two coders (coding stages) of a study agree, code by code.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Result};
use thematic_model::{CoderAgreement, TranscriptDigest, Unit};
use thematic_pipeline::{decisions, CodingStage, Decisions};

use crate::diagnostics::Diagnostics;
use crate::served::Served;
use crate::study::Study;

/// Compares two coders over every transcript of the pass both decide on (a
/// person, those they coded), code by code, over the units both look at:
/// segments in roles both code. Codings come from the pass, the store, or
/// are made now (see [`Served`]). The pooled figures take the codes both
/// coders may apply.
pub fn compare(
    study: &Study,
    served: &Served,
    transcripts: &[TranscriptDigest],
    (first, second): (&str, &str),
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
    for digest in transcripts.iter().filter(|t| both_decide(&t.id)) {
        let both = served.transcript(&digest.id).and_then(|transcript| {
            let a = served.codings(&transcript, first)?;
            let b = served.codings(&transcript, second)?;
            Ok((transcript, a, b))
        });
        match both {
            Ok((transcript, a, b)) => {
                codes.extend(a.iter().chain(&b).map(|c| c.code.clone()));
                coded.push((transcript, a, b));
            }
            Err(e) => diagnostics.fail(e),
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
