//! What the Markdown and HTML reports show alike, computed once: the kept
//! themes as rows, participants' attribute columns and groups, headings,
//! extracts cut to length.

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap;

use thematic_model::{Analysis, ReviewedTheme};

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

    #[test]
    fn the_members_a_theme_covers_are_counted_in_one_walk() {
        let theme = ReviewedTheme {
            id: "T1".into(),
            name: "One".into(),
            codes: Vec::new(),
            covered: ["P02", "P03", "P07"].map(String::from).into(),
            segments_per_participant: BTreeMap::new(),
            discarded: None,
            extracts: Vec::new(),
            subthemes: Vec::new(),
        };
        let members = |m: &[&'static str]| m.iter().copied().collect::<BTreeSet<&str>>();
        assert_eq!(covered_among(&theme, &members(&["P01", "P03", "P07", "P09"])), 2);
        assert_eq!(covered_among(&theme, &members(&["P02"])), 1);
        assert_eq!(covered_among(&theme, &members(&[])), 0);
        assert_eq!(covered_among(&theme, &members(&["P00", "P04"])), 0);
    }
}
