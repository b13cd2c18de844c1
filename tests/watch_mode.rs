//! `thematic watch` as a user runs it: a real process watching a study folder
//! while files are copied in, saved atomically, written slowly, deleted and
//! broken. Every wait is bounded.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use common::*;

/// Longest wait for one batch; a watcher that is working answers in well under a second.
const PATIENCE: Duration = Duration::from_secs(30);

/// A `thematic watch` process and the lines it prints.
struct Watch {
    child: Child,
    lines: Receiver<String>,
    /// Everything printed so far, for messages.
    seen: Vec<String>,
    /// A line read past the end of a batch, for the next.
    held: Option<String>,
}

impl Watch {
    fn start(study: &Path) -> Watch {
        Watch::start_with(study, &["--debounce-ms", "50"])
    }

    fn start_with(study: &Path, options: &[&str]) -> Watch {
        let mut child = thematic()
            .args(["watch", study.to_str().unwrap()])
            .args(options)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("thematic watch starts");
        let (sender, lines) = mpsc::channel();
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let sender = sender.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if sender.send(line).is_err() {
                        break;
                    }
                }
            });
        }
        let mut watch = Watch {
            child,
            lines,
            seen: Vec::new(),
            held: None,
        };
        watch.batch();
        watch
    }

    /// The lines of the next batch: what was printed up to its `batch N (...)`
    /// line, that line, and what followed it at once.
    fn batch(&mut self) -> Vec<String> {
        let deadline = Instant::now() + PATIENCE;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.next_line(left).unwrap_or_else(|| {
                panic!(
                    "no batch within {PATIENCE:?}; printed so far:\n{}",
                    self.seen.join("\n")
                )
            });
            let ends = line.starts_with("batch ");
            lines.push(line);
            if ends {
                break;
            }
        }
        // The summary follows at once, and what went to stderr may arrive
        // after stdout's lines; the next batch line starts the next batch.
        while let Some(line) = self.next_line(Duration::from_millis(300)) {
            if line.starts_with("batch ") {
                self.held = Some(line);
                break;
            }
            lines.push(line);
        }
        lines
    }

    fn next_line(&mut self, wait: Duration) -> Option<String> {
        if let Some(line) = self.held.take() {
            return Some(line);
        }
        let line = self.lines.recv_timeout(wait).ok()?;
        self.seen.push(line.clone());
        Some(line)
    }

    /// Asserts that whatever else happens for a while codes nothing: events
    /// can trail a change, but each file is coded once.
    fn codes_nothing_more(&mut self) {
        let quiet_until = Instant::now() + Duration::from_millis(700);
        while let Some(line) = self.next_line(quiet_until.saturating_duration_since(Instant::now())) {
            assert!(
                !line.contains("coding:") && !line.contains("transcripts "),
                "unexpected `{line}`; printed so far:\n{}",
                self.seen.join("\n")
            );
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn interview(participant: &str, words: &str) -> String {
    format!("Interviewer: How was the first year?\n\n{participant}: {words}\n")
}

fn joined(lines: &[String]) -> String {
    lines.join("\n")
}

fn report(study: &Path) -> String {
    fs::read_to_string(study.join("reports/report.md")).unwrap()
}

/// Writes `text` to a hidden file beside `path` and renames it into place, as editors and careful copy tools do.
fn save_atomically(path: &Path, text: &str) {
    let scratch: PathBuf = path.with_file_name(format!(".{}.swp", path.file_name().unwrap().to_str().unwrap()));
    fs::write(&scratch, text).unwrap();
    fs::rename(&scratch, path).unwrap();
}

#[test]
fn a_transcript_renamed_into_place_is_coded_and_reported() {
    let study = starter();
    let mut watch = Watch::start(study.path());
    save_atomically(
        &study.path().join("transcripts/P2.txt"),
        &interview("P2", "A mentor helped me, but I often felt alone."),
    );
    let batch = joined(&watch.batch());
    assert!(batch.contains("(1 file changed): updated in"), "{batch}");
    assert!(batch.contains("transcripts added: transcripts/P2.txt"), "{batch}");
    assert!(batch.contains("theme T2 (Carrying it alone) now covers P2"), "{batch}");
    assert!(batch.contains("coding: 2 segments coded"), "{batch}");
    assert!(report(study.path()).contains("transcripts/P2.txt"));
    watch.codes_nothing_more();
}

#[test]
fn a_slow_copy_is_coded_once_it_is_complete() {
    let study = starter();
    // A longer quiet time than the gaps between the pieces, even on a busy machine.
    let mut watch = Watch::start_with(study.path(), &["--debounce-ms", "250"]);
    let path = study.path().join("transcripts/P3.txt");
    let mut file = fs::File::create(&path).unwrap();
    file.write_all(b"Interviewer: How was the first year?\n\nP3: It was")
        .unwrap();
    // Pieces closer together than the debounce interval: one copy in progress.
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(15));
        file.write_all(b" long,").unwrap();
        file.flush().unwrap();
    }
    file.write_all(b" and nobody to talk to.\n").unwrap();
    drop(file);
    let batch = joined(&watch.batch());
    assert!(batch.contains("transcripts added: transcripts/P3.txt"), "{batch}");
    assert!(batch.contains("theme T2 (Carrying it alone) now covers P3"), "{batch}");
    watch.codes_nothing_more();
}

