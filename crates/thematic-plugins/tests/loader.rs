//! Loading the example plugins from the build output in process, and the loader's errors.

use std::path::PathBuf;

use thematic_model::{Segment, Transcript, TranscriptDigest};
use thematic_pipeline::{digest, CodingStrategy, CodingSummary, SummaryNeeds, ThemeGrouper};
use thematic_plugins::{Plugin, PluginCodingStrategy, PluginError, PluginThemeGrouper};

/// The example plugin as cargo built it for these tests (a dev-dependency,
/// so `cargo test` builds its shared library beside this test's binary).
fn built(crate_name: &str) -> PathBuf {
    let deps = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
    let path = deps.join(libloading::library_filename(crate_name));
    assert!(path.is_file(), "the plugin was not built at {}", path.display());
    path
}

fn example_plugin() -> PathBuf {
    built("negation_lexicon")
}

fn support_codebook() -> thematic_codebook::Codebook {
    thematic_codebook::Codebook::from_csv("book.csv", "code,term\nsupport,supported\n").unwrap()
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
        start_ms: None,
        end_ms: None,
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

#[test]
fn another_abi_version_is_refused_with_both_versions() {
    let err = Plugin::load(&built("testing_old_abi")).err().unwrap();
    assert!(matches!(err, PluginError::AbiMismatch { found: 0, .. }), "{err}");
    assert!(
        err.to_string()
            .contains("plugin ABI version 0, but this thematic speaks version 2"),
        "{err}"
    );
}

#[test]
fn a_library_without_the_entry_symbol_is_not_a_plugin() {
    // Any shared library that is not a plugin will do: the test binary's own C library.
    let libc = [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/lib/aarch64-linux-gnu/libc.so.6",
        "/usr/lib/libc.so.6",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.is_file());
    let Some(libc) = libc else { return };
    let err = Plugin::load(&libc).err().unwrap();
    assert!(matches!(err, PluginError::NoEntry { .. }), "{err}");
}

fn misbehaving(mode: &str) -> Result<Vec<thematic_pipeline::CodeHit>, String> {
    let plugin = Plugin::load(&built("testing_misbehaviour")).unwrap();
    let strategy = PluginCodingStrategy::new(
        plugin,
        serde_json::json!({ "misbehave": mode }),
        Some(&support_codebook()),
    );
    let transcript = transcript();
    let segments: Vec<&Segment> = transcript.segments.iter().collect();
    strategy.code(&transcript, &segments).map_err(|e| e.to_string())
}

#[test]
fn a_panic_inside_the_plugin_is_an_error_and_the_host_goes_on() {
    let err = misbehaving("panic").unwrap_err();
    assert!(
        err.contains("testing-misbehaviour: panicked: the plugin was asked to panic"),
        "{err}"
    );
    assert_eq!(
        misbehaving("nothing").unwrap(),
        [],
        "the plugin still answers after its panic"
    );
}

#[test]
fn invalid_output_is_refused() {
    let err = misbehaving("span-outside").unwrap_err();
    assert!(err.contains("span 0..1000000 is not a stretch of the segment"), "{err}");
    // Unknown codes are refused by the pipeline, as for every strategy.
    let hits = misbehaving("unknown-code").unwrap();
    assert_eq!(hits[0].code, "no-such-code");
}

#[test]
fn a_plugin_written_in_c_against_the_header_loads_and_codes() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let dir = tempfile::tempdir().unwrap();
    let library = dir.path().join(libloading::library_filename("c_support"));
    let status = std::process::Command::new(std::env::var("CC").unwrap_or_else(|_| "cc".into()))
        .args(["-shared", "-fPIC", "-Wall", "-Werror", "-o"])
        .arg(&library)
        .arg("-I")
        .arg(root.join("crates/thematic-plugin-api/include"))
        .arg(root.join("plugins/c-example/support_plugin.c"))
        .status()
        .expect("a C compiler runs");
    assert!(status.success(), "the C plugin compiles against the header");
    let plugin = Plugin::load(&library).unwrap();
    assert_eq!(plugin.name(), "c-support");
    let strategy = PluginCodingStrategy::new(plugin, serde_json::json!({}), Some(&support_codebook()));
    let mut transcript = transcript();
    transcript.segments[0].text = "P1: I felt supported.".into();
    let segments: Vec<&Segment> = transcript.segments.iter().collect();
    let hits = strategy.code(&transcript, &segments).unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!((hits[0].turn, hits[0].code.as_str()), (2, "support"));
}

/// Three participants who each put `anger` and `blame` on one segment, and `trust` alone.
fn coded_study() -> Vec<TranscriptDigest> {
    let mut digests = Vec::new();
    for participant in ["P1", "P2", "P3"] {
        let mut transcript = transcript();
        transcript.id = format!("t/{participant}.txt");
        for segment in &mut transcript.segments {
            segment.participant = Some(participant.into());
        }
        let mut codings = Vec::new();
        for (turn, code) in [(2, "anger"), (2, "blame"), (4, "trust")] {
            codings.push(thematic_model::Coding {
                transcript: transcript.id.clone(),
                turn,
                code: code.into(),
                stage: "code".into(),
                strategy: "dictionary".into(),
                spans: Vec::new(),
                confidence: None,
                memo: None,
            });
        }
        digests.push(digest(&transcript, &codings));
    }
    digests
}

#[test]
fn the_cooccurrence_plugin_groups_codes_that_participants_use_together() {
    let plugin = Plugin::load(&built("cooccurrence_themes")).unwrap();
    assert_eq!(plugin.kinds(), ["themes"]);
    let grouper = PluginThemeGrouper::new(plugin, serde_json::Value::Null);
    let themes = grouper
        .group(&CodingSummary::new(&coded_study(), SummaryNeeds::Cooccurrence))
        .unwrap();
    assert_eq!(themes.len(), 1);
    assert_eq!(
        (themes[0].id.as_str(), themes[0].name.as_str()),
        ("K1", "anger with blame")
    );
    assert_eq!(themes[0].codes, ["anger", "blame"]);
}

#[test]
fn a_call_the_plugin_does_not_serve_is_refused_before_it_is_made() {
    let grouping = Plugin::load(&built("cooccurrence_themes")).unwrap();
    let strategy = PluginCodingStrategy::new(grouping, serde_json::Value::Null, None);
    let transcript = transcript();
    let segments: Vec<&Segment> = transcript.segments.iter().collect();
    let err = strategy.code(&transcript, &segments).unwrap_err().to_string();
    assert!(err.contains("cooccurrence-themes: does not code segments"), "{err}");
    let coding = Plugin::load(&example_plugin()).unwrap();
    let err = PluginThemeGrouper::new(coding, serde_json::Value::Null)
        .group(&CodingSummary::default())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("negation-lexicon: does not group codes into themes"),
        "{err}"
    );
}

#[test]
fn a_panic_while_grouping_is_an_error() {
    let plugin = Plugin::load(&built("testing_misbehaviour")).unwrap();
    assert_eq!(plugin.kinds(), ["coding", "themes"]);
    let grouper = PluginThemeGrouper::new(plugin, serde_json::json!({ "misbehave": "panic" }));
    let err = grouper.group(&CodingSummary::default()).unwrap_err().to_string();
    assert!(err.contains("testing-misbehaviour: panicked"), "{err}");
}
