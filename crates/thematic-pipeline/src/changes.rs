//! What changed in the analysis from one pass to the next, for the lines
//! watch mode prints after each batch.

use std::collections::BTreeMap;

use thematic_model::{Analysis, ReviewedTheme};

/// How two analyses of the same study differ.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnalysisChanges {
    /// Transcript ids, each list sorted.
    pub added: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
    /// One line per change to a theme: coverage, the review's verdict, a
    /// theme proposed or gone.
    pub themes: Vec<String>,
}

impl AnalysisChanges {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty() && self.themes.is_empty()
    }
}

/// What of an analysis the next one is compared with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outline {
    /// Transcript id to content hash.
    transcripts: BTreeMap<String, String>,
    themes: Vec<ReviewedTheme>,
}

impl Outline {
    pub fn of(analysis: &Analysis) -> Outline {
        Outline {
            transcripts: analysis
                .transcripts
                .iter()
                .map(|t| (t.id.clone(), t.content_hash.clone()))
                .collect(),
            themes: analysis.themes.clone(),
        }
    }
}

pub fn analysis_changes(before: &Outline, after: &Outline) -> AnalysisChanges {
    let (old, new) = (&before.transcripts, &after.transcripts);
    let mut changes = AnalysisChanges {
        added: new.keys().filter(|id| !old.contains_key(*id)).cloned().collect(),
        changed: new
            .iter()
            .filter(|(id, hash)| old.get(*id).is_some_and(|h| h != *hash))
            .map(|(id, _)| id.clone())
            .collect(),
        removed: old.keys().filter(|id| !new.contains_key(*id)).cloned().collect(),
        themes: Vec::new(),
    };
    let (old, new) = (all_themes(&before.themes), all_themes(&after.themes));
    for (id, theme) in &new {
        let Some(was) = old.get(id) else {
            changes
                .themes
                .push(format!("{} is new: {}", label(theme), verdict(theme)));
            continue;
        };
        let gained: Vec<&str> = theme.covered.difference(&was.covered).map(String::as_str).collect();
        if !gained.is_empty() {
            changes
                .themes
                .push(format!("{} now covers {}", label(theme), gained.join(", ")));
        }
        let lost: Vec<&str> = was.covered.difference(&theme.covered).map(String::as_str).collect();
        if !lost.is_empty() {
            changes
                .themes
                .push(format!("{} no longer covers {}", label(theme), lost.join(", ")));
        }
        if was.discarded.is_some() != theme.discarded.is_some() {
            changes
                .themes
                .push(format!("{} is now {}", label(theme), verdict(theme)));
        }
    }
    for (id, theme) in &old {
        if !new.contains_key(id) {
            changes.themes.push(format!("{} is gone", label(theme)));
        }
    }
    changes
}

fn all_themes(themes: &[ReviewedTheme]) -> BTreeMap<&str, &ReviewedTheme> {
    let mut all = BTreeMap::new();
    let mut stack: Vec<&ReviewedTheme> = themes.iter().collect();
    while let Some(theme) = stack.pop() {
        all.insert(theme.id.as_str(), theme);
        stack.extend(&theme.subthemes);
    }
    all
}

fn label(theme: &ReviewedTheme) -> String {
    format!("theme {} ({})", theme.id, theme.name)
}

fn verdict(theme: &ReviewedTheme) -> String {
    match &theme.discarded {
        None => format!(
            "kept, covering {} participant{}",
            theme.covered.len(),
            if theme.covered.len() == 1 { "" } else { "s" }
        ),
        Some(reason) => format!("discarded ({reason})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use thematic_model::TranscriptDigest;

    fn transcript(id: &str, hash: &str) -> TranscriptDigest {
        TranscriptDigest {
            id: id.into(),
            content_hash: hash.into(),
            ..TranscriptDigest::default()
        }
    }

    fn theme(id: &str, covered: &[&str], discarded: Option<&str>) -> ReviewedTheme {
        ReviewedTheme {
            id: id.into(),
            name: format!("Theme {id}"),
            codes: Vec::new(),
            covered: covered.iter().map(|p| p.to_string()).collect::<BTreeSet<_>>(),
            segments_per_participant: BTreeMap::new(),
            discarded: discarded.map(str::to_string),
            extracts: Vec::new(),
            subthemes: Vec::new(),
        }
    }

    fn analysis(transcripts: Vec<TranscriptDigest>, themes: Vec<ReviewedTheme>) -> Analysis {
        Analysis {
            study: "s".into(),
            questions: Vec::new(),
            codes: Vec::new(),
            participants: Vec::new(),
            transcripts,
            themes,
            areas: Vec::new(),
            min_participants: 2,
            agreements: Vec::new(),
            learnt: Vec::new(),
            memos: Vec::new(),
            warnings: Vec::new(),
        }
    }

    #[test]
    fn transcripts_and_themes_that_changed_are_named() {
        let before = analysis(
            vec![transcript("a.txt", "1"), transcript("b.txt", "2")],
            vec![
                theme("T1", &["P1"], Some("covers 1 participant; at least 2 are needed")),
                theme("T2", &["P1", "P2"], None),
            ],
        );
        let after = analysis(
            vec![transcript("a.txt", "1b"), transcript("c.txt", "3")],
            vec![theme("T1", &["P1", "P3", "P4"], None), theme("T3", &["P3"], None)],
        );
        let changes = analysis_changes(&Outline::of(&before), &Outline::of(&after));
        assert_eq!(changes.added, ["c.txt"]);
        assert_eq!(changes.changed, ["a.txt"]);
        assert_eq!(changes.removed, ["b.txt"]);
        assert_eq!(
            changes.themes,
            [
                "theme T1 (Theme T1) now covers P3, P4",
                "theme T1 (Theme T1) is now kept, covering 3 participants",
                "theme T3 (Theme T3) is new: kept, covering 1 participant",
                "theme T2 (Theme T2) is gone",
            ]
        );
        assert!(analysis_changes(&Outline::of(&after), &Outline::of(&after)).is_empty());
    }
}
