use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use rustc_hash::FxHashMap;

use crate::views::{
    attribute_columns, attribute_groups, by_participant, covered_among, heading, kept_rows, placed_memos, roman,
    shorten, PlacedMemos,
};
use thematic_model::{Agreement, Analysis, Code, CoderAgreement, Extract, LearntAgreement, Memo, ReviewedTheme};

/// `report.md`: the analysis as a researcher reads it, from familiarisation
/// to the themes with their extracts.
pub fn markdown_report(analysis: &Analysis, engine_version: &str) -> String {
    let mut out = String::new();
    let participants = analysis.participant_ids();
    let memos = placed_memos(analysis);
    let w = &mut out;
    let _ = writeln!(w, "# {}\n", analysis.study);
    let _ = writeln!(w, "Thematic analysis report written by thematic {engine_version}.\n");
    research_questions(w, analysis);
    corpus_overview(w, analysis);
    participants_table(w, analysis);
    codes_table(w, analysis);
    agreement_section(w, analysis);
    learnt_section(w, analysis);
    coverage_matrix(w, analysis, &participants);
    attribute_tables(w, analysis);
    areas_table(w, analysis);
    themes_section(w, analysis, &participants, &memos);
    discarded_section(w, analysis);
    memos_section(w, &memos);
    if !analysis.warnings.is_empty() {
        let _ = writeln!(w, "## Warnings\n");
        for warning in &analysis.warnings {
            let _ = writeln!(w, "- {}", cell(warning));
        }
        let _ = writeln!(w);
    }
    out
}

fn research_questions(w: &mut String, analysis: &Analysis) {
    if analysis.questions.is_empty() {
        return;
    }
    let _ = writeln!(w, "## Questions put to the data\n\n| Id | Question |\n|---|---|");
    for q in &analysis.questions {
        let _ = writeln!(w, "| {} | {} |", cell(&q.id), cell(&q.text));
    }
    let _ = writeln!(w);
}

fn corpus_overview(w: &mut String, analysis: &Analysis) {
    let _ = writeln!(w, "## Corpus overview\n");
    let _ = writeln!(
        w,
        "| Transcript | Participant | Turns | Words | Participant's share of words |\n|---|---|---:|---:|---:|"
    );
    for t in &analysis.transcripts {
        let (words, theirs) = (t.words, t.participant_words);
        let share = if words == 0 {
            "–".to_string()
        } else {
            format!("{:.0}%", 100.0 * theirs as f64 / words as f64)
        };
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} |",
            cell(&t.id),
            cell(t.participant.as_deref().unwrap_or("–")),
            t.turns.len(),
            words,
            share
        );
    }
    let _ = writeln!(w);
}

fn participants_table(w: &mut String, analysis: &Analysis) {
    if analysis.participants.is_empty() {
        return;
    }
    let columns = attribute_columns(analysis);
    let _ = writeln!(w, "## Participants\n");
    let _ = write!(w, "| Participant |");
    for c in &columns {
        let _ = write!(w, " {} |", cell(&heading(c)));
    }
    let _ = writeln!(w, "\n|---|{}", "---|".repeat(columns.len()));
    for p in &analysis.participants {
        let _ = write!(w, "| {} |", cell(&p.id));
        for c in &columns {
            let _ = write!(w, " {} |", cell(p.attribute(c)));
        }
        let _ = writeln!(w);
    }
    let _ = writeln!(w);
}

/// How often a code was applied.
#[derive(Default, Clone, Copy)]
struct CodeUse {
    /// Segments carrying it (two stages may put it on one segment; it counts once).
    segments: usize,
    /// Participants who said those segments.
    participants: usize,
}

