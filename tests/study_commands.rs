//! `thematic init`, `run`, `check` and `export matrix` on a study folder,
//! driven through the real binary, including the bad inputs a researcher
//! will meet.

mod common;

use std::fs;
use std::path::Path;

use common::*;

/// A fresh study made by `thematic init`.
fn run_in(dir: &Path, command: &str) -> std::process::Output {
    run(&[command, dir.to_str().unwrap()])
}

/// The 1-based line of `path` on which `needle` first stands.
fn line_of(path: &Path, needle: &str) -> usize {
    let text = fs::read_to_string(path).unwrap();
    text[..text.find(needle).expect("needle present")].matches('\n').count() + 1
}

fn edit(path: &Path, from: &str, to: &str) {
    let text = fs::read_to_string(path).unwrap();
    assert!(text.contains(from), "{} does not contain {from:?}", path.display());
    fs::write(path, text.replacen(from, to, 1)).unwrap();
}

#[test]
fn a_new_study_runs_as_it_is_and_the_second_run_reuses_the_store() {
    let study = starter();
    let first = run_in(study.path(), "run");
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(stdout(&first).contains("1 coded, 0 reused"), "{}", stdout(&first));
    let report = fs::read_to_string(study.path().join("reports/report.md")).unwrap();
    assert!(report.contains("| 1. Support that helped | ✓ | 1/1 |"), "{report}");
    assert!(study.path().join(".thematic/store.db").is_file());

    let second = run_in(study.path(), "run");
    assert_eq!(second.status.code(), Some(0));
    assert!(
        stdout(&second).contains("0 coded, 1 reused from the store (nothing changed)"),
        "{}",
        stdout(&second)
    );
    assert_eq!(
        fs::read_to_string(study.path().join("reports/report.md")).unwrap(),
        report,
        "same inputs, same report"
    );
    let leftovers: Vec<_> = fs::read_dir(study.path().join("reports"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind: {leftovers:?}");
}

#[test]
fn a_changed_transcript_is_coded_again_and_a_changed_codebook_recodes_everything() {
    let study = starter();
    write(
        &study.path().join("transcripts/P2.txt"),
        "Interviewer: And you?\nP2: I was alone.\n",
    );
    assert_eq!(run_in(study.path(), "run").status.code(), Some(0));
    edit(&study.path().join("transcripts/P2.txt"), "alone", "supported");
    let output = run_in(study.path(), "run");
    assert!(stdout(&output).contains("1 coded, 1 reused"), "{}", stdout(&output));
    fs::write(
        study.path().join("codebook.csv"),
        "code,term\nsupport,support*\nisolation,alone\n",
    )
    .unwrap();
    let output = run_in(study.path(), "run");
    assert!(stdout(&output).contains("2 coded, 0 reused"), "{}", stdout(&output));
}

#[test]
fn changing_who_counts_as_interviewer_codes_again() {
    let study = starter();
    assert_eq!(run_in(study.path(), "run").status.code(), Some(0));
    edit(
        &study.path().join("thematic.toml"),
        "roles = { Interviewer = \"interviewer\" }",
        "roles = { Interviewer = \"interviewer\", P1 = \"interviewer\" }",
    );
    let output = run_in(study.path(), "run");
    assert!(stdout(&output).contains("1 coded, 0 reused"), "{}", stdout(&output));
    let matrix = fs::read_to_string(study.path().join("reports/code-document-matrix.json")).unwrap();
    assert_eq!(
        matrix, r#"{"coded_segments": {"P1": {}}, "segments": 4}"#,
        "no participant turns are left to code"
    );
}

#[test]
fn init_refuses_a_folder_that_holds_a_study() {
    let study = starter();
    let output = run(&["init", study.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("already holds a study"), "{}", stderr(&output));
}

/// Configuration mistakes a researcher makes, each an error at its place in
/// `thematic.toml` (exit 2, nothing run): (edit from, edit to, where the error
/// points, column, message).
const LOCATED_CONFIG_ERRORS: &[(&str, &str, &str, usize, &str)] = &[
    (
        "[outputs]\n",
        "[outputs]\nfolder = \"out\"\n",
        "folder",
        1,
        "unknown field `folder`, expected `dir` or `formats`",
    ),
    (
        "min_participants = 1",
        "min_participants = \"one\"",
        "min_participants",
        20,
        "invalid type: string \"one\", expected usize",
    ),
    (
        "codes = [\"isolation\"]",
        "codes = [\"isolaton\"]",
        "isolaton",
        10,
        "theme `T2` names code `isolaton`, which no coding stage's codebook defines",
    ),
    (
        "strategy = \"dictionary\"",
        "strategy = \"dictionnary\"",
        "dictionnary",
        12,
        "stage `code`: unknown coding strategy `dictionnary`",
    ),
    (
        "kind = \"areas\"",
        "kind = \"area\"",
        "\"area\"",
        8,
        "unknown variant `area`, expected one of `coding`, `themes`, `areas`",
    ),
    (
        "codebook = \"starter\"",
        "codebook = \"starters\"",
        "\"starters\"",
        12,
        "no codebook is named `starters` in [[codebooks]]",
    ),
];

#[test]
fn configuration_errors_name_file_line_and_column_and_nothing_runs() {
    for &(from, to, needle, column, message) in LOCATED_CONFIG_ERRORS {
        let study = starter();
        let config = study.path().join("thematic.toml");
        edit(&config, from, to);
        let output = run_in(study.path(), "run");
        assert_eq!(output.status.code(), Some(2), "{to}: {}", stderr(&output));
        let expected = format!("thematic.toml:{}:{column}: {message}", line_of(&config, needle));
        assert!(
            stderr(&output).contains(&expected),
            "expected {expected:?} in {}",
            stderr(&output)
        );
        assert!(!study.path().join("reports").exists(), "{to}: nothing ran");
    }
}

#[test]
fn a_codebook_row_with_an_empty_term_names_file_row_and_code() {
    let study = starter();
    fs::write(
        study.path().join("codebook.csv"),
        "code,term\nsupport,support*\nisolation,\n",
    )
    .unwrap();
    let output = run_in(study.path(), "run");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("codebook.csv:3: code `isolation` has an empty term"),
        "{}",
        stderr(&output)
    );
}

/// Adds a `regex` coding stage with the codebook `patterns` to the starter study.
fn add_regex_stage(study: &Path, patterns: &str) {
    write(&study.join("patterns.csv"), patterns);
    edit(
        &study.join("thematic.toml"),
        "[[stages]]\nname = \"themes\"",
        "[[codebooks]]\nname = \"patterns\"\nfile = \"patterns.csv\"\n\n\
         [[stages]]\nname = \"hedges\"\nkind = \"coding\"\nstrategy = \"regex\"\ncodebook = \"patterns\"\n\n\
         [[stages]]\nname = \"themes\"",
    );
}

#[test]
fn an_invalid_regex_names_file_row_and_code() {
    let study = starter();
    add_regex_stage(study.path(), "code,pattern\nhedge,\\b(maybe|perhaps\\b\n");
    let output = run_in(study.path(), "run");
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("patterns.csv:2: code `hedge`: invalid regular expression `\\b(maybe|perhaps\\b`"),
        "{err}"
    );
}

#[test]
fn the_regex_strategy_codes_with_spans_beside_the_dictionary() {
    let study = starter();
    add_regex_stage(study.path(), "code,pattern\nhedge,\\b(maybe|perhaps|I suppose)\\b\n");
    write(
        &study.path().join("transcripts/P2.txt"),
        "Interviewer: And you?\nP2: Perhaps it was fine, I suppose.\n",
    );
    let output = run_in(study.path(), "run");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let matrix: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(study.path().join("reports/code-document-matrix.json")).unwrap())
            .unwrap();
    assert_eq!(matrix["coded_segments"]["P2"]["hedge"], 1);
    assert_eq!(matrix["coded_segments"]["P1"].get("hedge"), None);
}

