//! Plugin packs end to end: a pack built from the repository's example
//! scripts, codebook and plugin, installed into two fresh studies (one in the
//! study, one for the user), run with identical results; a tampered file
//! caught by the lock; unsafe and incompatible packs refused with nothing
//! installed.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use common::*;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// `thematic pack install SOURCE --study STUDY`, then `extra` flags.
fn install(data: &Path, source: &Path, study: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "pack",
        "install",
        source.to_str().unwrap(),
        "--study",
        study.to_str().unwrap(),
    ];
    args.extend(extra);
    with_data(data, &args)
}

fn target() -> String {
    format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS)
}

/// A pack folder made of the repository's examples: the demo codebook, the
/// emotion script with the module it requires, and the negation-lexicon plugin.
fn example_pack(dir: &Path, engine: &str) -> PathBuf {
    let pack = dir.join("team-coding");
    write(
        &pack.join("codebooks/leadership.toml"),
        fs::read(repo("demo/codebook.toml")).unwrap(),
    );
    write(
        &pack.join("scripts/emotion.lua"),
        fs::read(repo("scripts/emotion.lua")).unwrap(),
    );
    write(
        &pack.join("scripts/codings.lua"),
        fs::read(repo("scripts/codings.lua")).unwrap(),
    );
    let library = format!("plugins/{}/{}", target(), library_file_name("negation_lexicon"));
    write(&pack.join(&library), fs::read(built("negation_lexicon")).unwrap());
    let manifest = format!(
        r#"[pack]
name = "team-coding"
version = "1.0.0"
description = "The team's leadership coding."
authors = ["A. Researcher"]
licence = "CC-BY-4.0"
engine = "{engine}"
plugin_abi = 2

[provides]
codebooks = {{ leadership = "codebooks/leadership.toml" }}
scripts = {{ emotion = "scripts/emotion.lua" }}
plugins = {{ negation = {{ "{target}" = "{library}" }} }}

[[presets]]
name = "team-coding"
stages = [
  {{ name = "dictionary", kind = "coding", strategy = "dictionary", codebook = "leadership" }},
  {{ name = "emotion", kind = "coding", strategy = "lua", script = "emotion" }},
  {{ name = "negation", kind = "coding", strategy = "plugin", plugin = "negation", params = {{ lexicon = {{ alone = ["alone"] }} }} }},
]
"#,
        target = target()
    );
    write(&pack.join("pack.toml"), manifest);
    pack
}

fn study_using_the_pack(dir: &Path, name: &str) -> PathBuf {
    let study = dir.join(name);
    assert_eq!(run(&["init", study.to_str().unwrap()]).status.code(), Some(0));
    let config = study.join("thematic.toml");
    let text = fs::read_to_string(&config).unwrap().replacen(
        "[participants]\n",
        "[[packs]]\nuses = \"team-coding@1\"\n\n[participants]\n",
        1,
    );
    fs::write(&config, text).unwrap();
    study
}

