//! How far two coders (coding stages) of a study agree, code by code.

use std::collections::{BTreeMap, HashMap, HashSet};

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
    let known_codes = known.iter().flatten().flatten().map(String::as_str);
    let table = per_code(known_codes, decided.values().map(|(_, d)| d));
    let mut pooled = Decisions::default();
    for (code, on_code) in &table {
        if may_apply(code) {
            pooled.merge(*on_code);
        }
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

/// Each code's decisions summed over the transcripts, for the `known`
/// codes and every code applied: where a transcript's coders did not apply a
/// code, every unit of it is one neither coded.
fn per_code<'d>(
    known: impl Iterator<Item = &'d str>,
    transcripts: impl Iterator<Item = &'d TranscriptDecisions>,
) -> BTreeMap<String, Decisions> {
    let mut units = 0;
    // Each code's decisions where it was applied, and those transcripts' units.
    let mut sums: HashMap<&str, (Decisions, u64)> = HashMap::new();
    for decisions in transcripts {
        units += decisions.units;
        for (code, on) in &decisions.applied {
            let (sum, over) = sums.entry(code).or_default();
            sum.merge(*on);
            *over += decisions.units;
        }
    }
    let codes: HashSet<&str> = known.chain(sums.keys().copied()).collect();
    codes
        .into_iter()
        .map(|code| {
            let (mut on_code, over) = sums.get(code).copied().unwrap_or_default();
            on_code.neither += units - over;
            (code.to_string(), on_code)
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn decisions(both: u64, first_only: u64, second_only: u64, neither: u64) -> Decisions {
        Decisions {
            both,
            first_only,
            second_only,
            neither,
        }
    }

    #[test]
    fn each_codes_sums_are_the_transcripts_decisions_on_it_added_up() {
        let transcripts = [
            TranscriptDecisions {
                units: 10,
                applied: [("trust".to_string(), decisions(2, 1, 0, 7))].into(),
            },
            TranscriptDecisions {
                units: 4,
                applied: [
                    ("trust".to_string(), decisions(0, 0, 1, 3)),
                    ("calm".to_string(), decisions(1, 0, 0, 3)),
                ]
                .into(),
            },
            TranscriptDecisions {
                units: 6,
                applied: BTreeMap::new(),
            },
        ];
        let codes: BTreeSet<String> = ["calm", "trust", "unused"].map(String::from).into();
        let table = per_code(["unused", "calm"].into_iter(), transcripts.iter());
        assert_eq!(table.keys().collect::<Vec<_>>(), codes.iter().collect::<Vec<_>>());
        for code in &codes {
            let mut asked = Decisions::default();
            transcripts.iter().for_each(|t| asked.merge(t.on(code)));
            assert_eq!(table[code], asked, "{code}");
        }
        assert_eq!(table["calm"], decisions(1, 0, 0, 19));
        assert_eq!(table["unused"], decisions(0, 0, 0, 20));
    }
}
