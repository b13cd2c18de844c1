//! How far two coders agree: for each code, over the same units (segments,
//! or characters), whether each coder applied it. Percent agreement,
//! Cohen's kappa and Krippendorff's alpha (nominal, two coders, no missing
//! values), per code and over all codes pooled.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use thematic_model::{Agreement, Coding, Segment, Unit};

/// Two coders' decisions on one code: for each unit, whether each applied it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Decisions {
    /// Units both coded.
    pub both: u64,
    /// Units only the first coded.
    pub first_only: u64,
    /// Units only the second coded.
    pub second_only: u64,
    /// Units neither coded.
    pub neither: u64,
}

impl Decisions {
    pub fn add(&mut self, first: bool, second: bool) {
        match (first, second) {
            (true, true) => self.both += 1,
            (true, false) => self.first_only += 1,
            (false, true) => self.second_only += 1,
            (false, false) => self.neither += 1,
        }
    }

    pub fn merge(&mut self, other: Decisions) {
        self.both += other.both;
        self.first_only += other.first_only;
        self.second_only += other.second_only;
        self.neither += other.neither;
    }

    /// Takes back decisions [`Decisions::merge`] added.
    pub fn take_back(&mut self, other: Decisions) {
        self.both -= other.both;
        self.first_only -= other.first_only;
        self.second_only -= other.second_only;
        self.neither -= other.neither;
    }

    pub fn units(&self) -> u64 {
        self.both + self.first_only + self.second_only + self.neither
    }

    /// Of the units the second coder coded, the share the first coded too.
    pub fn precision(&self) -> Option<f64> {
        let coded = self.both + self.second_only;
        (coded > 0).then(|| self.both as f64 / coded as f64)
    }

    /// Of the units the first coder coded, the share the second coded too.
    pub fn recall(&self) -> Option<f64> {
        let coded = self.both + self.first_only;
        (coded > 0).then(|| self.both as f64 / coded as f64)
    }

    pub fn agreement(&self) -> Option<Agreement> {
        let n = self.units() as f64;
        if n == 0.0 {
            return None;
        }
        let agreed = (self.both + self.neither) as f64;
        let disagreed = (self.first_only + self.second_only) as f64;
        let observed = agreed / n;
        // Cohen: chance agreement from each coder's own rate of applying the code.
        let first_yes = (self.both + self.first_only) as f64 / n;
        let second_yes = (self.both + self.second_only) as f64 / n;
        let chance = first_yes * second_yes + (1.0 - first_yes) * (1.0 - second_yes);
        let kappa = (chance < 1.0).then(|| (observed - chance) / (1.0 - chance));
        // Krippendorff: both coders' values pooled (2n pairable values).
        let yes = (2 * self.both + self.first_only + self.second_only) as f64;
        let no = 2.0 * n - yes;
        let alpha = (yes > 0.0 && no > 0.0).then(|| 1.0 - (2.0 * n - 1.0) * disagreed / (yes * no));
        Some(Agreement {
            units: self.units(),
            percent: 100.0 * observed,
            kappa,
            alpha,
        })
    }
}

/// Two coders' decisions over the units of one transcript: how many units
/// there are, and the decisions on each code either coder applied there;
/// on any other code, both coders left every unit uncoded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TranscriptDecisions {
    pub units: u64,
    pub applied: BTreeMap<String, Decisions>,
}

impl TranscriptDecisions {
    /// The decisions on `code`.
    pub fn on(&self, code: &str) -> Decisions {
        self.applied.get(code).copied().unwrap_or(Decisions {
            neither: self.units,
            ..Decisions::default()
        })
    }
}