/// Every code's use across the study. Codes and speakers are numbered once
/// each, study-wide, so that a study of a million coded segments is counted
/// in numbers rather than in sets of names.
fn code_use(analysis: &Analysis) -> FxHashMap<&str, CodeUse> {
    let mut codes: FxHashMap<&str, usize> = FxHashMap::default();
    let mut speakers: FxHashMap<&str, usize> = FxHashMap::default();
    let mut uses: Vec<CodeUse> = Vec::new();
    // Per code, a bit per speaker who said a segment carrying it.
    let mut heard_by: Vec<Vec<u64>> = Vec::new();
    let mut heard: Vec<bool> = Vec::new();
    for transcript in &analysis.transcripts {
        let code_numbers: Vec<usize> = transcript
            .codes
            .iter()
            .map(|code| {
                let next = codes.len();
                *codes.entry(code).or_insert(next)
            })
            .collect();
        let speaker_numbers: Vec<usize> = transcript
            .speakers
            .iter()
            .map(|speaker| {
                let next = speakers.len();
                *speakers.entry(speaker).or_insert(next)
            })
            .collect();
        uses.resize(codes.len(), CodeUse::default());
        heard_by.resize(codes.len(), Vec::new());
        // A transcript has a handful of speakers and a code many turns: each speaker is marked once per code.
        heard.clear();
        heard.resize(transcript.speakers.len(), false);
        for turns in transcript.coded.chunk_by(|a, b| a.0 == b.0) {
            let code = code_numbers[turns[0].0 as usize];
            uses[code].segments += turns.len();
            for &(_, turn) in turns {
                if let Some(speaker) = transcript.speaker_number(turn) {
                    heard[speaker as usize] = true;
                }
            }
            for (speaker, heard) in heard.iter_mut().enumerate() {
                if std::mem::take(heard) {
                    let speaker = speaker_numbers[speaker];
                    let bits = &mut heard_by[code];
                    if bits.len() <= speaker / 64 {
                        bits.resize(speaker / 64 + 1, 0);
                    }
                    let bit = 1 << (speaker % 64);
                    if bits[speaker / 64] & bit == 0 {
                        bits[speaker / 64] |= bit;
                        uses[code].participants += 1;
                    }
                }
            }
        }
    }
    codes.into_iter().map(|(name, number)| (name, uses[number])).collect()
}

/// The codebook in hierarchy order, with how often each code was applied.
fn codes_table(w: &mut String, analysis: &Analysis) {
    if analysis.codes.is_empty() {
        return;
    }
    let uses = code_use(analysis);
    let _ = writeln!(
        w,
        "## Codes

| Code | Description | Questions | Segments | Participants |
|---|---|---|---:|---:|"
    );
    let mut pending: Vec<(&Code, usize)> = Vec::new();
    let known: BTreeSet<&str> = analysis.codes.iter().map(|c| c.id.as_str()).collect();
    let roots = analysis
        .codes
        .iter()
        .filter(|c| c.parent.as_deref().is_none_or(|p| !known.contains(p)));
    pending.extend(roots.rev().map(|c| (c, 0)));
    while let Some((code, depth)) = pending.pop() {
        let label = match &code.name {
            Some(name) => format!("{}{} (`{}`)", "↳ ".repeat(depth), name, code.id),
            None => format!("{}`{}`", "↳ ".repeat(depth), code.id),
        };
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} | {} |",
            cell(&label),
            cell(code.description.as_deref().unwrap_or("")),
            cell(&code.questions.join(", ")),
            uses.get(code.id.as_str()).map_or(0, |u| u.segments),
            uses.get(code.id.as_str()).map_or(0, |u| u.participants)
        );
        let children = analysis
            .codes
            .iter()
            .filter(|c| c.parent.as_deref() == Some(code.id.as_str()));
        pending.extend(children.rev().map(|c| (c, depth + 1)));
    }
    let _ = writeln!(w);
}

