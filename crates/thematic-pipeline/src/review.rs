use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use thematic_model::{CandidateTheme, Extract, ReviewedTheme, TranscriptDigest};

use crate::StrategyError;

/// A segment, by its transcript's place in id order and its turn: segments
/// sort as (transcript id, turn) do, without comparing names.
type SegmentKey = (u32, u32);

/// Phase 4's rule and phase 5's quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReviewRule {
    /// A theme covering fewer participants is discarded.
    pub min_participants: usize,
    /// Extracts quoted for each kept theme.
    pub extracts: usize,
}

/// Reviews candidate themes across all the data: which participants each
/// covers (a participant is covered when any of their segments carries one of
/// the theme's codes, sub-themes' codes included), whether it meets the rule,
/// and the extracts that support it. `said(transcript, turn)` gives what was
/// said on a turn chosen as an extract, without its speaker label: texts are
/// looked up only for the few segments quoted.
pub fn review_themes(
    candidates: &[CandidateTheme],
    transcripts: &[TranscriptDigest],
    participants: &[&str],
    rule: ReviewRule,
    said: &mut dyn FnMut(&str, u32) -> String,
) -> Vec<ReviewedTheme> {
    let index = Index::new(transcripts, participants);
    candidates
        .iter()
        .map(|c| review(c, &index, participants, rule, said))
        .collect()
}

/// The coding counted under numbers, once for every theme reviewed.
struct Index<'a> {
    /// Transcripts in id order.
    transcripts: Vec<&'a TranscriptDigest>,
    /// For each transcript (in id order), each speaker's participant: its
    /// name and its rank (its place among the study's participants, or after
    /// them all).
    speakers: Vec<Vec<(&'a str, usize)>>,
    /// Code to the segments carrying it, in order.
    carriers: HashMap<&'a str, Vec<SegmentKey>>,
}

impl<'a> Index<'a> {
    fn new(transcripts: &'a [TranscriptDigest], participants: &[&str]) -> Index<'a> {
        let mut in_order: Vec<&TranscriptDigest> = transcripts.iter().collect();
        in_order.sort_by(|a, b| a.id.cmp(&b.id));
        let ranks: HashMap<&str, usize> = participants.iter().enumerate().map(|(rank, &p)| (p, rank)).collect();
        let speakers = in_order
            .iter()
            .map(|t| {
                let rank = |p: &str| ranks.get(p).copied().unwrap_or(participants.len());
                t.speakers.iter().map(|p| (p.as_str(), rank(p))).collect()
            })
            .collect();
        // Transcripts in order, and each one's turns in order: every code's segments come sorted.
        // A transcript's codes are numbered: each is looked up once per transcript, not per turn.
        let mut carriers: HashMap<&str, Vec<SegmentKey>> = HashMap::new();
        let mut segments_of: Vec<Vec<SegmentKey>> = Vec::new();
        for (place, transcript) in in_order.iter().enumerate() {
            segments_of.resize_with(transcript.codes.len(), Vec::new);
            for &(code, turn) in &transcript.coded {
                segments_of[code as usize].push((place as u32, turn));
            }
            for (code, segments) in transcript.codes.iter().zip(&mut segments_of) {
                if !segments.is_empty() {
                    carriers.entry(code.as_str()).or_default().append(segments);
                }
            }
        }
        Index {
            transcripts: in_order,
            speakers,
            carriers,
        }
    }

    /// The participant who speaks a segment, if any, with their rank.
    fn participant_of(&self, (place, turn): SegmentKey) -> Option<(&'a str, usize)> {
        let speaker = self.transcripts[place as usize].speaker_number(turn)?;
        Some(self.speakers[place as usize][speaker as usize])
    }

    fn transcript_id(&self, (place, _): SegmentKey) -> &'a str {
        &self.transcripts[place as usize].id
    }
}

/// A segment carrying a theme: where it is, who speaks it (name and rank)
/// and the theme's codes on it, in name order.
struct Carrier<'a, 'f> {
    segment: SegmentKey,
    participant: (&'a str, usize),
    /// The segment's entries of [`carried_codes`].
    codes: &'f [(SegmentKey, u32)],
}

/// Checks the candidate themes a strategy proposed before they are reviewed:
/// every theme and sub-theme has an id, used once among them all, so that
/// areas and reports can name it.
pub fn check_candidates(candidates: &[CandidateTheme]) -> Result<(), StrategyError> {
    fn walk<'a>(themes: &'a [CandidateTheme], seen: &mut HashSet<&'a str>) -> Result<(), StrategyError> {
        for theme in themes {
            if theme.id.trim().is_empty() {
                return Err(StrategyError::ThemeWithoutId {
                    name: theme.name.clone(),
                });
            }
            if !seen.insert(&theme.id) {
                return Err(StrategyError::DuplicateThemeId { id: theme.id.clone() });
            }
            walk(&theme.subthemes, seen)?;
        }
        Ok(())
    }
    walk(candidates, &mut HashSet::new())
}

