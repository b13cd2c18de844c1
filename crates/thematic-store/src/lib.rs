//! The study's store, `.thematic/store.db`: SQLite in WAL mode.
//!
//! It keeps transcripts (with content hashes), their segments, the codings of
//! every coding stage, and the runs that made them, so that each coding can be
//! traced to the engine version, configuration and strategy that produced it
//! and the transcript text it came from. Codings are keyed by the transcript's
//! content hash and the stage's fingerprint: when neither changed, a run reuses
//! them instead of coding again. Each transcript also keeps its digest (what
//! the review and the reports count) under a key of everything it was made
//! from, and its file's size and modification time, so that a run over an
//! unchanged study reads neither the transcripts nor their codings.
//!
//! This is the only crate that speaks SQL. Each run is written in one transaction.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use rusqlite::{params, Connection, OptionalExtension};
use thematic_model::{Coding, Segment, Transcript, TranscriptDigest};
use thiserror::Error;

mod codings_codec;
mod digest_codec;
mod embeddings;

pub use codings_codec::{CodingView, Spans};
pub use embeddings::{EmbeddingCache, SentenceKey};

/// How long a write waits for another process's transaction on the store.
pub(crate) const BUSY_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// The schema this build writes; `PRAGMA user_version` holds it.
/// Version 2 added `transcripts.segments_key`; 3 the digest key and file stamp
/// columns and the `digests` table.
const SCHEMA_VERSION: i64 = 6;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Sqlite { path: String, source: rusqlite::Error },
    #[error("{path}: written by a newer thematic (store schema {found}, this build reads {SCHEMA_VERSION})")]
    NewerSchema { path: String, found: i64 },
    #[error("{path}: another thematic has the store open, so its log could not be emptied; stop it and run the command again")]
    Busy { path: String },
    #[error("{path}: stored spans of a coding are unreadable: {message}")]
    Corrupt { path: String, message: String },
}

/// A stage as a run recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageRecord {
    pub name: String,
    pub strategy: String,
    pub fingerprint: String,
}

/// A stage's codings of one transcript text as the store holds them: read
/// on demand as [`CodingView`]s, borrowed from the record, or as codings.
#[derive(Debug)]
pub struct StoredCodings {
    stage: String,
    strategy: String,
    /// Checked by [`codings_codec::views`] when read from the store.
    bytes: Vec<u8>,
}

impl StoredCodings {
    pub fn views(&self) -> Vec<CodingView<'_>> {
        codings_codec::views(&self.bytes).unwrap_or_default()
    }

    /// The codings, attributed to transcript `transcript`.
    pub fn codings(&self, transcript: &str) -> Vec<Coding> {
        codings_codec::decode(&self.bytes, transcript, &self.stage, &self.strategy).unwrap_or_default()
    }
}

/// Codings a stage made afresh for one transcript text in this run.
#[derive(Debug, Clone)]
pub struct NewCodings {
    pub content_hash: String,
    pub stage: StageRecord,
    pub codings: Vec<Coding>,
}

/// A file's size and modification time (nanoseconds since the Unix epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FileStamp {
    pub size: u64,
    pub modified_ns: i64,
}

/// A transcript as the last run recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredTranscript {
    pub content_hash: String,
    /// The key of the stored digest, if there is one.
    pub digest_key: Option<String>,
    /// The file's stamp when it was read, if it could be trusted to tell a change.
    pub file: Option<FileStamp>,
}

/// A transcript of the study as a run saw it.
#[derive(Debug, Clone, Copy)]
pub struct CurrentTranscript<'a> {
    pub digest: &'a TranscriptDigest,
    /// What the digest was made from (text, cut, stages), as the caller keys it.
    pub digest_key: &'a str,
    pub file: Option<FileStamp>,
    /// The transcript as read in this run, if it was read, with its whole
    /// text: its segments are written when its text or its cut changed. One
    /// that was not read is recorded as unchanged.
    pub read: Option<(&'a Transcript, &'a str)>,
}

/// Everything a run writes, in one transaction.
#[derive(Debug, Clone)]
pub struct RunRecord<'a> {
    pub started_at: String,
    pub finished_at: String,
    pub engine_version: String,
    pub config_hash: String,
    pub stages: Vec<StageRecord>,
    /// The transcripts of the study as this run saw them; any other stored
    /// transcript leaves the store with its segments and codings...
    pub transcripts: &'a [CurrentTranscript<'a>],
    /// ...except these, still in the study but unreadable this time: what is
    /// stored for them stays until they can be read again.
    pub unreadable: &'a [String],
    pub new_codings: &'a [NewCodings],
    pub outcome: String,
}

/// A run written in a transaction not yet committed (see [`Store::begin_run`]).
pub struct PendingRun<'s> {
    tx: rusqlite::Transaction<'s>,
    run_id: i64,
    path: &'s str,
}

impl PendingRun<'_> {
    /// Stores the run; returns its id.
    pub fn commit(self) -> Result<i64, StoreError> {
        let path = self.path.to_string();
        self.tx.commit().map_err(|source| StoreError::Sqlite { path, source })?;
        Ok(self.run_id)
    }
}

pub struct Store {
    path: String,
    connection: Connection,
}

