use serde::Serialize;
use thematic_model::{Analysis, ReviewedTheme};

use crate::json_style::to_python_json;

/// The theme × participant matrix as CSV: a row per theme and sub-theme,
/// a column per participant counting the theme's segments, then whether the
/// review kept it.
pub fn theme_participant_csv(analysis: &Analysis) -> String {
    let participants = analysis.participant_ids();
    let mut header: Vec<String> = vec!["theme".into(), "name".into(), "parent".into()];
    header.extend(participants.iter().map(|p| p.to_string()));
    header.extend(["participants".into(), "kept".into()]);
    let mut rows = Vec::new();
    for theme in &analysis.themes {
        rows.push(csv_row(theme, "", &participants));
        rows.extend(theme.subthemes.iter().map(|sub| csv_row(sub, &theme.id, &participants)));
    }
    crate::csv_text(header, rows.into_iter())
}

fn csv_row(theme: &ReviewedTheme, parent: &str, participants: &[&str]) -> Vec<String> {
    let mut row = vec![theme.id.clone(), theme.name.clone(), parent.to_string()];
    row.extend(
        participants
            .iter()
            .map(|p| theme.segments_per_participant.get(*p).copied().unwrap_or(0).to_string()),
    );
    row.push(theme.covered.len().to_string());
    row.push(if theme.discarded.is_none() { "yes" } else { "no" }.to_string());
    row
}

#[derive(Serialize)]
struct ThemeMatrix<'a> {
    participants: Vec<&'a str>,
    themes: Vec<ThemeRow<'a>>,
}

#[derive(Serialize)]
struct ThemeRow<'a> {
    id: &'a str,
    name: &'a str,
    codes: &'a [String],
    segments: &'a std::collections::BTreeMap<String, usize>,
    covered: Vec<&'a str>,
    discarded: Option<&'a str>,
    subthemes: Vec<ThemeRow<'a>>,
}

/// The theme × participant matrix as JSON, with coverage and review outcome.
pub fn theme_participant_json(analysis: &Analysis) -> String {
    fn row(theme: &ReviewedTheme) -> ThemeRow<'_> {
        ThemeRow {
            id: &theme.id,
            name: &theme.name,
            codes: &theme.codes,
            segments: &theme.segments_per_participant,
            covered: theme.covered.iter().map(String::as_str).collect(),
            discarded: theme.discarded.as_deref(),
            subthemes: theme.subthemes.iter().map(row).collect(),
        }
    }
    to_python_json(&ThemeMatrix {
        participants: analysis.participant_ids(),
        themes: analysis.themes.iter().map(row).collect(),
    })
}
