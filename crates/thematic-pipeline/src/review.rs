use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};

use thematic_model::{CandidateTheme, Extract, ReviewedTheme, TranscriptDigest};

use crate::StrategyError;

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
    let nodes = Nodes::of(candidates);
    let mut in_order: Vec<&TranscriptDigest> = transcripts.iter().collect();
    in_order.sort_by(|a, b| a.id.cmp(&b.id));
    let tallies = tally_on_every_core(&nodes, &in_order, participants, rule.extracts);
    let mut reviewed = nodes
        .codes
        .iter()
        .zip(tallies)
        .map(|(codes, tally)| Reviewed { codes, tally });
    assemble(candidates, &mut reviewed, &in_order, participants, rule, said)
}

/// Every theme and sub-theme, in preorder, with the codes it covers (its
/// sub-themes' included) in name order, and which of them carry each code.
struct Nodes<'c> {
    codes: Vec<Vec<&'c str>>,
    of_code: HashMap<&'c str, Vec<u32>>,
}

impl<'c> Nodes<'c> {
    fn of(candidates: &'c [CandidateTheme]) -> Nodes<'c> {
        fn walk<'c>(themes: &'c [CandidateTheme], codes: &mut Vec<Vec<&'c str>>) {
            for theme in themes {
                codes.push(theme.all_codes().into_iter().collect());
                walk(&theme.subthemes, codes);
            }
        }
        let mut codes = Vec::new();
        walk(candidates, &mut codes);
        let mut of_code: HashMap<&str, Vec<u32>> = HashMap::new();
        for (node, theirs) in codes.iter().enumerate() {
            for &code in theirs {
                of_code.entry(code).or_default().push(node as u32);
            }
        }
        Nodes { codes, of_code }
    }
}

/// A segment carrying a theme, as extracts are chosen: most of the theme's
/// codes first, then the earliest (by transcript id, then turn). Sorting
/// puts the better first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Rank {
    codes: Reverse<u32>,
    place: u32,
    turn: u32,
}

/// What one theme's review needs of the coding, gathered in one sweep over
/// the transcripts: each participant's carrying segments, counted, and each
/// participant rank's best segments (at most as many as extracts are wanted).
struct Tally<'a> {
    /// Segments of each of the study's participants, by rank (their place among them).
    of_participants: Vec<usize>,
    /// Segments of speakers who are not among the study's participants, by name.
    of_others: HashMap<&'a str, usize>,
    /// By participant rank (the study's participants in order, then every
    /// other speaker together): the best segments, the worst on top.
    best: Vec<BinaryHeap<(Rank, &'a str)>>,
}

impl<'a> Tally<'a> {
    fn new(participants: usize) -> Tally<'a> {
        Tally {
            of_participants: vec![0; participants],
            of_others: HashMap::new(),
            best: (0..=participants).map(|_| BinaryHeap::new()).collect(),
        }
    }

    fn add(&mut self, (participant, rank): (&'a str, usize), segment: Rank, keep: usize) {
        match self.of_participants.get_mut(rank) {
            Some(count) => *count += 1,
            None => *self.of_others.entry(participant).or_default() += 1,
        }
        Tally::keep_best(&mut self.best[rank], (segment, participant), keep);
    }

    /// Puts `candidate` among `best` if it is one of the `keep` best.
    fn keep_best(best: &mut BinaryHeap<(Rank, &'a str)>, candidate: (Rank, &'a str), keep: usize) {
        // Most segments are no better than the worst kept: looked at, not stored.
        if best.len() == keep && best.peek().is_none_or(|worst| candidate >= *worst) {
            return;
        }
        best.push(candidate);
        if best.len() > keep {
            best.pop();
        }
    }

    /// Adds another share of the transcripts' tally to this one.
    fn merge(&mut self, other: Tally<'a>, keep: usize) {
        for (count, theirs) in self.of_participants.iter_mut().zip(other.of_participants) {
            *count += theirs;
        }
        for (participant, theirs) in other.of_others {
            *self.of_others.entry(participant).or_default() += theirs;
        }
        for (best, theirs) in self.best.iter_mut().zip(other.best) {
            for candidate in theirs {
                Tally::keep_best(best, candidate, keep);
            }
        }
    }

    fn segments_per_participant(&self, participants: &[&str]) -> BTreeMap<String, usize> {
        let of_participants = participants.iter().zip(&self.of_participants).filter(|(_, &n)| n > 0);
        of_participants
            .map(|(p, &n)| (p.to_string(), n))
            .chain(self.of_others.iter().map(|(p, &n)| (p.to_string(), n)))
            .collect()
    }
}

