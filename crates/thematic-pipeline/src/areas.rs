use std::collections::BTreeMap;

use thematic_model::{Area, ReviewedTheme};

/// Keeps in each area only the themes that survived review, and warns about
/// a kept theme in no area or in more than one, and about areas naming
/// themes that do not exist.
pub fn map_areas(areas: Vec<Area>, themes: &[ReviewedTheme]) -> (Vec<Area>, Vec<String>) {
    let mut warnings = Vec::new();
    let mut homes: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let kept: Vec<&ReviewedTheme> = themes.iter().filter(|t| t.discarded.is_none()).collect();
    let areas: Vec<Area> = areas
        .into_iter()
        .map(|mut area| {
            area.themes.retain(|id| {
                if !themes.iter().any(|t| &t.id == id) {
                    warnings.push(format!(
                        "area `{}` names theme `{id}`, which no theme stage produced",
                        area.id
                    ));
                }
                kept.iter().any(|t| &t.id == id)
            });
            area
        })
        .collect();
    for area in &areas {
        for theme in &area.themes {
            homes.entry(theme).or_default().push(&area.id);
        }
    }
    for theme in &kept {
        match homes.get(theme.id.as_str()).map(Vec::as_slice) {
            None | Some([]) => warnings.push(format!(
                "theme `{}` ({}) is kept but in no discussion area",
                theme.id, theme.name
            )),
            Some([_]) => {}
            Some(several) => warnings.push(format!(
                "theme `{}` ({}) is in {} discussion areas: {}",
                theme.id,
                theme.name,
                several.len(),
                several.join(", ")
            )),
        }
    }
    (areas, warnings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn theme(id: &str, discarded: bool) -> ReviewedTheme {
        ReviewedTheme {
            id: id.into(),
            name: format!("Theme {id}"),
            codes: vec![],
            covered: Default::default(),
            segments_per_participant: Default::default(),
            discarded: discarded.then(|| "too few".to_string()),
            extracts: vec![],
            subthemes: vec![],
        }
    }

    fn area(id: &str, themes: &[&str]) -> Area {
        Area {
            id: id.into(),
            name: id.into(),
            themes: themes.iter().map(|t| t.to_string()).collect(),
        }
    }

    #[test]
    fn kept_themes_in_no_area_or_two_are_warned_about() {
        let themes = [
            theme("T1", false),
            theme("T2", false),
            theme("T3", false),
            theme("T4", true),
        ];
        let (areas, warnings) = map_areas(vec![area("A1", &["T1", "T2", "T4"]), area("A2", &["T2"])], &themes);
        assert_eq!(areas[0].themes, ["T1", "T2"], "discarded themes leave their area");
        assert_eq!(
            warnings,
            [
                "theme `T2` (Theme T2) is in 2 discussion areas: A1, A2",
                "theme `T3` (Theme T3) is kept but in no discussion area"
            ]
        );
    }
}