fn agreement_section(w: &mut String, analysis: &Analysis) {
    if analysis.agreements.is_empty() {
        return;
    }
    let _ = writeln!(
        w,
        "## Coder agreement

How far two coders agreed on each code, over the units both looked at (the turns of the roles both code): percent agreement, Cohen's kappa and Krippendorff's alpha (nominal). A dash where every decision was the same, so that chance agreement is complete.
"
    );
    for agreement in &analysis.agreements {
        let _ = writeln!(
            w,
            "### `{}` and `{}`, by {}, over {} transcript{}
",
            agreement.first,
            agreement.second,
            agreement.unit.as_str(),
            agreement.transcripts,
            if agreement.transcripts == 1 { "" } else { "s" }
        );
        w.push_str(&agreement_table(agreement));
        let _ = writeln!(w);
    }
}

fn learnt_section(w: &mut String, analysis: &Analysis) {
    if analysis.learnt.is_empty() {
        return;
    }
    let _ = writeln!(
        w,
        "## Agreement with the researcher

Stages that learnt their codes from a person's codings, and how far what they learnt agrees with that person, sentence by sentence: each transcript the person coded is coded by what was learnt from their other transcripts only (cross-validation), so no figure scores a transcript the stage learnt from. Precision: of the sentences the stage coded, the share the person coded too; recall: of the person's sentences, the share the stage found.
"
    );
    for learnt in &analysis.learnt {
        let _ = writeln!(
            w,
            "### `{}`, learnt from `{}`

{}
",
            learnt.stage,
            learnt.from,
            learnt_scope(learnt)
        );
        w.push_str(&learnt_table(learnt));
        let _ = writeln!(w);
    }
}

/// What a learnt stage's figures were measured on, in a sentence.
fn learnt_scope(learnt: &LearntAgreement) -> String {
    let transcripts = format!(
        "{} transcript{}",
        learnt.transcripts,
        if learnt.transcripts == 1 { "" } else { "s" }
    );
    match learnt.folds {
        0 => format!(
            "Learnt from {transcripts}: too few to hold one out, so agreement cannot be measured; \
             code a second transcript to see it."
        ),
        folds => format!("Learnt from {transcripts}, measured over {folds} parts held out in turn."),
    }
}

/// A learnt stage's agreement with the person as a Markdown table, a row per code.
pub fn learnt_table(learnt: &LearntAgreement) -> String {
    let mut w = String::from(
        "| Code | Examples | Sentences | Cohen's kappa | Precision | Recall |\n|---|---:|---:|---:|---:|---:|\n",
    );
    let figure = |value: Option<f64>| value.map_or("–".to_string(), |v| format!("{v:.3}"));
    for code in &learnt.codes {
        let _ = match (&code.agreement, code.learnt) {
            (_, false) => writeln!(
                w,
                "| {} | {} | too few examples to learn from ({} needed) | | | |",
                cell(&code.code),
                code.examples,
                learnt.min_examples
            ),
            (Some(agreement), true) => writeln!(
                w,
                "| {} | {} | {} | {} | {} | {} |",
                cell(&code.code),
                code.examples,
                agreement.units,
                figure(agreement.kappa),
                figure(code.precision),
                figure(code.recall)
            ),
            (None, true) => writeln!(w, "| {} | {} | 0 | – | – | – |", cell(&code.code), code.examples),
        };
    }
    w
}

/// Two coders' agreement as a Markdown table: a row per code, then all codes pooled.
pub fn agreement_table(agreement: &CoderAgreement) -> String {
    let mut w = String::from(
        "| Code | Units | Agreement | Cohen's kappa | Krippendorff's alpha |\n|---|---:|---:|---:|---:|\n",
    );
    let figure = |value: Option<f64>| value.map_or("–".to_string(), |v| format!("{v:.3}"));
    let pooled = ("pooled: the codes both may apply".to_string(), agreement.pooled);
    for (label, decided) in agreement.codes.iter().chain([&pooled]) {
        let _ = match decided {
            Some(Agreement {
                units,
                percent,
                kappa,
                alpha,
            }) => writeln!(
                w,
                "| {} | {units} | {percent:.1}% | {} | {} |",
                cell(label),
                figure(*kappa),
                figure(*alpha)
            ),
            None => writeln!(w, "| {} | 0 | – | – | – |", cell(label)),
        };
    }
    w
}