impl Store {
    /// Opens (creating if needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let shown = path.display().to_string();
        let error = |source| StoreError::Sqlite {
            path: shown.clone(),
            source,
        };
        let mut connection = Connection::open(path).map_err(error)?;
        // A watch and a run of the same study may write at once: the second waits its turn.
        connection.busy_timeout(BUSY_WAIT).map_err(error)?;
        connection
            .execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")
            .map_err(error)?;
        let version: i64 = connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(error)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: shown,
                found: version,
            });
        }
        if version < SCHEMA_VERSION {
            // Two processes may open an old store at once: one brings it up to
            // date, the other waits and then finds nothing to do.
            let tx = connection
                .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
                .map_err(error)?;
            let version: i64 = tx
                .query_row("PRAGMA user_version", [], |row| row.get(0))
                .map_err(error)?;
            match version {
                0 => tx.execute_batch(SCHEMA).map_err(error)?,
                1..=5 => {
                    let steps = [
                        MIGRATE_1_TO_2,
                        MIGRATE_2_TO_3,
                        MIGRATE_3_TO_4,
                        MIGRATE_4_TO_5,
                        MIGRATE_5_TO_6,
                    ];
                    steps[version as usize - 1..]
                        .iter()
                        .try_for_each(|step| tx.execute_batch(step))
                        .map_err(error)?
                }
                _ => {}
            }
            tx.commit().map_err(error)?;
        }
        Ok(Store {
            path: shown,
            connection,
        })
    }

    /// Opens the store at `path` only to read it: nothing is created or
    /// brought up to date, and closing it checkpoints nothing, so that its
    /// files stay as they are (what an audit needs, and all a reader without
    /// write access to them can do).
    pub fn open_to_read(path: &Path) -> Result<Store, StoreError> {
        let shown = path.display().to_string();
        let error = |source| StoreError::Sqlite {
            path: shown.clone(),
            source,
        };
        let connection =
            Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(error)?;
        connection.busy_timeout(BUSY_WAIT).map_err(error)?;
        Ok(Store {
            path: shown,
            connection,
        })
    }

    /// The store's file, for another connection to open it (none for a
    /// store in memory).
    pub fn file(&self) -> Option<PathBuf> {
        self.connection
            .path()
            .filter(|path| !path.is_empty())
            .map(PathBuf::from)
    }

    fn error(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Every stored transcript by id, without its segments or digest.
    pub fn transcripts(&self) -> Result<HashMap<String, StoredTranscript>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached("SELECT id, content_hash, digest_key, file_size, file_mtime_ns FROM transcripts")
            .map_err(self.error())?;
        let rows = statement
            .query_map([], |row| {
                let size: Option<i64> = row.get(3)?;
                let modified_ns: Option<i64> = row.get(4)?;
                Ok((
                    row.get(0)?,
                    StoredTranscript {
                        content_hash: row.get(1)?,
                        digest_key: row.get(2)?,
                        file: size.zip(modified_ns).map(|(size, modified_ns)| FileStamp {
                            size: size as u64,
                            modified_ns,
                        }),
                    },
                ))
            })
            .map_err(self.error())?;
        rows.collect::<Result<_, _>>().map_err(self.error())
    }

    /// The stored digest of transcript `id`, if it has one. A digest that
    /// cannot be read counts as none: the caller makes it again.
    pub fn digest(&self, id: &str) -> Result<Option<TranscriptDigest>, StoreError> {
        let row: Option<(Option<Vec<u8>>, Option<String>, String)> = self
            .connection
            .prepare_cached(
                "SELECT digest, participant, content_hash FROM digests JOIN transcripts ON id = transcript_id
                 WHERE id = ?1",
            )
            .and_then(|mut statement| {
                statement
                    .query_row([id], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                    .optional()
            })
            .map_err(self.error())?;
        Ok(row.and_then(|(bytes, participant, content_hash)| {
            digest_codec::decode(&bytes?, id.to_string(), participant, content_hash)
        }))
    }

    /// The stored digests of the transcripts in `wanted`, by id, in one read
    /// of the table (a study's worth, as a run that changed little needs).
    /// Unreadable digests are left out, as [`Store::digest`] leaves them.
    pub fn digests(&self, wanted: &HashSet<&str>) -> Result<HashMap<String, TranscriptDigest>, StoreError> {
        let mut statement = self
            .connection
            .prepare_cached(
                "SELECT id, participant, content_hash, digest FROM digests JOIN transcripts ON id = transcript_id",
            )
            .map_err(self.error())?;
        let mut rows = statement.query([]).map_err(self.error())?;
        let mut digests = HashMap::with_capacity(wanted.len());
        while let Some(row) = rows.next().map_err(self.error())? {
            let id: String = row.get(0).map_err(self.error())?;
            if !wanted.contains(id.as_str()) {
                continue;
            }
            let participant: Option<String> = row.get(1).map_err(self.error())?;
            let content_hash: String = row.get(2).map_err(self.error())?;
            let bytes = row.get_ref(3).map_err(self.error())?;
            if let Some(bytes) = bytes.as_blob_or_null().ok().flatten() {
                if let Some(digest) = digest_codec::decode(bytes, id.clone(), participant, content_hash) {
                    digests.insert(id, digest);
                }
            }
        }
        Ok(digests)
    }

    /// Transcript `id` as last stored (its segments, not its digest), if it is.
    pub fn transcript(&self, id: &str) -> Result<Option<Transcript>, StoreError> {
        let head: Option<(Option<String>, String)> = self
            .connection
            .prepare_cached("SELECT participant, content_hash FROM transcripts WHERE id = ?1")
            .and_then(|mut statement| {
                statement
                    .query_row([id], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()
            })
            .map_err(self.error())?;
        let Some((participant, content_hash)) = head else {
            return Ok(None);
        };
        let segments = self
            .connection
            .prepare_cached(
                "SELECT turn, speaker, role, participant, start, end, text, start_ms, end_ms FROM segments
                 WHERE transcript_id = ?1 ORDER BY turn",
            )
            .and_then(|mut statement| {
                statement
                    .query_map([id], |row| {
                        Ok(Segment {
                            turn: row.get(0)?,
                            speaker: row.get(1)?,
                            role: row.get(2)?,
                            participant: row.get(3)?,
                            start: row.get::<_, i64>(4)? as usize,
                            end: row.get::<_, i64>(5)? as usize,
                            text: row.get(6)?,
                            start_ms: row.get::<_, Option<i64>>(7)?.map(|ms| ms as u64),
                            end_ms: row.get::<_, Option<i64>>(8)?.map(|ms| ms as u64),
                        })
                    })?
                    .collect::<rusqlite::Result<Vec<Segment>>>()
            })
            .map_err(self.error())?;
        Ok(Some(Transcript {
            id: id.to_string(),
            participant,
            content_hash,
            segments,
        }))
    }

    /// The whole text of `transcript` as last analysed (its segments as the
    /// store gave them), if the store holds the text between them (stores
    /// older than schema 5 do not for a transcript not read since).
    pub fn text(&self, transcript: &Transcript) -> Result<Option<String>, StoreError> {
        let gaps: Option<Option<String>> = self
            .connection
            .prepare_cached("SELECT gaps FROM transcripts WHERE id = ?1")
            .and_then(|mut statement| statement.query_row([&transcript.id], |row| row.get(0)).optional())
            .map_err(self.error())?;
        let Some(Some(gaps)) = gaps else {
            return Ok(None);
        };
        let gaps: Vec<(usize, String)> = serde_json::from_str(&gaps).map_err(|e| StoreError::Corrupt {
            path: self.path.clone(),
            message: format!("the gaps of `{}`: {e}", transcript.id),
        })?;
        let segments: Vec<(usize, String)> = transcript.segments.iter().map(|s| (s.start, s.text.clone())).collect();
        Ok(Some(text_of(&segments, &gaps)))
    }

    /// What was said on `turn` of transcript `id`, without the speaker label,
    /// as last stored.
    pub fn said(&self, id: &str, turn: u32) -> Result<Option<String>, StoreError> {
        self.connection
            .prepare_cached(
                "SELECT speaker, role, participant, start, end, text FROM segments
                 WHERE transcript_id = ?1 AND turn = ?2",
            )
            .and_then(|mut statement| {
                statement
                    .query_row(params![id, turn], |row| {
                        let segment = Segment {
                            turn,
                            speaker: row.get(0)?,
                            role: row.get(1)?,
                            participant: row.get(2)?,
                            start: row.get::<_, i64>(3)? as usize,
                            end: row.get::<_, i64>(4)? as usize,
                            text: row.get(5)?,
                            start_ms: None,
                            end_ms: None,
                        };
                        Ok(segment.content().to_string())
                    })
                    .optional()
            })
            .map_err(self.error())
    }

    /// The codings a stage with `fingerprint` made from transcript text with
    /// `content_hash`, attributed to transcript `transcript`; `None` if that
    /// stage never coded that text, or its record of them is damaged.
    pub fn stored_codings(
        &self,
        content_hash: &str,
        fingerprint: &str,
        transcript: &str,
    ) -> Result<Option<Vec<Coding>>, StoreError> {
        let record = self.stored_row(content_hash, fingerprint)?;
        // Damaged codings, like a damaged digest, are made again (and stored over these).
        Ok(record.and_then(|(stage, strategy, bytes)| codings_codec::decode(&bytes, transcript, &stage, &strategy)))
    }

    /// The record of the codings a stage with `fingerprint` made from
    /// transcript text with `content_hash`, checked and not yet decoded;
    /// `None` if that stage never coded that text, or its record is damaged.
    pub fn stored_record(&self, content_hash: &str, fingerprint: &str) -> Result<Option<StoredCodings>, StoreError> {
        let record = self.stored_row(content_hash, fingerprint)?;
        Ok(record
            .filter(|(_, _, bytes)| codings_codec::views(bytes).is_some())
            .map(|(stage, strategy, bytes)| StoredCodings { stage, strategy, bytes }))
    }

    /// The stage, strategy and codings record of (`content_hash`, `fingerprint`).
    fn stored_row(
        &self,
        content_hash: &str,
        fingerprint: &str,
    ) -> Result<Option<(String, String, Vec<u8>)>, StoreError> {
        self.connection
            .prepare_cached(
                "SELECT stage, strategy, codings FROM stage_results WHERE content_hash = ?1 AND fingerprint = ?2",
            )
            .and_then(|mut statement| {
                statement
                    .query_row(params![content_hash, fingerprint], |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?))
                    })
                    .optional()
            })
            .map_err(self.error())
    }

    /// Writes a run in one transaction: the run itself, the study's current
    /// transcripts and segments, and the codings made afresh. Transcripts no
    /// longer in the study leave the store, and so do codings of transcript
    /// texts no transcript has any more. The transaction is left open: the
    /// run is stored when the caller commits it, and forgotten if it is
    /// dropped (the caller had something else to finish first).
    pub fn begin_run(&mut self, run: &RunRecord) -> Result<PendingRun<'_>, StoreError> {
        let path = self.path.clone();
        let error = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.connection.transaction().map_err(error)?;
        let run_id = insert_run(&tx, run).map_err(error)?;
        let recorded = recorded_transcripts(&tx).map_err(error)?;
        for current in run.transcripts {
            record_transcript(&tx, current, recorded.get(&current.digest.id), run_id).map_err(error)?;
        }
        // Transcripts gone from the study leave the store, with all that hangs on them.
        let here: HashSet<&str> = run
            .transcripts
            .iter()
            .map(|current| current.digest.id.as_str())
            .chain(run.unreadable.iter().map(String::as_str))
            .collect();
        for gone in recorded.keys().filter(|id| !here.contains(id.as_str())) {
            tx.prepare_cached("DELETE FROM transcripts WHERE id = ?1")
                .and_then(|mut statement| statement.execute([gone]))
                .map_err(error)?;
        }
        for new in run.new_codings {
            insert_codings(&tx, new, run_id).map_err(error)?;
        }
        drop_unused_codings(&tx, &run.stages).map_err(error)?;
        Ok(PendingRun {
            tx,
            run_id,
            path: &self.path,
        })
    }

    /// Leaves no trace of deleted rows in the store's files (after a
    /// participant withdraws): deleted content is overwritten, the database is
    /// rewritten without its free pages, and the write-ahead log is emptied.
    pub fn purge(&mut self) -> Result<(), StoreError> {
        self.connection
            .execute_batch("PRAGMA secure_delete = ON; VACUUM;")
            .map_err(self.error())?;
        self.checkpoint()
    }

    /// Has what this connection deletes overwritten with zeros, not merely
    /// marked free (for studies whose text must not outlive its redaction).
    pub fn overwrite_deleted(&self) -> Result<(), StoreError> {
        self.connection
            .execute_batch("PRAGMA secure_delete = ON;")
            .map_err(self.error())
    }

    /// Moves the write-ahead log into the database file and empties it, so
    /// that no earlier version of a page lingers there.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        let busy: i64 = self
            .connection
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))
            .map_err(self.error())?;
        if busy != 0 {
            return Err(StoreError::Busy {
                path: self.path.clone(),
            });
        }
        Ok(())
    }

    /// Drops what the store holds of the transcripts `ids` (their segments
    /// and digests); they are read afresh when next they can be.
    pub fn forget_transcripts(&mut self, ids: &[String]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let error = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.connection.transaction().map_err(error)?;
        for id in ids {
            tx.execute("DELETE FROM transcripts WHERE id = ?1", [id])
                .map_err(error)?;
        }
        tx.commit().map_err(error)
    }

    /// Every text (and blob) value the store holds, each with where it is
    /// (`table.column, row N`): what an audit searches, value by value, so
    /// that columns SQLite packs side by side in a page are not read as one word.
    pub fn each_value(&self, visit: &mut dyn FnMut(&str, &str)) -> Result<(), StoreError> {
        let tables: Vec<String> = self
            .connection
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
            .and_then(|mut statement| statement.query_map([], |row| row.get(0))?.collect())
            .map_err(self.error())?;
        for table in tables {
            let mut statement = self
                .connection
                .prepare(&format!("SELECT rowid, * FROM \"{}\"", table.replace('"', "\"\"")))
                .map_err(self.error())?;
            let columns: Vec<String> = statement.column_names().map(str::to_string).collect();
            let mut rows = statement.query([]).map_err(self.error())?;
            while let Some(row) = rows.next().map_err(self.error())? {
                let rowid: i64 = row.get(0).unwrap_or_default();
                for (i, column) in columns.iter().enumerate().skip(1) {
                    let text = match row.get_ref(i).map_err(self.error())? {
                        rusqlite::types::ValueRef::Text(bytes) | rusqlite::types::ValueRef::Blob(bytes) => {
                            String::from_utf8_lossy(bytes)
                        }
                        _ => continue,
                    };
                    visit(&format!("{table}.{column}, row {rowid}"), &text);
                }
            }
        }
        Ok(())
    }

    /// The configuration hash the last run recorded.
    pub fn last_config_hash(&self) -> Result<Option<String>, StoreError> {
        self.connection
            .query_row("SELECT config_hash FROM runs ORDER BY id DESC LIMIT 1", [], |row| {
                row.get(0)
            })
            .optional()
            .map_err(self.error())
    }

    /// How many runs, transcripts, segments and codings the store holds.
    #[cfg(test)]
    fn counts(&self) -> Result<StoreCounts, StoreError> {
        let count = |table: &str| -> Result<usize, StoreError> {
            self.connection
                .query_row(&format!("SELECT count(*) FROM {table}"), [], |row| row.get::<_, i64>(0))
                .map(|n| n as usize)
                .map_err(self.error())
        };
        // Each stage's record of a text starts with its number of codings.
        let codings: Vec<Vec<u8>> = self
            .connection
            .prepare("SELECT codings FROM stage_results")
            .and_then(|mut statement| statement.query_map([], |row| row.get(0))?.collect())
            .map_err(self.error())?;
        Ok(StoreCounts {
            runs: count("runs")?,
            transcripts: count("transcripts")?,
            segments: count("segments")?,
            codings: codings
                .iter()
                .map(|record| u32::from_le_bytes(record[..4].try_into().expect("a count")) as usize)
                .sum(),
        })
    }
}