#[test]
fn a_deleted_transcript_leaves_the_outputs() {
    let study = starter();
    write(
        &study.path().join("transcripts/P2.txt"),
        interview("P2", "Nobody to talk to, all year."),
    );
    let mut watch = Watch::start(study.path());
    assert!(report(study.path()).contains("transcripts/P2.txt"));
    fs::remove_file(study.path().join("transcripts/P2.txt")).unwrap();
    let batch = joined(&watch.batch());
    assert!(batch.contains("transcripts removed: transcripts/P2.txt"), "{batch}");
    assert!(batch.contains("no longer covers P2"), "{batch}");
    assert!(!report(study.path()).contains("P2"), "{}", report(study.path()));
}

#[test]
fn a_script_broken_and_mended_keeps_the_last_good_outputs_meanwhile() {
    let study = starter();
    let script = study.path().join("scripts/mentions.lua");
    let good = "codes = { \"mentoring\" }\n\nfunction code(segment)\n  if segment.text:find(\"mentor\") then\n    return { { code = \"mentoring\" } }\n  end\nend\n";
    write(&script, good);
    let config = study.path().join("thematic.toml");
    let text = fs::read_to_string(&config).unwrap().replacen(
        "[[stages]]\nname = \"themes\"",
        "[[stages]]\nname = \"mentions\"\nkind = \"coding\"\nstrategy = \"lua\"\nscript = \"scripts/mentions.lua\"\n\n[[stages]]\nname = \"themes\"",
        1,
    );
    fs::write(&config, text).unwrap();
    let mut watch = Watch::start(study.path());
    let before = report(study.path());

    save_atomically(&script, &good.replace("then\n", "then then\n"));
    let batch = joined(&watch.batch());
    assert!(batch.contains("scripts/mentions.lua:4"), "{batch}");
    assert!(
        batch.contains("not updated; the last good outputs stay in place"),
        "{batch}"
    );
    assert_eq!(report(study.path()), before);

    save_atomically(&script, &good.replace("mentor", "alone"));
    let batch = joined(&watch.batch());
    assert!(batch.contains("updated in"), "{batch}");
    assert!(batch.contains("coding: 4 segments coded"), "{batch}");
}

#[test]
fn a_burst_of_transcripts_is_one_batch_and_each_is_coded_once() {
    let study = starter();
    // A quiet time far longer than copying a hundred small files takes, even on a busy machine.
    let mut watch = Watch::start_with(study.path(), &["--debounce-ms", "1000"]);
    let staging = tempfile::tempdir().unwrap();
    for i in 10..110 {
        write(
            &staging.path().join(format!("P{i}.txt")),
            interview(&format!("P{i}"), "A mentor helped."),
        );
    }
    for i in 10..110 {
        let name = format!("P{i}.txt");
        fs::copy(staging.path().join(&name), study.path().join("transcripts").join(&name)).unwrap();
    }
    let batch = joined(&watch.batch());
    assert!(batch.contains("(100 files changed)"), "{batch}");
    assert!(batch.contains("coding: 200 segments coded"), "{batch}");
    watch.codes_nothing_more();
}

#[test]
fn a_transcript_that_cannot_be_read_is_reported_and_the_rest_updated() {
    let study = starter();
    let mut watch = Watch::start_with(study.path(), &["--debounce-ms", "1000"]);
    write(
        &study.path().join("transcripts/P4.txt"),
        b"P4: caf\xe9 \xff\xfe broken\n",
    );
    write(
        &study.path().join("transcripts/P5.txt"),
        interview("P5", "I felt alone."),
    );
    let batch = joined(&watch.batch());
    assert!(batch.contains("transcripts/P4.txt"), "{batch}");
    assert!(batch.contains("transcripts added: transcripts/P5.txt"), "{batch}");
    assert!(
        batch.contains("1 error, shown in the output of thematic watch"),
        "{batch}"
    );
}

#[test]
fn a_transcripts_folder_deleted_and_made_again_is_watched_again() {
    let study = starter();
    let mut watch = Watch::start(study.path());
    let folder = study.path().join("transcripts");
    let kept = fs::read_to_string(folder.join("P1.txt")).unwrap();
    fs::remove_dir_all(&folder).unwrap();
    let batch = joined(&watch.batch());
    assert!(batch.contains("transcripts removed: transcripts/P1.txt"), "{batch}");
    fs::create_dir(&folder).unwrap();
    write(&folder.join("P1.txt"), &kept);
    let mut batch = joined(&watch.batch());
    if !batch.contains("transcripts added") {
        // The new folder and the file in it may arrive as two batches.
        batch = joined(&watch.batch());
    }
    assert!(batch.contains("transcripts added: transcripts/P1.txt"), "{batch}");
}

