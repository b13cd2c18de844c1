//! Plugins in processes of their own (`isolation = "process"`) and theme-grouping
//! plugins, driven through the real binary with plugins as cargo built them.

mod common;

use std::fs;
use std::path::Path;

use common::*;

/// The starter study with a second interview and a second coding stage, run
/// by the misbehaving test plugin in a process of its own with `stage` keys added.
fn study_with_isolated_plugin(stage: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(run(&["init", dir.path().to_str().unwrap()]).status.code(), Some(0));
    write(
        &dir.path().join("transcripts/P2.txt"),
        "Interviewer: And later?\n\nP2: Later a mentor helped, and the support made the difference.\n",
    );
    write(
        &dir.path().join("plugins/misbehaving.so"),
        fs::read(built("testing_misbehaviour")).expect("the test plugin was built"),
    );
    set_plugin_stage(dir.path(), stage);
    dir
}

fn set_plugin_stage(study: &Path, stage: &str) {
    let config = study.join("thematic.toml");
    let text = fs::read_to_string(&config).unwrap();
    let start = text.find("[[stages]]\nname = \"themes\"").unwrap();
    let before = text[..start]
        .split("[[stages]]\nname = \"isolated\"")
        .next()
        .unwrap()
        .to_string();
    let text = format!(
        "{before}[[stages]]\nname = \"isolated\"\nkind = \"coding\"\nstrategy = \"plugin\"\n\
         plugin = \"plugins/misbehaving.so\"\nisolation = \"process\"\n{stage}\n\n{}",
        &text[start..]
    );
    fs::write(&config, text).unwrap();
}

fn matrix(study: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(study.join("reports/code-document-matrix.json")).unwrap()).unwrap()
}

