use thematic_config::Theme;
use thematic_model::{Area, CandidateTheme, ReviewedTheme};

use crate::{AreaMapper, CodingSummary, StrategyError, SummaryNeeds, ThemeGrouper};

/// The candidate themes written in `thematic.toml` (`[[themes]]`), as a
/// researcher who has collated codes by hand would write them.
pub struct DefinedThemes {
    themes: Vec<CandidateTheme>,
}

impl DefinedThemes {
    pub fn new(themes: &[Theme]) -> DefinedThemes {
        fn convert(theme: &Theme) -> CandidateTheme {
            CandidateTheme {
                id: theme.id.get_ref().clone(),
                name: theme.name.clone(),
                codes: theme.codes.iter().map(|c| c.get_ref().clone()).collect(),
                subthemes: theme.subthemes.iter().map(convert).collect(),
            }
        }
        DefinedThemes {
            themes: themes.iter().map(convert).collect(),
        }
    }
}

impl ThemeGrouper for DefinedThemes {
    fn needs(&self) -> SummaryNeeds {
        SummaryNeeds::Nothing
    }

    fn group(&self, _: &CodingSummary) -> Result<Vec<CandidateTheme>, StrategyError> {
        Ok(self.themes.clone())
    }
}

/// The discussion areas written in `thematic.toml` (`[[areas]]`).
pub struct DefinedAreas {
    areas: Vec<Area>,
}

impl DefinedAreas {
    pub fn new(areas: &[thematic_config::Area]) -> DefinedAreas {
        DefinedAreas {
            areas: areas
                .iter()
                .map(|a| Area {
                    id: a.id.get_ref().clone(),
                    name: a.name.clone(),
                    themes: a.themes.iter().map(|t| t.get_ref().clone()).collect(),
                })
                .collect(),
        }
    }
}

impl AreaMapper for DefinedAreas {
    fn map(&self, _: &[ReviewedTheme]) -> Result<Vec<Area>, StrategyError> {
        Ok(self.areas.clone())
    }
}
