//! `thematic withdraw`: a participant who withdraws consent leaves no trace
//! in the store's files or the reports.

mod common;

use std::fs;
use std::path::Path;

use common::*;

/// Words only participant P9 said.
const THEIR_WORDS: &str = "zebra lantern";

/// The starter study with a second participant, P9, run once.
fn study_with_p9() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let study = dir.path();
    assert_eq!(run(&["init", study.to_str().unwrap()]).status.code(), Some(0));
    write(
        &study.join("transcripts/P9.txt"),
        format!("Interviewer: And you?\n\nP9: I felt alone, like a {THEIR_WORDS} in the fog.\n"),
    );
    let participants = study.join("participants.csv");
    let text = fs::read_to_string(&participants).unwrap() + "P9,Deputy,2\n";
    fs::write(&participants, text).unwrap();
    let output = run(&["run", study.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    dir
}

/// Files under `dir` whose bytes contain `needle`.
fn files_containing(dir: &Path, needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_containing(&path, needle));
        } else if fs::read(&path)
            .unwrap()
            .windows(needle.len())
            .any(|w| w == needle.as_bytes())
        {
            found.push(path.display().to_string());
        }
    }
    found
}

fn traces(study: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for place in [".thematic", "reports"] {
        for needle in [THEIR_WORDS, "P9"] {
            found.extend(files_containing(&study.join(place), needle));
        }
    }
    found
}

#[test]
fn a_withdrawn_participant_leaves_no_trace_in_the_store_or_the_reports() {
    let dir = study_with_p9();
    let study = dir.path();
    assert!(
        !traces(study).is_empty(),
        "the test would see P9 in the store and the reports"
    );
    let kept = tempfile::tempdir().unwrap();
    let output = run(&[
        "withdraw",
        "P9",
        study.to_str().unwrap(),
        "--move-to",
        kept.path().to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("`P9` withdrawn: 1 transcript out of the study"),
        "{}",
        stdout(&output)
    );
    assert_eq!(traces(study), Vec::<String>::new());
    assert!(kept.path().join("transcripts/P9.txt").is_file());
    assert!(!study.join("transcripts/P9.txt").exists());
    assert_eq!(
        fs::read_to_string(study.join("participants.csv")).unwrap(),
        "participant,role,years_in_post\nP1,Team leader,4\n"
    );
    // The rest of the analysis is as before.
    assert!(fs::read_to_string(study.join("reports/report.md"))
        .unwrap()
        .contains("transcripts/P1.txt"));
    let again = run(&["run", study.to_str().unwrap()]);
    assert!(stdout(&again).contains("0 coded, 1 reused"), "{}", stdout(&again));
}

#[test]
fn transcripts_can_be_deleted_instead_and_old_reports_go_too() {
    let dir = study_with_p9();
    let study = dir.path();
    // A report from an earlier setting that this configuration no longer writes.
    let config = study.join("thematic.toml");
    let text = fs::read_to_string(&config).unwrap().replace(
        "formats = [\"markdown\", \"html\", \"csv\", \"json\"]",
        "formats = [\"markdown\"]",
    );
    fs::write(&config, text).unwrap();
    let output = run(&["withdraw", "P9", study.to_str().unwrap(), "--delete"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("and 5 reports from earlier settings deleted"),
        "{}",
        stdout(&output)
    );
    assert_eq!(traces(study), Vec::<String>::new());
    assert!(!study.join("transcripts/P9.txt").exists());
}

#[test]
fn a_destination_the_study_would_read_again_is_refused_before_anything_moves() {
    let dir = study_with_p9();
    let study = dir.path();
    let output = run(&[
        "withdraw",
        "P9",
        study.to_str().unwrap(),
        "--move-to",
        study.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("transcripts/P9.txt already exists"),
        "{}",
        stderr(&output)
    );
    let inside = study.join("withdrawn");
    let config = study.join("thematic.toml");
    let starter_patterns = "include = [\"transcripts/*.txt\", \"transcripts/*.md\", \"transcripts/*.vtt\", \"transcripts/*.srt\", \"transcripts/*.docx\"]";
    // A flat pattern matches the file's name there; a nested one the folder it would land in too.
    for include in ["include = [\"**/*.txt\"]", "include = [\"**/transcripts/*.txt\"]"] {
        let text = fs::read_to_string(&config).unwrap();
        let text = text
            .replace(starter_patterns, include)
            .replace("include = [\"**/*.txt\"]", include);
        fs::write(&config, text).unwrap();
        let output = run(&[
            "withdraw",
            "P9",
            study.to_str().unwrap(),
            "--move-to",
            inside.to_str().unwrap(),
        ]);
        assert_eq!(output.status.code(), Some(2), "{include}");
        assert!(
            stderr(&output).contains("the study would read the transcripts again"),
            "{include}: {}",
            stderr(&output)
        );
        assert!(study.join("transcripts/P9.txt").is_file());
    }
}

#[test]
fn a_withdraw_that_finds_nothing_says_so_and_still_purges() {
    let dir = study_with_p9();
    let before = fs::read_to_string(dir.path().join("participants.csv")).unwrap();
    let output = run(&["withdraw", "P7", dir.path().to_str().unwrap(), "--delete"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("participant `P7` has no transcript and no row in the participants file"),
        "{}",
        stderr(&output)
    );
    assert_eq!(fs::read_to_string(dir.path().join("participants.csv")).unwrap(), before);
    assert!(dir.path().join("transcripts/P9.txt").is_file());
    let missing_choice = run(&["withdraw", "P9", dir.path().to_str().unwrap()]);
    assert_eq!(missing_choice.status.code(), Some(2));
    assert!(
        stderr(&missing_choice).contains("--move-to"),
        "{}",
        stderr(&missing_choice)
    );
}

#[test]
fn the_first_participant_can_withdraw_and_the_header_stays() {
    let dir = study_with_p9();
    let study = dir.path();
    let output = run(&["withdraw", "P1", study.to_str().unwrap(), "--delete"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        fs::read_to_string(study.join("participants.csv")).unwrap(),
        "participant,role,years_in_post\nP9,Deputy,2\n"
    );
}