/// Two coders' decisions over `segments` of one transcript: for a segment,
/// whether each coded it; for a character, whether it lies in one of the
/// coder's spans for the code (a coding without spans covers its whole
/// segment). Only the codes a coder applied on a segment are looked at there.
pub fn transcript_decisions(
    unit: Unit,
    segments: &[&Segment],
    first: &[Coding],
    second: &[Coding],
) -> TranscriptDecisions {
    let (first, second) = (by_turn(first), by_turn(second));
    let mut decided = TranscriptDecisions::default();
    for segment in segments {
        let length = (segment.end - segment.start) as u64;
        decided.units += match unit {
            Unit::Segment => 1,
            Unit::Character => length,
        };
        let (a, b) = (
            covered(first.get(&segment.turn), segment),
            covered(second.get(&segment.turn), segment),
        );
        let codes: BTreeSet<&str> = a.keys().chain(b.keys()).copied().collect();
        for code in codes {
            let (a, b) = (a.get(code), b.get(code));
            let on_segment = match unit {
                Unit::Segment => {
                    let mut one = Decisions::default();
                    one.add(a.is_some(), b.is_some());
                    one
                }
                Unit::Character => {
                    let (a, b) = (a.map_or(&[][..], Vec::as_slice), b.map_or(&[][..], Vec::as_slice));
                    let (in_a, in_b, both) = (length_of(a), length_of(b), overlap(a, b));
                    Decisions {
                        both,
                        first_only: in_a - both,
                        second_only: in_b - both,
                        neither: length - (in_a + in_b - both),
                    }
                }
            };
            decided.applied.entry(code.to_string()).or_default().merge(on_segment);
        }
    }
    // A code applied on some segments was applied by neither coder on the rest.
    for on_code in decided.applied.values_mut() {
        on_code.neither += decided.units - on_code.units();
    }
    decided
}

fn by_turn(codings: &[Coding]) -> HashMap<u32, Vec<&Coding>> {
    let mut index: HashMap<u32, Vec<&Coding>> = HashMap::new();
    for coding in codings {
        index.entry(coding.turn).or_default().push(coding);
    }
    index
}

