//! The anonymity promise: names on the redaction list are replaced before
//! anything reads a transcript, never reach the store, the reports or a
//! message, and `thematic audit` proves it (and catches a leaked copy).

mod common;

use std::fs;
use std::path::Path;

use common::{docx, run, starter, stderr, stdout, utf16le_with_bom, write, zip_of};

const NAMES: [&str; 6] = ["Ana María Ruiz", "ana maria", "Zoë", "ZOE", "Riverside", "North Trust"];

fn run_in(command: &str, study: &Path) -> std::process::Output {
    run(&[command, study.to_str().unwrap()])
}

/// Names in every place a name can hide: speech, a speaker label, a voice tag, a bad cue.
fn plant_names(study: &Path) {
    let transcripts = study.join("transcripts");
    write(
        &transcripts.join("P2.txt"),
        "Interviewer: Did Ana María Ruiz help you at Riverside?\n\nP2: ana maria ruiz? No. Zoë did; I felt alone at North Trust.\n\nZoë: That is true, I was a mentor.\n",
    );
    write(
        &transcripts.join("P3.vtt"),
        "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\n<v ZOE>Riverside was lonely.\n\n00:00:03.000 --> 00:00:05.000\n<v P3>Alone, yes, even with Ana María Ruiz around.\n",
    );
    write(
        &transcripts.join("P4.vtt"),
        "WEBVTT\n\nZoë 00:00:01 --> 00:00:02.000\nP4: hello\n",
    );
    // A memo quoted in the reports, which names people too.
    write(
        &study.join("memos/journal.md"),
        "Met Ana María Ruiz at Riverside; Zoë joined.\n",
    );
}

fn redact(study: &Path, private: &Path) {
    write(
        &private.join("redaction.csv"),
        "entry,kind,group\nAna María Ruiz,person,ana\nAna María,person,ana\nZoë,person\nRiverside,place\nNorth Trust,organisation\n",
    );
    let config = study.join("thematic.toml");
    let text = fs::read_to_string(&config).unwrap();
    let section = format!(
        "[redaction]\nlist = {:?}\nkey = {:?}\n\n[participants]\n",
        private.join("redaction.csv").display().to_string(),
        private.join("key.csv").display().to_string()
    );
    fs::write(&config, text.replacen("[participants]\n", &section, 1)).unwrap();
}

fn assert_no_names(what: &str, text: &str) {
    for name in NAMES {
        assert!(
            !text.to_lowercase().contains(&name.to_lowercase()),
            "{what} holds `{name}`:\n{text}"
        );
    }
}

#[test]
fn names_are_replaced_everywhere_and_the_audit_proves_it() {
    let study = starter();
    let private = tempfile::tempdir().unwrap();
    plant_names(study.path());
    // A first run without redaction puts the names in the store, as a study
    // that adopts redaction late would have them.
    run_in("run", study.path());
    redact(study.path(), private.path());

    let output = run_in("run", study.path());
    assert_eq!(output.status.code(), Some(1), "P4.vtt is broken: {}", stderr(&output));
    assert_no_names("the run's messages", &(stdout(&output) + &stderr(&output)));
    assert!(
        stderr(&output).contains("transcripts/P4.vtt: line 3: malformed start time"),
        "{}",
        stderr(&output)
    );

    let report = fs::read_to_string(study.path().join("reports/report.md")).unwrap();
    assert_no_names("report.md", &report);
    assert!(
        report.contains("### The study's journal (memos/journal.md)\n\n> Met PERSON-1 at PLACE-1"),
        "{report}"
    );
    // `Zoë: ` still opens a turn, as `PERSON-2: `: three turns in P2.
    assert!(report.contains("| transcripts/P2.txt | P2 | 3 |"), "{report}");
    for file in fs::read_dir(study.path().join("reports")).unwrap() {
        let path = file.unwrap().path();
        assert_no_names(
            &path.display().to_string(),
            &String::from_utf8_lossy(&fs::read(&path).unwrap()),
        );
    }
    let key = fs::read_to_string(private.path().join("key.csv")).unwrap();
    assert!(
        key.contains("PERSON-1,Ana María Ruiz")
            && key.contains("PERSON-1,Ana María")
            && key.contains("PLACE-1,Riverside"),
        "{key}"
    );

    let output = run_in("audit", study.path());
    assert_eq!(output.status.code(), Some(0), "{}{}", stdout(&output), stderr(&output));
    assert!(
        stdout(&output).contains("no entry of the redaction list found"),
        "{}",
        stdout(&output)
    );

    // A copy of a transcript left among the outputs is caught, by place, without repeating the name.
    fs::copy(
        study.path().join("transcripts/P2.txt"),
        study.path().join("reports/leaked.txt"),
    )
    .unwrap();
    let output = run_in("audit", study.path());
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let err = stderr(&output);
    assert!(
        err.contains("reports/leaked.txt:1:18: an entry of the redaction list (PERSON-1) is in the output"),
        "{err}"
    );
    assert!(
        err.contains("reports/leaked.txt:1:45: an entry of the redaction list (PLACE-1)"),
        "{err}"
    );
    assert_no_names("the audit's messages", &(stdout(&output) + &err));
    fs::remove_file(study.path().join("reports/leaked.txt")).unwrap();

    // A run under a list that forgot a name stores it; the audit, under the whole list, finds it in the store.
    let list = private.path().join("redaction.csv");
    let whole = fs::read_to_string(&list).unwrap();
    fs::write(&list, whole.replace("Zoë,person\n", "")).unwrap();
    run_in("run", study.path());
    fs::write(&list, &whole).unwrap();
    let output = run_in("audit", study.path());
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let err = stderr(&output);
    assert!(
        err.contains(".thematic/store.db: segments.text, row ") && err.contains("(PERSON-2) is in the output"),
        "{err}"
    );
}

