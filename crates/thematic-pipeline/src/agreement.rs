//! How far two coders agree: for each code, over the same units (segments,
//! or characters), whether each coder applied it. Percent agreement,
//! Cohen's kappa and Krippendorff's alpha (nominal, two coders, no missing
//! values), per code and over all codes pooled.

use std::collections::{BTreeMap, HashMap};

use thematic_model::{Agreement, Coding, Segment, Span, Unit};

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

    pub fn units(&self) -> u64 {
        self.both + self.first_only + self.second_only + self.neither
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

/// Per code, two coders' decisions over `segments` of one transcript: for a
/// segment, whether each coded it; for a character, whether it lies in one
/// of the coder's spans for the code (a coding without spans covers its
/// whole segment).
pub fn decisions(
    unit: Unit,
    segments: &[&Segment],
    first: &[Coding],
    second: &[Coding],
    codes: &[String],
) -> BTreeMap<String, Decisions> {
    let mut table: BTreeMap<String, Decisions> = codes.iter().map(|c| (c.clone(), Decisions::default())).collect();
    // Each coder's codings by turn and code, looked up once per segment and code.
    let (first, second) = (by_turn_and_code(first), by_turn_and_code(second));
    for segment in segments {
        let on = |index: &HashMap<(u32, &str), Vec<&Coding>>, code: &str| -> Vec<Span> {
            index
                .get(&(segment.turn, code))
                .into_iter()
                .flatten()
                .flat_map(|c| match c.spans.is_empty() {
                    true => vec![Span {
                        start: segment.start,
                        end: segment.end,
                    }],
                    false => c.spans.clone(),
                })
                .collect()
        };
        for (code, decided) in table.iter_mut() {
            let (a, b) = (on(&first, code), on(&second, code));
            match unit {
                Unit::Segment => decided.add(!a.is_empty(), !b.is_empty()),
                Unit::Character => {
                    let covered = |spans: &[Span], at: usize| spans.iter().any(|s| s.start <= at && at < s.end);
                    for at in segment.start..segment.end {
                        decided.add(covered(&a, at), covered(&b, at));
                    }
                }
            }
        }
    }
    table
}

fn by_turn_and_code(codings: &[Coding]) -> HashMap<(u32, &str), Vec<&Coding>> {
    let mut index: HashMap<(u32, &str), Vec<&Coding>> = HashMap::new();
    for coding in codings {
        index
            .entry((coding.turn, coding.code.as_str()))
            .or_default()
            .push(coding);
    }
    index
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
            spans: spans.into_iter().map(|(start, end)| Span { start, end }).collect(),
            confidence: None,
            memo: None,
        };
        let (one, two) = (segment(1, 0, 10), segment(2, 10, 20));
        let segments = [&one, &two];
        let first = [coding(1, vec![(0, 4)])];
        let second = [coding(1, vec![(2, 6)]), coding(2, vec![])];
        let codes = ["trust".to_string()];
        let by_segment = decisions(Unit::Segment, &segments, &first, &second, &codes);
        assert_eq!(by_segment["trust"], table(1, 0, 1, 0));
        // Characters 0-1 first only, 2-3 both, 4-5 second only, 6-9 neither; turn 2 all second only.
        let by_character = decisions(Unit::Character, &segments, &first, &second, &codes);
        assert_eq!(by_character["trust"], table(2, 2, 12, 4));
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