/// [`tally`] on every core, each over a share of the transcripts, the
/// shares' tallies then added up.
fn tally_on_every_core<'a>(
    nodes: &Nodes,
    in_order: &[&'a TranscriptDigest],
    participants: &[&'a str],
    keep: usize,
) -> Vec<Tally<'a>> {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let share = in_order.len().div_ceil(workers).max(1);
    let shares: Vec<Vec<Tally>> = std::thread::scope(|scope| {
        let tallying: Vec<_> = in_order
            .chunks(share)
            .enumerate()
            .map(|(i, transcripts)| scope.spawn(move || tally(nodes, transcripts, i * share, participants, keep)))
            .collect();
        tallying
            .into_iter()
            .map(|worker| worker.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)))
            .collect()
    });
    let mut tallies: Vec<Tally> = (0..nodes.codes.len()).map(|_| Tally::new(participants.len())).collect();
    for share in shares {
        for (tally, theirs) in tallies.iter_mut().zip(share) {
            tally.merge(theirs, keep);
        }
    }
    tallies
}

/// Counts, for every theme, the segments carrying it, transcript by
/// transcript (in id order): each (code, turn) of a transcript is looked at
/// once, however many themes hold the code.
fn tally<'a>(
    nodes: &Nodes,
    in_order: &[&'a TranscriptDigest],
    first_place: usize,
    participants: &[&'a str],
    keep: usize,
) -> Vec<Tally<'a>> {
    let ranks: HashMap<&str, usize> = participants.iter().enumerate().map(|(rank, &p)| (p, rank)).collect();
    let mut tallies: Vec<Tally> = (0..nodes.codes.len()).map(|_| Tally::new(participants.len())).collect();
    // How many of a theme's codes each turn carries, and the turns touched, by theme.
    let mut counts: Vec<u32> = Vec::new();
    let mut touched: Vec<Vec<usize>> = vec![Vec::new(); nodes.codes.len()];
    for (place, transcript) in in_order.iter().enumerate() {
        let turns = transcript.turns.len();
        counts.resize(turns * nodes.codes.len(), 0);
        let themes_of: Vec<&[u32]> = transcript
            .codes
            .iter()
            .map(|code| nodes.of_code.get(code.as_str()).map_or(&[][..], Vec::as_slice))
            .collect();
        for &(code, turn) in &transcript.coded {
            let themes = themes_of[code as usize];
            let Some(at) = transcript
                .turn_place(turn)
                .filter(|&at| transcript.turns[at].1.is_some())
            else {
                continue;
            };
            for &node in themes {
                let count = &mut counts[node as usize * turns + at];
                if *count == 0 {
                    touched[node as usize].push(at);
                }
                *count += 1;
            }
        }
        let speakers: Vec<(&str, usize)> = transcript
            .speakers
            .iter()
            .map(|p| (p.as_str(), ranks.get(p.as_str()).copied().unwrap_or(participants.len())))
            .collect();
        for (node, (tally, turns_touched)) in tallies.iter_mut().zip(&mut touched).enumerate() {
            for at in turns_touched.drain(..) {
                let count = std::mem::take(&mut counts[node * turns + at]);
                let (turn, speaker) = transcript.turns[at];
                let speaker = speakers[speaker.expect("only participants' turns are counted") as usize];
                let segment = Rank {
                    codes: Reverse(count),
                    place: (first_place + place) as u32,
                    turn,
                };
                tally.add(speaker, segment, keep);
            }
        }
    }
    tallies
}

/// A theme's codes and its tally, in the preorder of [`Nodes`].
struct Reviewed<'c, 'a> {
    codes: &'c [&'c str],
    tally: Tally<'a>,
}

