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
/// either coder, changed; and their sums, kept as transcripts come and go.
#[derive(Default)]
pub struct AgreementCache {
    kept: HashMap<(String, String, Unit), Kept>,
}

#[derive(Default)]
struct Kept {
    decided: ByTranscript,
    totals: Totals,
}

/// Decisions by transcript id, with what they were made from (the text's
/// content hash and both coders' fingerprints).
type ByTranscript = HashMap<String, (String, TranscriptDecisions)>;

/// Every code's decisions summed over the transcripts decided so far.
#[derive(Default)]
struct Totals {
    /// Units of every transcript.
    units: u64,
    /// By code applied: its decisions where it was applied, those
    /// transcripts' units, and how many transcripts applied it.
    applied: HashMap<String, (Decisions, u64, u64)>,
}

impl Totals {
    fn add(&mut self, decisions: &TranscriptDecisions) {
        self.units += decisions.units;
        for (code, on) in &decisions.applied {
            let (sum, over, transcripts) = self.applied.entry(code.clone()).or_default();
            sum.merge(*on);
            *over += decisions.units;
            *transcripts += 1;
        }
    }

    /// Takes back what [`Totals::add`] added for `decisions`.
    fn remove(&mut self, decisions: &TranscriptDecisions) {
        self.units -= decisions.units;
        for (code, on) in &decisions.applied {
            if let Some((sum, over, transcripts)) = self.applied.get_mut(code) {
                sum.take_back(*on);
                *over -= decisions.units;
                *transcripts -= 1;
                if *transcripts == 0 {
                    self.applied.remove(code);
                }
            }
        }
    }

    /// Each code's decisions, for the `known` codes and every code applied:
    /// where a transcript's coders did not apply a code, every unit of it is
    /// one neither coded.
    fn per_code<'d>(&'d self, known: impl Iterator<Item = &'d str>) -> BTreeMap<String, Decisions> {
        let codes: HashSet<&str> = known.chain(self.applied.keys().map(String::as_str)).collect();
        codes
            .into_iter()
            .map(|code| {
                let (mut on_code, over, _) = self.applied.get(code).copied().unwrap_or_default();
                on_code.neither += self.units - over;
                (code.to_string(), on_code)
            })
            .collect()
    }
}

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
    let Kept {
        decided: mut kept,
        mut totals,
    } = cache
        .kept
        .remove(&(first.name.clone(), second.name.clone(), unit))
        .unwrap_or_default();
    let mut decided: ByTranscript = HashMap::new();
    let both_decide = |id: &str| first.strategy.covers(id) && second.strategy.covers(id);
    for digest in transcripts.iter().filter(|t| both_decide(&t.id)) {
        let key = format!("{}\n{}\n{}", digest.content_hash, first.fingerprint, second.fingerprint);
        match kept.remove(&digest.id) {
            Some((kept_key, still)) if kept_key == key => {
                decided.insert(digest.id.clone(), (key, still));
                continue;
            }
            Some((_, stale)) => totals.remove(&stale),
            None => {}
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
                totals.add(&decisions);
                decided.insert(digest.id.clone(), (key, decisions));
            }
            Err(e) => diagnostics.fail(e),
        }
    }
    // Transcripts gone from the study, or no longer decided by both.
    kept.values().for_each(|(_, gone)| totals.remove(gone));
    // Each coder's codes; `None` for a strategy bound to no codebook, which may apply any.
    let known = [first.strategy.known_codes(), second.strategy.known_codes()];
    let may_apply = |code: &str| {
        known
            .iter()
            .all(|coder| coder.as_ref().is_none_or(|codes| codes.iter().any(|k| k == code)))
    };
    let known_codes = known.iter().flatten().flatten().map(String::as_str);
    let table = totals.per_code(known_codes);
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
    cache.kept.insert(
        (first.name.clone(), second.name.clone(), unit),
        Kept { decided, totals },
    );
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
        let mut totals = Totals::default();
        transcripts.iter().for_each(|t| totals.add(t));
        let table = totals.per_code(["unused", "calm"].into_iter());
        assert_eq!(table.keys().collect::<Vec<_>>(), codes.iter().collect::<Vec<_>>());
        for code in &codes {
            let mut asked = Decisions::default();
            transcripts.iter().for_each(|t| asked.merge(t.on(code)));
            assert_eq!(table[code], asked, "{code}");
        }
        assert_eq!(table["calm"], decisions(1, 0, 0, 19));
        assert_eq!(table["unused"], decisions(0, 0, 0, 20));
        // A transcript that changed or left is taken back, leaving its codes only where others apply them.
        let gone = TranscriptDecisions {
            units: 5,
            applied: [("left".to_string(), decisions(1, 1, 1, 2))].into(),
        };
        totals.add(&gone);
        assert_eq!(
            totals.per_code(["unused", "calm"].into_iter())["left"],
            decisions(1, 1, 1, 22)
        );
        totals.remove(&gone);
        totals.remove(&transcripts[1]);
        let table = totals.per_code(["unused", "calm"].into_iter());
        assert_eq!(table.keys().collect::<Vec<_>>(), ["calm", "trust", "unused"]);
        assert_eq!(table["trust"], decisions(2, 1, 0, 13));
        assert_eq!(table["calm"], decisions(0, 0, 0, 16));
    }
}
