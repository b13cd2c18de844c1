//! Watching a study folder: file-system events (notify, behind its full
//! debouncer) turned into batches of settled changes.
//!
//! The study folder is watched recursively, as a directory and never file by
//! file: editors save by writing a temporary file and renaming it over the
//! original, which would end a watch on the file itself, and a folder deleted
//! and made again is picked up by the watch on its parent. A [`Batch`] holds
//! every path touched since the last one, each once, after it has settled: a
//! file whose size or modification time still changes between two looks (a
//! copy in progress) waits, and a burst of events arriving closer together
//! than the debounce interval makes one batch. A file whose writer said it
//! is done (closed it after writing, or renamed it into place as editors'
//! atomic saves and careful copy tools do) gets its second look sooner, a
//! fraction of the interval after the first; the debouncer itself waits only
//! that fraction for quiet, so that a finished file is in a batch a few tens
//! of milliseconds after it is saved (the two looks, not the debouncer, are
//! what tell a settled file from one still being written). Reading a file (every run
//! reads them all) is not a change, and editors' temporary and hidden files
//! never count. When the watcher may have lost events (the Rescan flag
//! after a queue overflow) the batch says so, and the caller compares
//! everything by content.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant, SystemTime};

use notify::event::{AccessKind, AccessMode, MetadataKind, ModifyKind, RenameMode};
use notify::{EventKind, PollWatcher, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{new_debouncer_opt, DebounceEventResult, Debouncer, NoCache, RecommendedCache};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum WatchError {
    #[error(
        "{path}: the system's limit on watched folders is reached (on Linux, raise fs.inotify.max_user_watches), or use --poll"
    )]
    TooManyWatches { path: String },
    #[error("{path}: cannot watch: {message}")]
    Watch { path: String, message: String },
    #[error("{path}: the watcher stopped")]
    Stopped { path: String },
}

/// How to watch.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    /// Quiet time that ends a burst of events, and the time between the two
    /// looks that tell a settled file from one still being written.
    pub debounce: Duration,
    /// Poll the file system at this interval instead of asking it for events
    /// (network drives, container mounts and WSL send none).
    pub poll: Option<Duration>,
}

impl Default for WatchOptions {
    fn default() -> WatchOptions {
        WatchOptions {
            debounce: Duration::from_millis(50),
            poll: None,
        }
    }
}

/// What changed since the last batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    /// Paths created, changed, renamed or removed, each once, settled.
    pub paths: BTreeSet<PathBuf>,
    /// Events may have been lost: compare everything, not just `paths`.
    pub rescan: bool,
    /// What the watcher reported going wrong meanwhile.
    pub errors: Vec<String>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty() && !self.rescan && self.errors.is_empty()
    }
}

/// How many debounce intervals a change may wait for quiet before it is looked at anyway.
const LONGEST_WAIT_IN_DEBOUNCES: u32 = 20;

/// A file's size and modification time, or `None` once it is gone.
type Look = Option<(u64, Option<SystemTime>)>;

/// A path touched but not yet settled.
struct Pending {
    /// How it looked last time.
    last: Look,
    /// Its last event said its writer is done: closed after writing, or renamed into place.
    finished: bool,
}

/// The debouncer looks for quiet paths this many times per debounce interval.
const TICKS_PER_DEBOUNCE: u32 = 10;

/// The debouncer passes a path on after this share of the debounce interval
/// without events, and the second look at files whose writers are done comes
/// as long after the first: long enough for the debouncer's next ticks to
/// join the rest of a burst to the batch. Files still being written wait a
/// whole interval between looks.
const FINISHED_LOOK_DIVISOR: u32 = 4;

/// The debouncer and the watcher it runs.
enum Backend {
    Native(Debouncer<RecommendedWatcher, RecommendedCache>),
    Poll(Debouncer<PollWatcher, NoCache>),
}

impl Backend {
    /// Watches `dir` and everything below it; links to folders are followed.
    fn watch(&mut self, dir: &Path) -> notify::Result<()> {
        match self {
            Backend::Native(debouncer) => debouncer.watch(dir, RecursiveMode::Recursive),
            Backend::Poll(debouncer) => debouncer.watch(dir, RecursiveMode::Recursive),
        }
    }
}

pub struct StudyWatcher {
    root: PathBuf,
    /// Held so that the debouncer's threads live while we watch.
    _backend: Backend,
    events: Receiver<DebounceEventResult>,
    options: WatchOptions,
    /// Paths touched but not yet settled.
    pending: BTreeMap<PathBuf, Pending>,
    rescan: bool,
    errors: Vec<String>,
}

