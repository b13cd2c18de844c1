//! `report.html`: the analysis as a page to look at — a heat map of themes
//! by participant, the thematic map as a diagram — that needs nothing but
//! itself: styles inline, no script, no fetch. Readable printed and on a
//! narrow screen; every chart has a text alternative, every table its headers.

use std::collections::BTreeMap;
use std::fmt::Write;

use rustc_hash::FxHashMap;
use thematic_model::{Analysis, Memo, ReviewedTheme};

use crate::views::{
    attribute_columns, attribute_groups, by_participant, covered_among, heading, kept_rows, placed_memos, shorten,
    PlacedMemos,
};

/// Code pairs listed under co-occurrence, most frequent first.
const COOCCURRENCE_PAIRS: usize = 20;

const STYLE: &str = "
:root { color-scheme: light; --ink: #1a202c; --muted: #4a5568; --line: #cbd5e0; --accent: #2b6cb0; }
body { font: 16px/1.5 system-ui, sans-serif; color: var(--ink); margin: 0 auto; max-width: 72rem; padding: 1rem; }
h1, h2, h3 { line-height: 1.25; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border: 1px solid var(--line); padding: 0.25rem 0.5rem; vertical-align: top; }
thead th { background: #edf2f7; }
caption { text-align: left; font-weight: 600; padding: 0.25rem 0; }
th[scope=row] { text-align: left; font-weight: normal; }
th.sub { padding-left: 1.5rem; color: var(--muted); }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
td.heat { text-align: center; min-width: 2.5rem; background: color-mix(in srgb, var(--accent) calc(var(--level) * 70%), white); }
td.heat.strong { color: white; }
.bar { display: inline-block; height: 0.6rem; background: var(--accent); vertical-align: middle; margin-right: 0.3rem; }
blockquote { margin: 0.75rem 0; padding: 0.25rem 1rem; border-left: 4px solid var(--line); }
blockquote footer { color: var(--muted); font-size: 0.9rem; }
.memo { margin: 0.75rem 0; padding: 0.25rem 1rem; background: #fffbea; border-left: 4px solid #d69e2e; }
.memo p { margin: 0.25rem 0; color: var(--muted); font-size: 0.9rem; }
.memo div { white-space: pre-wrap; }
svg text { font: 13px system-ui, sans-serif; fill: var(--ink); }
svg .area { fill: #f7fafc; stroke: var(--line); }
svg .theme { fill: white; stroke: var(--accent); }
svg .title { font-weight: bold; }
svg .code { fill: var(--muted); }
code { font-size: 0.9em; overflow-wrap: anywhere; }
@media (max-width: 40rem) { body { padding: 0.5rem; font-size: 15px; } th, td { padding: 0.2rem 0.3rem; } }
@media print { body { max-width: none; } .scroll { overflow: visible; } section { break-inside: avoid-page; } td.heat { -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
";

/// Text made safe for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What made a report, beside the analysis: the engine, the configuration,
/// each stage by what it runs, and when.
#[derive(Debug, Clone)]
pub struct Provenance {
    pub engine_version: String,
    /// SHA-256 of the configuration (and redaction list) the run read.
    pub configuration_sha256: String,
    pub stages: Vec<StageProvenance>,
    /// When the report was written, RFC 3339 in UTC.
    pub written_at: String,
}

#[derive(Debug, Clone)]
pub struct StageProvenance {
    /// `coding`, `themes` or `areas`.
    pub kind: &'static str,
    pub name: String,
    pub strategy: String,
    /// SHA-256 over what decides the stage's output: the engine, strategy,
    /// parameters, script and library, and a coding stage's codebook and
    /// roles, a themes stage's themes and review rule, an areas stage's areas.
    pub fingerprint: String,
}

pub fn html_report(analysis: &Analysis, provenance: &Provenance) -> String {
    let mut out = String::new();
    let w = &mut out;
    let _ = write!(
        w,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<header>\n<h1>{}</h1>\n<p>Thematic analysis report written by thematic {}.</p>\n</header>\n<main>\n",
        escape(&analysis.study),
        escape(&analysis.study),
        escape(&provenance.engine_version)
    );
    participants_table(w, analysis);
    heat_map(w, analysis);
    thematic_map(w, analysis);
    prevalence(w, analysis);
    cooccurrence(w, analysis);
    let memos = placed_memos(analysis);
    themes(w, analysis, &memos);
    discarded(w, analysis);
    memos_section(w, &memos);
    provenance_section(w, analysis, provenance);
    w.push_str("</main>\n</body>\n</html>\n");
    out
}

fn participants_table(w: &mut String, analysis: &Analysis) {
    if analysis.participants.is_empty() {
        return;
    }
    let columns = attribute_columns(analysis);
    w.push_str("<section id=\"participants\">\n<h2>Participants</h2>\n<div class=\"scroll\"><table>\n<thead><tr><th scope=\"col\">Participant</th>");
    for column in &columns {
        let _ = write!(w, "<th scope=\"col\">{}</th>", escape(&heading(column)));
    }
    w.push_str("</tr></thead>\n<tbody>\n");
    for p in &analysis.participants {
        let _ = write!(w, "<tr><th scope=\"row\">{}</th>", escape(&p.id));
        for column in &columns {
            let _ = write!(w, "<td>{}</td>", escape(p.attribute(column)));
        }
        w.push_str("</tr>\n");
    }
    w.push_str("</tbody></table></div>\n</section>\n");
}

/// Themes and sub-themes by participant: the segments each theme carries
/// in each participant's turns, shaded by count, ticked where covered.
fn heat_map(w: &mut String, analysis: &Analysis) {
    let rows = kept_rows(analysis);
    if rows.is_empty() {
        return;
    }
    let participants = analysis.participant_ids();
    let most = rows
        .iter()
        .flat_map(|r| r.theme.segments_per_participant.values())
        .copied()
        .max()
        .unwrap_or(0)
        .max(1);
    let _ = write!(
        w,
        "<section id=\"coverage\">\n<h2>Themes × participants</h2>\n<p>Segments carrying each theme's codes in each participant's turns; the darker, the more. A ✓ marks a participant the theme covers (the review rule asks for at least {}).</p>\n<div class=\"scroll\"><table class=\"heatmap\">\n<caption>Segments per theme and participant</caption>\n<thead><tr><th scope=\"col\">Theme</th>",
        analysis.min_participants
    );
    // Each name escaped once, not once per cell.
    let escaped: Vec<String> = participants.iter().map(|p| escape(p)).collect();
    for p in &escaped {
        let _ = write!(w, "<th scope=\"col\">{p}</th>");
    }
    w.push_str("<th scope=\"col\">Covered</th></tr></thead>\n<tbody>\n");
    // A cell's look depends only on its count: made once per count, not once per cell.
    let mut looks: FxHashMap<usize, String> = FxHashMap::default();
    for row in &rows {
        let class = if row.is_sub { " class=\"sub\"" } else { "" };
        let label = escape(&row.label);
        let _ = write!(w, "<tr><th scope=\"row\"{class}>{label}</th>");
        let of_participant = by_participant(row.theme);
        for (p, escaped_p) in participants.iter().zip(&escaped) {
            let (segments, covered) = of_participant.get(*p).copied().unwrap_or_default();
            let look = looks.entry(segments).or_insert_with(|| {
                let level = segments as f64 / most as f64;
                let strong = if level > 0.6 { " strong" } else { "" };
                format!("<td class=\"heat{strong}\" style=\"--level:{level:.2}\" title=\"")
            });
            let tick = if covered { "✓ " } else { "" };
            let _ = write!(
                w,
                "{look}{label} × {escaped_p}: {segments} segment{}\">{tick}{segments}</td>",
                if segments == 1 { "" } else { "s" }
            );
        }
        let _ = writeln!(
            w,
            "<td class=\"n\">{}/{}</td></tr>",
            row.theme.covered.len(),
            participants.len()
        );
    }
    w.push_str("</tbody></table></div>\n</section>\n");
}

/// Characters that fit on a line of a theme's box in the map, with room for
/// wide fonts: SVG text does not wrap by itself.
const MAP_LINE_CHARS: usize = 34;

/// `text` broken between words into lines of at most `width` characters
/// (a longer word is cut), the lines after the first indented further than
/// the first to show they go on.
fn wrapped(text: &str, width: usize) -> Vec<String> {
    let leading: String = text.chars().take_while(|c| *c == ' ').collect();
    let indent = format!("{leading}   ");
    let mut lines: Vec<String> = Vec::new();
    let mut line = leading;
    let mut room = width.saturating_sub(line.chars().count());
    for word in text.split_whitespace() {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let needed = word.len() + usize::from(!line.trim().is_empty());
            if needed <= room {
                if !line.trim().is_empty() {
                    line.push(' ');
                }
                line.extend(word.iter());
                room -= needed;
                break;
            }
            if line.trim().is_empty() {
                // Not even an empty line holds the word: cut it.
                let fits = room.max(1);
                line.extend(word.drain(..fits));
            }
            lines.push(std::mem::take(&mut line));
            line.push_str(&indent);
            room = width.saturating_sub(indent.len());
            if word.is_empty() {
                break;
            }
        }
    }
    if !line.trim().is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// A box of a theme on the map: its lines (name, codes, sub-themes and theirs).
fn theme_lines(theme: &ReviewedTheme) -> Vec<(String, &'static str)> {
    let mut lines = vec![(format!("{} {}", theme.id, theme.name), "title")];
    lines.extend(theme.codes.iter().map(|c| (format!("· {c}"), "code")));
    for sub in theme.subthemes.iter().filter(|s| s.discarded.is_none()) {
        lines.push((format!("↳ {} {}", sub.id, sub.name), "sub"));
        lines.extend(sub.codes.iter().map(|c| (format!("   · {c}"), "code")));
    }
    lines
}

/// The kept themes, their sub-themes and codes, grouped by discussion area,
/// as an SVG diagram with the same content as text for those who cannot see it.
fn thematic_map(w: &mut String, analysis: &Analysis) {
    let kept: BTreeMap<&str, &ReviewedTheme> = analysis
        .themes
        .iter()
        .filter(|t| t.discarded.is_none())
        .map(|t| (t.id.as_str(), t))
        .collect();
    if kept.is_empty() {
        return;
    }
    let mut groups: Vec<(String, Vec<&ReviewedTheme>)> = analysis
        .areas
        .iter()
        .map(|a| {
            let themes = a
                .themes
                .iter()
                .filter_map(|id| kept.get(id.as_str()).copied())
                .collect();
            (format!("{} {}", a.id, a.name), themes)
        })
        .collect();
    let placed: Vec<&str> = analysis
        .areas
        .iter()
        .flat_map(|a| a.themes.iter().map(String::as_str))
        .collect();
    let loose: Vec<&ReviewedTheme> = analysis
        .themes
        .iter()
        .filter(|t| t.discarded.is_none() && !placed.contains(&t.id.as_str()))
        .collect();
    if !loose.is_empty() {
        groups.push(("Themes in no discussion area".to_string(), loose));
    }
    groups.retain(|(_, themes)| !themes.is_empty());

    const LINE: f64 = 18.0;
    const COLUMN: f64 = 300.0;
    const GAP: f64 = 16.0;
    let mut body = String::new();
    let mut tallest: f64 = 0.0;
    let mut described = Vec::new();
    for (column, (area, themes)) in groups.iter().enumerate() {
        let x = GAP + column as f64 * (COLUMN + GAP);
        let title = wrapped(area, MAP_LINE_CHARS);
        let mut y = GAP + LINE * (title.len() as f64 + 1.0);
        let mut boxes = String::new();
        for theme in themes {
            let lines = theme_lines(theme);
            let drawn: Vec<(String, &str)> = lines
                .iter()
                .flat_map(|(text, class)| wrapped(text, MAP_LINE_CHARS).into_iter().map(|line| (line, *class)))
                .collect();
            let height = LINE * drawn.len() as f64 + 10.0;
            let _ = write!(
                boxes,
                "<rect class=\"theme\" x=\"{:.0}\" y=\"{y:.0}\" width=\"{:.0}\" height=\"{height:.0}\" rx=\"6\"/>",
                x + 8.0,
                COLUMN - 16.0
            );
            for (i, (text, class)) in drawn.iter().enumerate() {
                svg_text(&mut boxes, class, x + 16.0, y + LINE * (i as f64 + 1.0), text);
            }
            y += height + GAP / 2.0;
            described.push(format!(
                "{}: {}",
                area,
                lines.iter().map(|(t, _)| t.trim()).collect::<Vec<_>>().join(", ")
            ));
        }
        let height = y - GAP + GAP / 2.0;
        tallest = tallest.max(height + GAP);
        let _ = write!(
            body,
            "<g><rect class=\"area\" x=\"{x:.0}\" y=\"{GAP:.0}\" width=\"{COLUMN:.0}\" height=\"{height:.0}\" rx=\"8\"/>"
        );
        for (i, line) in title.iter().enumerate() {
            svg_text(&mut body, "title", x + 10.0, GAP + LINE * (i as f64 + 1.2), line);
        }
        let _ = write!(body, "{boxes}</g>");
    }
    let width = GAP + groups.len() as f64 * (COLUMN + GAP);
    let _ = write!(
        w,
        "<section id=\"map\">\n<h2>Thematic map</h2>\n<div class=\"scroll\"><svg role=\"img\" aria-labelledby=\"map-title map-desc\" viewBox=\"0 0 {width:.0} {tallest:.0}\" width=\"{width:.0}\" height=\"{tallest:.0}\"><title id=\"map-title\">Thematic map: themes, sub-themes and codes by discussion area</title><desc id=\"map-desc\">{}</desc>{body}</svg></div>\n</section>\n",
        escape(&described.join(". "))
    );
}

/// One line of text on the map, its baseline at `y`.
fn svg_text(w: &mut String, class: &str, x: f64, y: f64, text: &str) {
    let _ = write!(
        w,
        "<text class=\"{class}\" x=\"{x:.0}\" y=\"{y:.0}\">{}</text>",
        escape(text)
    );
}

/// Of the participants with each value of an attribute, how many each kept theme covers.
fn prevalence(w: &mut String, analysis: &Analysis) {
    let rows = kept_rows(analysis);
    let attributes = attribute_groups(analysis);
    if rows.is_empty() || attributes.is_empty() {
        return;
    }
    w.push_str("<section id=\"attributes\">\n<h2>Themes by participant attribute</h2>\n<p>Of the participants interviewed with each value, how many a kept theme covers.</p>\n");
    for (name, groups) in attributes {
        let _ = write!(
            w,
            "<h3>{}</h3>\n<div class=\"scroll\"><table>\n<thead><tr><th scope=\"col\">Theme</th>",
            escape(&heading(name))
        );
        for (value, members) in &groups {
            let _ = write!(w, "<th scope=\"col\">{} (n={})</th>", escape(value), members.len());
        }
        w.push_str("</tr></thead>\n<tbody>\n");
        for row in &rows {
            let class = if row.is_sub { " class=\"sub\"" } else { "" };
            let _ = write!(w, "<tr><th scope=\"row\"{class}>{}</th>", escape(&row.label));
            for members in groups.values() {
                let covered = covered_among(row.theme, members);
                let share = 100.0 * covered as f64 / members.len().max(1) as f64;
                let _ = write!(
                    w,
                    "<td class=\"n\"><span class=\"bar\" style=\"width:{:.1}rem\" aria-hidden=\"true\"></span>{covered}/{}</td>",
                    share / 25.0,
                    members.len()
                );
            }
            w.push_str("</tr>\n");
        }
        w.push_str("</tbody></table></div>\n");
    }
    w.push_str("</section>\n");
}

/// A transcript's codes turn by turn, put in place by counting (its
/// (code, turn) pairs come sorted by code): reused from one transcript to
/// the next.
#[derive(Default)]
struct OnTurns {
    /// Where each turn's codes start in `codes`; turn `t`'s end where `t + 1`'s start.
    starts: Vec<usize>,
    codes: Vec<u32>,
}

impl OnTurns {
    fn fill(&mut self, coded: &[(u32, u32)], number: &[u32]) {
        let last = coded.iter().map(|&(_, turn)| turn as usize).max().unwrap_or(0);
        self.starts.clear();
        self.starts.resize(last + 2, 0);
        for &(_, turn) in coded {
            self.starts[turn as usize + 1] += 1;
        }
        for t in 1..self.starts.len() {
            self.starts[t] += self.starts[t - 1];
        }
        self.codes.clear();
        self.codes.resize(coded.len(), 0);
        // Each turn's next free place, walking forward from its start.
        let mut next = self.starts.clone();
        for &(code, turn) in coded {
            self.codes[next[turn as usize]] = number[code as usize];
            next[turn as usize] += 1;
        }
    }

    fn turns(&self) -> impl Iterator<Item = &[u32]> {
        self.starts.windows(2).map(|w| &self.codes[w[0]..w[1]])
    }
}

/// Codes that were put on the same segment, the most frequent pairs first.
fn cooccurrence(w: &mut String, analysis: &Analysis) {
    // A study's digests hold millions of (code, turn) pairs: codes are
    // counted by number in a square of counts, and named only for the pairs shown.
    let mut numbers: FxHashMap<&str, u32> = FxHashMap::default();
    let mut names: Vec<&str> = Vec::new();
    let numbered: Vec<Vec<u32>> = analysis
        .transcripts
        .iter()
        .map(|transcript| {
            let codes = transcript.codes.iter();
            codes
                .map(|code| {
                    *numbers.entry(code).or_insert_with(|| {
                        names.push(code);
                        names.len() as u32 - 1
                    })
                })
                .collect()
        })
        .collect();
    let width = names.len();
    let mut counts = vec![0u32; width * width];
    let mut on_turns = OnTurns::default();
    for (transcript, number) in analysis.transcripts.iter().zip(&numbered) {
        on_turns.fill(&transcript.coded, number);
        for on_turn in on_turns.turns() {
            for (i, &a) in on_turn.iter().enumerate() {
                for &b in &on_turn[i + 1..] {
                    counts[a.min(b) as usize * width + a.max(b) as usize] += 1;
                }
            }
        }
    }
    let pairs = counts
        .iter()
        .enumerate()
        .filter(|&(_, &n)| n > 0)
        .map(|(at, &n)| ((at / width, at % width), n as usize));
    let mut ranked: Vec<((&str, &str), usize)> = pairs
        .map(|((a, b), n)| {
            let (a, b) = (names[a], names[b]);
            (if a < b { (a, b) } else { (b, a) }, n)
        })
        .collect();
    if ranked.is_empty() {
        return;
    }
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let _ = write!(
        w,
        "<section id=\"cooccurrence\">\n<h2>Codes that occur together</h2>\n<p>Segments carrying both codes; the {} most frequent pairs.</p>\n<div class=\"scroll\"><table>\n<thead><tr><th scope=\"col\">Code</th><th scope=\"col\">With</th><th scope=\"col\">Segments</th></tr></thead>\n<tbody>\n",
        COOCCURRENCE_PAIRS.min(ranked.len())
    );
    for ((a, b), n) in ranked.into_iter().take(COOCCURRENCE_PAIRS) {
        let _ = writeln!(
            w,
            "<tr><td><code>{}</code></td><td><code>{}</code></td><td class=\"n\">{n}</td></tr>",
            escape(a),
            escape(b)
        );
    }
    w.push_str("</tbody></table></div>\n</section>\n");
}

fn themes(w: &mut String, analysis: &Analysis, memos: &PlacedMemos) {
    let rows = kept_rows(analysis);
    if rows.is_empty() {
        return;
    }
    w.push_str("<section id=\"themes\">\n<h2>Themes and extracts</h2>\n");
    for row in rows {
        let level = if row.is_sub { "h4" } else { "h3" };
        let theme = row.theme;
        let _ = write!(
            w,
            "<section><{level} id=\"theme-{}\">{} <small>({})</small></{level}>\n<p>Codes: {}. Covers {}.</p>\n",
            escape(&theme.id),
            escape(&row.label),
            escape(&theme.id),
            theme
                .codes
                .iter()
                .map(|c| format!("<code>{}</code>", escape(c)))
                .collect::<Vec<_>>()
                .join(", "),
            escape(&theme.covered.iter().cloned().collect::<Vec<_>>().join(", "))
        );
        if let Some(memo) = memos.by_theme.get(theme.id.as_str()) {
            memo_box(w, &format!("Memo ({})", memo.file), memo);
        }
        for extract in &theme.extracts {
            let paragraphs: String = shorten(&extract.text)
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(|l| format!("<p>{}</p>", escape(l)))
                .collect();
            let why: String = extract
                .why
                .iter()
                .map(|why| format!("<li>{}</li>", escape(why)))
                .collect();
            let why = if why.is_empty() {
                why
            } else {
                format!("<ul class=\"why\">{why}</ul>")
            };
            let _ = writeln!(
                w,
                "<blockquote>{paragraphs}<footer>— {}, {}, turn {} ({})</footer>{why}</blockquote>",
                escape(extract.participant.as_deref().unwrap_or("unknown participant")),
                escape(&extract.transcript),
                extract.turn,
                escape(&extract.codes.join(", "))
            );
        }
        w.push_str("</section>\n");
    }
    w.push_str("</section>\n");
}

/// A memo as written (Markdown shown as text), under a line saying what it is.
fn memo_box(w: &mut String, heading: &str, memo: &Memo) {
    let _ = writeln!(
        w,
        "<div class=\"memo\"><p>{}</p><div>{}</div></div>",
        escape(heading),
        escape(memo.text.trim_end())
    );
}

/// The memos not shown beside a theme, each under what it is about.
fn memos_section(w: &mut String, memos: &PlacedMemos) {
    if memos.rest.is_empty() {
        return;
    }
    w.push_str("<section id=\"memos\">\n<h2>Memos</h2>\n");
    for (heading, memo) in &memos.rest {
        memo_box(w, &format!("{heading} ({})", memo.file), memo);
    }
    w.push_str("</section>\n");
}

fn discarded(w: &mut String, analysis: &Analysis) {
    let mut gone: Vec<&ReviewedTheme> = Vec::new();
    for theme in &analysis.themes {
        if theme.discarded.is_some() {
            gone.push(theme);
        }
        gone.extend(theme.subthemes.iter().filter(|s| s.discarded.is_some()));
    }
    if gone.is_empty() {
        return;
    }
    w.push_str("<section id=\"discarded\">\n<h2>Discarded themes</h2>\n<div class=\"scroll\"><table>\n<thead><tr><th scope=\"col\">Theme</th><th scope=\"col\">Reason</th></tr></thead>\n<tbody>\n");
    for theme in gone {
        let _ = writeln!(
            w,
            "<tr><th scope=\"row\">{} {}</th><td>{}</td></tr>",
            escape(&theme.id),
            escape(&theme.name),
            escape(theme.discarded.as_deref().unwrap_or(""))
        );
    }
    w.push_str("</tbody></table></div>\n</section>\n");
}

/// What the report was made from: the engine, configuration and stages, and
/// each transcript by its content hash.
fn provenance_section(w: &mut String, analysis: &Analysis, provenance: &Provenance) {
    let _ = write!(
        w,
        "<section id=\"provenance\">\n<h2>Provenance</h2>\n<p>Written by thematic {} at <time datetime=\"{at}\">{at}</time> from a configuration with SHA-256 <code>{}</code>.</p>\n<div class=\"scroll\"><table>\n<caption>Stages, each by the SHA-256 of what it runs</caption>\n<thead><tr><th scope=\"col\">Stage</th><th scope=\"col\">Kind</th><th scope=\"col\">Strategy</th><th scope=\"col\">Fingerprint</th></tr></thead>\n<tbody>\n",
        escape(&provenance.engine_version),
        escape(&provenance.configuration_sha256),
        at = escape(&provenance.written_at),
    );
    for stage in &provenance.stages {
        let _ = writeln!(
            w,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            escape(&stage.name),
            stage.kind,
            escape(&stage.strategy),
            escape(&stage.fingerprint)
        );
    }
    let _ = write!(
        w,
        "</tbody></table></div>\n<div class=\"scroll\"><table>\n<caption>{} transcript{}, each by the SHA-256 of its text as analysed</caption>\n<thead><tr><th scope=\"col\">Transcript</th><th scope=\"col\">Participant</th><th scope=\"col\">SHA-256</th></tr></thead>\n<tbody>\n",
        analysis.transcripts.len(),
        if analysis.transcripts.len() == 1 { "" } else { "s" }
    );
    for t in &analysis.transcripts {
        let _ = writeln!(
            w,
            "<tr><th scope=\"row\">{}</th><td>{}</td><td><code>{}</code></td></tr>",
            escape(&t.id),
            escape(t.participant.as_deref().unwrap_or("–")),
            escape(&t.content_hash)
        );
    }
    w.push_str("</tbody></table></div>\n</section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transcripts_codes_are_put_turn_by_turn_in_their_order() {
        let mut on_turns = OnTurns::default();
        // (code, turn), sorted by code; codes numbered 10, 11, 12.
        on_turns.fill(&[(0, 2), (0, 5), (1, 2), (2, 5), (2, 1)], &[10, 11, 12]);
        let turns: Vec<&[u32]> = on_turns.turns().collect();
        let expected: [&[u32]; 6] = [&[], &[12], &[10, 11], &[], &[], &[10, 12]];
        assert_eq!(turns, expected);
        on_turns.fill(&[], &[]);
        assert!(
            on_turns.turns().all(|t| t.is_empty()),
            "reused for a transcript with no codes"
        );
    }

    #[test]
    fn map_lines_break_between_words_and_cut_only_what_no_line_holds() {
        assert_eq!(wrapped("T1 short", 36), ["T1 short"]);
        assert_eq!(
            wrapped("A1 Risk of failure, ownership and the inspection", 20),
            ["A1 Risk of failure,", "   ownership and the", "   inspection"]
        );
        assert_eq!(wrapped("   · code", 36), ["   · code"], "leading indent kept");
        assert_eq!(
            wrapped("   · a-long-code and more", 16),
            ["   · a-long-code", "      and more"],
            "a continuation goes further in than its own line"
        );
        assert_eq!(
            wrapped("abcdefghij", 4),
            ["abcd", "   e", "   f", "   g", "   h", "   i", "   j"]
        );
        assert_eq!(wrapped("", 10), [""]);
    }

    #[test]
    fn text_is_escaped_for_content_and_attributes() {
        assert_eq!(escape("<b> & \"x\" 'y'"), "&lt;b&gt; &amp; &quot;x&quot; &#39;y&#39;");
    }
}
