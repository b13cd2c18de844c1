//! What a pass serves beyond its analysis: any transcript of the study as
//! analysed, its whole text, and the codings any coding stage makes of it —
//! each from the pass's memory first, then the store, and only then from the
//! transcript's file and the stage itself. After a run that left nothing to
//! do, an export or an agreement table reads no transcript file and codes
//! nothing.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;

use thematic_model::{Coding, Transcript};
use thematic_pipeline::{code_transcript, CodingStage};
use thematic_store::{CodingView, Store, StoredCodings};

use crate::analyse::Analysed;
use crate::parallel;
use crate::reading::{read_one, Read};
use crate::study::Study;

pub struct Served<'a> {
    memory: Memory<'a>,
    store: Option<&'a Store>,
}

/// What the pass holds in memory, shared by every core.
struct Memory<'a> {
    study: &'a Study,
    /// Transcripts the pass read, by id.
    read: HashMap<&'a str, &'a Read>,
    /// Codings the pass made, by (text's content hash, stage fingerprint).
    made: HashMap<(&'a str, &'a str), &'a [Coding]>,
    /// Each transcript's file, by id.
    files: HashMap<&'a str, &'a PathBuf>,
}

/// Serving on one core: from the pass's memory, then a connection to the
/// store (the core's own), then the transcript's file and the stage itself.
pub struct OnCore<'m, 'a> {
    memory: &'m Memory<'a>,
    store: Option<&'m Store>,
}

/// A stage's codings of one transcript as served: the pass's, the store's
/// record of them, or made now.
pub enum ServedCodings<'a> {
    Pass(&'a [Coding]),
    Stored(StoredCodings),
    Made(Vec<Coding>),
}

impl ServedCodings<'_> {
    /// Each coding, borrowed.
    pub fn views(&self) -> Vec<CodingView<'_>> {
        match self {
            ServedCodings::Pass(codings) => codings.iter().map(CodingView::of).collect(),
            ServedCodings::Stored(record) => record.views(),
            ServedCodings::Made(codings) => codings.iter().map(CodingView::of).collect(),
        }
    }
}

impl<'a> Served<'a> {
    pub fn new(study: &'a Study, store: Option<&'a Store>, analysed: &'a Analysed) -> Served<'a> {
        let memory = Memory {
            study,
            read: analysed.read.iter().map(|r| (r.transcript.id.as_str(), r)).collect(),
            made: analysed
                .new_codings
                .iter()
                .map(|made| {
                    let key = (made.content_hash.as_str(), made.stage.fingerprint.as_str());
                    (key, made.codings.as_slice())
                })
                .collect(),
            files: study
                .plan
                .transcripts
                .iter()
                .map(|(id, path)| (id.as_str(), path))
                .collect(),
        };
        Served { memory, store }
    }

    fn here(&self) -> OnCore<'_, 'a> {
        OnCore {
            memory: &self.memory,
            store: self.store,
        }
    }

    /// Transcript `id` as analysed, as [`OnCore::transcript`] serves it.
    pub fn transcript(&self, id: &str) -> Result<Cow<'a, Transcript>, String> {
        self.here().transcript(id)
    }

    /// The codings `stage` makes of `transcript`, as [`OnCore::codings`] serves them.
    pub fn codings(&self, transcript: &Transcript, stage: &CodingStage) -> Result<Vec<Coding>, String> {
        self.here().codings(transcript, stage)
    }

    /// Does `work` for each of `items` on every core, each core serving
    /// through a connection of its own to the store, and hands the results
    /// to `take` on this thread in the items' order, as `parallel::for_each_ordered` does.
    pub fn on_every_core<T: Sync, R: Send>(
        &self,
        items: &[T],
        work: impl Fn(&T, &OnCore<'_, 'a>) -> R + Sync,
        take: impl FnMut(R) -> bool,
    ) {
        let file = self.store.and_then(Store::file);
        let memory = &self.memory;
        parallel::for_each_ordered(
            items,
            || file.as_deref().and_then(|file| Store::open_to_read(file).ok()),
            |item, reader| {
                let store = reader.as_ref();
                work(item, &OnCore { memory, store })
            },
            take,
        );
    }
}

impl<'a> OnCore<'_, 'a> {
    /// Transcript `id` as analysed: its segments, with roles and speakers.
    pub fn transcript(&self, id: &str) -> Result<Cow<'a, Transcript>, String> {
        if let Some(read) = self.memory.read.get(id) {
            return Ok(Cow::Borrowed(&read.transcript));
        }
        if let Some(stored) = self.stored(|store| store.transcript(id))? {
            return Ok(Cow::Owned(stored));
        }
        Ok(Cow::Owned(self.read_file(id)?.transcript))
    }

    /// Transcript `id` as analysed, with its whole text (decoded, redacted, a
    /// caption file's turns joined), as offsets count in it.
    pub fn transcript_and_text(&self, id: &str) -> Result<(Cow<'a, Transcript>, Cow<'a, str>), String> {
        if let Some(read) = self.memory.read.get(id) {
            return Ok((Cow::Borrowed(&read.transcript), Cow::Borrowed(&read.text)));
        }
        if let Some(stored) = self.stored(|store| store.transcript(id))? {
            if let Some(text) = self.stored(|store| store.text(&stored))? {
                return Ok((Cow::Owned(stored), Cow::Owned(text)));
            }
        }
        let read = self.read_file(id)?;
        Ok((Cow::Owned(read.transcript), Cow::Owned(read.text)))
    }

    /// The codings `stage` makes of `transcript`: made in this pass, stored
    /// from an earlier one, or made now.
    pub fn codings(&self, transcript: &Transcript, stage: &CodingStage) -> Result<Vec<Coding>, String> {
        Ok(match self.served_codings(transcript, stage)? {
            ServedCodings::Pass(codings) => codings.to_vec(),
            ServedCodings::Stored(record) => record.codings(&transcript.id),
            ServedCodings::Made(codings) => codings,
        })
    }

    /// The codings `stage` makes of `transcript` as [`OnCore::codings`]
    /// serves them, without copying those the pass or the store holds.
    pub fn served_codings(&self, transcript: &Transcript, stage: &CodingStage) -> Result<ServedCodings<'a>, String> {
        let key = (transcript.content_hash.as_str(), stage.fingerprint.as_str());
        if let Some(made) = self.memory.made.get(&key) {
            return Ok(ServedCodings::Pass(made));
        }
        if let Some(record) = self.stored(|store| store.stored_record(key.0, key.1))? {
            return Ok(ServedCodings::Stored(record));
        }
        // Strategies see annotations (`[laughs]`, `(redacted)`) blanked out, as in a pass.
        let blanked = self.memory.study.plan.annotations.blanked(transcript);
        let made = code_transcript(stage, blanked.as_ref().unwrap_or(transcript)).map_err(|e| {
            format!(
                "{}: stage `{}` ({}): {e}",
                transcript.id, stage.name, stage.strategy_name
            )
        })?;
        Ok(ServedCodings::Made(made))
    }

    fn stored<T>(
        &self,
        find: impl FnOnce(&Store) -> Result<Option<T>, thematic_store::StoreError>,
    ) -> Result<Option<T>, String> {
        match self.store {
            Some(store) => find(store).map_err(|e| e.to_string()),
            None => Ok(None),
        }
    }

    fn read_file(&self, id: &str) -> Result<Read, String> {
        let path = self
            .memory
            .files
            .get(id)
            .ok_or_else(|| format!("{id}: not a transcript of the study"))?;
        read_one(&self.memory.study.plan, id, path).map(|(read, _)| read)
    }
}