impl StudyWatcher {
    /// Starts watching `root` and everything below it.
    pub fn start(root: &Path, options: WatchOptions) -> Result<StudyWatcher, WatchError> {
        let (sender, events) = mpsc::channel();
        let watch_error = |e: notify::Error| error_for(root, e);
        let mut backend = match options.poll {
            None => Backend::Native(
                new_debouncer_opt::<_, RecommendedWatcher, RecommendedCache>(
                    options.debounce / FINISHED_LOOK_DIVISOR,
                    Some(options.debounce / TICKS_PER_DEBOUNCE),
                    sender,
                    RecommendedCache::new(),
                    notify::Config::default(),
                )
                .map_err(watch_error)?,
            ),
            Some(interval) => Backend::Poll(
                new_debouncer_opt::<_, PollWatcher, NoCache>(
                    options.debounce / FINISHED_LOOK_DIVISOR,
                    Some(options.debounce / TICKS_PER_DEBOUNCE),
                    sender,
                    NoCache,
                    notify::Config::default().with_poll_interval(interval),
                )
                .map_err(watch_error)?,
            ),
        };
        backend.watch(root).map_err(watch_error)?;
        Ok(StudyWatcher {
            root: root.to_path_buf(),
            _backend: backend,
            events,
            options,
            pending: BTreeMap::new(),
            rescan: false,
            errors: Vec::new(),
        })
    }

