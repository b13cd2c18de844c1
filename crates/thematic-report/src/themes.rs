use serde::Serialize;
use thematic_model::{Analysis, ReviewedTheme};

use crate::json_style::to_python_json;
use crate::views::by_participant;

/// The theme × participant matrix as CSV: a row per theme and sub-theme,
/// a column per participant counting the theme's segments, then whether the
/// review kept it.
pub fn theme_participant_csv(analysis: &Analysis) -> String {
    let participants = analysis.participant_ids();
    let mut header: Vec<String> = vec!["theme".into(), "name".into(), "parent".into()];
    header.extend(participants.iter().map(|p| p.to_string()));
    header.extend(["participants".into(), "kept".into()]);
    let rows = theme_matrix_rows(analysis, &participants).into_iter().map(|row| {
        let mut cells = vec![row.theme.id.clone(), row.theme.name.clone(), row.parent.to_string()];
        cells.extend(row.segments.iter().map(usize::to_string));
        cells.push(row.theme.covered.len().to_string());
        cells.push(row.kept().to_string());
        cells
    });
    crate::csv_text(header, rows)
}

/// A row of the theme × participant matrix: a theme or sub-theme, under its parent.
pub(crate) struct ThemeMatrixRow<'a> {
    pub theme: &'a ReviewedTheme,
    /// The parent theme's id; empty for a theme.
    pub parent: &'a str,
    /// Segments coded in each of `participants`, in order.
    pub segments: Vec<usize>,
}

impl ThemeMatrixRow<'_> {
    /// `yes` where the review kept the theme, `no` where it discarded it.
    pub fn kept(&self) -> &'static str {
        if self.theme.discarded.is_none() {
            "yes"
        } else {
            "no"
        }
    }
}

pub(crate) fn theme_matrix_rows<'a>(analysis: &'a Analysis, participants: &[&str]) -> Vec<ThemeMatrixRow<'a>> {
    let row = |theme: &'a ReviewedTheme, parent: &'a str| {
        let of_participant = by_participant(theme);
        ThemeMatrixRow {
            theme,
            parent,
            segments: participants
                .iter()
                .map(|p| of_participant.get(p).map_or(0, |&(segments, _)| segments))
                .collect(),
        }
    };
    let mut rows = Vec::new();
    for theme in &analysis.themes {
        rows.push(row(theme, ""));
        rows.extend(theme.subthemes.iter().map(|sub| row(sub, &theme.id)));
    }
    rows
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