#[test]
fn an_isolated_plugin_codes_and_its_codings_are_stored() {
    let study = study_with_isolated_plugin("");
    let output = run(&["run", study.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    // Both stages code `support`: once by the dictionary, once by the plugin.
    assert_eq!(matrix(study.path())["coded_segments"]["P2"]["support"], 1);
    let again = run(&["run", study.path().to_str().unwrap()]);
    assert!(stdout(&again).contains("0 coded, 4 reused"), "{}", stdout(&again));
}

/// Runs the study with the plugin crashing as `mode` says, after a good run,
/// and checks that the host reported it, kept the store and wrote the reports.
fn crash_leaves_the_study_intact(mode: &str, stage: &str, expected: &str) {
    let study = study_with_isolated_plugin("");
    let dir = study.path().to_str().unwrap();
    assert_eq!(run(&["run", dir]).status.code(), Some(0));
    fs::remove_dir_all(study.path().join("reports")).unwrap();

    set_plugin_stage(study.path(), &format!("params = {{ misbehave = \"{mode}\" }}\n{stage}"));
    let output = run(&["run", dir]);
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{err}");
    for transcript in ["P1.txt", "P2.txt"] {
        assert!(
            err.contains(&format!("transcripts/{transcript}: stage `isolated` (plugin): testing-misbehaviour: the plugin's process {expected}")),
            "{err}"
        );
    }
    assert!(!err.contains("panicked"), "{err}");
    // The dictionary stage was reused from the store and the reports were written from it.
    let out = stdout(&output);
    assert!(out.contains("2 coded, 2 reused"), "{out}");
    let report = fs::read_to_string(study.path().join("reports/report.md")).unwrap();
    assert!(report.contains("Support that helped"), "{report}");
    assert_eq!(matrix(study.path())["coded_segments"]["P2"]["support"], 1);

    // With the plugin well again, its stage codes both transcripts; the rest is reused.
    set_plugin_stage(study.path(), "");
    let healed = run(&["run", dir]);
    assert_eq!(healed.status.code(), Some(0), "{}", stderr(&healed));
    assert!(stdout(&healed).contains("2 coded, 2 reused"), "{}", stdout(&healed));
}

#[cfg(unix)]
#[test]
fn a_segfault_in_an_isolated_plugin_fails_its_stage_and_leaves_the_study_intact() {
    crash_leaves_the_study_intact(
        "segfault",
        "",
        "was killed by signal 11 (SIGSEGV, a segmentation fault)",
    );
}

#[cfg(unix)]
#[test]
fn an_abort_in_an_isolated_plugin_fails_its_stage_and_leaves_the_study_intact() {
    crash_leaves_the_study_intact("abort", "", "was killed by signal 6 (SIGABRT, the plugin aborted)");
}

#[test]
fn a_hanging_isolated_plugin_is_stopped_at_its_time_limit() {
    crash_leaves_the_study_intact(
        "hang",
        "limits = { seconds = 2 }",
        "did not answer within the time limit of 2 s and was stopped",
    );
}

#[cfg(unix)]
#[test]
fn the_time_limit_also_ends_what_the_plugin_forked() {
    crash_leaves_the_study_intact(
        "fork-and-hang",
        "limits = { seconds = 2 }",
        "did not answer within the time limit of 2 s and was stopped",
    );
}

#[cfg(unix)]
#[test]
fn a_plugin_past_its_memory_limit_is_reported_with_the_limit() {
    crash_leaves_the_study_intact(
        "hog",
        "limits = { memory_mib = 256 }",
        "was killed by signal 6 (SIGABRT, the plugin aborted) (its memory limit is 256 MiB)",
    );
}

#[test]
fn what_an_isolated_plugin_prints_on_stdout_does_not_break_its_replies() {
    let study = study_with_isolated_plugin("params = { misbehave = \"chatter\" }");
    let output = run(&["run", study.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("a plugin talking on stdout"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_panic_in_an_isolated_plugin_is_reported_as_in_process() {
    let study = study_with_isolated_plugin("params = { misbehave = \"panic\" }");
    let output = run(&["run", study.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("testing-misbehaviour: panicked: the plugin was asked to panic"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_file_that_is_not_a_plugin_is_refused_by_the_isolated_loader_too() {
    let study = study_with_isolated_plugin("");
    write(&study.path().join("plugins/misbehaving.so"), "not a library");
    let output = run(&["check", study.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("thematic.toml:") && err.contains("plugins/misbehaving.so: not a shared library"),
        "{err}"
    );
}

#[test]
fn a_memory_limit_too_small_for_the_process_is_a_configuration_error() {
    let study = study_with_isolated_plugin("limits = { memory_mib = 16 }");
    let output = run(&["check", study.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output)
            .contains("`limits.memory_mib` is 16; a plugin's process holds thematic too and needs at least 64"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn plugin_serve_is_not_for_people() {
    let output = thematic()
        .args(["plugin", "serve", "--", "plugins/whatever.so"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    // Not a terminal here, so it serves: and refuses the missing library with exit 2.
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stdout).contains("\"Missing\""));
}

#[test]
fn isolation_and_limits_are_checked_where_they_are_written() {
    let study = study_with_isolated_plugin("limits = { seconds = 0 }");
    let output = run(&["check", study.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("stage `isolated`: `limits.seconds` is 0"),
        "{}",
        stderr(&output)
    );
    let config = study.path().join("thematic.toml");
    let text = fs::read_to_string(&config)
        .unwrap()
        .replace("limits = { seconds = 0 }\n", "")
        .replacen(
            "strategy = \"dictionary\"",
            "strategy = \"dictionary\"\nisolation = \"process\"",
            1,
        );
    fs::write(&config, text).unwrap();
    let output = run(&["check", study.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("stage `code`: `isolation` applies only to strategy `plugin`"),
        "{}",
        stderr(&output)
    );
}

/// The demo study with its themes proposed by the co-occurrence plugin.
fn demo_grouped_by_plugin(isolation: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    assert_eq!(run(&["init", "--demo", demo.to_str().unwrap()]).status.code(), Some(0));
    write(
        &demo.join(format!("plugins/{}", library_file_name("cooccurrence_themes"))),
        fs::read(built("cooccurrence_themes")).expect("the co-occurrence plugin was built"),
    );
    let config = demo.join("thematic.toml");
    let text = fs::read_to_string(&config).unwrap();
    let start = text.find("kind = \"themes\"").unwrap();
    let end = start + text[start..].find("min_participants").unwrap();
    let text = format!(
        "{}kind = \"themes\"\nstrategy = \"plugin\"\nplugin = \"cooccurrence-themes\"\n{isolation}\n\
         params = {{ min_shared = 3, min_association = 0.5 }}\n{}",
        &text[..start],
        &text[end..]
    );
    // The written themes' areas no longer apply to proposed themes.
    let text = text.replacen(
        "kind = \"areas\"\nstrategy = \"defined\"",
        "kind = \"areas\"\nstrategy = \"lua\"\nscript = \"scripts/one_area.lua\"",
        1,
    );
    write(
        &demo.join("scripts/one_area.lua"),
        "function map(themes, context)\n  local ids = {}\n  for _, t in ipairs(themes) do\n    if not t.discarded then ids[#ids + 1] = t.id end\n  end\n  return { { id = \"A1\", name = \"Proposed themes\", themes = ids } }\nend\n",
    );
    fs::write(&config, text).unwrap();
    dir
}

#[test]
fn the_cooccurrence_plugin_proposes_themes_in_process_and_isolated_alike() {
    let mut reports = Vec::new();
    for isolation in ["", "isolation = \"process\""] {
        let dir = demo_grouped_by_plugin(isolation);
        let demo = dir.path().join("demo");
        let output = run(&["run", demo.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        let report = fs::read_to_string(demo.join("reports/report.md")).unwrap();
        assert!(report.contains("K1"), "{report}");
        reports.push(report);
    }
    assert_eq!(reports[0], reports[1]);
}

#[test]
fn a_coding_plugin_cannot_stand_in_a_themes_stage() {
    let dir = demo_grouped_by_plugin("");
    let demo = dir.path().join("demo");
    let library = demo.join(format!("plugins/{}", library_file_name("cooccurrence_themes")));
    fs::write(&library, fs::read(built("negation_lexicon")).unwrap()).unwrap();
    // A plugin says what it serves only once loaded: `check` loads nothing, a run does.
    let output = run(&["run", demo.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("plugin `negation-lexicon` does not serve themes stages (it serves: coding)"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_bare_plugin_name_that_is_not_in_the_plugins_folder_says_where_it_looked() {
    let dir = demo_grouped_by_plugin("");
    let demo = dir.path().join("demo");
    fs::remove_dir_all(demo.join("plugins")).unwrap();
    let output = run(&["check", demo.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains(&format!(
            "plugin `cooccurrence-themes`: not in the study's plugins/ folder (looked for plugins/{}",
            library_file_name("cooccurrence-themes")
        )),
        "{}",
        stderr(&output)
    );
}

#[test]
fn plugin_check_runs_a_grouping_smoke_call_in_a_child_process() {
    let plugin = built("cooccurrence_themes");
    let output = run(&["plugin", "check", plugin.to_str().unwrap(), "--isolated"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(out.contains("kinds: themes"), "{out}");
    assert!(out.contains("running in a process of its own"), "{out}");
    assert!(
        out.contains("themes smoke call: ok, 1 candidate theme from three codes"),
        "{out}"
    );
}