#[test]
fn the_audit_reads_copies_as_thematic_reads_transcripts_and_names_what_it_cannot_read() {
    let study = starter();
    let private = tempfile::tempdir().unwrap();
    plant_names(study.path());
    fs::remove_file(study.path().join("transcripts/P4.vtt")).unwrap();
    // A project exported before the study adopted redaction holds the names.
    let early = private.path().join("early.qdpx");
    let export = run(&[
        "export",
        "qdpx",
        study.path().to_str().unwrap(),
        "-o",
        early.to_str().unwrap(),
    ]);
    assert_eq!(export.status.code(), Some(0), "{}", stderr(&export));
    redact(study.path(), private.path());
    assert_eq!(run_in("run", study.path()).status.code(), Some(0));
    let reports = study.path().join("reports");
    let transcript = fs::read_to_string(study.path().join("transcripts/P2.txt")).unwrap();
    let first_line = transcript.lines().next().unwrap();
    let copies: [(&str, Vec<u8>, &str); 7] = [
        (
            "copy-utf16.txt",
            utf16le_with_bom(&transcript),
            "reports/copy-utf16.txt:1:18: ",
        ),
        (
            "copy.docx",
            docx(&[first_line]),
            "reports/copy.docx [word/document.xml]:1:",
        ),
        (
            "matrices.xlsx",
            zip_of(&[(
                "xl/sharedStrings.xml",
                "<sst><si><t>North Trust</t></si></sst>".as_bytes(),
            )]),
            "reports/matrices.xlsx [xl/sharedStrings.xml]:1:13: ",
        ),
        ("early.qdpx", fs::read(&early).unwrap(), "reports/early.qdpx [sources/"),
        (
            "notes.json",
            br#"{"note": "Zo\u00eb"}"#.to_vec(),
            "reports/notes.json:1:11: ",
        ),
        ("page.html", b"<p>Zo&euml;</p>".to_vec(), "reports/page.html:1:4: "),
        (
            "Riverside.txt",
            b"nothing here".to_vec(),
            "reports/PLACE-1.txt: the name: ",
        ),
    ];
    for (name, bytes, place) in copies {
        write(&reports.join(name), bytes);
        let output = run_in("audit", study.path());
        let err = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{name}: {}{err}", stdout(&output));
        assert!(err.contains(place) && err.contains("is in the output"), "{name}: {err}");
        assert_no_names("the audit's messages", &(stdout(&output) + &err));
        fs::remove_file(reports.join(name)).unwrap();
    }

    // A file it cannot read is not passed: it is named, and the audit fails.
    write(&reports.join("notes.gz"), b"\x1f\x8b\x08\0\0\0\0\0\0\x03");
    let output = run_in("audit", study.path());
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stderr(&output).contains("reports/notes.gz: not audited: neither text nor a format thematic reads"),
        "{}",
        stderr(&output)
    );
    assert!(
        stdout(&output).contains("no entry of the redaction list found; 1 file not audited"),
        "{}",
        stdout(&output)
    );
    fs::remove_file(reports.join("notes.gz")).unwrap();
    assert_eq!(run_in("audit", study.path()).status.code(), Some(0));
}

#[test]
fn files_and_participants_named_after_someone_are_left_out() {
    let study = starter();
    let private = tempfile::tempdir().unwrap();
    write(
        &study.path().join("transcripts/Zoë.txt"),
        "Interviewer: Hello?\n\nZoë: Alone.\n",
    );
    fs::write(
        study.path().join("participants.csv"),
        "participant,school\nP1,Riverside\nZoe,North Trust\n",
    )
    .unwrap();
    redact(study.path(), private.path());
    let output = run_in("run", study.path());
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    assert!(
        err.contains("transcripts/PERSON-2.txt: the file's name holds an entry of the redaction list (PERSON-2)"),
        "{err}"
    );
    assert!(
        err.contains("participant `PERSON-2`: the id holds an entry of the redaction list (PERSON-2)"),
        "{err}"
    );
    assert_no_names("the messages", &err);
    let report = fs::read_to_string(study.path().join("reports/report.md")).unwrap();
    assert_no_names("report.md", &report);
    assert!(
        report.contains("PLACE-1"),
        "attributes are redacted, not dropped: {report}"
    );
}

#[test]
fn the_key_must_be_kept_apart_from_the_outputs() {
    let study = starter();
    write(&study.path().join("redaction.csv"), "Zoë\n");
    let config = study.path().join("thematic.toml");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(
        &config,
        text.replacen(
            "[participants]\n",
            "[redaction]\nlist = \"redaction.csv\"\nkey = \"reports/../reports/key.csv\"\n\n[participants]\n",
            1,
        ),
    )
    .unwrap();
    let output = run_in("run", study.path());
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("the redaction key must be kept apart from the outputs and the store"),
        "{}",
        stderr(&output)
    );
    let output = run_in("audit", starter().path());
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("no [redaction] list in thematic.toml"),
        "{}",
        stderr(&output)
    );
}
