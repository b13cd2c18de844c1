//! The thematic map as Graphviz DOT, for those who lay it out themselves
//! (`dot -Tsvg`): each discussion area a cluster of its kept themes, each
//! theme an arrow to its sub-themes and codes.

use std::collections::BTreeSet;
use std::fmt::Write;

use thematic_model::{Analysis, ReviewedTheme};

/// A DOT string: quoted, with quotes and backslashes escaped and line ends as `\n`.
fn quoted(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace(['\r', '\n'], "\\n");
    format!("\"{escaped}\"")
}

fn node(id: &str) -> String {
    quoted(&format!("theme:{id}"))
}

fn theme_nodes(w: &mut String, theme: &ReviewedTheme, indent: &str) {
    let _ = writeln!(
        w,
        "{indent}{} [label={}];",
        node(&theme.id),
        quoted(&format!("{}\n{}", theme.id, theme.name))
    );
    for sub in theme.subthemes.iter().filter(|s| s.discarded.is_none()) {
        let _ = writeln!(
            w,
            "{indent}{} [label={}, style=\"rounded,dashed\"];",
            node(&sub.id),
            quoted(&format!("{}\n{}", sub.id, sub.name))
        );
    }
}

pub fn thematic_map_dot(analysis: &Analysis) -> String {
    let kept: Vec<&ReviewedTheme> = analysis.themes.iter().filter(|t| t.discarded.is_none()).collect();
    let mut w = String::new();
    let _ = writeln!(w, "digraph {} {{", quoted(&format!("Thematic map: {}", analysis.study)));
    w.push_str("  graph [rankdir=LR, fontname=\"Helvetica\"];\n  node [shape=box, style=rounded, fontname=\"Helvetica\"];\n  edge [color=\"#718096\"];\n");
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    for area in &analysis.areas {
        let themes: Vec<&&ReviewedTheme> = kept.iter().filter(|t| area.themes.contains(&t.id)).collect();
        if themes.is_empty() {
            continue;
        }
        let _ = writeln!(
            w,
            "  subgraph {} {{\n    label={};",
            quoted(&format!("cluster_{}", area.id)),
            quoted(&format!("{} {}", area.id, area.name))
        );
        for theme in themes {
            theme_nodes(&mut w, theme, "    ");
            placed.insert(&theme.id);
        }
        w.push_str("  }\n");
    }
    for theme in kept.iter().filter(|t| !placed.contains(t.id.as_str())) {
        theme_nodes(&mut w, theme, "  ");
    }
    let mut codes: BTreeSet<&str> = BTreeSet::new();
    for theme in &kept {
        let subs = theme.subthemes.iter().filter(|s| s.discarded.is_none());
        for holder in std::iter::once(*theme).chain(subs) {
            if holder.id != theme.id {
                let _ = writeln!(w, "  {} -> {};", node(&theme.id), node(&holder.id));
            }
            for code in &holder.codes {
                codes.insert(code);
                let _ = writeln!(w, "  {} -> {};", node(&holder.id), quoted(&format!("code:{code}")));
            }
        }
    }
    for code in codes {
        let _ = writeln!(
            w,
            "  {} [label={}, shape=plaintext];",
            quoted(&format!("code:{code}")),
            quoted(code)
        );
    }
    w.push_str("}\n");
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_quoted_with_their_quotes_escaped() {
        assert_eq!(quoted("a \"b\" \\ c\nd"), "\"a \\\"b\\\" \\\\ c\\nd\"");
    }
}