    /// Waits for the next batch of settled changes. Paths for which `ignore`
    /// is true (the tool's own outputs, say) are dropped as they arrive.
    pub fn next_batch(&mut self, ignore: impl Fn(&Path) -> bool) -> Result<Batch, WatchError> {
        let mut batch = Batch::default();
        // Events that never stop (a log file written all the time) must not
        // hold the others back for ever: past this, look anyway.
        let mut look_by: Option<Instant> = None;
        loop {
            let waiting = !self.pending.is_empty() || self.rescan || !self.errors.is_empty();
            let overdue = look_by.is_some_and(|by| Instant::now() >= by);
            let waited = if !waiting {
                self.events.recv().map_err(|_| RecvTimeoutError::Disconnected)
            } else if overdue {
                Err(RecvTimeoutError::Timeout)
            } else if self.pending.values().all(|p| p.finished) {
                self.events.recv_timeout(self.options.debounce / FINISHED_LOOK_DIVISOR)
            } else {
                self.events.recv_timeout(self.options.debounce)
            };
            if waiting && look_by.is_none() {
                look_by = Some(Instant::now() + self.options.debounce * LONGEST_WAIT_IN_DEBOUNCES);
            }
            match waited {
                Ok(Ok(events)) => {
                    for event in events {
                        self.rescan |= event.need_rescan();
                        if event.kind == EventKind::Access(AccessKind::Close(AccessMode::Write)) {
                            for path in &event.paths {
                                if let Some(pending) = self.pending.get_mut(path) {
                                    pending.finished = true;
                                }
                            }
                        }
                        if !changes_content(&event.kind) {
                            continue;
                        }
                        let destination = renamed_into_place(&event);
                        for path in &event.paths {
                            if !ignore(path) && !is_editor_scratch(path) {
                                // A fresh event: the file must be seen to hold still again.
                                let pending = Pending {
                                    last: look(path),
                                    finished: destination == Some(path),
                                };
                                self.pending.insert(path.clone(), pending);
                            }
                        }
                    }
                }
                Ok(Err(errors)) => {
                    for error in errors {
                        tracing::warn!(%error, "watch error");
                        if is_overflow(&error) {
                            self.rescan = true;
                        } else {
                            self.errors.push(error.to_string());
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    look_by = None;
                    self.settle(&mut batch);
                    if !batch.is_empty() {
                        return Ok(batch);
                    }
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(WatchError::Stopped {
                        path: self.root.display().to_string(),
                    })
                }
            }
        }
    }
}

impl StudyWatcher {
    /// Moves what has settled into `batch`: after a quiet interval, what
    /// looks as it did last time.
    fn settle(&mut self, batch: &mut Batch) {
        let mut settled = Vec::new();
        for (path, pending) in self.pending.iter_mut() {
            let now = look(path);
            if now == pending.last {
                settled.push(path.clone());
            } else {
                pending.last = now;
            }
        }
        for path in settled {
            self.pending.remove(&path);
            batch.paths.insert(path);
        }
        batch.rescan |= std::mem::take(&mut self.rescan);
        batch.errors.append(&mut self.errors);
    }
}

/// The path a finished file was renamed to, if `event` is such a rename.
fn renamed_into_place(event: &notify::Event) -> Option<&PathBuf> {
    match event.kind {
        EventKind::Modify(ModifyKind::Name(RenameMode::Both | RenameMode::To)) => event.paths.last(),
        _ => None,
    }
}

/// Whether an event can mean different content: reading a file (as every
/// run does) and changing its permissions or access time do not; a new
/// modification time (what the polling watcher reports of an edit) does.
fn changes_content(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(_) => false,
        EventKind::Modify(ModifyKind::Metadata(what)) => *what == MetadataKind::WriteTime,
        _ => true,
    }
}

fn look(path: &Path) -> Look {
    std::fs::metadata(path)
        .ok()
        .map(|meta| (meta.len(), meta.modified().ok()))
}

fn error_for(root: &Path, error: notify::Error) -> WatchError {
    let path = root.display().to_string();
    match error.kind {
        notify::ErrorKind::MaxFilesWatch => WatchError::TooManyWatches { path },
        notify::ErrorKind::Io(ref io) if io.raw_os_error() == Some(28) => WatchError::TooManyWatches { path },
        _ => WatchError::Watch {
            path,
            message: error.to_string(),
        },
    }
}

/// Whether an error means events were lost (the kernel queue overflowed).
fn is_overflow(error: &notify::Error) -> bool {
    matches!(error.kind, notify::ErrorKind::MaxFilesWatch) || error.to_string().to_lowercase().contains("overflow")
}

/// Files editors and copy tools make on the way to saving: hidden files
/// (`.name.swp`, `.#name`, `.~lock.name#`), backups (`name~`), temporaries
/// (`name.tmp`, `name.swp`, `name.swx`, `#name#`) and vim's `4913` probe.
pub fn is_editor_scratch(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    name.starts_with('.')
        || name.ends_with('~')
        || (name.starts_with('#') && name.ends_with('#'))
        || name == "4913"
        || [".tmp", ".swp", ".swx", ".part", ".crdownload"]
            .iter()
            .any(|suffix| name.to_ascii_lowercase().ends_with(suffix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn editors_scratch_files_are_not_changes() {
        for scratch in [
            "transcripts/.P1.txt.swp",
            "transcripts/.#P1.txt",
            "transcripts/P1.txt~",
            "transcripts/#P1.txt#",
            "transcripts/P1.txt.tmp",
            "transcripts/P1.TMP",
            "transcripts/4913",
            "transcripts/.~lock.P1.txt#",
            "transcripts/P1.txt.part",
        ] {
            assert!(is_editor_scratch(Path::new(scratch)), "{scratch}");
        }
        for real in [
            "transcripts/P1.txt",
            "thematic.toml",
            "scripts/hedging.lua",
            "codebook.csv",
        ] {
            assert!(!is_editor_scratch(Path::new(real)), "{real}");
        }
    }

    #[test]
    fn a_rename_is_finished_at_its_destination_only() {
        let rename = |mode| {
            notify::Event::new(EventKind::Modify(ModifyKind::Name(mode)))
                .add_path(PathBuf::from("t/.P1.txt.tmp"))
                .add_path(PathBuf::from("t/P1.txt"))
        };
        let destination = rename(RenameMode::Both);
        assert_eq!(renamed_into_place(&destination), Some(&PathBuf::from("t/P1.txt")));
        assert_eq!(renamed_into_place(&rename(RenameMode::From)), None);
        let written = notify::Event::new(EventKind::Modify(ModifyKind::Data(notify::event::DataChange::Any)))
            .add_path(PathBuf::from("t/P1.txt"));
        assert_eq!(renamed_into_place(&written), None, "written in place: two looks");
    }

    fn watcher(dir: &Path, debounce_ms: u64) -> StudyWatcher {
        StudyWatcher::start(
            dir,
            WatchOptions {
                debounce: Duration::from_millis(debounce_ms),
                poll: None,
            },
        )
        .unwrap()
    }

    /// The next batch, or a failure after ten seconds.
    fn next(watcher: StudyWatcher) -> (StudyWatcher, Batch) {
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut watcher = watcher;
            let batch = watcher.next_batch(|_| false).unwrap();
            let _ = sender.send((watcher, batch));
        });
        receiver
            .recv_timeout(Duration::from_secs(10))
            .expect("a batch within ten seconds")
    }

    #[test]
    fn an_atomic_save_is_one_settled_change_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("P1.txt");
        std::fs::write(&file, "P1: first\n").unwrap();
        let watcher = watcher(dir.path(), 50);
        let scratch = dir.path().join(".P1.txt.swp");
        std::fs::write(&scratch, "P1: second\n").unwrap();
        std::fs::rename(&scratch, &file).unwrap();
        let (_watcher, batch) = next(watcher);
        assert!(batch.paths.contains(&file), "{batch:?}");
        assert!(batch.paths.iter().all(|p| !is_editor_scratch(p)), "{batch:?}");
    }

    #[test]
    fn a_burst_of_files_is_one_batch() {
        let dir = tempfile::tempdir().unwrap();
        // A quiet time far longer than writing two hundred small files takes, even on a busy machine.
        let watcher = watcher(dir.path(), 1000);
        for i in 0..200 {
            std::fs::write(dir.path().join(format!("P{i}.txt")), "P: words\n").unwrap();
        }
        let (_watcher, batch) = next(watcher);
        assert_eq!(batch.paths.len(), 200, "{batch:?}");
    }

    #[test]
    fn a_file_written_all_the_time_does_not_hold_the_others_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut watcher = watcher(dir.path(), 50);
        let log = dir.path().join("notes.log");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writer = {
            let (log, stop) = (log.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    std::fs::write(&log, format!("{:?}", Instant::now())).unwrap();
                    std::thread::sleep(Duration::from_millis(10));
                }
            })
        };
        let transcript = dir.path().join("P1.txt");
        std::fs::write(&transcript, "P1: words\n").unwrap();
        let started = Instant::now();
        loop {
            let (back, batch) = next(watcher);
            watcher = back;
            if batch.paths.contains(&transcript) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(8),
                "the transcript was held back"
            );
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        writer.join().unwrap();
    }
}
