//! What the Markdown and HTML reports show alike, computed once: the kept
//! themes as rows, participants' attribute columns and groups, headings,
//! extracts cut to length.

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap;

use thematic_model::{Analysis, Memo, MemoAbout, ReviewedTheme, JOURNAL_FILE};

/// Extracts longer than this many characters are cut at a word boundary.
const EXTRACT_LIMIT: usize = 600;

/// Attributes with this many distinct values at most are cross-tabulated;
/// more (ages, free text) would make a column per participant.
const MOST_GROUPS: usize = 10;

/// A kept theme or one of its sub-themes, as a row of a table.
pub struct ThemeRow<'a> {
    /// `1. Name` for a theme, `(I) Name` for a sub-theme.
    pub label: String,
    pub theme: &'a ReviewedTheme,
    pub is_sub: bool,
}

/// The kept themes in order, each followed by its sub-themes.
pub fn kept_rows(analysis: &Analysis) -> Vec<ThemeRow<'_>> {
    let mut rows = Vec::new();
    let kept = analysis.themes.iter().filter(|t| t.discarded.is_none());
    for (number, theme) in kept.enumerate() {
        rows.push(ThemeRow {
            label: format!("{}. {}", number + 1, theme.name),
            theme,
            is_sub: false,
        });
        for (i, sub) in theme.subthemes.iter().enumerate() {
            rows.push(ThemeRow {
                label: format!("({}) {}", roman(i + 1), sub.name),
                theme: sub,
                is_sub: true,
            });
        }
    }
    rows
}

/// The study's memos as the reports place them: a kept theme's (or
/// sub-theme's) beside it, the rest together, each with a heading that says
/// what it is about, the memos on the study first.
pub struct PlacedMemos<'a> {
    pub by_theme: FxHashMap<&'a str, &'a Memo>,
    pub rest: Vec<(String, &'a Memo)>,
}

pub fn placed_memos(analysis: &Analysis) -> PlacedMemos<'_> {
    let shown: BTreeSet<&str> = kept_rows(analysis)
        .iter()
        .filter(|row| row.theme.discarded.is_none())
        .map(|row| row.theme.id.as_str())
        .collect();
    let mut by_theme = FxHashMap::default();
    let mut rest = Vec::new();
    for memo in &analysis.memos {
        match &memo.about {
            MemoAbout::Theme(id) if shown.contains(id.as_str()) => {
                by_theme.insert(id.as_str(), memo);
            }
            about => rest.push((memo_heading(analysis, about, &memo.file), memo)),
        }
    }
    // The journal first, then the study's other memos, codes', themes' and transcripts', each in file order.
    rest.sort_by_key(|(_, memo)| memo_order(memo));
    PlacedMemos { by_theme, rest }
}

fn memo_order(memo: &Memo) -> u8 {
    match &memo.about {
        MemoAbout::Study if memo.file == JOURNAL_FILE => 0,
        MemoAbout::Study => 1,
        MemoAbout::Code(_) => 2,
        MemoAbout::Theme(_) => 3,
        MemoAbout::Transcript(_) => 4,
    }
}

fn memo_heading(analysis: &Analysis, about: &MemoAbout, file: &str) -> String {
    match about {
        MemoAbout::Study if file == JOURNAL_FILE => "The study's journal".to_string(),
        MemoAbout::Study => "On the study".to_string(),
        MemoAbout::Code(id) => match analysis
            .codes
            .iter()
            .find(|c| c.id == *id)
            .and_then(|c| c.name.as_deref())
        {
            Some(name) => format!("On code {id}, {name}"),
            None => format!("On code {id}"),
        },
        MemoAbout::Theme(id) => match analysis.themes.iter().find(|t| t.id == *id) {
            Some(theme) => format!("On theme {id}, {}", theme.name),
            None => format!("On theme {id}"),
        },
        MemoAbout::Transcript(id) => format!("On transcript {id}"),
    }
}

/// A theme's segments and whether it covers them, by participant, looked up
/// by hash: a report asks this of every participant for every theme.
pub fn by_participant(theme: &ReviewedTheme) -> FxHashMap<&str, (usize, bool)> {
    let mut of_participant: FxHashMap<&str, (usize, bool)> = FxHashMap::default();
    for (participant, &segments) in &theme.segments_per_participant {
        of_participant.entry(participant).or_default().0 = segments;
    }
    for participant in &theme.covered {
        of_participant.entry(participant).or_default().1 = true;
    }
    of_participant
}

/// How many of `members` the theme covers: both are sorted, so one walk
/// along the two (a report asks this for every theme, value and attribute).
pub fn covered_among(theme: &ReviewedTheme, members: &BTreeSet<&str>) -> usize {
    let mut covered = theme.covered.iter().map(String::as_str).peekable();
    members
        .iter()
        .filter(|&&member| {
            while covered.next_if(|&c| c < member).is_some() {}
            covered.peek() == Some(&member)
        })
        .count()
}

/// The participants' attributes, in the order the participants file first gives them.
pub fn attribute_columns(analysis: &Analysis) -> Vec<&str> {
    let mut columns: Vec<&str> = Vec::new();
    for p in &analysis.participants {
        for (name, _) in &p.attributes {
            if !columns.contains(&name.as_str()) {
                columns.push(name);
            }
        }
    }
    columns
}

