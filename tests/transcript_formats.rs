//! Transcripts as researchers receive them: Word documents, WebVTT and SRT
//! captions, text in other encodings; and files that are not what their
//! names say, each refused with a clear message while the rest is analysed.

mod common;

use std::fs;
use std::io::Write;
use std::path::Path;

use common::{docx, run, starter, stderr, stdout, utf16le_with_bom, write, zip_of};

fn matrix(study: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(study.join("reports/code-document-matrix.json")).unwrap()).unwrap()
}

#[test]
fn every_format_is_read_into_turns_and_coded() {
    let study = starter();
    let transcripts = study.path().join("transcripts");
    write(
        &transcripts.join("P2.vtt"),
        "WEBVTT\n\n1\n00:00:01.000 --> 00:00:04.000\n<v Interviewer>How was the first year?\n\n2\n00:00:04.500 --> 00:00:07.000\n<v P2>I felt alone,\n\n3\n00:00:07.000 --> 00:00:09.000\n<v P2>until a mentor helped.\n",
    );
    write(
        &transcripts.join("P3.srt"),
        "1\n00:00:01,000 --> 00:00:02,000\nInterviewer: And you?\n\n2\n00:00:02,500 --> 00:00:04,000\nP3: Nobody to talk to.\n",
    );
    write(
        &transcripts.join("P4.docx"),
        docx(&[
            "Interview, spring.",
            "Interviewer  00:00:05",
            "Who helped?",
            "P4  00:00:09",
            "A mentor did.",
            "Later, I felt alone.",
        ]),
    );
    write(
        &transcripts.join("P5.docx"),
        docx(&["Interviewer: Who helped?", "P5: My mentor."]),
    );
    write(
        &transcripts.join("P6.txt"),
        utf16le_with_bom("Interviewer: Était-ce dur?\r\n\r\nP6: Oui. I felt isolated.\r\n"),
    );
    let output = run(&["run", study.path().to_str().unwrap()]);
    assert_ne!(output.status.code(), Some(2), "{}", stderr(&output));
    let matrix = matrix(study.path());
    let cell = |doc: &str, code: &str| matrix["coded_segments"][doc][code].as_u64().unwrap_or(0);
    // The two cues of P2 are one turn: one segment carries both codes.
    assert_eq!((cell("P2", "isolation"), cell("P2", "support")), (1, 1), "{matrix}");
    assert_eq!(cell("P3", "isolation"), 1, "{matrix}");
    assert_eq!((cell("P4", "isolation"), cell("P4", "support")), (1, 1), "{matrix}");
    assert_eq!(cell("P5", "support"), 1, "{matrix}");
    assert_eq!(cell("P6", "isolation"), 1, "UTF-16 and CRLF: {matrix}");
    let report = fs::read_to_string(study.path().join("reports/report.md")).unwrap();
    for id in ["P2.vtt", "P3.srt", "P4.docx", "P5.docx", "P6.txt"] {
        assert!(report.contains(&format!("transcripts/{id}")), "{id}: {report}");
    }
}