fn coverage_matrix(w: &mut String, analysis: &Analysis, participants: &[&str]) {
    let kept: Vec<&ReviewedTheme> = analysis.themes.iter().filter(|t| t.discarded.is_none()).collect();
    if kept.is_empty() {
        return;
    }
    let _ = writeln!(w, "## Themes × participants\n");
    let _ = writeln!(
        w,
        "A ✓ marks a participant with at least one segment carrying one of the theme's codes \
         (kept themes; the review rule asks for at least {}).\n",
        participants_phrase(analysis.min_participants)
    );
    let _ = write!(w, "| Theme |");
    for p in participants {
        let _ = write!(w, " {} |", cell(p));
    }
    let _ = writeln!(w, " Participants |\n|---|{}---:|", ":---:|".repeat(participants.len()));
    for row in kept_rows(analysis) {
        let indent = if row.is_sub { "  " } else { "" };
        matrix_row(w, &format!("{indent}{}", row.label), row.theme, participants);
    }
    let _ = writeln!(w);
}

/// Theme coverage by participant attribute (tier, gender, still in role):
/// for each attribute with two to [`MOST_GROUPS`] values, how many of the
/// participants with each value a kept theme covers.
fn attribute_tables(w: &mut String, analysis: &Analysis) {
    let rows = kept_rows(analysis);
    if rows.is_empty() {
        return;
    }
    let attributes = attribute_groups(analysis);
    if attributes.is_empty() {
        return;
    }
    let _ = writeln!(
        w,
        "## Themes by participant attribute
"
    );
    let _ = writeln!(
        w,
        "Of the participants interviewed with each value, how many a kept theme covers (k/n).\n"
    );
    for (name, groups) in attributes {
        let _ = writeln!(w, "### {}\n", heading(name));
        let _ = write!(w, "| Theme |");
        for (value, members) in &groups {
            let _ = write!(w, " {} (n={}) |", cell(value), members.len());
        }
        let _ = writeln!(w, "\n|---|{}", "---:|".repeat(groups.len()));
        for row in &rows {
            let indent = if row.is_sub { "  " } else { "" };
            let _ = write!(w, "| {} |", cell(&format!("{indent}{}", row.label)));
            for members in groups.values() {
                let covered = covered_among(row.theme, members);
                let _ = write!(w, " {covered}/{} |", members.len());
            }
            let _ = writeln!(w);
        }
        let _ = writeln!(w);
    }
}

fn participants_phrase(n: usize) -> String {
    format!("{n} participant{}", if n == 1 { "" } else { "s" })
}

fn matrix_row(w: &mut String, label: &str, theme: &ReviewedTheme, participants: &[&str]) {
    let _ = write!(w, "| {} |", cell(label));
    let of_participant = by_participant(theme);
    for p in participants {
        let covered = of_participant.get(p).is_some_and(|&(_, covered)| covered);
        let _ = write!(w, " {} |", if covered { "✓" } else { "" });
    }
    let _ = writeln!(w, " {}/{} |", theme.covered.len(), participants.len());
}

fn areas_table(w: &mut String, analysis: &Analysis) {
    if analysis.areas.is_empty() {
        return;
    }
    let names: BTreeMap<&str, &str> = analysis
        .themes
        .iter()
        .map(|t| (t.id.as_str(), t.name.as_str()))
        .collect();
    let _ = writeln!(
        w,
        "## Themes by discussion area\n\n| Discussion area | Themes |\n|---|---|"
    );
    for area in &analysis.areas {
        let themes: Vec<String> = area
            .themes
            .iter()
            .map(|id| format!("{} {}", id, names.get(id.as_str()).unwrap_or(&"")))
            .collect();
        let _ = writeln!(w, "| {} | {} |", cell(&area.name), cell(&themes.join("; ")));
    }
    let _ = writeln!(w);
}

