//! Lua coding strategies in a study, driven through the real binary, with
//! the example scripts of `scripts/`.

mod common;

use std::fs;
use std::path::Path;

use common::*;

/// The starter study with `scripts/NAME` copied in and a `lua` coding stage running it.
fn study_with_script(script: &str, source: &str, stage_extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let output = run(&["init", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0));
    write(&dir.path().join("scripts/codings.lua"), repo_script("codings.lua"));
    write(&dir.path().join("scripts").join(script), source);
    let config = dir.path().join("thematic.toml");
    let text = fs::read_to_string(&config).unwrap().replacen(
        "[[stages]]\nname = \"themes\"",
        &format!(
            "[[stages]]\nname = \"scripted\"\nkind = \"coding\"\nstrategy = \"lua\"\nscript = \"scripts/{script}\"\n{stage_extra}\n\n[[stages]]\nname = \"themes\""
        ),
        1,
    );
    fs::write(&config, text).unwrap();
    dir
}

fn repo_script(name: &str) -> String {
    fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts").join(name)).unwrap()
}

fn matrix(study: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(study.join("reports/code-document-matrix.json")).unwrap()).unwrap()
}

#[test]
fn the_hedging_script_codes_hedged_turns_beside_the_dictionary() {
    let study = study_with_script("hedging.lua", &repo_script("hedging.lua"), "");
    write(
        &study.path().join("transcripts/P2.txt"),
        "Interviewer: How was it?\nP2: I suppose it was fine. Maybe.\n\nP2: It was a good year.\nP2: I'm not sure, sort of alone.\n",
    );
    let output = run(&["run", study.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let matrix = matrix(study.path());
    assert_eq!(matrix["coded_segments"]["P2"]["hedging"], 2, "{matrix}");
    assert_eq!(
        matrix["coded_segments"]["P2"]["isolation"], 1,
        "the dictionary stage still codes"
    );
    assert_eq!(matrix["coded_segments"]["P1"].get("hedging"), None, "{matrix}");
    let again = run(&["run", study.path().to_str().unwrap()]);
    assert!(stdout(&again).contains("0 coded, 4 reused"), "{}", stdout(&again));
}

#[test]
fn a_script_error_names_script_line_transcript_and_turn_and_the_rest_completes() {
    let source = "codes = {'x'}\nfunction code(segment)\n  if segment.text:find('mentor') then error('no mentors here') end\nend\n";
    let study = study_with_script("broken.lua", source, "");
    let output = run(&["run", study.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("transcripts/P1.txt: stage `scripted` (lua): turn 4: scripts/broken.lua:3: no mentors here"),
        "{err}"
    );
    assert!(
        study.path().join("reports/report.md").is_file(),
        "the reports are still written"
    );
}

#[test]
fn a_runaway_script_hits_the_stage_time_limit() {
    let source = "function code(segment) while true do end end\n";
    let study = study_with_script("spin.lua", source, "limits = { seconds = 0.2 }");
    let started = std::time::Instant::now();
    let output = run(&["run", study.path().to_str().unwrap()]);
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("time limit of 200ms exceeded"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_script_with_a_syntax_error_is_a_configuration_error_at_its_line() {
    let study = study_with_script("typo.lua", "function code(segment)\n  return {\nend\n", "");
    let output = run(&["run", study.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("scripts/typo.lua:3:"), "{}", stderr(&output));
}

#[test]
fn a_script_outside_the_study_is_refused() {
    let study = study_with_script("ok.lua", "function code() end\n", "");
    let config = study.path().join("thematic.toml");
    let text = fs::read_to_string(&config)
        .unwrap()
        .replace("scripts/ok.lua", "../outside.lua");
    fs::write(&config, text).unwrap();
    write(&study.path().join("../outside.lua"), "function code() end\n");
    let output = run(&["check", study.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("script `../outside.lua` is outside the study folder"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn the_emotion_script_skips_negated_mentions() {
    let study = study_with_script("emotion.lua", &repo_script("emotion.lua"), "");
    write(
        &study.path().join("transcripts/P2.txt"),
        "Interviewer: How did it feel?\n\
         P2: I was angry, really furious.\n\
         P2: I was not angry at all.\n\
         P2: I wasn't upset, but I was scared and, to be honest, ashamed.\n\
         P2: Never really frightened. Relieved, mostly.\n",
    );
    let output = run(&["run", study.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let matrix = matrix(study.path());
    let p2 = &matrix["coded_segments"]["P2"];
    assert_eq!(p2["anger"], 1, "only the un-negated turn: {p2}");
    assert_eq!(p2["fear"], 1, "scared, not the negated frightened: {p2}");
    assert_eq!(p2["shame"], 1, "{p2}");
    assert_eq!(p2["relief"], 1, "{p2}");
    assert_eq!(p2.get("sadness"), None, "wasn't upset: {p2}");
}

#[test]
fn the_research_questions_script_codes_the_demo_exactly_as_the_builtin_dictionary() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    assert_eq!(run(&["init", "--demo", demo.to_str().unwrap()]).status.code(), Some(0));
    assert_eq!(run(&["run", demo.to_str().unwrap()]).status.code(), Some(0));
    let builtin = fs::read_to_string(demo.join("reports/code-document-matrix.json")).unwrap();
    write(
        &demo.join("scripts/research_questions.lua"),
        repo_script("research_questions.lua"),
    );
    write(&demo.join("scripts/codings.lua"), repo_script("codings.lua"));
    let config = demo.join("thematic.toml");
    let text = fs::read_to_string(&config).unwrap().replacen(
        "strategy = \"dictionary\"",
        "strategy = \"lua\"\nscript = \"scripts/research_questions.lua\"",
        1,
    );
    fs::write(&config, text).unwrap();
    let output = run(&["run", demo.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("7 coded, 0 reused"), "{}", stdout(&output));
    let scripted = fs::read_to_string(demo.join("reports/code-document-matrix.json")).unwrap();
    assert_eq!(scripted, builtin);
    let report = fs::read_to_string(demo.join("reports/report.md")).unwrap();
    assert!(
        report.contains("themes: 8 kept") || report.contains("| 1. Understanding the risk of failure |"),
        "{report}"
    );
}

#[test]
fn try_shows_what_a_script_codes_with_its_evidence() {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/hedging.lua");
    let output = run(&[
        "try",
        script.to_str().unwrap(),
        "--text",
        "Maybe it was fine, I suppose.",
        "--speaker",
        "P1",
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "turn 1 (P1): hedging  \"Maybe\" 4..9, \"I suppose\" 23..32  confidence 0.6666666666666666  memo: 2 hedge(s)\n"
    );
}

#[test]
fn try_shows_script_errors_with_line_and_traceback() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("broken.lua");
    write(&script, "function code(segment)\n  local x = nil\n  return x.y\nend\n");
    let output = run(&["try", script.to_str().unwrap(), "--text", "hello"]);
    assert_eq!(output.status.code(), Some(1));
    let err = stderr(&output);
    assert!(
        err.contains("broken.lua:3: attempt to index a nil value (local 'x')"),
        "{err}"
    );
    assert!(err.contains("stack traceback:"), "{err}");
}

/// The demo study with its themes stage (and areas stage) replaced by scripts.
fn demo_with_scripted_grouping(areas_script: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("demo");
    assert_eq!(run(&["init", "--demo", demo.to_str().unwrap()]).status.code(), Some(0));
    write(
        &demo.join("scripts/cooccurrence_themes.lua"),
        repo_script("cooccurrence_themes.lua"),
    );
    write(
        &demo.join("scripts/candidate_themes.lua"),
        repo_script("candidate_themes.lua"),
    );
    let config = demo.join("thematic.toml");
    let mut text = fs::read_to_string(&config).unwrap().replacen(
        "strategy = \"defined\"\nmin_participants",
        "strategy = \"lua\"\nscript = \"scripts/cooccurrence_themes.lua\"\nparams = { min_shared = 2 }\nmin_participants",
        1,
    );
    if let Some(source) = areas_script {
        write(&demo.join("scripts/areas.lua"), source);
        text = text.replacen(
            "kind = \"areas\"\nstrategy = \"defined\"",
            "kind = \"areas\"\nstrategy = \"lua\"\nscript = \"scripts/areas.lua\"",
            1,
        );
    }
    fs::write(&config, text).unwrap();
    dir
}

#[test]
fn the_cooccurrence_script_proposes_themes_that_the_review_then_judges() {
    let dir = demo_with_scripted_grouping(None);
    let demo = dir.path().join("demo");
    let output = run(&["run", demo.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("log (review-themes): "),
        "the script's log is in the summary: {}",
        stdout(&output)
    );
    let themes: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(demo.join("reports/theme-participant-matrix.json")).unwrap()).unwrap();
    let themes = themes["themes"].as_array().unwrap();
    assert!(!themes.is_empty(), "themes were proposed");
    assert_eq!(themes[0]["id"], "C1");
    assert!(themes.iter().all(|t| t["codes"].as_array().unwrap().len() >= 2));
    let first = fs::read_to_string(demo.join("reports/report.md")).unwrap();
    let again = run(&["run", demo.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(
        fs::read_to_string(demo.join("reports/report.md")).unwrap(),
        first,
        "the same inputs, the same report"
    );
}

#[test]
fn an_area_script_groups_the_kept_themes() {
    let areas = "function map(themes, context)\n  local all = {}\n  for _, t in ipairs(themes) do\n    if not t.discarded then all[#all + 1] = t.id end\n  end\n  return { { id = 'A1', name = 'Everything', themes = all } }\nend\n";
    let dir = demo_with_scripted_grouping(Some(areas));
    let demo = dir.path().join("demo");
    let output = run(&["run", demo.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("discussion areas: 1"), "{}", stdout(&output));
    let report = fs::read_to_string(demo.join("reports/report.md")).unwrap();
    assert!(report.contains("| Everything | C1 "), "{report}");
}

#[test]
fn a_grouping_script_returning_the_wrong_shape_fails_the_stage_clearly() {
    let dir = demo_with_scripted_grouping(None);
    let demo = dir.path().join("demo");
    write(
        &demo.join("scripts/cooccurrence_themes.lua"),
        "function group(summary)\n  return { { id = 'X', title = 'no name' } }\nend\n",
    );
    let output = run(&["run", demo.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains(
            "stage `review-themes` (lua): scripts/cooccurrence_themes.lua: group() returned a malformed list"
        ),
        "{}",
        stderr(&output)
    );
    assert!(stderr(&output).contains("unknown field `title`"), "{}", stderr(&output));
}

#[test]
fn a_script_requires_modules_of_the_scripts_folder_and_a_changed_module_codes_again() {
    let source = "local words = require('lexicon.words')\ncodes = { 'marked' }\n\
                  function code(segment)\n  if segment.text:find(words[1]) then return {{ code = 'marked' }} end\nend\n";
    let study = study_with_script("marker.lua", source, "");
    write(&study.path().join("scripts/lexicon/words.lua"), "return { 'mentor' }\n");
    let output = run(&["run", study.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(matrix(study.path())["coded_segments"]["P1"]["marked"], 1);
    write(
        &study.path().join("scripts/lexicon/words.lua"),
        "return { 'nothing like this' }\n",
    );
    let output = run(&["run", study.path().to_str().unwrap()]);
    assert!(
        stdout(&output).contains("1 coded, 1 reused"),
        "only the scripted stage codes again: {}",
        stdout(&output)
    );
    assert_eq!(matrix(study.path())["coded_segments"]["P1"].get("marked"), None);
}

#[test]
fn a_script_reading_participant_attributes_codes_again_when_they_change() {
    let script = "codes = { \"leader\" }\n\nfunction code(segment)\n  if segment.attributes and segment.attributes.role == \"Team leader\" then\n    return { { code = \"leader\" } }\n  end\nend\n";
    let dir = study_with_script("leaders.lua", script, "");
    let study = dir.path().to_str().unwrap();
    let first = run(&["run", study]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert_eq!(matrix(dir.path())["coded_segments"]["P1"]["leader"], 2);
    let participants = dir.path().join("participants.csv");
    let text = fs::read_to_string(&participants)
        .unwrap()
        .replace("Team leader", "Practitioner");
    fs::write(&participants, text).unwrap();
    let again = run(&["run", study]);
    assert!(stdout(&again).contains("1 coded, 1 reused"), "{}", stdout(&again));
    assert!(matrix(dir.path())["coded_segments"]["P1"].get("leader").is_none());
}

#[test]
fn scripts_see_when_caption_turns_were_said_and_re_timed_captions_are_coded_again() {
    let late = "codes = { \"late\" }\n\nfunction code(segment)\n  if segment.start_ms and segment.start_ms >= 60000 then\n    return { { code = \"late\" } }\n  end\nend\n";
    let study = study_with_script("late.lua", late, "");
    let captions = "WEBVTT\n\n00:00:01.000 --> 00:00:05.000\n<v P2>Early words.\n\n00:00:06.000 --> 00:05:00.000\n<v Interviewer>Thanks.\n\n00:04:00.000 --> 00:04:30.000\n<v P2>Later words.\n";
    write(&study.path().join("transcripts/P2.vtt"), captions);
    run(&["run", study.path().to_str().unwrap()]);
    assert_eq!(matrix(study.path())["coded_segments"]["P2"]["late"], 1);
    // The same words, said later: a different transcript for a script that reads times.
    let retimed = "WEBVTT\n\n00:01:01.000 --> 00:01:05.000\n<v P2>Early words.\n\n00:01:06.000 --> 00:05:00.000\n<v Interviewer>Thanks.\n\n00:04:00.000 --> 00:04:30.000\n<v P2>Later words.\n";
    write(&study.path().join("transcripts/P2.vtt"), retimed);
    run(&["run", study.path().to_str().unwrap()]);
    assert_eq!(matrix(study.path())["coded_segments"]["P2"]["late"], 2);
}

#[test]
fn check_runs_no_script_so_one_that_never_returns_does_not_stop_it() {
    let study = study_with_script("forever.lua", "while true do end\n", "");
    let mut child = thematic()
        .args(["check", study.path().to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("thematic check ran the script");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(0));
    // A run does start it, and its time limit stops it.
    let output = run(&["run", study.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
}
