//! `thematic agree`: two coding stages of a study compared code by code.

mod common;

use std::fs;

use common::*;

#[test]
fn a_script_is_compared_with_the_dictionary_by_segment_and_by_character() {
    let study = tempfile::tempdir().unwrap();
    assert_eq!(run(&["init", study.path().to_str().unwrap()]).status.code(), Some(0));
    let script = "codes = { \"isolation\" }\n\nfunction code(segment)\n  local at, to = segment.text:lower():find(\"alone\")\n  if at then\n    return { { code = \"isolation\", spans = { { at, to } } } }\n  end\nend\n";
    write(&study.path().join("scripts/alone.lua"), script);
    let config = study.path().join("thematic.toml");
    let text = fs::read_to_string(&config).unwrap().replacen(
        "[[stages]]\nname = \"themes\"",
        "[[stages]]\nname = \"alone\"\nkind = \"coding\"\nstrategy = \"lua\"\nscript = \"scripts/alone.lua\"\n\n[[stages]]\nname = \"themes\"",
        1,
    );
    fs::write(&config, text).unwrap();
    let dir = study.path().to_str().unwrap();

    // P1's two turns: `quite alone` (both code isolation) and `nobody to talk
    // to` (the dictionary only), with support (the dictionary only) on the second.
    let output = run(&["agree", dir, "--coders", "code,alone"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let out = stdout(&output);
    assert!(
        out.contains("agreement of `code` and `alone`, by segment, over 1 transcript"),
        "{out}"
    );
    assert!(out.contains("| isolation | 2 | 50.0% | 0.000 | 0.000 |"), "{out}");
    assert!(out.contains("| support | 2 | 50.0% | 0.000 | 0.000 |"), "{out}");
    // The script may apply only `isolation`: support does not count in the pooled figures.
    assert!(
        out.contains("| pooled: the codes both may apply | 2 | 50.0% |"),
        "{out}"
    );

    // By character the script's span (`alone`) sits inside the dictionary's matches.
    let output = run(&["agree", dir, "--coders", "code,alone", "--unit", "character"]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(stdout(&output).contains("by character"), "{}", stdout(&output));

    let output = run(&["agree", dir, "--coders", "code,nobody"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("no coding stage `nobody`"),
        "{}",
        stderr(&output)
    );
}