fn review(
    candidate: &CandidateTheme,
    index: &Index,
    participants: &[&str],
    rule: ReviewRule,
    said: &mut dyn FnMut(&str, u32) -> String,
) -> ReviewedTheme {
    let codes: Vec<&str> = candidate.all_codes().into_iter().collect();
    let found = carried_codes(&codes, index);
    let carried = carriers(&found, index);
    // Counted by name without a copy of it per segment, then named in order.
    let mut counted: HashMap<&str, usize> = HashMap::new();
    for carrier in &carried {
        *counted.entry(carrier.participant.0).or_default() += 1;
    }
    let segments_per_participant: BTreeMap<String, usize> =
        counted.into_iter().map(|(p, n)| (p.to_string(), n)).collect();
    let covered: BTreeSet<String> = segments_per_participant.keys().cloned().collect();
    let discarded = if covered.is_empty() {
        Some(format!(
            "no participant's segment carries its codes ({})",
            codes.join(", ")
        ))
    } else if covered.len() < rule.min_participants {
        let listed: Vec<&str> = participants.iter().copied().filter(|p| covered.contains(*p)).collect();
        Some(format!(
            "covers {} of {} participants ({}); the review rule asks for at least {}",
            covered.len(),
            participants.len(),
            listed.join(", "),
            rule.min_participants
        ))
    } else {
        None
    };
    let extracts = if discarded.is_none() {
        choose_extracts(carried, &codes, index, rule.extracts, said)
    } else {
        Vec::new()
    };
    ReviewedTheme {
        id: candidate.id.clone(),
        name: candidate.name.clone(),
        codes: candidate.codes.clone(),
        covered,
        segments_per_participant,
        discarded,
        extracts,
        subthemes: candidate
            .subthemes
            .iter()
            .map(|s| review(s, index, participants, rule, said))
            .collect(),
    }
}

/// Each segment carrying any of `codes` with each code it carries (by its
/// place among `codes`), sorted: a segment's codes come out in name order.
fn carried_codes(codes: &[&str], index: &Index) -> Vec<(SegmentKey, u32)> {
    let mut found: Vec<(SegmentKey, u32)> = codes
        .iter()
        .enumerate()
        .flat_map(|(place, &code)| {
            index
                .carriers
                .get(code)
                .into_iter()
                .flatten()
                .map(move |&segment| (segment, place as u32))
        })
        .collect();
    found.sort_unstable();
    found
}

/// The segments spoken by a participant that carry any of the codes, in order.
fn carriers<'a, 'f>(found: &'f [(SegmentKey, u32)], index: &Index<'a>) -> Vec<Carrier<'a, 'f>> {
    found
        .chunk_by(|a, b| a.0 == b.0)
        .filter_map(|on_segment| {
            let segment = on_segment[0].0;
            Some(Carrier {
                segment,
                participant: index.participant_of(segment)?,
                codes: on_segment,
            })
        })
        .collect()
}