#[test]
fn a_pack_gives_two_studies_the_same_analysis_and_its_lock_catches_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("user-data");
    let pack = example_pack(dir.path(), ">=0.1");
    let archive = dir.path().join("team-coding-1.0.0.zip");
    let output = with_data(
        &data,
        &["pack", "build", pack.to_str().unwrap(), "-o", archive.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));

    let first = study_using_the_pack(dir.path(), "first");
    let second = study_using_the_pack(dir.path(), "second");
    // Not installed yet: the run stops before anything runs, at the `uses` line.
    let output = with_data(&data, &["run", first.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("pack `team-coding` is not in thematic.lock"),
        "{}",
        stderr(&output)
    );

    for (study, scope) in [(&first, &[][..]), (&second, &["--global"][..])] {
        let output = install(&data, &archive, study, &[&["--allow-native"][..], scope].concat());
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    }
    assert!(first.join(".thematic/packs/team-coding-1.0.0/pack.toml").is_file());
    assert!(
        data.join("packs/team-coding-1.0.0/pack.toml").is_file(),
        "installed for the user"
    );
    let output = with_data(&data, &["pack", "list", "--study", second.to_str().unwrap()]);
    assert!(
        stdout(&output)
            .contains("team-coding 1.0.0 (for the user, native code allowed): ok — The team's leadership coding."),
        "{}",
        stdout(&output)
    );
    let lock = |study: &Path| fs::read_to_string(study.join("thematic.lock")).unwrap();
    assert!(lock(&first).contains("scope = \"study\"") && lock(&second).contains("scope = \"user\""));
    assert!(lock(&first).contains("native = true"));

    let mut matrices = Vec::new();
    for study in [&first, &second] {
        let output = with_data(&data, &["run", study.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        matrices.push(fs::read_to_string(study.join("reports/code-document-matrix.json")).unwrap());
    }
    assert_eq!(matrices[0], matrices[1], "the same pack, the same analysis");
    let matrix: serde_json::Value = serde_json::from_str(&matrices[0]).unwrap();
    assert_eq!(
        matrix["coded_segments"]["P1"]["alone"], 1,
        "the pack's plugin ran: {matrix}"
    );

    // One changed byte in an installed file, and the run refuses to use the pack.
    let script = first.join(".thematic/packs/team-coding-1.0.0/scripts/emotion.lua");
    let mut text = fs::read_to_string(&script).unwrap();
    text.push_str("\n-- changed\n");
    fs::write(&script, text).unwrap();
    let output = with_data(&data, &["run", first.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("thematic.toml:") && stderr(&output).contains("is not what thematic.lock pins"),
        "{}",
        stderr(&output)
    );
    let output = with_data(&data, &["pack", "verify", "--study", first.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    // Accepting the change on purpose pins it again.
    let output = with_data(
        &data,
        &[
            "pack",
            "update",
            "team-coding",
            "--study",
            first.to_str().unwrap(),
            "--allow-native",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        with_data(&data, &["run", first.to_str().unwrap()]).status.code(),
        Some(0)
    );
}

#[test]
fn native_code_runs_only_when_allowed_at_install() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("user-data");
    let folder = example_pack(dir.path(), ">=0.1");
    // This time from a .tar.gz, as `pack build` makes one.
    let pack = dir.path().join("team-coding-1.0.0.tar.gz");
    let output = with_data(
        &data,
        &["pack", "build", folder.to_str().unwrap(), "-o", pack.to_str().unwrap()],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let study = study_using_the_pack(dir.path(), "study");
    let output = install(&data, &pack, &study, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("its native plugins will not run"),
        "{}",
        stdout(&output)
    );
    let output = with_data(&data, &["run", study.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("runs native code (plugin `negation`); allow it"),
        "{}",
        stderr(&output)
    );

    // Allowed, and forced into processes of its own by the study.
    let output = install(&data, &pack, &study, &["--allow-native"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let config = study.join("thematic.toml");
    let text = fs::read_to_string(&config).unwrap();
    fs::write(
        &config,
        text.replace(
            "uses = \"team-coding@1\"\n",
            "uses = \"team-coding@1\"\nisolation = \"process\"\n",
        ),
    )
    .unwrap();
    let output = with_data(&data, &["run", study.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let matrix = fs::read_to_string(study.join("reports/code-document-matrix.json")).unwrap();
    assert!(matrix.contains("\"alone\": 1"), "{matrix}");
}

#[test]
fn unsafe_and_incompatible_packs_are_refused_with_nothing_installed() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("user-data");
    let study = study_using_the_pack(dir.path(), "study");
    let installed = study.join(".thematic/packs");

    let future = example_pack(&dir.path().join("future"), ">=99");
    let output = install(&data, &future, &study, &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("needs thematic >=99"), "{}", stderr(&output));

    let evil_pack = zip_of(&[
        (
            "pack.toml",
            b"[pack]\nname = \"evil\"\nversion = \"1.0.0\"\nengine = \">=0.1\"\n".as_slice(),
        ),
        ("../../outside.sh", b"echo gotcha".as_slice()),
    ]);
    let evil = dir.path().join("evil-1.0.0.zip");
    fs::write(&evil, evil_pack).unwrap();
    let output = install(&data, &evil, &study, &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("`../../outside.sh` would land outside the pack"),
        "{}",
        stderr(&output)
    );

    // Two entries of exactly one name, in both kinds of archive (Python's
    // archivers write them; the zip crate's writer refuses to).
    for (name, archiver) in [
        (
            "twice-1.0.0.zip",
            "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z:\n    for name, data in sys.argv[2:]:\n        z.writestr(name, data)",
        ),
        (
            "twice-1.0.0.tar.gz",
            "import io, sys, tarfile\nwith tarfile.open(sys.argv[1], 'w:gz') as t:\n    for name, data in sys.argv[2:]:\n        info = tarfile.TarInfo(name); info.size = len(data.encode()); t.addfile(info, io.BytesIO(data.encode()))",
        ),
    ] {
        let archive = dir.path().join(name);
        let script = archiver.replace("sys.argv[2:]", "zip(sys.argv[2::2], sys.argv[3::2])");
        let made = std::process::Command::new("python3")
            .args(["-W", "ignore", "-c", &script, archive.to_str().unwrap()])
            .args(["pack.toml", "[pack]\nname = \"twice\"\nversion = \"1.0.0\"\nengine = \">=0.1\"\n"])
            .args(["book.csv", "code,term\nsupport,help\n", "book.csv", "code,term\nsupport,harm\n"])
            .status()
            .expect("python3 runs");
        assert!(made.success(), "{name}");
        let output = install(&data, &archive, &study, &[]);
        assert_eq!(output.status.code(), Some(2), "{name}: {}", stderr(&output));
        assert!(
            stderr(&output).contains("`book.csv` is in the archive twice"),
            "{name}: {}",
            stderr(&output)
        );
    }

    assert!(!dir.path().join("outside.sh").exists() && !study.join("outside.sh").exists());
    let left: Vec<_> = fs::read_dir(&installed)
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "nothing half-installed: {left:?}");
    assert!(!study.join("thematic.lock").exists(), "no pin for a refused pack");
}
