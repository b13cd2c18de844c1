//! `thematic import`: work done in other tools brought into a study (see
//! `thematic_engine::import`).

use std::path::Path;

use anyhow::Result;
use thematic_config::CONFIG_FILE;
use thematic_engine::import::{import_codebook, import_project};
use thematic_model::MemoAbout;

use crate::outcome::{count, say, Diagnostics, Outcome};

pub fn qdc(file: &Path, output: &Path) -> Result<Outcome> {
    let (codes, without_terms) = import_codebook(file, output)?;
    say(format!("wrote {}: {}", output.display(), count(codes, "code")));
    if without_terms > 0 {
        say(format!(
            "  {without_terms} of them without dictionary terms: a script strategy can use them as they are; add terms for the dictionary"
        ));
    }
    Ok(Outcome::Success)
}

pub fn qdpx(file: &Path, dir: &Path) -> Result<Outcome> {
    let mut diagnostics = Diagnostics::default();
    let imported = import_project(file, dir, &mut diagnostics)?;
    say(format!(
        "imported {}{} into {}:",
        file.display(),
        imported
            .origin
            .as_deref()
            .map(|o| format!(" ({o})"))
            .unwrap_or_default(),
        dir.display()
    ));
    say(format!(
        "  {} as transcripts, {}, {} with {}",
        count(imported.sources, "source"),
        count(imported.codes, "code"),
        count(imported.cases, "case"),
        count(imported.variables, "variable")
    ));
    for (stage, codings_file, codings) in &imported.coders {
        say(format!(
            "  coder `{stage}`: {} → stage `{stage}` (strategy coder, {codings_file})",
            count(*codings, "coding")
        ));
    }
    if !imported.memos.is_empty() {
        say(format!(
            "  {} as {} under memos/ ({})",
            count(imported.notes, "note"),
            count(imported.memos.len(), "memo"),
            memos_by_kind(&imported.memos)
        ));
    }
    if imported.sets > 0 {
        say(format!(
            "  not imported: {} of codes (themes are set in {CONFIG_FILE}'s [[themes]])",
            count(imported.sets, "set")
        ));
    }
    match &imported.pair {
        Some(pair) => say(format!("Next: thematic agree {} --coders \"{pair}\"", dir.display())),
        None => say(format!("Next: thematic run {}", dir.display())),
    }
    Ok(diagnostics.outcome())
}

/// How many memos are on codes, themes, transcripts and the study, those there are.
fn memos_by_kind(memos: &[(String, MemoAbout)]) -> String {
    let mut kinds: Vec<(&str, usize)> = vec![("codes", 0), ("themes", 0), ("transcripts", 0), ("the study", 0)];
    for (_, about) in memos {
        let kind = match about {
            MemoAbout::Code(_) => 0,
            MemoAbout::Theme(_) => 1,
            MemoAbout::Transcript(_) => 2,
            MemoAbout::Study => 3,
        };
        kinds[kind].1 += 1;
    }
    let on: Vec<String> = kinds
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(kind, n)| format!("{n} on {kind}"))
        .collect();
    on.join(", ")
}