/// Replaces transcript `transcript`'s row and segments.
/// What the last run recorded of a transcript: its content hash, its
/// participant, its segments' key, its digest's key, its file's stamp and
/// whether the text between its segments is kept.
type Recorded = (String, Option<String>, i64, Option<String>, Option<FileStamp>, bool);

/// The run itself, and its id.
fn insert_run(tx: &rusqlite::Transaction, run: &RunRecord) -> rusqlite::Result<i64> {
    let stages: Vec<serde_json::Value> = run
        .stages
        .iter()
        .map(|s| serde_json::json!({"name": s.name, "strategy": s.strategy, "fingerprint": s.fingerprint}))
        .collect();
    tx.execute(
        "INSERT INTO runs (started_at, finished_at, engine_version, config_hash, stages, outcome)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            run.started_at,
            run.finished_at,
            run.engine_version,
            run.config_hash,
            serde_json::Value::Array(stages).to_string(),
            run.outcome
        ],
    )?;
    Ok(tx.last_insert_rowid())
}

/// What the store holds of every transcript, by id: only rows that differ from it are written.
fn recorded_transcripts(tx: &rusqlite::Transaction) -> rusqlite::Result<HashMap<String, Recorded>> {
    tx.prepare(
        "SELECT id, content_hash, participant, segments_key, digest_key, file_size, file_mtime_ns, gaps IS NOT NULL
         FROM transcripts",
    )
    .and_then(|mut statement| {
        statement
            .query_map([], |row| {
                let size: Option<i64> = row.get(5)?;
                let modified_ns: Option<i64> = row.get(6)?;
                let file = size.zip(modified_ns).map(|(size, modified_ns)| FileStamp {
                    size: size as u64,
                    modified_ns,
                });
                let recorded = (row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, file, row.get(7)?);
                Ok((row.get(0)?, recorded))
            })?
            .collect()
    })
}

