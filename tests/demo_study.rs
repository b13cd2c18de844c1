//! The bundled demo study, end to end: `thematic init --demo` then `thematic run`.

mod common;

use std::fs;

use common::*;

fn demo_run() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let study = dir.path().join("demo");
    let output = run(&["init", "--demo", study.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let output = run(&["run", study.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("themes: 8 kept, 1 discarded; discussion areas: 3"),
        "{}",
        stdout(&output)
    );
    dir
}

#[test]
fn theme_coverage_takes_the_shape_of_the_study() {
    let dir = demo_run();
    let json = fs::read_to_string(dir.path().join("demo/reports/theme-participant-matrix.json")).unwrap();
    let matrix: serde_json::Value = serde_json::from_str(&json).unwrap();
    let covered = |theme: &serde_json::Value| -> String {
        theme["covered"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap())
            .collect::<Vec<_>>()
            .join(",")
    };
    let all = "P1,P2,P3,P4,P5,P6,P7";
    let expected = [
        ("T1", "P1,P2,P3,P5,P6,P7"),
        ("T2", all),
        ("T3", all),
        ("T4", all),
        ("T5", all),
        ("T6", "P1,P2,P3,P6"),
        ("T7", all),
        ("T8", "P1,P3,P4,P5,P6,P7"),
        ("T9", "P3,P5"),
    ];
    let themes = matrix["themes"].as_array().unwrap();
    assert_eq!(themes.len(), expected.len());
    for (theme, (id, participants)) in themes.iter().zip(expected) {
        assert_eq!(theme["id"], id);
        assert_eq!(covered(theme), participants, "coverage of {id}");
    }
    let subthemes = themes[2]["subthemes"].as_array().unwrap();
    assert_eq!(
        (covered(&subthemes[0]).as_str(), covered(&subthemes[1]).as_str()),
        (all, "P1,P2,P3,P4,P7")
    );
    assert_eq!(
        themes[8]["discarded"],
        "covers 2 of 7 participants (P3, P5); the review rule asks for at least 4"
    );
    assert!(themes[..8].iter().all(|t| t["discarded"].is_null()));
}

#[test]
fn the_report_is_stable() {
    let dir = demo_run();
    let report = fs::read_to_string(dir.path().join("demo/reports/report.md")).unwrap();
    insta::assert_snapshot!("demo_report", report);
}

#[test]
fn every_kept_theme_has_its_extracts_with_participant_and_turn() {
    let dir = demo_run();
    let report = fs::read_to_string(dir.path().join("demo/reports/report.md")).unwrap();
    let section = report.split("\n## Themes\n").nth(1).expect("a themes section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let themes = section.split("\n###").skip(1).collect::<Vec<_>>();
    assert_eq!(themes.len(), 10, "8 themes and 2 sub-themes");
    for theme in themes {
        let quoted = theme.matches("\n> — P").count();
        assert_eq!(quoted, 3, "three extracts in {}", theme.lines().next().unwrap());
        assert!(theme.contains(", transcripts/P"), "extracts name their transcript");
    }
    assert!(
        report.contains("| T9 Workload and paperwork | covers 2 of 7 participants (P3, P5)"),
        "discarded with reason"
    );
}

#[test]
fn the_html_report_stands_alone_with_a_cell_per_theme_and_participant() {
    let dir = demo_run();
    let html = fs::read_to_string(dir.path().join("demo/reports/report.html")).unwrap();
    // Nothing is fetched: no address of any kind, no script.
    for outside in ["http:", "https:", "=\"//", "<script", "<link", "src=", "url("] {
        assert!(!html.contains(outside), "{outside} in report.html");
    }
    // 8 kept themes and 2 kept sub-themes, by 7 participants.
    let heat_map = html
        .split("<table class=\"heatmap\">")
        .nth(1)
        .unwrap()
        .split("</table>")
        .next()
        .unwrap();
    assert_eq!(heat_map.matches("<td class=\"heat").count(), 10 * 7);
    assert_eq!(heat_map.matches("<th scope=\"row\"").count(), 10);
    assert!(
        heat_map.contains("title=\"1. Understanding the risk of failure × P4: 0 segments\">0</td>"),
        "T1 does not cover P4"
    );
    // Every table has headers; the map has a text alternative.
    assert_eq!(html.matches("<table").count(), html.matches("<thead>").count());
    assert!(html.contains("<svg role=\"img\" aria-labelledby=\"map-title map-desc\""));
    assert!(html.contains("<desc id=\"map-desc\">A1 "), "the map's content as text");
    // Provenance: each stage by what it runs, and the time of writing.
    for (stage, kind) in [
        ("code-questions", "coding"),
        ("review-themes", "themes"),
        ("discussion-areas", "areas"),
    ] {
        let row = format!("<tr><th scope=\"row\">{stage}</th><td>{kind}</td><td>");
        let fingerprint = html.split(&row).nth(1).unwrap_or_else(|| panic!("no row for {stage}"));
        let fingerprint = fingerprint
            .split("<code>")
            .nth(1)
            .unwrap()
            .split("</code>")
            .next()
            .unwrap();
        assert_eq!(fingerprint.len(), 64, "{stage}: {fingerprint}");
    }
    let written_at = html
        .split("<time datetime=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert!(
        written_at.starts_with("20") && written_at.ends_with('Z'),
        "{written_at}"
    );
    // The time changes with every run; the snapshot holds the rest.
    insta::assert_snapshot!("demo_report_html", html.replace(written_at, "[written at]"));
}

#[test]
fn the_thematic_map_goes_out_as_graphviz_dot() {
    let dir = demo_run();
    let study = dir.path().join("demo");
    let output = run(&["export", "dot", study.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let graph = stdout(&output);
    assert!(graph.starts_with("digraph \"Thematic map: "), "{graph}");
    assert_eq!(
        graph.matches("subgraph \"cluster_").count(),
        3,
        "one cluster per discussion area"
    );
    assert_eq!(
        graph.matches("[label=\"T").count(),
        10,
        "8 kept themes and 2 sub-themes: {graph}"
    );
    assert!(graph.contains("\"theme:T3\" -> \"theme:T3a\";"));
    assert!(!graph.contains("T9"), "a discarded theme is not on the map");
    assert_eq!(graph.matches('{').count(), graph.matches('}').count());
    let file = dir.path().join("map.dot");
    let output = run(&["export", "dot", study.to_str().unwrap(), "-o", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(fs::read_to_string(&file).unwrap().trim_end(), graph.trim_end());
}

#[test]
fn the_matrices_go_out_as_a_workbook_holding_what_the_csv_files_hold() {
    use calamine::{open_workbook, Data, Reader, Xlsx};
    let dir = demo_run();
    let study = dir.path().join("demo");
    let file = dir.path().join("matrices.xlsx");
    let output = run(&["export", "xlsx", study.to_str().unwrap(), "-o", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let mut workbook: Xlsx<_> = open_workbook(&file).unwrap();
    assert_eq!(
        workbook.sheet_names(),
        ["Themes by participant", "Codes by transcript", "Participants"]
    );
    let cell = |data: &Data| match data {
        Data::Float(n) => {
            assert_eq!(n.fract(), 0.0, "counts are whole numbers");
            format!("{n}")
        }
        Data::String(text) => text.clone(),
        Data::Empty => String::new(),
        other => panic!("unexpected cell {other:?}"),
    };
    for (sheet, csv) in [
        ("Themes by participant", "theme-participant-matrix.csv"),
        ("Codes by transcript", "code-document-matrix.csv"),
    ] {
        let range = workbook.worksheet_range(sheet).unwrap();
        let rows: Vec<Vec<String>> = range.rows().map(|row| row.iter().map(cell).collect()).collect();
        let csv = fs::read_to_string(study.join("reports").join(csv)).unwrap();
        let expected: Vec<Vec<String>> = csv::Reader::from_reader(csv.as_bytes())
            .records()
            .map(|record| record.unwrap().iter().map(str::to_string).collect())
            .collect();
        assert_eq!(rows[1..], expected[..], "{sheet}: the same rows, numbers as numbers");
        assert_eq!(rows[0].len(), expected[0].len(), "{sheet}: a header per column");
    }
    let participants = workbook.worksheet_range("Participants").unwrap();
    assert_eq!(participants.height(), 1 + 7, "a header and a row per participant");
}

#[test]
fn report_open_writes_the_page_whatever_the_outputs_and_hands_it_to_the_browser() {
    let dir = tempfile::tempdir().unwrap();
    let study = dir.path().join("demo");
    let output = run(&["init", "--demo", study.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let config = study.join("thematic.toml");
    let text = fs::read_to_string(&config).unwrap();
    let all_formats = "formats = [\"markdown\", \"html\", \"csv\", \"json\"]";
    assert!(text.contains(all_formats));
    fs::write(&config, text.replace(all_formats, "formats = [\"markdown\"]")).unwrap();
    // A stand-in browser that notes what it was asked to open.
    let opened = dir.path().join("opened.txt");
    let browser = dir.path().join("browser.sh");
    // Written aside and moved into place: the test never reads it half-written.
    let script = format!(
        "#!/bin/sh\nprintf '%s' \"$1\" > '{0}.part' && mv '{0}.part' '{0}'\n",
        opened.display()
    );
    fs::write(&browser, script).unwrap();
    fs::set_permissions(&browser, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let output = thematic()
        .args(["report", "--open", study.to_str().unwrap()])
        .env("BROWSER", &browser)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let page = study.join("reports/report.html");
    assert!(page.is_file(), "report.html is written though [outputs] leaves it out");
    assert!(study.join("reports/report.md").is_file());
    assert!(stdout(&output).contains("opened "), "{}", stdout(&output));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !opened.is_file() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(fs::read_to_string(&opened).unwrap(), page.to_str().unwrap());
    // A browser that cannot start leaves the report written and says so.
    let output = thematic()
        .args(["report", "--open", study.to_str().unwrap()])
        .env("BROWSER", dir.path().join("no-such-browser"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stderr(&output).contains("open it by hand"), "{}", stderr(&output));
}

#[test]
fn a_stage_fingerprint_changes_with_what_the_stage_is_given_and_only_then() {
    let dir = demo_run();
    let study = dir.path().join("demo");
    let fingerprints = || {
        let html = fs::read_to_string(study.join("reports/report.html")).unwrap();
        ["code-questions", "review-themes", "discussion-areas"].map(|stage| {
            let row = format!("<tr><th scope=\"row\">{stage}</th>");
            let after = html.split(&row).nth(1).unwrap();
            after
                .split("<code>")
                .nth(1)
                .unwrap()
                .split("</code>")
                .next()
                .unwrap()
                .to_string()
        })
    };
    let before = fingerprints();
    let config = study.join("thematic.toml");
    let text = fs::read_to_string(&config).unwrap();
    assert!(text.contains("min_participants = 4"));
    fs::write(&config, text.replace("min_participants = 4", "min_participants = 3")).unwrap();
    let output = run(&["run", study.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let after = fingerprints();
    assert_eq!(after[0], before[0], "the coding stage is given the same");
    assert_ne!(after[1], before[1], "the review rule is part of the themes stage");
    assert_eq!(after[2], before[2], "the areas stage is given the same");
}
