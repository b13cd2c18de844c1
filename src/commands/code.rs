//! `thematic code`: dictionary-code a folder of transcripts, no study needed.

use std::path::Path;

use anyhow::Result;
use thematic_codebook::DictionaryMatcher;
use thematic_model::CodeDocumentMatrix;
use thematic_pipeline::{document_name, segmentation_warning};
use thematic_text::{fold_turns, split_turns, FoldedTranscript};

use crate::outcome::{Diagnostics, Outcome};
use thematic_engine::files::{decode_transcript, load_codebook, read_into, transcript_files};
use thematic_engine::{parallel, progress};

use crate::cli::MatrixFormat;
use crate::outcome::print_matrix;

pub fn run(transcripts: &Path, codebook: &Path, format: MatrixFormat) -> Result<Outcome> {
    let files = transcript_files(transcripts)?;
    let matcher = DictionaryMatcher::new(&load_codebook(codebook)?.0)?;
    let mut diagnostics = Diagnostics::default();
    if files.is_empty() {
        diagnostics.warn(format!("{}: no .txt or .md transcripts found", transcripts.display()));
    }
    let bar = progress::bar(files.len(), "coding");
    let results = parallel::map_ordered(
        &files,
        || Scratch::new(&matcher),
        |path, scratch| code_file(path, &matcher, scratch),
        || bar.inc(1),
    );
    bar.finish_and_clear();

    let mut matrix = CodeDocumentMatrix::default();
    for (path, result) in files.iter().zip(results) {
        match result {
            Ok(coded) => {
                if let Some(warning) = coded.warning {
                    diagnostics.warn(warning);
                }
                matrix.segments += coded.segments;
                let mut row: Vec<(&str, usize)> = coded
                    .counts
                    .iter()
                    .enumerate()
                    .filter(|(_, &n)| n > 0)
                    .map(|(code, &n)| (matcher.codes()[code].as_str(), n))
                    .collect();
                row.sort_unstable();
                matrix
                    .coded_segments
                    .insert(document_name(&path.to_string_lossy()), row);
            }
            Err(message) => diagnostics.fail(message),
        }
    }
    print_matrix(&matrix, format);
    Ok(diagnostics.outcome())
}

/// A worker's reusable buffers.
struct Scratch {
    bytes: Vec<u8>,
    folded: FoldedTranscript,
    /// The last turn each code was counted in, so a turn counts once per code.
    last_turn: Vec<usize>,
}

impl Scratch {
    fn new(matcher: &DictionaryMatcher) -> Scratch {
        Scratch {
            bytes: Vec::new(),
            folded: FoldedTranscript::default(),
            last_turn: vec![usize::MAX; matcher.codes().len()],
        }
    }
}

struct CodedFile {
    segments: usize,
    counts: Vec<usize>,
    warning: Option<String>,
}

fn code_file(path: &Path, matcher: &DictionaryMatcher, scratch: &mut Scratch) -> Result<CodedFile, String> {
    read_into(path, &mut scratch.bytes)?;
    let text = decode_transcript(path, &scratch.bytes)?;
    let turns = split_turns(text);
    let warning = segmentation_warning(&path.display().to_string(), &turns);
    fold_turns(text, &turns, &mut scratch.folded);
    scratch.last_turn.fill(usize::MAX);
    let mut counts = vec![0; matcher.codes().len()];
    matcher.scan(&scratch.folded, |hit| {
        let code = hit.code as usize;
        if scratch.last_turn[code] != hit.turn {
            scratch.last_turn[code] = hit.turn;
            counts[code] += 1;
        }
    });
    Ok(CodedFile {
        segments: turns.len(),
        counts,
        warning,
    })
}