/// One transcript of the run: its segments written again when its text or
/// its cut changed, its digest and its file's stamp when they did.
fn record_transcript(
    tx: &rusqlite::Transaction,
    current: &CurrentTranscript,
    recorded: Option<&Recorded>,
    run_id: i64,
) -> rusqlite::Result<()> {
    let digest = current.digest;
    let mut rewritten = false;
    if let Some((transcript, text)) = current.read {
        // Segments depend on the configuration (speaker roles, participants)
        // as well as the text: they are written again when either changed.
        let key = segments_key(transcript);
        let unchanged = recorded.is_some_and(|(hash, participant, stored_key, .., has_gaps)| {
            *hash == transcript.content_hash
                && *participant == transcript.participant
                && *stored_key == key
                && *has_gaps
        });
        if !unchanged {
            write_segments(tx, transcript, text, key, run_id)?;
            rewritten = true;
        }
    }
    let recorded = recorded.filter(|_| !rewritten);
    if recorded.is_none_or(|(.., key, _, _)| key.as_deref() != Some(current.digest_key)) {
        tx.prepare_cached("INSERT OR REPLACE INTO digests (transcript_id, digest) VALUES (?1, ?2)")?
            .execute(params![digest.id, digest_codec::encode(digest)])?;
    }
    let file = current.file;
    if recorded.is_none_or(|(.., key, stamp, _)| key.as_deref() != Some(current.digest_key) || *stamp != file) {
        tx.prepare_cached("UPDATE transcripts SET digest_key = ?2, file_size = ?3, file_mtime_ns = ?4 WHERE id = ?1")?
            .execute(params![
                digest.id,
                current.digest_key,
                file.map(|f| f.size as i64),
                file.map(|f| f.modified_ns)
            ])?;
    }
    Ok(())
}

