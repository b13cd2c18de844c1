//! `thematic agree`: how far two coders agree, code by code — for example
//! the study's dictionary stage against a Lua strategy, to show how far an
//! automatic coder can be trusted. Coders are the study's coding stages.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{bail, Result};
use thematic_pipeline::{code_transcript, decisions, CodingStage, Decisions, Unit};

use crate::analyse::read_transcripts;
use crate::outcome::{count, say, Diagnostics, Outcome};
use crate::study;

pub fn run(dir: &Path, coders: &[String], unit: Unit) -> Result<Outcome> {
    let mut diagnostics = Diagnostics::default();
    let study = study::load(dir, &mut diagnostics)?;
    let [first, second] = coders else {
        bail!("--coders names two coders, as `--coders dictionary,hedging`");
    };
    let stage = |name: &str| -> Result<&CodingStage> {
        match study.coding_stages.iter().find(|s| s.name == name) {
            Some(stage) => Ok(stage),
            None => bail!(
                "no coding stage `{name}` in {} (its coding stages: {})",
                study.root.display(),
                study
                    .coding_stages
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    };
    let (first, second) = (stage(first)?, stage(second)?);
    let transcripts = read_transcripts(&study, &mut diagnostics);
    let mut codes: BTreeSet<String> = [first, second]
        .iter()
        .flat_map(|s| s.strategy.known_codes().unwrap_or_default())
        .collect();
    let mut coded = Vec::new();
    for transcript in &transcripts {
        let seen = study.annotations.blanked(transcript);
        let seen = seen.as_ref().unwrap_or(transcript);
        match (code_transcript(first, seen), code_transcript(second, seen)) {
            (Ok(a), Ok(b)) => {
                codes.extend(a.iter().chain(&b).map(|c| c.code.clone()));
                coded.push((transcript, a, b));
            }
            (Err(e), _) | (_, Err(e)) => diagnostics.fail(format!("{}: {e}", transcript.id)),
        }
    }
    let codes: Vec<String> = codes.into_iter().collect();
    let mut table: BTreeMap<String, Decisions> = BTreeMap::new();
    for (transcript, a, b) in &coded {
        // The units both coders looked at: segments in roles both code.
        let units: Vec<_> = transcript
            .segments
            .iter()
            .filter(|s| first.roles.contains(&s.role) && second.roles.contains(&s.role))
            .collect();
        for (code, decided) in decisions(unit, &units, a, b, &codes) {
            table.entry(code).or_default().merge(decided);
        }
    }
    say(format!(
        "agreement of `{}` and `{}`, by {}, over {}",
        first.name,
        second.name,
        match unit {
            Unit::Segment => "segment",
            Unit::Character => "character",
        },
        count(coded.len(), "transcript")
    ));
    say("| Code | Units | Agreement | Cohen's kappa | Krippendorff's alpha |");
    say("|---|---:|---:|---:|---:|");
    let mut pooled = Decisions::default();
    for (code, decided) in &table {
        pooled.merge(*decided);
        say(row(code, decided));
    }
    say(row("all codes, pooled", &pooled));
    Ok(diagnostics.outcome())
}

fn row(label: &str, decided: &Decisions) -> String {
    let figure = |value: Option<f64>| value.map_or("–".to_string(), |v| format!("{v:.3}"));
    match decided.agreement() {
        Some(a) => format!(
            "| {label} | {} | {:.1}% | {} | {} |",
            a.units,
            a.percent,
            figure(a.kappa),
            figure(a.alpha)
        ),
        None => format!("| {label} | 0 | – | – | – |"),
    }
}