#[test]
fn polling_sees_what_events_would() {
    let study = starter();
    let mut watch = Watch::start_with(study.path(), &["--poll", "--debounce-ms", "50"]);
    save_atomically(
        &study.path().join("transcripts/P6.txt"),
        &interview("P6", "Nobody to talk to."),
    );
    let batch = joined(&watch.batch());
    assert!(batch.contains("transcripts added: transcripts/P6.txt"), "{batch}");
    // An edit in place, not a rename: the poller sees a new modification time.
    std::thread::sleep(Duration::from_millis(1100));
    fs::write(
        study.path().join("transcripts/P6.txt"),
        interview("P6", "A mentor helped in the end."),
    )
    .unwrap();
    let batch = joined(&watch.batch());
    assert!(batch.contains("transcripts changed: transcripts/P6.txt"), "{batch}");
}

#[cfg(unix)]
#[test]
fn a_transcripts_folder_linked_from_elsewhere_is_watched_where_it_is() {
    let study = starter();
    let elsewhere = tempfile::tempdir().unwrap();
    let folder = study.path().join("transcripts");
    fs::rename(folder.join("P1.txt"), elsewhere.path().join("P1.txt")).unwrap();
    fs::remove_dir(&folder).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), &folder).unwrap();
    let mut watch = Watch::start(study.path());
    save_atomically(&elsewhere.path().join("P7.txt"), &interview("P7", "Nobody to talk to."));
    let batch = joined(&watch.batch());
    assert!(batch.contains("transcripts added: transcripts/P7.txt"), "{batch}");
}

/// The processes whose parent is `pid` (Linux: from /proc).
#[cfg(target_os = "linux")]
fn children_of(pid: u32) -> std::collections::BTreeSet<u32> {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|entry| {
            let child: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = fs::read_to_string(entry.path().join("stat")).ok()?;
            // `pid (name) state ppid …`: the name may hold spaces, so fields are counted after it.
            let ppid: u32 = stat.rsplit_once(')')?.1.split_whitespace().nth(1)?.parse().ok()?;
            (ppid == pid).then_some(child)
        })
        .collect()
}

#[test]
#[cfg(target_os = "linux")]
fn stages_keep_running_between_batches_unless_what_they_run_changes() {
    let study = starter();
    let root = study.path();
    write(
        &root.join("scripts/hedging.lua"),
        fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/hedging.lua")).unwrap(),
    );
    write(
        &root.join("plugins/lexicon.so"),
        fs::read(built("negation_lexicon")).unwrap(),
    );
    let config = root.join("thematic.toml");
    let text = fs::read_to_string(&config).unwrap().replacen(
        "[[stages]]\nname = \"themes\"",
        "[[stages]]\nname = \"hedging\"\nkind = \"coding\"\nstrategy = \"lua\"\nscript = \"scripts/hedging.lua\"\n\n\
         [[stages]]\nname = \"lexicon\"\nkind = \"coding\"\nstrategy = \"plugin\"\nplugin = \"plugins/lexicon.so\"\n\
         isolation = \"process\"\nparams = { lexicon = { alone = [\"alone\"] } }\n\n[[stages]]\nname = \"themes\"",
        1,
    );
    fs::write(&config, text).unwrap();
    let mut watch = Watch::start(root);
    let plugin_processes = children_of(watch.child.id());
    assert!(
        !plugin_processes.is_empty(),
        "the isolated plugin runs in a process of its own"
    );

    // A transcript arrives: the script's state and the plugin's processes are those of the last batch.
    save_atomically(
        &root.join("transcripts/P2.txt"),
        &interview("P2", "Maybe I felt alone."),
    );
    let batch = joined(&watch.batch());
    assert!(batch.contains("transcripts added: transcripts/P2.txt"), "{batch}");
    assert!(!batch.contains("stages started again"), "{batch}");
    assert_eq!(children_of(watch.child.id()), plugin_processes, "no new process");

    // The script changes: its stage alone starts again.
    let script = fs::read_to_string(root.join("scripts/hedging.lua")).unwrap();
    save_atomically(
        &root.join("scripts/hedging.lua"),
        &script.replace("\"maybe\",", "\"maybe\", \"apparently\","),
    );
    let batch = joined(&watch.batch());
    assert!(batch.contains("stages started again: `hedging`"), "{batch}");
    assert_eq!(
        children_of(watch.child.id()),
        plugin_processes,
        "the plugin's processes kept running"
    );
}