/// The codings one stage made of one text, in place of any it had before.
fn insert_codings(tx: &rusqlite::Transaction, new: &NewCodings, run_id: i64) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT OR REPLACE INTO stage_results (content_hash, fingerprint, stage, strategy, run_id, codings)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        new.content_hash,
        new.stage.fingerprint,
        new.stage.name,
        new.stage.strategy,
        run_id,
        codings_codec::encode(&new.codings)
    ])?;
    Ok(())
}

/// Codings of texts no transcript has any more, and of stages as they no
/// longer are (an edited codebook, a renamed stage), would only grow the
/// file: coding again is cheap.
fn drop_unused_codings(tx: &rusqlite::Transaction, stages: &[StageRecord]) -> rusqlite::Result<()> {
    // The hashes are read from the key's index: the table's rows hold the codings.
    tx.execute(
        "DELETE FROM stage_results WHERE content_hash IN
            (SELECT content_hash FROM stage_results EXCEPT SELECT content_hash FROM transcripts)",
        [],
    )?;
    let fingerprints: Vec<String> = tx
        .prepare("SELECT DISTINCT fingerprint FROM stage_results")
        .and_then(|mut statement| statement.query_map([], |row| row.get(0))?.collect())?;
    for stale in fingerprints
        .iter()
        .filter(|f| !stages.iter().any(|s| &s.fingerprint == *f))
    {
        tx.execute("DELETE FROM stage_results WHERE fingerprint = ?1", [stale])?;
    }
    Ok(())
}

fn write_segments(
    tx: &rusqlite::Transaction,
    transcript: &Transcript,
    text: &str,
    key: i64,
    run_id: i64,
) -> rusqlite::Result<()> {
    tx.execute("DELETE FROM transcripts WHERE id = ?1", [&transcript.id])?;
    let gaps =
        serde_json::to_string(&gaps_of(text, &transcript.segments)).expect("pairs of numbers and strings serialise");
    tx.execute(
        "INSERT INTO transcripts (id, participant, content_hash, segments_key, run_id, gaps)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![
            transcript.id,
            transcript.participant,
            transcript.content_hash,
            key,
            run_id,
            gaps
        ],
    )?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO segments (transcript_id, turn, speaker, role, participant, start, end, text, start_ms, end_ms)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    for Segment {
        turn,
        speaker,
        role,
        participant,
        start,
        end,
        text,
        start_ms,
        end_ms,
    } in &transcript.segments
    {
        insert.execute(params![
            transcript.id,
            turn,
            speaker,
            role,
            participant,
            *start as i64,
            *end as i64,
            text,
            start_ms.map(|ms| ms as i64),
            end_ms.map(|ms| ms as i64)
        ])?;
    }
    Ok(())
}

/// The stretches of `text` outside its segments, as (code-point offset,
/// text): with the segments, the whole text.
fn gaps_of(text: &str, segments: &[Segment]) -> Vec<(usize, String)> {
    let mut gaps = Vec::new();
    let mut covered = segments.iter().map(|s| (s.start, s.end)).collect::<Vec<_>>();
    covered.sort_unstable();
    let mut next = covered.into_iter().peekable();
    let mut gap = String::new();
    let mut gap_start = 0;
    let mut in_segment_until = None;
    for (at, c) in text.chars().enumerate() {
        if in_segment_until.is_some_and(|end| at >= end) {
            in_segment_until = None;
        }
        while let Some(&(start, end)) = next.peek() {
            if start > at {
                break;
            }
            in_segment_until = Some(in_segment_until.map_or(end, |until: usize| until.max(end)));
            next.next();
        }
        match in_segment_until {
            Some(end) if at < end => {
                if !gap.is_empty() {
                    gaps.push((gap_start, std::mem::take(&mut gap)));
                }
            }
            _ => {
                if gap.is_empty() {
                    gap_start = at;
                }
                gap.push(c);
            }
        }
    }
    if !gap.is_empty() {
        gaps.push((gap_start, gap));
    }
    gaps
}

/// A transcript's whole text from its segments and the gaps between them.
fn text_of(segments: &[(usize, String)], gaps: &[(usize, String)]) -> String {
    let mut pieces: Vec<(usize, &str)> = segments
        .iter()
        .chain(gaps)
        .map(|(at, text)| (*at, text.as_str()))
        .collect();
    pieces.sort_by_key(|(at, _)| *at);
    pieces.into_iter().map(|(_, text)| text).collect()
}

/// A digest of how a transcript was cut into segments, to tell whether its
/// stored segments are still current. Only ever compared with digests made
/// by the same build; a mismatch costs a rewrite, never a wrong answer.
fn segments_key(transcript: &Transcript) -> i64 {
    let mut hasher = DefaultHasher::new();
    transcript.participant.hash(&mut hasher);
    for segment in &transcript.segments {
        (
            segment.turn,
            &segment.speaker,
            &segment.role,
            &segment.participant,
            segment.start,
            segment.end,
            segment.start_ms,
            segment.end_ms,
        )
            .hash(&mut hasher);
    }
    env!("CARGO_PKG_VERSION").hash(&mut hasher);
    hasher.finish() as i64
}