/// What one coder's codings on a segment cover, by code: character ranges
/// inside the segment, sorted and merged (a coding without spans covers the
/// whole segment). A code coded only outside the segment covers nothing in
/// it, but is there.
fn covered<'a>(codings: Option<&Vec<&'a Coding>>, segment: &Segment) -> BTreeMap<&'a str, Vec<(usize, usize)>> {
    let mut by_code: BTreeMap<&str, Vec<(usize, usize)>> = BTreeMap::new();
    for coding in codings.into_iter().flatten() {
        let ranges = by_code.entry(coding.code.as_str()).or_default();
        if coding.spans.is_empty() {
            ranges.push((segment.start, segment.end));
        }
        for span in &coding.spans {
            let (start, end) = (span.start.max(segment.start), span.end.min(segment.end));
            if start < end {
                ranges.push((start, end));
            }
        }
    }
    for ranges in by_code.values_mut() {
        ranges.sort_unstable();
        let mut merged: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
        for &(start, end) in ranges.iter() {
            match merged.last_mut() {
                Some(last) if start <= last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        *ranges = merged;
    }
    by_code
}

fn length_of(ranges: &[(usize, usize)]) -> u64 {
    ranges.iter().map(|(start, end)| (end - start) as u64).sum()
}

/// How many characters two sorted, merged lists of ranges share.
fn overlap(a: &[(usize, usize)], b: &[(usize, usize)]) -> u64 {
    let (mut i, mut j, mut shared) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        let (start, end) = (a[i].0.max(b[j].0), a[i].1.min(b[j].1));
        if start < end {
            shared += (end - start) as u64;
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    shared
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(both: u64, first_only: u64, second_only: u64, neither: u64) -> Decisions {
        Decisions {
            both,
            first_only,
            second_only,
            neither,
        }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn a_table_worked_by_hand() {
        // 10 units: both 4, first only 1, second only 1, neither 4.
        // po = 8/10; each coder says yes 5/10: pe = .25 + .25 = .5; kappa = .3/.5 = .6.
        // alpha: n = 20 values, 10 yes and 10 no, 2 disagreeing units:
        // 1 - 19 * 2 / (10 * 10) = .62.
        let a = table(4, 1, 1, 4).agreement().unwrap();
        assert_eq!(a.units, 10);
        assert!(close(a.percent, 80.0));
        assert!(close(a.kappa.unwrap(), 0.6));
        assert!(close(a.alpha.unwrap(), 0.62));
    }

    #[test]
    fn cohens_kappa_on_a_textbook_table() {
        // The common 2×2 example: 50 units, both yes 20, first only 5,
        // second only 10, both no 15: po = .7, pe = .5·.6 + .5·.4 = .5, kappa = .4.
        let a = table(20, 5, 10, 15).agreement().unwrap();
        assert!(close(a.percent, 70.0));
        assert!(close(a.kappa.unwrap(), 0.4));
        // alpha by the coincidence matrix: 100 values, 55 yes and 45 no, 15 disagreements:
        // 1 - 99 * 15 / (55 * 45) = 0.4.
        assert!(close(a.alpha.unwrap(), 1.0 - 99.0 * 15.0 / (55.0 * 45.0)));
    }

    #[test]
    fn krippendorffs_alpha_on_a_textbook_example() {
        // Krippendorff's binary example (two observers, ten units):
        //   A: 0 1 0 0 0 0 0 0 1 0
        //   B: 1 1 1 0 0 1 0 0 0 0
        // coincidences: o00 = 10, o01 = o10 = 4, o11 = 2; n0 = 14, n1 = 6, n = 20;
        // alpha = 1 - 19 * 4 / (14 * 6) = 0.095.
        let a: [u8; 10] = [0, 1, 0, 0, 0, 0, 0, 0, 1, 0];
        let b: [u8; 10] = [1, 1, 1, 0, 0, 1, 0, 0, 0, 0];
        let mut decisions = Decisions::default();
        for (x, y) in a.iter().zip(&b) {
            decisions.add(*x == 1, *y == 1);
        }
        let alpha = decisions.agreement().unwrap().alpha.unwrap();
        assert!((alpha - 0.095).abs() < 0.0005, "{alpha}");
    }

    #[test]
    fn segments_and_characters_are_units() {
        let segment = |turn: u32, start: usize, end: usize| Segment {
            turn,
            speaker: Some("P1".into()),
            role: "participant".into(),
            participant: Some("P1".into()),
            start,
            end,
            text: "x".repeat(end - start),
            start_ms: None,
            end_ms: None,
        };
        let coding = |turn: u32, spans: Vec<(usize, usize)>| Coding {
            transcript: "t".into(),
            turn,
            code: "trust".into(),
            stage: "s".into(),
            strategy: "s".into(),
            spans: spans
                .into_iter()
                .map(|(start, end)| thematic_model::Span { start, end })
                .collect(),
            confidence: None,
            memo: None,
        };
        let (one, two) = (segment(1, 0, 10), segment(2, 10, 20));
        let segments = [&one, &two];
        let first = [coding(1, vec![(0, 4)])];
        let second = [coding(1, vec![(2, 6)]), coding(2, vec![])];
        let by_segment = transcript_decisions(Unit::Segment, &segments, &first, &second);
        assert_eq!(by_segment.on("trust"), table(1, 0, 1, 0));
        assert_eq!(by_segment.on("calm"), table(0, 0, 0, 2), "a code neither applied");
        // Characters 0-1 first only, 2-3 both, 4-5 second only, 6-9 neither; turn 2 all second only.
        let by_character = transcript_decisions(Unit::Character, &segments, &first, &second);
        assert_eq!(by_character.on("trust"), table(2, 2, 12, 4));
        assert_eq!(by_character.on("calm"), table(0, 0, 0, 20));
        // A code applied on one segment only is neither's on the others; overlapping spans count once.
        let third = segment(3, 20, 30);
        let segments = [&one, &two, &third];
        let first = [coding(3, vec![(20, 25), (22, 27)])];
        let by_character = transcript_decisions(Unit::Character, &segments, &first, &[]);
        assert_eq!(by_character.on("trust"), table(0, 7, 0, 23));
    }

    #[test]
    fn perfect_and_degenerate_tables() {
        let a = table(3, 0, 0, 7).agreement().unwrap();
        assert_eq!((a.percent, a.kappa, a.alpha), (100.0, Some(1.0), Some(1.0)));
        let none_coded = table(0, 0, 0, 5).agreement().unwrap();
        assert_eq!(
            (none_coded.percent, none_coded.kappa, none_coded.alpha),
            (100.0, None, None)
        );
        assert_eq!(Decisions::default().agreement(), None);
    }
}
