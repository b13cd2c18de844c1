//! How far two coders (coding stages) of a study agree, code by code.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::{bail, Result};
use thematic_model::{CoderAgreement, TranscriptDigest, Unit};
use thematic_pipeline::{transcript_decisions, CodingStage, Decisions, TranscriptDecisions};

use crate::diagnostics::Diagnostics;
use crate::served::Served;
use crate::study::Study;

/// Decisions kept between the passes of a session, for each pair of coders
/// and unit, by transcript: made again only for a transcript whose text, or
/// either coder, changed.
#[derive(Default)]
pub struct AgreementCache {
    kept: HashMap<(String, String, Unit), ByTranscript>,
}

/// Decisions by transcript id, with what they were made from (the text's
/// content hash and both coders' fingerprints).
type ByTranscript = HashMap<String, (String, TranscriptDecisions)>;

/// Compares two coders over every transcript of the pass both decide on (a
/// person, those they coded), code by code, over the units both look at:
/// segments in roles both code. Codings come from the pass, the store, or
/// are made now (see [`Served`]); a transcript's decisions are `cache`d for
/// the next pass. The pooled figures take the codes both coders may apply.
pub fn compare(
    study: &Study,
    served: &Served,
    transcripts: &[TranscriptDigest],
    (first, second): (&str, &str),
    unit: Unit,
    cache: &mut AgreementCache,
    diagnostics: &mut Diagnostics,
) -> Result<CoderAgreement> {
    let (first, second) = (coding_stage(study, first)?, coding_stage(study, second)?);
    let mut kept = cache
        .kept
        .remove(&(first.name.clone(), second.name.clone(), unit))
        .unwrap_or_default();
    let mut decided: ByTranscript = HashMap::new();
    let both_decide = |id: &str| first.strategy.covers(id) && second.strategy.covers(id);
    for digest in transcripts.iter().filter(|t| both_decide(&t.id)) {
        let key = format!("{}\n{}\n{}", digest.content_hash, first.fingerprint, second.fingerprint);
        if let Some(still) = kept.remove(&digest.id).filter(|(kept_key, _)| *kept_key == key) {
            decided.insert(digest.id.clone(), still);
            continue;
        }
        let made = served.transcript(&digest.id).and_then(|transcript| {
            let a = served.codings(&transcript, first)?;
            let b = served.codings(&transcript, second)?;
            let units: Vec<_> = transcript
                .segments
                .iter()
                .filter(|s| first.roles.contains(&s.role) && second.roles.contains(&s.role))
                .collect();
            Ok(transcript_decisions(unit, &units, &a, &b))
        });
        match made {
            Ok(decisions) => {
                decided.insert(digest.id.clone(), (key, decisions));
            }
            Err(e) => diagnostics.fail(e),
        }
    }
    // Each coder's codes; `None` for a strategy bound to no codebook, which may apply any.
    let known = [first.strategy.known_codes(), second.strategy.known_codes()];
    let may_apply = |code: &str| {
        known
            .iter()
            .all(|coder| coder.as_ref().is_none_or(|codes| codes.iter().any(|k| k == code)))
    };
    let codes: BTreeSet<String> = known
        .iter()
        .flatten()
        .flatten()
        .cloned()
        .chain(decided.values().flat_map(|(_, d)| d.applied.keys().cloned()))
        .collect();
    let mut table: BTreeMap<String, Decisions> = BTreeMap::new();
    let mut pooled = Decisions::default();
    for code in codes {
        let mut on_code = Decisions::default();
        for (_, decisions) in decided.values() {
            on_code.merge(decisions.on(&code));
        }
        if may_apply(&code) {
            pooled.merge(on_code);
        }
        table.insert(code, on_code);
    }
    let agreement = CoderAgreement {
        first: first.name.clone(),
        second: second.name.clone(),
        unit,
        transcripts: decided.len(),
        codes: table.into_iter().map(|(code, d)| (code, d.agreement())).collect(),
        pooled: pooled.agreement(),
    };
    cache
        .kept
        .insert((first.name.clone(), second.name.clone(), unit), decided);
    Ok(agreement)
}

fn coding_stage<'a>(study: &'a Study, name: &str) -> Result<&'a CodingStage> {
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
}
