//! A run after the first reads only the transcripts whose files changed.

mod common;

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::*;

/// Dates a file back, as if it had been saved an hour ago (plus `seconds`).
fn date_back(path: &Path, seconds: u64) {
    let then = SystemTime::now() - Duration::from_secs(3600 + seconds);
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(then)
        .unwrap();
}

fn run_study(study: &Path) -> String {
    let output = run(&["run", study.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    stdout(&output)
}

fn matrix(study: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(study.join("reports/code-document-matrix.json")).unwrap()).unwrap()
}

#[test]
fn only_changed_transcripts_are_read_and_an_edit_of_the_same_size_is_seen() {
    let dir = tempfile::tempdir().unwrap();
    let study = dir.path();
    assert_eq!(run(&["init", study.to_str().unwrap()]).status.code(), Some(0));
    let p1 = study.join("transcripts/P1.txt");
    write(
        &study.join("transcripts/P2.txt"),
        "Interviewer: And you?\n\nP2: Alone on nights, a mentor by day.\n",
    );
    for entry in fs::read_dir(study.join("transcripts")).unwrap() {
        date_back(&entry.unwrap().path(), 0);
    }
    let first = run_study(study);
    assert!(first.contains("(2 read, the rest unchanged)"), "{first}");
    let again = run_study(study);
    assert!(again.contains("(0 read, the rest unchanged)"), "{again}");
    assert!(again.contains("(nothing changed)"), "{again}");
    let before = matrix(study);

    // The same number of bytes, a different word: only the modification time tells.
    let text = fs::read_to_string(&p1).unwrap();
    assert!(text.contains("alone"), "{text}");
    fs::write(&p1, text.replace("alone", "aloft")).unwrap();
    date_back(&p1, 60);
    let edited = run_study(study);
    assert!(edited.contains("(1 read, the rest unchanged)"), "{edited}");
    assert_ne!(matrix(study), before, "the edit reached the reports");
    let report = fs::read_to_string(study.join("reports/report.md")).unwrap();
    assert!(
        report.contains("Alone on nights, a mentor by day."),
        "an extract of a transcript not read comes from the store: {report}"
    );
}

#[test]
fn a_file_saved_moments_ago_is_read_again_until_its_time_has_settled() {
    let dir = tempfile::tempdir().unwrap();
    let study = dir.path();
    assert_eq!(run(&["init", study.to_str().unwrap()]).status.code(), Some(0));
    for entry in fs::read_dir(study.join("transcripts")).unwrap() {
        date_back(&entry.unwrap().path(), 0);
    }
    run_study(study);
    // Within the clock's granularity a second save could keep size and time alike.
    write(
        &study.join("transcripts/P3.txt"),
        "Interviewer: Hello?\n\nP3: Just arrived.\n",
    );
    for _ in 0..2 {
        let output = run_study(study);
        assert!(output.contains("(1 read, the rest unchanged)"), "{output}");
    }
    date_back(&study.join("transcripts/P3.txt"), 0);
    let settled = run_study(study);
    assert!(
        settled.contains("(1 read, the rest unchanged)"),
        "the new time is read once: {settled}"
    );
    let after = run_study(study);
    assert!(after.contains("(0 read, the rest unchanged)"), "{after}");
}

/// Replaces a file's contents with `text` of the same length, its stamp (size, modification time) kept.
fn swap_unseen(path: &Path, text: &str) {
    let modified = fs::metadata(path).unwrap().modified().unwrap();
    assert_eq!(fs::metadata(path).unwrap().len(), text.len() as u64);
    fs::write(path, text).unwrap();
    fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(modified)
        .unwrap();
}

#[test]
fn after_a_run_exports_and_agreement_are_served_by_the_store_not_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let study = dir.path();
    assert_eq!(run(&["init", study.to_str().unwrap()]).status.code(), Some(0));
    let config = study.join("thematic.toml");
    let text = fs::read_to_string(&config).unwrap().replacen(
        "[[stages]]\nname = \"themes\"",
        "[[stages]]\nname = \"second\"\nkind = \"coding\"\nstrategy = \"dictionary\"\ncodebook = \"starter\"\n\n[[stages]]\nname = \"themes\"",
        1,
    );
    fs::write(&config, text + "\n[[agreement]]\ncoders = [\"code\", \"second\"]\n").unwrap();
    for entry in fs::read_dir(study.join("transcripts")).unwrap() {
        date_back(&entry.unwrap().path(), 0);
    }
    run_study(study);
    // What each file says now is never read: its stamp says it did not change.
    let p1 = study.join("transcripts/P1.txt");
    let analysed = fs::read_to_string(&p1).unwrap();
    swap_unseen(&p1, &"x".repeat(analysed.len()));

    let project = study.join("project.qdpx");
    let output = run(&[
        "export",
        "qdpx",
        study.to_str().unwrap(),
        "-o",
        project.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let bytes = fs::read(&project).unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).unwrap();
    let source = (0..archive.len())
        .map(|i| {
            let mut entry = archive.by_index(i).unwrap();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
            (entry.name().unwrap().into_owned(), text)
        })
        .find(|(name, _)| name.starts_with("sources/"))
        .map(|(_, text)| text)
        .unwrap();
    assert_eq!(
        source, analysed,
        "the source is the text as the run analysed it, from the store"
    );

    let output = run(&["agree", study.to_str().unwrap(), "--coders", "code,second"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("over 1 transcript"), "{}", stdout(&output));
    assert!(stdout(&output).contains("100.0%"), "{}", stdout(&output));
}