/// The reviewed themes, in the candidates' shape, from their tallies in preorder.
fn assemble<'c, 'a: 'c>(
    candidates: &[CandidateTheme],
    reviewed: &mut impl Iterator<Item = Reviewed<'c, 'a>>,
    in_order: &[&TranscriptDigest],
    participants: &[&str],
    rule: ReviewRule,
    said: &mut dyn FnMut(&str, u32) -> String,
) -> Vec<ReviewedTheme> {
    candidates
        .iter()
        .map(|candidate| {
            let Reviewed { codes, tally } = reviewed.next().expect("one tally per theme");
            let mut theme = review(candidate, codes, tally, in_order, participants, rule, said);
            theme.subthemes = assemble(&candidate.subthemes, reviewed, in_order, participants, rule, said);
            theme
        })
        .collect()
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

/// One theme reviewed from its tally (its sub-themes are added by the caller).
fn review(
    candidate: &CandidateTheme,
    codes: &[&str],
    tally: Tally,
    in_order: &[&TranscriptDigest],
    participants: &[&str],
    rule: ReviewRule,
    said: &mut dyn FnMut(&str, u32) -> String,
) -> ReviewedTheme {
    let segments_per_participant = tally.segments_per_participant(participants);
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
    let extracts = match discarded {
        None => choose_extracts(tally.best, codes, in_order, rule.extracts, said),
        Some(_) => Vec::new(),
    };
    ReviewedTheme {
        id: candidate.id.clone(),
        name: candidate.name.clone(),
        codes: candidate.codes.clone(),
        covered,
        segments_per_participant,
        discarded,
        extracts,
        subthemes: Vec::new(),
    }
}

/// Extracts taken in turn from each participant (in participant order), each
/// participant's best first (see [`Rank`]). The same data always gives the
/// same extracts.
fn choose_extracts(
    best: Vec<BinaryHeap<(Rank, &str)>>,
    codes: &[&str],
    in_order: &[&TranscriptDigest],
    wanted: usize,
    said: &mut dyn FnMut(&str, u32) -> String,
) -> Vec<Extract> {
    let mut queues: Vec<_> = best
        .into_iter()
        .filter(|heap| !heap.is_empty())
        .map(|heap| heap.into_sorted_vec().into_iter())
        .collect();
    let mut extracts = Vec::new();
    while extracts.len() < wanted {
        let before = extracts.len();
        for queue in &mut queues {
            if extracts.len() == wanted {
                break;
            }
            if let Some((segment, participant)) = queue.next() {
                let transcript = in_order[segment.place as usize];
                extracts.push(Extract {
                    transcript: transcript.id.clone(),
                    turn: segment.turn,
                    participant: Some(participant.to_string()),
                    codes: codes_on(transcript, segment.turn, codes),
                    text: said(&transcript.id, segment.turn),
                    why: Vec::new(),
                });
            }
        }
        if extracts.len() == before {
            break;
        }
    }
    extracts
}

/// Which of `codes` (in name order) `transcript` has on `turn`, in name order.
fn codes_on(transcript: &TranscriptDigest, turn: u32, codes: &[&str]) -> Vec<String> {
    // A transcript's codes are in name order, and its (code, turn) pairs sorted.
    transcript
        .coded
        .iter()
        .filter(|&&(_, t)| t == turn)
        .map(|&(code, _)| transcript.codes[code as usize].as_str())
        .filter(|code| codes.binary_search(code).is_ok())
        .map(str::to_string)
        .collect()
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

    /// The (transcript, turn) of each extract a theme quotes, in order.
    fn picked(theme: &ReviewedTheme) -> Vec<(&str, u32)> {
        theme.extracts.iter().map(|e| (e.transcript.as_str(), e.turn)).collect()
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
        let picked = picked(&themes[0]);
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
    fn a_participant_with_more_segments_than_extracts_gives_their_best() {
        let codings = vec![
            coding("a.txt", 2, "x"),
            coding("a.txt", 4, "x"),
            coding("a.txt", 6, "x"),
            coding("a.txt", 6, "y"),
            coding("b.txt", 2, "y"),
        ];
        let candidates = [theme("T", &["x", "y"], vec![])];
        let rule = ReviewRule {
            min_participants: 1,
            extracts: 2,
        };
        let themes = reviewed(&candidates, &codings, &["P1", "P2"], rule);
        let picked = picked(&themes[0]);
        assert_eq!(
            picked,
            [("a.txt", 6), ("b.txt", 2)],
            "P1's segment with both codes, then P2's"
        );
        assert_eq!(
            themes[0].segments_per_participant["P1"], 3,
            "every segment counted, not only those kept"
        );
        let one = ReviewRule { extracts: 1, ..rule };
        let themes = reviewed(&candidates, &codings, &["P2", "P1"], one);
        assert_eq!(
            themes[0].extracts[0].transcript, "b.txt",
            "the first participant in the study's order"
        );
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
