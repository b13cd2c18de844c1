//! Sentence embeddings kept between runs, in a file of their own beside the
//! store (`.thematic/embeddings.db`): keyed by the model's hash and the
//! SHA-256 of the sentence's text, so that no sentence is embedded twice by
//! the same model, whichever run, stage or watch batch meets it again. It
//! holds no text, only those hashes and the vectors; it is a cache, and
//! deleting it costs only time (withdrawal and a changed redaction list do).
//! A file of its own, so that stages keep what they embed while they code,
//! never waiting on the run's one transaction in the store.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension};

use crate::{StoreError, BUSY_WAIT};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS embeddings (
    model TEXT NOT NULL,
    sentence BLOB NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, sentence)
) WITHOUT ROWID;
";

/// A sentence's key: the SHA-256 of its text.
pub type SentenceKey = [u8; 32];

pub struct EmbeddingCache {
    path: String,
    connection: Connection,
}

impl EmbeddingCache {
    /// Opens (creating if needed) the cache at `path`; its folder must exist.
    pub fn open(path: &Path) -> Result<EmbeddingCache, StoreError> {
        let shown = path.display().to_string();
        let error = |source| StoreError::Sqlite {
            path: shown.clone(),
            source,
        };
        let connection = Connection::open(path).map_err(error)?;
        connection.busy_timeout(BUSY_WAIT).map_err(error)?;
        connection
            .execute_batch(&format!(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;{SCHEMA}"
            ))
            .map_err(error)?;
        Ok(EmbeddingCache {
            path: shown,
            connection,
        })
    }

    fn error(&self) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        |source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// The vector kept for each of `sentences` by `model`, where there is one.
    pub fn find(&self, model: &str, sentences: &[SentenceKey]) -> Result<Vec<Option<Vec<f32>>>, StoreError> {
        let mut query = self
            .connection
            .prepare_cached("SELECT vector FROM embeddings WHERE model = ?1 AND sentence = ?2")
            .map_err(self.error())?;
        sentences
            .iter()
            .map(|sentence| {
                let bytes: Option<Vec<u8>> = query
                    .query_row(params![model, &sentence[..]], |row| row.get(0))
                    .optional()
                    .map_err(self.error())?;
                Ok(bytes.map(|bytes| vector_of(&bytes)))
            })
            .collect()
    }

    /// Keeps what `model` made of each sentence, in one transaction.
    pub fn keep(&mut self, model: &str, made: &[(SentenceKey, &[f32])]) -> Result<(), StoreError> {
        let path = self.path.clone();
        let error = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let tx = self.connection.transaction().map_err(error)?;
        {
            let mut insert = tx
                .prepare_cached("INSERT OR IGNORE INTO embeddings (model, sentence, vector) VALUES (?1, ?2, ?3)")
                .map_err(error)?;
            for (sentence, vector) in made {
                let bytes: Vec<u8> = vector.iter().flat_map(|x| x.to_le_bytes()).collect();
                insert.execute(params![model, &sentence[..], bytes]).map_err(error)?;
            }
        }
        tx.commit().map_err(error)
    }
}

impl EmbeddingCache {
    /// Forgets every vector and leaves no trace of them in the file or its
    /// log (after a participant withdraws, or a redaction list changes the
    /// texts: the keys are hashes of texts that are no longer the study's).
    pub fn clear(&self) -> Result<(), StoreError> {
        self.connection
            .execute_batch("PRAGMA secure_delete = ON; DELETE FROM embeddings; VACUUM;")
            .map_err(self.error())?;
        let busy: i64 = self
            .connection
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))
            .map_err(self.error())?;
        match busy {
            0 => Ok(()),
            _ => Err(StoreError::Busy {
                path: self.path.clone(),
            }),
        }
    }
}

/// A vector from its bytes: f32 little-endian, as `keep` writes them.
fn vector_of(bytes: &[u8]) -> Vec<f32> {
    bytes
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vector_kept_by_one_model_is_found_by_it_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("embeddings.db");
        let mut cache = EmbeddingCache::open(&path).unwrap();
        let (nobody, somebody) = ([1u8; 32], [2u8; 32]);
        cache.keep("m1", &[(nobody, &[0.5, -1.25, 3.0][..])]).unwrap();
        let again = EmbeddingCache::open(&path).unwrap();
        assert_eq!(
            again.find("m1", &[nobody, somebody]).unwrap(),
            vec![Some(vec![0.5, -1.25, 3.0]), None]
        );
        assert_eq!(
            again.find("m2", &[nobody]).unwrap(),
            vec![None],
            "another model's vectors are its own"
        );
        again.clear().unwrap();
        assert_eq!(
            cache.find("m1", &[nobody]).unwrap(),
            vec![None],
            "cleared for every connection"
        );
    }
}