fn themes_section(w: &mut String, analysis: &Analysis, participants: &[&str], memos: &PlacedMemos) {
    let kept: Vec<&ReviewedTheme> = analysis.themes.iter().filter(|t| t.discarded.is_none()).collect();
    if kept.is_empty() {
        return;
    }
    let _ = writeln!(w, "## Themes\n");
    for (number, theme) in kept.iter().enumerate() {
        let _ = writeln!(w, "### {}. {} ({})\n", number + 1, theme.name, theme.id);
        theme_body(w, theme, participants, memos);
        for (i, sub) in theme.subthemes.iter().enumerate() {
            let _ = writeln!(w, "#### ({}) {} ({})\n", roman(i + 1), sub.name, sub.id);
            match &sub.discarded {
                Some(reason) => {
                    let _ = writeln!(w, "Discarded at review: {reason}.\n");
                }
                None => theme_body(w, sub, participants, memos),
            }
        }
    }
}

fn theme_body(w: &mut String, theme: &ReviewedTheme, participants: &[&str], memos: &PlacedMemos) {
    if !theme.codes.is_empty() {
        let codes: Vec<String> = theme.codes.iter().map(|c| format!("`{c}`")).collect();
        let _ = writeln!(w, "Codes: {}\n", codes.join(", "));
    }
    let covered: Vec<&str> = participants
        .iter()
        .copied()
        .filter(|p| theme.covered.contains(*p))
        .collect();
    let _ = writeln!(
        w,
        "Covers {} of {} participants: {}.\n",
        covered.len(),
        participants.len(),
        covered.join(", ")
    );
    if let Some(memo) = memos.by_theme.get(theme.id.as_str()) {
        let _ = writeln!(w, "Memo ({}):\n", memo.file);
        memo_quote(w, memo);
    }
    for extract in &theme.extracts {
        extract_quote(w, extract);
    }
}

/// The memos not shown beside a theme, each under what it is about.
fn memos_section(w: &mut String, memos: &PlacedMemos) {
    if memos.rest.is_empty() {
        return;
    }
    let _ = writeln!(w, "## Memos\n");
    for (heading, memo) in &memos.rest {
        let _ = writeln!(w, "### {heading} ({})\n", memo.file);
        memo_quote(w, memo);
    }
}

/// A memo's Markdown quoted as written, so its own headings stay inside the quote.
fn memo_quote(w: &mut String, memo: &Memo) {
    for line in memo.text.trim_end().lines() {
        let _ = match line.trim_end() {
            "" => writeln!(w, ">"),
            line => writeln!(w, "> {line}"),
        };
    }
    let _ = writeln!(w);
}

fn extract_quote(w: &mut String, extract: &Extract) {
    let text = shorten(&extract.text);
    let paragraphs: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let _ = writeln!(w, "> {}", paragraphs.join("\n>\n> "));
    let _ = writeln!(
        w,
        ">\n> — {}, {}, turn {} ({})",
        extract.participant.as_deref().unwrap_or("unknown participant"),
        extract.transcript,
        extract.turn,
        extract.codes.join(", ")
    );
    for why in &extract.why {
        let _ = writeln!(w, ">\n> {}", why.replace('\n', " "));
    }
    let _ = writeln!(w);
}

fn discarded_section(w: &mut String, analysis: &Analysis) {
    let discarded: Vec<&ReviewedTheme> = analysis.themes.iter().filter(|t| t.discarded.is_some()).collect();
    if discarded.is_empty() {
        return;
    }
    let _ = writeln!(w, "## Discarded themes\n\n| Theme | Reason |\n|---|---|");
    for theme in discarded {
        let _ = writeln!(
            w,
            "| {} {} | {} |",
            cell(&theme.id),
            cell(&theme.name),
            cell(theme.discarded.as_deref().unwrap_or(""))
        );
    }
    let _ = writeln!(w);
}

/// Text made safe for a Markdown table cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}