#[test]
fn an_unlabelled_caption_cue_continues_the_speaker_before_it_and_is_coded() {
    let study = starter();
    let transcripts = study.path().join("transcripts");
    for entry in fs::read_dir(&transcripts).unwrap() {
        fs::remove_file(entry.unwrap().path()).unwrap();
    }
    write(&study.path().join("participants.csv"), "participant\nP1\nP2\n");
    write(
        &transcripts.join("P1.srt"),
        "1\n00:00:01,000 --> 00:00:02,000\nInterviewer: How was it?\n\n2\n00:00:02,500 --> 00:00:04,000\nP1: It was hard on nights,\n\n3\n00:00:04,000 --> 00:00:06,000\nand I felt alone.\n",
    );
    write(
        &transcripts.join("P2.vtt"),
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Interviewer>How was it?\n\n00:00:02.500 --> 00:00:04.000\n<v P2>Hard on nights,\n\n00:00:04.000 --> 00:00:06.000\nand nobody to talk to.\n",
    );
    let output = run(&["run", study.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(!stderr(&output).contains("warning"), "{}", stderr(&output));
    let output = run(&["export", "matrix", study.path().to_str().unwrap()]);
    let matrix: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(matrix["coded_segments"]["P1"]["isolation"], 1, "{matrix}");
    assert_eq!(matrix["coded_segments"]["P2"]["isolation"], 1, "{matrix}");
    let report = fs::read_to_string(study.path().join("reports/report.md")).unwrap();
    assert!(
        report.contains("| transcripts/P1.srt | P1 | 2 |"),
        "two turns, the second whole:\n{report}"
    );
}

#[test]
fn bad_files_are_refused_by_name_and_place_and_the_rest_is_analysed() {
    let study = starter();
    let transcripts = study.path().join("transcripts");
    write(&transcripts.join("empty.txt"), "");
    write(&transcripts.join("image.txt"), b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR");
    let mut huge = fs::File::create(transcripts.join("huge.txt")).unwrap();
    let line = vec![b'a'; 1024 * 1024];
    for _ in 0..100 {
        huge.write_all(&line).unwrap();
    }
    drop(huge);
    write(
        &transcripts.join("headless.vtt"),
        "00:00:01.000 --> 00:00:02.000\nA: hi\n",
    );
    write(
        &transcripts.join("clock.vtt"),
        "WEBVTT\n\n00:00:01 --> 00:00:02.000\nA: hi\n",
    );
    write(
        &transcripts.join("backwards.vtt"),
        "WEBVTT\n\n00:00:05.000 --> 00:00:02.000\nA: hi\n",
    );
    write(
        &transcripts.join("P7.vtt"),
        "WEBVTT\n\n00:00:01.000 --> 00:00:05.000\nInterviewer: Alone?\n\n00:00:03.000 --> 00:00:06.000\nP7: Quite alone.\n",
    );
    write(
        &transcripts.join("letter.docx"),
        "Dear team, this is not a Word document.",
    );
    write(
        &transcripts.join("hollow.docx"),
        zip_of(&[("word/styles.xml", b"<styles/>".as_slice())]),
    );
    let bomb = vec![b' '; 64 * 1024 * 1024];
    write(
        &transcripts.join("bomb.docx"),
        zip_of(&[("word/document.xml", bomb.as_slice())]),
    );
    let output = run(&["run", study.path().to_str().unwrap()]);
    let err = stderr(&output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "bad transcripts are failed inputs: {err}"
    );
    for expected in [
        "transcripts/empty.txt: empty transcript",
        "transcripts/image.txt: not a text file: a NUL byte at byte 8",
        "transcripts/huge.txt: 100 MiB, more than the 64 MiB a transcript may be",
        "transcripts/headless.vtt: line 1: a WebVTT file starts with `WEBVTT`",
        "transcripts/clock.vtt: line 3: malformed start time (expected hh:mm:ss.ttt or mm:ss.ttt)",
        "transcripts/backwards.vtt: line 3: the cue does not end after it starts (00:00:05.000 to 00:00:02.000)",
        "transcripts/letter.docx: not a Word document: not a zip archive",
        "transcripts/hollow.docx: not a Word document: no `word/document.xml` in the archive",
        "transcripts/bomb.docx: not a Word document: `word/document.xml` inflates more than 100 times its compressed size; refused as a possible zip bomb",
        "transcripts/P7.vtt: participant `P7` has no row in participants.csv",
    ] {
        assert!(err.contains(expected), "missing `{expected}` in:\n{err}");
    }
    // Overlapping cues are accepted; the starter transcript is analysed as ever.
    let matrix = matrix(study.path());
    assert_eq!(matrix["coded_segments"]["P7"]["isolation"], 1, "{matrix}");
    assert_eq!(matrix["coded_segments"]["P1"]["isolation"], 2, "{matrix}");
}

#[test]
fn annotations_stay_in_the_text_but_are_not_coded() {
    let study = starter();
    let transcripts = study.path().join("transcripts");
    write(
        &transcripts.join("P2.txt"),
        "Interviewer: And then?\n\nP2: It was fine [pretends to be alone], really.\n",
    );
    write(
        &transcripts.join("P3.txt"),
        "Interviewer: And then?\n\nP3: Alone [laughs], and (Redacted) was no help.\n",
    );
    let output = run(&["run", study.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let coded = matrix(study.path());
    assert_eq!(coded["coded_segments"]["P2"].get("isolation"), None, "{coded}");
    assert_eq!(coded["coded_segments"]["P3"]["isolation"], 1, "{coded}");
    let report = fs::read_to_string(study.path().join("reports/report.md")).unwrap();
    assert!(
        report.contains("Alone [laughs], and (Redacted) was no help."),
        "{report}"
    );

    // A study's own patterns replace the usual ones.
    let config = study.path().join("thematic.toml");
    let text = fs::read_to_string(&config).unwrap();
    let own = text.replace(
        "[transcripts]\n",
        "[transcripts]\nannotations = [\"\\\\{[^}]*\\\\}\"]\n",
    );
    fs::write(&config, &own).unwrap();
    write(
        &transcripts.join("P2.txt"),
        "Interviewer: And then?\n\nP2: It was fine {alone}, really [alone].\n",
    );
    run(&["run", study.path().to_str().unwrap()]);
    assert_eq!(matrix(study.path())["coded_segments"]["P2"]["isolation"], 1);

    fs::write(
        &config,
        text.replace("[transcripts]\n", "[transcripts]\nannotations = [\"[unclosed\"]\n"),
    )
    .unwrap();
    let output = run(&["run", study.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("thematic.toml:13:16: ")
            && stderr(&output).contains("transcripts.annotations: bad pattern `[unclosed`"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_focus_group_speaks_for_its_mapped_participants_and_attributes_cross_tabulate() {
    let study = starter();
    fs::remove_file(study.path().join("participants.csv")).unwrap();
    write(
        &study.path().join("participants.toml"),
        "[P1]\ntier = \"Tier 2\"\n\n[P3]\ntier = \"Tier 3\"\n\n[P4]\ntier = \"Tier 3\"\n",
    );
    write(
        &study.path().join("transcripts/FG1.vtt"),
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\n<v Moderator>Who felt alone?\n\n00:00:02.000 --> 00:00:04.000\n<v Speaker 1>I felt alone.\n\n00:00:04.000 --> 00:00:06.000\n<v Speaker 2>A mentor helped me.\n\n00:00:06.000 --> 00:00:07.000\n<v Speaker 3>Alone, too.\n",
    );
    let config = study.path().join("thematic.toml");
    let text = fs::read_to_string(&config)
        .unwrap()
        .replace("file = \"participants.csv\"", "file = \"participants.toml\"")
        .replacen(
            "[participants]\n",
            "[transcripts.speakers.\"transcripts/FG1.vtt\"]\n\"Speaker 1\" = \"P3\"\n\"Speaker 2\" = \"P4\"\nModerator = { role = \"interviewer\" }\n\n[participants]\n",
            1,
        );
    fs::write(&config, text).unwrap();
    let output = run(&["run", study.path().to_str().unwrap()]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert!(
        err.contains("transcripts/FG1.vtt: speakers `Speaker 3` are not in transcripts.speakers; their turns speak for no participant"),
        "{err}"
    );
    assert!(!err.contains("`FG1`"), "a focus group is no participant: {err}");
    // The moderator is not coded; the three others are.
    assert_eq!(matrix(study.path())["coded_segments"]["FG1"]["isolation"], 2);
    let report = fs::read_to_string(study.path().join("reports/report.md")).unwrap();
    let by_tier = report.split("### Tier").nth(1).expect("a table by tier");
    assert!(by_tier.contains("| Theme | Tier 2 (n=1) | Tier 3 (n=2) |"), "{by_tier}");
    assert!(
        by_tier.contains("| 1. Support that helped | 1/1 | 1/2 |"),
        "P4 was helped: {by_tier}"
    );
    assert!(
        by_tier.contains("| 2. Carrying it alone | 1/1 | 1/2 |"),
        "P3 felt alone: {by_tier}"
    );
}
