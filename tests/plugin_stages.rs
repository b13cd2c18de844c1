//! Native plugins in a study, driven through the real binary, with the
//! example plugin as cargo built it (a dev-dependency of this package).

mod common;

use std::fs;
use std::path::PathBuf;

use common::*;

fn example_plugin() -> PathBuf {
    built("negation_lexicon")
}

/// The starter study with a `plugin` coding stage running `library` (copied into `plugins/`).
fn study_with_plugin(library: &[u8]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run(&["init", dir.path().to_str().unwrap()]).status.code(), Some(0));
    write(&dir.path().join("plugins/lexicon.so"), library);
    let config = dir.path().join("thematic.toml");
    let text = fs::read_to_string(&config).unwrap().replacen(
        "[[stages]]\nname = \"themes\"",
        "[[stages]]\nname = \"lexicon\"\nkind = \"coding\"\nstrategy = \"plugin\"\nplugin = \"plugins/lexicon.so\"\n\
         params = { lexicon = { alone = [\"alone\"], mentoring = [\"mentor\"] } }\n\n[[stages]]\nname = \"themes\"",
        1,
    );
    fs::write(&config, text).unwrap();
    dir
}

#[test]
fn a_plugin_stage_codes_beside_the_builtin_and_is_reused_from_the_store() {
    let study = study_with_plugin(&fs::read(example_plugin()).expect("the example plugin was built"));
    let output = run(&["run", study.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let matrix: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(study.path().join("reports/code-document-matrix.json")).unwrap())
            .unwrap();
    assert_eq!(matrix["coded_segments"]["P1"]["alone"], 1, "{matrix}");
    assert_eq!(matrix["coded_segments"]["P1"]["mentoring"], 1, "{matrix}");
    let again = run(&["run", study.path().to_str().unwrap()]);
    assert!(stdout(&again).contains("0 coded, 2 reused"), "{}", stdout(&again));
}

#[test]
fn a_file_that_is_not_a_plugin_is_a_configuration_error_at_its_key() {
    let study = study_with_plugin(b"not a library at all");
    let output = run(&["check", study.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("thematic.toml:") && err.contains("plugins/lexicon.so: not a shared library"),
        "{err}"
    );
}

#[test]
fn plugin_check_shows_name_kinds_version_and_a_smoke_call() {
    let plugin = example_plugin();
    let output = run(&[
        "plugin",
        "check",
        plugin.to_str().unwrap(),
        "--params",
        "lexicon = { support = [\"supported\"] }",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.contains("plugin `negation-lexicon`"), "{out}");
    assert!(out.contains("ABI version 2"), "{out}");
    assert!(out.contains("kinds: coding"), "{out}");
    assert!(out.contains("coding smoke call: ok, 1 coding on one turn"), "{out}");
    let failing = run(&["plugin", "check", plugin.to_str().unwrap()]);
    assert_eq!(failing.status.code(), Some(1));
    assert!(
        stderr(&failing).contains("smoke call: negation-lexicon: params.lexicon is missing"),
        "{}",
        stderr(&failing)
    );
}

#[test]
fn plugin_check_takes_a_bare_file_name_as_the_file_here_and_keeps_the_loaders_reason() {
    let here = tempfile::tempdir().unwrap();
    write(&here.path().join("libnegation.so"), fs::read(example_plugin()).unwrap());
    write(&here.path().join("libbroken.so"), b"not a library at all");
    let check = |args: &[&str]| {
        thematic()
            .current_dir(here.path())
            .args(["plugin", "check"])
            .args(args)
            .args(["--params", "lexicon = { support = [\"supported\"] }"])
            .output()
            .unwrap()
    };
    for isolated in [&[][..], &["--isolated"][..]] {
        let output = check(&[&["libnegation.so"][..], isolated].concat());
        assert_eq!(output.status.code(), Some(0), "{isolated:?}: {}", stderr(&output));
        assert!(
            stdout(&output).contains("plugin `negation-lexicon`"),
            "{}",
            stdout(&output)
        );
    }
    for isolated in [&[][..], &["--isolated"][..]] {
        let output = check(&[&["libbroken.so"][..], isolated].concat());
        assert_eq!(output.status.code(), Some(2), "{isolated:?}: {}", stderr(&output));
        let err = stderr(&output);
        assert!(
            err.contains("libbroken.so: not a shared library that can be loaded: "),
            "{err}"
        );
        #[cfg(target_os = "linux")]
        assert!(err.contains("file too short"), "the loader's own reason: {err}");
    }
}

#[test]
fn the_dictionary_plugin_codes_the_demo_exactly_as_the_builtin_strategy_in_process_and_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    assert_eq!(run(&["init", "--demo", demo.to_str().unwrap()]).status.code(), Some(0));
    // One long interview, so that requests and replies to an isolated plugin
    // are far larger than a pipe holds.
    let long = fs::read_to_string(demo.join("transcripts/P1.txt")).unwrap().repeat(60);
    assert!(long.len() > 256 * 1024);
    write(&demo.join("transcripts/P1-long.txt"), long);
    assert_eq!(run(&["run", demo.to_str().unwrap()]).status.code(), Some(0));
    let builtin = fs::read_to_string(demo.join("reports/code-document-matrix.json")).unwrap();
    write(
        &demo.join("plugins/dictionary.so"),
        fs::read(built("dictionary_plugin")).expect("the dictionary plugin was built"),
    );
    let config = demo.join("thematic.toml");
    let original = fs::read_to_string(&config).unwrap();
    for isolation in ["none", "process"] {
        let text = original.replacen(
            "strategy = \"dictionary\"",
            &format!("strategy = \"plugin\"\nplugin = \"plugins/dictionary.so\"\nisolation = \"{isolation}\""),
            1,
        );
        fs::write(&config, text).unwrap();
        // Where a plugin runs does not change what it codes, so the store would
        // rightly reuse the first run's codings: start from an empty one.
        fs::remove_dir_all(demo.join(".thematic")).unwrap();
        let output = run(&["run", demo.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        assert!(stdout(&output).contains("8 coded, 0 reused"), "{}", stdout(&output));
        assert_eq!(
            fs::read_to_string(demo.join("reports/code-document-matrix.json")).unwrap(),
            builtin,
            "isolation = {isolation}"
        );
    }
}