#[test]
fn invalid_utf8_fails_one_transcript_and_the_rest_is_reported() {
    let study = starter();
    write(
        &study.path().join("transcripts/P2.txt"),
        b"P2: fine\nP2: \xc3\x28 broken\n",
    );
    let output = run_in(study.path(), "run");
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("transcripts/P2.txt: not valid UTF-8 at byte 13"), "{err}");
    let report = fs::read_to_string(study.path().join("reports/report.md")).unwrap();
    assert!(report.contains("| transcripts/P1.txt | P1 |"), "P1 is still reported");
    assert!(!report.contains("transcripts/P2.txt"), "P2 is left out");
}

#[test]
fn what_is_stored_for_a_transcript_survives_a_bad_edit_of_it() {
    let study = starter();
    let transcript = study.path().join("transcripts/P1.txt");
    assert_eq!(run_in(study.path(), "run").status.code(), Some(0));
    let good = fs::read(&transcript).unwrap();
    let mut bad = good.clone();
    bad.extend_from_slice(b"\nP1: \xff\n");
    fs::write(&transcript, bad).unwrap();
    assert_eq!(run_in(study.path(), "run").status.code(), Some(1));
    fs::write(&transcript, good).unwrap();
    let output = run_in(study.path(), "run");
    assert!(
        stdout(&output).contains("0 coded, 1 reused from the store"),
        "{}",
        stdout(&output)
    );
}

