//! `thematic code`: the config-less dictionary coder and its agreement with `peer_re.py`.

mod common;

use std::process::Command;

use common::*;

fn code(corpus: &std::path::Path, format: &str) -> std::process::Output {
    let transcripts = corpus.join("transcripts");
    let codebook = corpus.join("codebook.csv");
    run(&[
        "code",
        transcripts.to_str().unwrap(),
        "--codebook",
        codebook.to_str().unwrap(),
        "--format",
        format,
    ])
}

#[test]
fn unicode_edge_cases_agree_byte_for_byte_with_the_reference_coder() {
    let corpus = fixture("unicode-corpus");
    let output = code(&corpus, "json");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output).trim_end(), peer_re_json(&corpus));
}

#[test]
fn a_generated_corpus_agrees_byte_for_byte_with_the_reference_coder() {
    let corpus = tempfile::tempdir().unwrap();
    let status = Command::new("python3")
        .arg(peer_bench_dir().join("gen_corpus.py"))
        .args([
            "--out",
            corpus.path().to_str().unwrap(),
            "--transcripts",
            "12",
            "--words",
            "3000",
            "--seed",
            "11",
        ])
        .status()
        .expect("python3 runs");
    assert!(status.success());
    let output = code(corpus.path(), "json");
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let ours = stdout(&output);
    assert!(
        ours.contains("\"P12\": {\"code_"),
        "every transcript has codings: {ours}"
    );
    assert_eq!(ours.trim_end(), peer_re_json(corpus.path()));
}

#[test]
fn empty_and_unlabelled_transcripts_are_warnings_naming_the_file() {
    let output = code(&fixture("unicode-corpus"), "json");
    let err = stderr(&output);
    assert!(err.contains("U4.txt: empty transcript"), "{err}");
    assert!(err.contains("U5.txt: no speaker labels"), "{err}");
}

#[test]
fn csv_format_has_a_row_per_document_and_a_column_per_code() {
    let output = code(&fixture("unicode-corpus"), "csv");
    assert_eq!(output.status.code(), Some(0));
    let text = stdout(&output);
    let mut lines = text.lines();
    let header = lines.next().unwrap();
    assert!(header.starts_with("document,blame,cafe,city,digits,"), "{header}");
    let u1 = lines.next().unwrap();
    let cells: Vec<&str> = u1.split(',').collect();
    let column = |code: &str| header.split(',').position(|h| h == code).unwrap();
    assert_eq!(cells[0], "U1");
    assert_eq!(cells[column("failure")], "2");
    assert_eq!(cells[column("blame")], "0");
}

#[test]
fn invalid_utf8_fails_that_file_only_and_exits_1() {
    let corpus = tempfile::tempdir().unwrap();
    write(&corpus.path().join("codebook.csv"), "code,term\nrisk,fail*\n");
    write(&corpus.path().join("transcripts/A.txt"), "P1: we were failing\n");
    write(&corpus.path().join("transcripts/B.txt"), b"P2: ok\nP2: bad \xff byte\n");
    let output = code(corpus.path(), "json");
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(err.contains("B.txt: not valid UTF-8 at byte 15"), "{err}");
    assert_eq!(
        stdout(&output).trim_end(),
        r#"{"coded_segments": {"A": {"risk": 1}}, "segments": 1}"#
    );
}

#[test]
fn a_bad_codebook_row_is_a_usage_error_naming_file_row_and_code() {
    let corpus = tempfile::tempdir().unwrap();
    write(&corpus.path().join("codebook.csv"), "code,term\nrisk,fail*\nblame,\n");
    write(&corpus.path().join("transcripts/A.txt"), "P1: hi\n");
    let output = code(corpus.path(), "json");
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("codebook.csv:3: code `blame` has an empty term"),
        "{}",
        stderr(&output)
    );
    assert!(stdout(&output).is_empty());
}

#[test]
fn a_reader_that_goes_away_is_not_an_error() {
    let corpus = fixture("unicode-corpus");
    let mut child = thematic()
        .args(["code", corpus.join("transcripts").to_str().unwrap(), "--codebook"])
        .arg(corpus.join("codebook.csv"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    assert_eq!(child.wait().unwrap().code(), Some(0), "no panic on a closed pipe");
}