/// For each attribute with two to [`MOST_GROUPS`] values among the
/// participants interviewed: each value and the participants with it.
pub fn attribute_groups(analysis: &Analysis) -> Vec<(&str, BTreeMap<&str, BTreeSet<&str>>)> {
    // Participants with no transcript yet would only lower every share.
    let interviewed: BTreeSet<&str> = analysis
        .transcripts
        .iter()
        .flat_map(|t| t.speakers.iter().map(String::as_str))
        .collect();
    let mut attributes: Vec<(&str, BTreeMap<&str, BTreeSet<&str>>)> = Vec::new();
    for participant in analysis
        .participants
        .iter()
        .filter(|p| interviewed.contains(p.id.as_str()))
    {
        for (name, value) in &participant.attributes {
            if value.is_empty() {
                continue;
            }
            let at = match attributes.iter().position(|(n, _)| n == name) {
                Some(at) => at,
                None => {
                    attributes.push((name, BTreeMap::new()));
                    attributes.len() - 1
                }
            };
            attributes[at].1.entry(value).or_default().insert(&participant.id);
        }
    }
    attributes.retain(|(_, groups)| (2..=MOST_GROUPS).contains(&groups.len()));
    attributes
}

/// `still_in_role` → `Still in role`.
pub fn heading(column: &str) -> String {
    let spaced = column.replace(['_', '-'], " ");
    let mut chars = spaced.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

pub fn roman(n: usize) -> &'static str {
    ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"]
        .get(n - 1)
        .copied()
        .unwrap_or("…")
}

/// An extract cut at a word boundary past [`EXTRACT_LIMIT`] characters.
pub fn shorten(text: &str) -> String {
    if text.chars().count() <= EXTRACT_LIMIT {
        return text.to_string();
    }
    let cut: String = text.chars().take(EXTRACT_LIMIT).collect();
    let at = cut.rfind(char::is_whitespace).unwrap_or(cut.len());
    format!("{} […]", cut[..at].trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn theme(id: &str, discarded: Option<&str>) -> ReviewedTheme {
        ReviewedTheme {
            id: id.into(),
            name: format!("Theme {id}"),
            codes: Vec::new(),
            covered: ["P02", "P03", "P07"].map(String::from).into(),
            segments_per_participant: BTreeMap::new(),
            discarded: discarded.map(String::from),
            extracts: Vec::new(),
            subthemes: Vec::new(),
        }
    }

    #[test]
    fn a_kept_themes_memo_goes_beside_it_and_every_other_memo_together_the_journal_first() {
        let memo = |file: &str, about: MemoAbout| Memo {
            file: file.into(),
            about,
            text: "noted".into(),
        };
        let mut kept = theme("T1", None);
        kept.subthemes.push(theme("T1a", None));
        let analysis = Analysis {
            themes: vec![kept, theme("T2", Some("too few participants"))],
            memos: vec![
                memo("memos/codes/C1.md", MemoAbout::Code("C1".into())),
                memo("memos/ideas.md", MemoAbout::Study),
                memo("memos/journal.md", MemoAbout::Study),
                memo("memos/themes/T1.md", MemoAbout::Theme("T1".into())),
                memo("memos/themes/T1a.md", MemoAbout::Theme("T1a".into())),
                memo("memos/themes/T2.md", MemoAbout::Theme("T2".into())),
                memo(
                    "memos/transcripts/P1.md",
                    MemoAbout::Transcript("transcripts/P1.txt".into()),
                ),
            ],
            ..Analysis::default()
        };
        let placed = placed_memos(&analysis);
        let mut beside: Vec<(&str, &str)> = placed.by_theme.iter().map(|(t, m)| (*t, m.file.as_str())).collect();
        beside.sort();
        assert_eq!(beside, [("T1", "memos/themes/T1.md"), ("T1a", "memos/themes/T1a.md")]);
        let rest: Vec<(&str, &str)> = placed.rest.iter().map(|(h, m)| (h.as_str(), m.file.as_str())).collect();
        assert_eq!(
            rest,
            [
                ("The study's journal", "memos/journal.md"),
                ("On the study", "memos/ideas.md"),
                ("On code C1", "memos/codes/C1.md"),
                ("On theme T2, Theme T2", "memos/themes/T2.md"),
                ("On transcript transcripts/P1.txt", "memos/transcripts/P1.md"),
            ]
        );
    }

    #[test]
    fn the_members_a_theme_covers_are_counted_in_one_walk() {
        let theme = theme("T1", None);
        let members = |m: &[&'static str]| m.iter().copied().collect::<BTreeSet<&str>>();
        assert_eq!(covered_among(&theme, &members(&["P01", "P03", "P07", "P09"])), 2);
        assert_eq!(covered_among(&theme, &members(&["P02"])), 1);
        assert_eq!(covered_among(&theme, &members(&[])), 0);
        assert_eq!(covered_among(&theme, &members(&["P00", "P04"])), 0);
    }
}