#[test]
fn empty_and_unlabelled_transcripts_are_warnings() {
    let study = starter();
    write(&study.path().join("transcripts/P2.txt"), "");
    write(
        &study.path().join("transcripts/P3.txt"),
        "I worked alone for a year.\nThen things changed.\n",
    );
    let output = run_in(study.path(), "run");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(err.contains("warning: transcripts/P2.txt: empty transcript"), "{err}");
    assert!(err.contains("warning: transcripts/P3.txt: no speaker labels"), "{err}");
    let themes = fs::read_to_string(study.path().join("reports/theme-participant-matrix.csv")).unwrap();
    assert!(
        themes.contains("T2,Carrying it alone,,2,1,2,yes"),
        "the unlabelled text is P3's one segment: {themes}"
    );
}

#[test]
fn participant_rows_and_transcripts_are_checked_against_each_other() {
    let study = starter();
    fs::write(
        study.path().join("participants.csv"),
        "participant,role\nP1,Lead\nP9,Lead\nP1,Again\n",
    )
    .unwrap();
    write(&study.path().join("transcripts/P2.txt"), "P2: hello\n");
    let output = run_in(study.path(), "check");
    assert_eq!(output.status.code(), Some(1), "a duplicate id is a failed input");
    let err = stderr(&output);
    assert!(
        err.contains("participants.csv:4: participant `P1` is listed twice; the first row is kept"),
        "{err}"
    );
    assert!(
        err.contains("transcripts/P2.txt: participant `P2` has no row in participants.csv"),
        "{err}"
    );
    assert!(
        err.contains("participants.csv: participant `P9` has no transcript"),
        "{err}"
    );
}

#[test]
fn many_participants_without_transcripts_are_one_warning() {
    let study = starter();
    let rows: String = (1..=30).map(|i| format!("P{i},Lead\n")).collect();
    fs::write(
        study.path().join("participants.csv"),
        format!("participant,role\n{rows}"),
    )
    .unwrap();
    let output = run_in(study.path(), "check");
    let err = stderr(&output);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains("no transcript")).collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].contains("participants.csv: 29 participants have no transcript yet: `P2`, `P3`"),
        "{err}"
    );
    assert!(lines[0].ends_with("`P6`, and 24 more"), "{err}");
}

#[test]
fn check_writes_nothing() {
    let study = starter();
    let output = run_in(study.path(), "check");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("ok — 1 transcript (4 segments), 1 participant, 1 coding stage, 2 themes, 1 discussion area; 0 warnings, 0 errors"),
        "{}",
        stdout(&output)
    );
    assert!(!study.path().join("reports").exists());
    assert!(!study.path().join(".thematic").exists());
}

#[test]
fn export_matrix_prints_the_reference_shape() {
    let study = starter();
    let output = run(&["export", "matrix", study.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stdout(&output).trim_end(),
        r#"{"coded_segments": {"P1": {"isolation": 2, "support": 1}}, "segments": 4}"#
    );
    let output = run(&["export", "matrix", study.path().to_str().unwrap(), "--format", "csv"]);
    assert_eq!(stdout(&output), "document,isolation,support\nP1,2,1\n");
}

#[test]
fn a_folder_without_a_study_says_how_to_make_one() {
    let dir = tempfile::tempdir().unwrap();
    let output = run_in(dir.path(), "run");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("no thematic.toml here; `thematic init"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_toml_codebook_brings_its_hierarchy_into_the_report_and_unknown_question_links_warn() {
    let study = starter();
    write(
        &study.path().join("codebook.toml"),
        "[[codes]]\nid = \"support\"\nname = \"Support\"\nquestions = [\"RQ1\"]\nterms = [\"support*\", \"mentor*\"]\n\n\
         [[codes]]\nid = \"isolation\"\nparent = \"support\"\ndescription = \"Being alone with it\"\nquestions = [\"RQ9\"]\nterms = [\"alone\"]\n",
    );
    edit(
        &study.path().join("thematic.toml"),
        "file = \"codebook.csv\"",
        "file = \"codebook.toml\"",
    );
    let output = run_in(study.path(), "run");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output)
            .contains("codebook.toml: code `isolation` links to question `RQ9`, which [[questions]] does not define"),
        "{}",
        stderr(&output)
    );
    let report = fs::read_to_string(study.path().join("reports/report.md")).unwrap();
    assert!(report.contains("| Support (`support`) |  | RQ1 | 1 | 1 |"), "{report}");
    assert!(
        report.contains("| ↳ `isolation` | Being alone with it | RQ9 | 1 | 1 |"),
        "{report}"
    );
}