/// Extracts taken in turn from each participant (in participant order), each
/// participant's best first: the segment carrying most of the theme's codes,
/// then the earliest. The same data always gives the same extracts.
fn choose_extracts(
    mut carried: Vec<Carrier>,
    codes: &[&str],
    index: &Index,
    wanted: usize,
    said: &mut dyn FnMut(&str, u32) -> String,
) -> Vec<Extract> {
    // Stable: by participant, then most codes first, and of as many codes the earlier segment first.
    carried.sort_by_key(|c| (c.participant.1, std::cmp::Reverse(c.codes.len())));
    let mut queues: Vec<_> = carried
        .chunk_by(|a, b| a.participant.1 == b.participant.1)
        .map(|candidates| candidates.iter())
        .collect();
    let mut extracts = Vec::new();
    while extracts.len() < wanted {
        let before = extracts.len();
        for queue in &mut queues {
            if extracts.len() == wanted {
                break;
            }
            if let Some(carrier) = queue.next() {
                let (transcript, turn) = (index.transcript_id(carrier.segment), carrier.segment.1);
                extracts.push(Extract {
                    transcript: transcript.to_string(),
                    turn,
                    participant: Some(carrier.participant.0.to_string()),
                    codes: carrier
                        .codes
                        .iter()
                        .map(|&(_, place)| codes[place as usize].to_string())
                        .collect(),
                    text: said(transcript, turn),
                });
            }
        }
        if extracts.len() == before {
            break;
        }
    }
    extracts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::coding;
    use crate::{digest, transcript_from_text, RoleMap};
    use thematic_model::{Coding, Transcript};

    fn transcripts() -> Vec<Transcript> {
        let roles = RoleMap::new(&[("Interviewer".to_string(), "interviewer".to_string())].into());
        let text = |answers: &[&str]| {
            answers
                .iter()
                .map(|a| format!("Interviewer: question\nP: {a}\n"))
                .collect::<String>()
        };
        [
            ("a.txt", "P1", &["one", "two", "three"][..]),
            ("b.txt", "P2", &["four", "five"]),
            ("c.txt", "P3", &["six"]),
        ]
        .iter()
        .map(|(id, participant, answers)| transcript_from_text(id, &text(answers), "h", Some(participant), &roles).0)
        .collect()
    }

    /// Reviews the test transcripts with `codings`, extracts' texts taken from the transcripts.
    fn reviewed(
        candidates: &[CandidateTheme],
        codings: &[Coding],
        participants: &[&str],
        rule: ReviewRule,
    ) -> Vec<ReviewedTheme> {
        let transcripts = transcripts();
        let digests: Vec<_> = transcripts
            .iter()
            .map(|t| {
                let theirs: Vec<Coding> = codings.iter().filter(|c| c.transcript == t.id).cloned().collect();
                digest(t, &theirs)
            })
            .collect();
        let mut said = |id: &str, turn: u32| {
            let transcript = transcripts.iter().find(|t| t.id == id).unwrap();
            let segment = transcript.segments.iter().find(|s| s.turn == turn).unwrap();
            segment.content().to_string()
        };
        review_themes(candidates, &digests, participants, rule, &mut said)
    }

    fn theme(id: &str, codes: &[&str], subthemes: Vec<CandidateTheme>) -> CandidateTheme {
        CandidateTheme {
            id: id.into(),
            name: id.into(),
            codes: codes.iter().map(|c| c.to_string()).collect(),
            subthemes,
        }
    }

    #[test]
    fn coverage_counts_participants_whose_segments_carry_the_codes_including_subthemes() {
        let codings = vec![
            coding("a.txt", 2, "blame"),
            coding("a.txt", 4, "anger"),
            coding("b.txt", 2, "anger"),
            coding("a.txt", 1, "blame"), // an interviewer turn covers nobody
        ];
        let candidates = [theme("T", &["blame"], vec![theme("T.a", &["anger"], vec![])])];
        let rule = ReviewRule {
            min_participants: 2,
            extracts: 5,
        };
        let reviewed = reviewed(&candidates, &codings, &["P1", "P2", "P3"], rule);
        let t = &reviewed[0];
        assert_eq!(t.covered.iter().collect::<Vec<_>>(), ["P1", "P2"]);
        assert_eq!(
            t.segments_per_participant,
            BTreeMap::from([("P1".into(), 2), ("P2".into(), 1)])
        );
        assert_eq!(t.discarded, None);
        assert_eq!(t.subthemes[0].covered.len(), 2);
    }

    #[test]
    fn the_review_rule_discards_with_a_reason() {
        let codings = vec![coding("c.txt", 2, "isolation")];
        let candidates = [theme("T6", &["isolation"], vec![]), theme("T9", &["unused"], vec![])];
        let rule = ReviewRule {
            min_participants: 2,
            extracts: 3,
        };
        let reviewed = reviewed(&candidates, &codings, &["P1", "P2", "P3"], rule);
        assert_eq!(
            reviewed[0].discarded.as_deref(),
            Some("covers 1 of 3 participants (P3); the review rule asks for at least 2")
        );
        assert!(reviewed[0].extracts.is_empty());
        assert_eq!(
            reviewed[1].discarded.as_deref(),
            Some("no participant's segment carries its codes (unused)")
        );
    }

    #[test]
    fn extracts_rotate_over_participants_best_segment_first() {
        let codings = vec![
            coding("a.txt", 2, "x"),
            coding("a.txt", 4, "x"),
            coding("a.txt", 4, "y"),
            coding("a.txt", 6, "x"),
            coding("b.txt", 2, "x"),
            coding("c.txt", 2, "y"),
        ];
        let candidates = [theme("T", &["x", "y"], vec![])];
        let rule = ReviewRule {
            min_participants: 1,
            extracts: 4,
        };
        let themes = reviewed(&candidates, &codings, &["P3", "P1", "P2"], rule);
        let picked: Vec<(&str, u32)> = themes[0]
            .extracts
            .iter()
            .map(|e| (e.transcript.as_str(), e.turn))
            .collect();
        assert_eq!(picked, [("c.txt", 2), ("a.txt", 4), ("b.txt", 2), ("a.txt", 2)]);
        assert_eq!(themes[0].extracts[1].codes, ["x", "y"]);
        assert_eq!(
            themes[0].extracts[1].text, "two",
            "the speaker label is not part of the extract"
        );
        let again = reviewed(&candidates, &codings, &["P3", "P1", "P2"], rule);
        assert_eq!(again, themes, "the same data gives the same extracts");
    }

    #[test]
    fn proposed_themes_need_ids_of_their_own() {
        let nested = vec![theme("T1", &["a"], vec![theme("T2", &["b"], vec![])])];
        assert_eq!(check_candidates(&nested), Ok(()));
        let repeated = vec![theme("T1", &["a"], vec![theme("T1", &["b"], vec![])])];
        assert_eq!(
            check_candidates(&repeated).unwrap_err().to_string(),
            "returned theme id `T1` twice; every theme and sub-theme needs an id of its own"
        );
        let blank = vec![theme(" ", &["a"], vec![])];
        assert!(matches!(
            check_candidates(&blank),
            Err(StrategyError::ThemeWithoutId { .. })
        ));
    }
}
