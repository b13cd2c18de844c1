//! Loading the example plugin from the build output, and the loader's errors.

use std::path::PathBuf;

use thematic_model::{Segment, Transcript};
use thematic_pipeline::CodingStrategy;
use thematic_plugins::{Plugin, PluginCodingStrategy, PluginError};

/// The example plugin as cargo built it for these tests (a dev-dependency,
/// so `cargo test` builds its shared library beside this test's binary).
fn example_plugin() -> PathBuf {
    let deps = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
    let path = deps.join(libloading::library_filename("negation_lexicon"));
    assert!(path.is_file(), "the example plugin was not built at {}", path.display());
    path
}

fn transcript() -> Transcript {
    let segment = |turn: u32, start: usize, text: &str| Segment {
        turn,
        speaker: Some("P1".into()),
        role: "participant".into(),
        participant: Some("P1".into()),
        start,
        end: start + text.chars().count(),
        text: text.into(),
    };
    Transcript {
        id: "t/P1.txt".into(),
        participant: Some("P1".into()),
        content_hash: "h".into(),
        segments: vec![
            segment(2, 10, "P1: Élan, I was angry. Then relieved."),
            segment(4, 60, "P1: I was not angry, I wasn't relieved either."),
        ],
    }
}

#[test]
fn the_example_plugin_codes_un_negated_words_with_code_point_spans() {
    let plugin = Plugin::load(&example_plugin()).unwrap();
    assert_eq!(plugin.name(), "negation-lexicon");
    let params = serde_json::json!({ "lexicon": { "anger": ["angry"], "relief": ["relieved"] } });
    let strategy = PluginCodingStrategy::new(plugin, params, None);
    let transcript = transcript();
    let segments: Vec<&Segment> = transcript.segments.iter().collect();
    let hits = strategy.code(&transcript, &segments).unwrap();
    let found: Vec<(u32, &str, usize, usize)> = hits
        .iter()
        .map(|h| (h.turn, h.code.as_str(), h.spans[0].start, h.spans[0].end))
        .collect();
    let text: Vec<char> = transcript.segments[0].text.chars().collect();
    assert_eq!(found, [(2, "anger", 26, 31), (2, "relief", 38, 46)]);
    assert_eq!(text[26 - 10..31 - 10].iter().collect::<String>(), "angry");
}

#[test]
fn a_plugin_error_is_reported_with_the_plugin_name() {
    let plugin = Plugin::load(&example_plugin()).unwrap();
    let strategy = PluginCodingStrategy::new(plugin, serde_json::json!({}), None);
    let transcript = transcript();
    let segments: Vec<&Segment> = transcript.segments.iter().collect();
    let err = strategy.code(&transcript, &segments).unwrap_err().to_string();
    assert!(err.contains("negation-lexicon: params.lexicon is missing"), "{err}");
}

#[test]
fn missing_files_and_files_that_are_not_libraries_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nothing.so");
    assert!(matches!(Plugin::load(&missing), Err(PluginError::Missing { .. })));
    let fake = dir.path().join("fake.so");
    std::fs::write(&fake, "this is text, not a shared library").unwrap();
    let err = Plugin::load(&fake).err().unwrap();
    assert!(matches!(err, PluginError::NotALibrary { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with(&format!("{}: not a shared library", fake.display())),
        "{err}"
    );
}