#[cfg(test)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct StoreCounts {
    pub runs: usize,
    pub transcripts: usize,
    pub segments: usize,
    pub codings: usize,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    engine_version TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    stages TEXT NOT NULL,
    outcome TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS transcripts (
    id TEXT PRIMARY KEY,
    participant TEXT,
    content_hash TEXT NOT NULL,
    segments_key INTEGER NOT NULL DEFAULT 0,
    run_id INTEGER NOT NULL REFERENCES runs (id),
    digest_key TEXT,
    file_size INTEGER,
    file_mtime_ns INTEGER,
    gaps TEXT
);
CREATE TABLE IF NOT EXISTS digests (
    transcript_id TEXT PRIMARY KEY REFERENCES transcripts (id) ON DELETE CASCADE,
    digest BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS segments (
    transcript_id TEXT NOT NULL REFERENCES transcripts (id) ON DELETE CASCADE,
    turn INTEGER NOT NULL,
    speaker TEXT,
    role TEXT NOT NULL,
    participant TEXT,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    text TEXT NOT NULL,
    start_ms INTEGER,
    end_ms INTEGER,
    PRIMARY KEY (transcript_id, turn)
);
CREATE TABLE IF NOT EXISTS stage_results (
    content_hash TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    stage TEXT NOT NULL,
    strategy TEXT NOT NULL,
    run_id INTEGER NOT NULL REFERENCES runs (id),
    codings BLOB NOT NULL,
    PRIMARY KEY (content_hash, fingerprint)
);
PRAGMA user_version = 6;
";

const MIGRATE_1_TO_2: &str = "
ALTER TABLE transcripts ADD COLUMN segments_key INTEGER NOT NULL DEFAULT 0;
PRAGMA user_version = 2;
";

const MIGRATE_2_TO_3: &str = "
ALTER TABLE transcripts ADD COLUMN digest_key TEXT;
ALTER TABLE transcripts ADD COLUMN file_size INTEGER;
ALTER TABLE transcripts ADD COLUMN file_mtime_ns INTEGER;
CREATE TABLE digests (
    transcript_id TEXT PRIMARY KEY REFERENCES transcripts (id) ON DELETE CASCADE,
    digest BLOB NOT NULL
);
PRAGMA user_version = 3;
";

/// Segments keep when they were said (captions, timestamped transcripts).
const MIGRATE_3_TO_4: &str = "
ALTER TABLE segments ADD COLUMN start_ms INTEGER;
ALTER TABLE segments ADD COLUMN end_ms INTEGER;
PRAGMA user_version = 4;
";

/// A transcript keeps the text between its segments, so that its whole text
/// comes back from the store (an export after a run reads no file).
const MIGRATE_4_TO_5: &str = "
ALTER TABLE transcripts ADD COLUMN gaps TEXT;
PRAGMA user_version = 5;
";

/// A stage's codings of a text are one record (see [`codings_codec`]), not
/// a row each. Codings stored before are let go, and every digest with them,
/// so that the next run codes each transcript again and stores its codings
/// the new way: coding again is cheap, and it happens once.
const MIGRATE_5_TO_6: &str = "
DROP TABLE codings;
DELETE FROM stage_results;
ALTER TABLE stage_results ADD COLUMN codings BLOB NOT NULL DEFAULT x'';
UPDATE transcripts SET digest_key = NULL;
PRAGMA user_version = 6;
";

#[cfg(test)]
mod tests {
    use super::*;

    fn transcript(id: &str, hash: &str) -> Transcript {
        Transcript {
            id: id.into(),
            participant: Some("P1".into()),
            content_hash: hash.into(),
            segments: vec![Segment {
                turn: 1,
                speaker: Some("P1".into()),
                role: "participant".into(),
                participant: Some("P1".into()),
                start: 0,
                end: 10,
                text: "P1: hello.".into(),
                start_ms: None,
                end_ms: None,
            }],
        }
    }

    fn coding(transcript: &str) -> Coding {
        Coding {
            transcript: transcript.into(),
            turn: 1,
            code: "greeting".into(),
            stage: "code".into(),
            strategy: "dictionary".into(),
            spans: vec![thematic_model::Span { start: 4, end: 9 }],
            confidence: Some(0.5),
            memo: Some("note".into()),
        }
    }

    /// Records a run under `stages` that read `transcripts` afresh, each
    /// with a digest keyed by its content hash.
    fn record(store: &mut Store, transcripts: &[Transcript], new_codings: Vec<NewCodings>, stages: Vec<StageRecord>) {
        write_run(store, transcripts, new_codings, stages, true);
    }

    /// Writes a run of `transcripts`, committed or (with `commit` false) dropped before it is.
    fn write_run(
        store: &mut Store,
        transcripts: &[Transcript],
        new_codings: Vec<NewCodings>,
        stages: Vec<StageRecord>,
        commit: bool,
    ) {
        let digests: Vec<TranscriptDigest> = transcripts
            .iter()
            .map(|t| TranscriptDigest {
                id: t.id.clone(),
                participant: t.participant.clone(),
                content_hash: t.content_hash.clone(),
                turns: t.segments.iter().map(|s| (s.turn, None)).collect(),
                ..TranscriptDigest::default()
            })
            .collect();
        let current: Vec<CurrentTranscript> = transcripts
            .iter()
            .zip(&digests)
            .map(|(t, digest)| CurrentTranscript {
                digest,
                digest_key: &t.content_hash,
                file: Some(FileStamp {
                    size: 10,
                    modified_ns: 1,
                }),
                read: Some((t, t.segments[0].text.as_str())),
            })
            .collect();
        let pending = store
            .begin_run(&RunRecord {
                started_at: "2026-01-01T00:00:00Z".into(),
                finished_at: "2026-01-01T00:00:01Z".into(),
                engine_version: "0.1.0".into(),
                config_hash: "c".into(),
                stages,
                transcripts: &current,
                unreadable: &[],
                new_codings: &new_codings,
                outcome: "success".into(),
            })
            .unwrap();
        if commit {
            pending.commit().unwrap();
        }
    }

    #[test]
    fn a_run_begun_and_not_committed_leaves_the_store_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("store.db")).unwrap();
        let transcripts = [transcript("a.txt", "ha")];
        write_run(&mut store, &transcripts, Vec::new(), Vec::new(), false);
        assert!(store.transcripts().unwrap().is_empty());
        assert_eq!(store.last_config_hash().unwrap(), None);
        write_run(&mut store, &transcripts, Vec::new(), Vec::new(), true);
        assert_eq!(store.transcripts().unwrap().len(), 1);
        assert_eq!(store.last_config_hash().unwrap().as_deref(), Some("c"));
    }

    #[test]
    fn codings_of_stages_no_longer_configured_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("store.db")).unwrap();
        let transcripts = [transcript("a.txt", "ha")];
        let new = NewCodings {
            content_hash: "ha".into(),
            stage: stage(),
            codings: vec![coding("a.txt")],
        };
        record(&mut store, &transcripts, vec![new], vec![stage()]);
        assert!(store.stored_codings("ha", "f1", "a.txt").unwrap().is_some());
        let edited = StageRecord {
            fingerprint: "f2".into(),
            ..stage()
        };
        record(&mut store, &transcripts, vec![], vec![edited]);
        assert_eq!(store.stored_codings("ha", "f1", "a.txt").unwrap(), None);
        assert_eq!(store.counts().unwrap().codings, 0);
    }

    #[test]
    fn codings_of_texts_no_transcript_has_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("store.db")).unwrap();
        let coded = |hash: &str| NewCodings {
            content_hash: hash.into(),
            stage: stage(),
            codings: vec![coding("a.txt")],
        };
        let first = [transcript("a.txt", "h1"), transcript("b.txt", "hb")];
        record(&mut store, &first, vec![coded("h1"), coded("hb")], vec![stage()]);
        let edited = [transcript("a.txt", "h2"), transcript("b.txt", "hb")];
        record(&mut store, &edited, vec![coded("h2")], vec![stage()]);
        assert_eq!(store.stored_codings("h1", "f1", "a.txt").unwrap(), None);
        assert!(store.stored_codings("h2", "f1", "a.txt").unwrap().is_some());
        assert!(store.stored_codings("hb", "f1", "b.txt").unwrap().is_some());
        assert_eq!(store.counts().unwrap().codings, 2);
    }

    fn stage() -> StageRecord {
        StageRecord {
            name: "code".into(),
            strategy: "dictionary".into(),
            fingerprint: "f1".into(),
        }
    }

    #[test]
    fn codings_round_trip_and_are_found_by_text_and_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("store.db")).unwrap();
        let transcripts = [transcript("t/P1.txt", "h1")];
        assert_eq!(store.stored_codings("h1", "f1", "t/P1.txt").unwrap(), None);
        let new = NewCodings {
            content_hash: "h1".into(),
            stage: stage(),
            codings: vec![coding("t/P1.txt")],
        };
        record(&mut store, &transcripts, vec![new], vec![stage()]);
        let back = store.stored_codings("h1", "f1", "renamed.txt").unwrap().unwrap();
        assert_eq!(
            back,
            vec![Coding {
                transcript: "renamed.txt".into(),
                ..coding("t/P1.txt")
            }]
        );
        assert_eq!(store.stored_codings("h1", "f2", "t/P1.txt").unwrap(), None);
        let counts = store.counts().unwrap();
        assert_eq!(
            (counts.runs, counts.transcripts, counts.segments, counts.codings),
            (1, 1, 1, 1)
        );
        store
            .connection
            .execute("UPDATE stage_results SET codings = x'0100'", [])
            .unwrap();
        assert_eq!(
            store.stored_codings("h1", "f1", "t/P1.txt").unwrap(),
            None,
            "damaged codings are made again"
        );
    }

    #[test]
    fn transcripts_gone_from_the_study_leave_the_store_with_their_codings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        let mut store = Store::open(&path).unwrap();
        let both = [transcript("a.txt", "ha"), transcript("b.txt", "hb")];
        let new = |hash: &str| NewCodings {
            content_hash: hash.into(),
            stage: stage(),
            codings: vec![coding("x")],
        };
        record(&mut store, &both, vec![new("ha"), new("hb")], vec![stage()]);
        drop(store);
        let mut store = Store::open(&path).unwrap();
        record(&mut store, &both[..1], vec![], vec![stage()]);
        let counts = store.counts().unwrap();
        assert_eq!(
            (counts.runs, counts.transcripts, counts.segments, counts.codings),
            (2, 1, 1, 1)
        );
        assert_eq!(store.stored_codings("hb", "f1", "b.txt").unwrap(), None);
    }

    #[test]
    fn a_file_that_is_not_a_database_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        std::fs::write(
            &path,
            "this is not sqlite, just some text that is long enough to be a header....",
        )
        .unwrap();
        let err = Store::open(&path).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains("store.db") && err.contains("not a database"), "{err}");
    }

    /// The run that last wrote each transcript's segments.
    fn written_by(store: &Store) -> Vec<(String, i64)> {
        store
            .connection
            .prepare("SELECT id, run_id FROM transcripts ORDER BY id")
            .unwrap()
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    #[test]
    fn segments_are_written_again_only_when_the_text_or_the_cut_changed() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("store.db")).unwrap();
        let mut both = [transcript("a.txt", "ha"), transcript("b.txt", "hb")];
        record(&mut store, &both, vec![], vec![stage()]);
        record(&mut store, &both, vec![], vec![stage()]);
        assert_eq!(written_by(&store), [("a.txt".into(), 1), ("b.txt".into(), 1)]);
        both[0].content_hash = "ha2".into();
        both[1].segments[0].role = "interviewer".into();
        record(&mut store, &both, vec![], vec![stage()]);
        assert_eq!(written_by(&store), [("a.txt".into(), 3), ("b.txt".into(), 3)]);
    }

    #[test]
    fn segments_keep_their_times_and_new_times_rewrite_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("store.db")).unwrap();
        let mut timed = transcript("a.vtt", "ha");
        timed.segments[0].start_ms = Some(1_000);
        timed.segments[0].end_ms = Some(4_500);
        record(&mut store, std::slice::from_ref(&timed), vec![], vec![stage()]);
        let times = |store: &Store| -> (Option<i64>, Option<i64>) {
            store
                .connection
                .query_row("SELECT start_ms, end_ms FROM segments", [], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .unwrap()
        };
        assert_eq!(times(&store), (Some(1_000), Some(4_500)));
        // Captions re-timed, words unchanged: the same text, new times.
        timed.segments[0].start_ms = Some(2_000);
        record(&mut store, &[timed], vec![], vec![stage()]);
        assert_eq!(times(&store), (Some(2_000), Some(4_500)));
    }

    #[test]
    fn a_store_of_schema_1_is_brought_up_to_date() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        // Schema 1 is schema 6 without `transcripts.segments_key`, the digest key, stamp and gaps
        // columns, `digests` and segments' times, with codings in a table of their own.
        let old = Store::open(&path).unwrap();
        old.connection
            .execute_batch(
                "ALTER TABLE stage_results DROP COLUMN codings;
                 CREATE TABLE codings (
                     content_hash TEXT NOT NULL,
                     fingerprint TEXT NOT NULL,
                     turn INTEGER NOT NULL,
                     code TEXT NOT NULL,
                     spans TEXT NOT NULL,
                     confidence REAL,
                     memo TEXT,
                     PRIMARY KEY (content_hash, fingerprint, turn, code)
                 );
                 ALTER TABLE segments DROP COLUMN start_ms;
                 ALTER TABLE segments DROP COLUMN end_ms;
                 ALTER TABLE transcripts DROP COLUMN segments_key;
                 ALTER TABLE transcripts DROP COLUMN digest_key;
                 DROP TABLE digests;
                 ALTER TABLE transcripts DROP COLUMN file_size;
                 ALTER TABLE transcripts DROP COLUMN file_mtime_ns;
                 ALTER TABLE transcripts DROP COLUMN gaps;
                 INSERT INTO runs VALUES (1, 'a', 'b', '0.1.0', 'c', '[]', 'Success');
                 INSERT INTO transcripts VALUES ('a.txt', 'P1', 'ha', 1);
                 PRAGMA user_version = 1;",
            )
            .unwrap();
        drop(old);
        let mut store = Store::open(&path).unwrap();
        record(&mut store, &[transcript("a.txt", "ha")], vec![], vec![stage()]);
        assert_eq!(written_by(&store), [("a.txt".into(), 2)]);
        let version: i64 = store
            .connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }

    #[test]
    fn digests_stamps_and_segments_read_back_for_the_next_run() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("store.db")).unwrap();
        record(&mut store, &[transcript("a.txt", "ha")], vec![], vec![stage()]);
        let stored = &store.transcripts().unwrap()["a.txt"];
        assert_eq!(stored.content_hash, "ha");
        assert_eq!(stored.digest_key.as_deref(), Some("ha"));
        assert_eq!(
            stored.file,
            Some(FileStamp {
                size: 10,
                modified_ns: 1
            })
        );
        let digest = store.digest("a.txt").unwrap().unwrap();
        assert_eq!(
            (digest.id.as_str(), digest.turns.as_slice()),
            ("a.txt", &[(1, None)][..])
        );
        assert_eq!(store.digest("b.txt").unwrap(), None);
        assert_eq!(store.said("a.txt", 1).unwrap().as_deref(), Some("hello."));
        assert_eq!(store.said("a.txt", 2).unwrap(), None);
        store
            .connection
            .execute("UPDATE digests SET digest = x'00'", [])
            .unwrap();
        assert_eq!(
            store.digest("a.txt").unwrap(),
            None,
            "an unreadable digest is made again"
        );
    }

    #[test]
    fn a_transcripts_whole_text_comes_back_from_its_segments_and_the_gaps_between() {
        let text = "Recorded in spring.\n\nInterviewer: Hello ✓\n\n\nP1: Fine,\nthanks.\n";
        let segment = |turn: u32, from: &str, to: &str| {
            let start_byte = text.find(from).unwrap();
            let end_byte = text.find(to).unwrap() + to.len();
            Segment {
                turn,
                speaker: None,
                role: "participant".into(),
                participant: None,
                start: text[..start_byte].chars().count(),
                end: text[..end_byte].chars().count(),
                text: text[start_byte..end_byte].to_string(),
                start_ms: None,
                end_ms: None,
            }
        };
        let segments = vec![
            segment(1, "Recorded", "spring."),
            segment(2, "Interviewer", "✓"),
            segment(3, "P1:", "thanks."),
        ];
        let gaps = gaps_of(text, &segments);
        assert_eq!(
            gaps.iter().map(|(_, g)| g.as_str()).collect::<Vec<_>>(),
            ["\n\n", "\n\n\n", "\n"]
        );
        let pieces: Vec<(usize, String)> = segments.iter().map(|s| (s.start, s.text.clone())).collect();
        assert_eq!(text_of(&pieces, &gaps), text);

        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("store.db")).unwrap();
        let transcript = Transcript {
            id: "t.txt".into(),
            participant: Some("P1".into()),
            content_hash: "h".into(),
            segments,
        };
        let digest = TranscriptDigest {
            id: "t.txt".into(),
            ..TranscriptDigest::default()
        };
        let current = [CurrentTranscript {
            digest: &digest,
            digest_key: "k",
            file: None,
            read: Some((&transcript, text)),
        }];
        store
            .begin_run(&RunRecord {
                started_at: "2026-01-01T00:00:00Z".into(),
                finished_at: "2026-01-01T00:00:01Z".into(),
                engine_version: "0.1.0".into(),
                config_hash: "c".into(),
                stages: Vec::new(),
                transcripts: &current,
                unreadable: &[],
                new_codings: &[],
                outcome: "success".into(),
            })
            .and_then(PendingRun::commit)
            .unwrap();
        let stored = store.transcript("t.txt").unwrap().unwrap();
        assert_eq!(store.text(&stored).unwrap().as_deref(), Some(text));
        assert_eq!(stored, transcript);
        assert_eq!(store.transcript("other.txt").unwrap(), None);
    }
}
