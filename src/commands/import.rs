//! `thematic import qdc`: a REFI-QDA codebook (`.qdc`, from NVivo, ATLAS.ti,
//! MAXQDA, QualCoder or `thematic export qdc`) as a TOML codebook a study
//! can name: codes, hierarchy, descriptions, and dictionary terms where the
//! codebook carries them.

use std::fs;
use std::path::Path;

use anyhow::{Context, Result};
use serde::Serialize;
use thematic_refi::read_codebook;

use crate::files::write_atomic;
use crate::outcome::{count, say, Outcome};

#[derive(Serialize)]
struct Book {
    codes: Vec<Code>,
}

#[derive(Serialize)]
struct Code {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    terms: Vec<String>,
}

pub fn qdc(file: &Path, output: &Path) -> Result<Outcome> {
    let bytes = fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    // A byte-order mark, as some tools write one.
    let text = String::from_utf8_lossy(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes)).into_owned();
    let codes = read_codebook(&text).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let without_terms = codes.iter().filter(|c| c.terms.is_empty()).count();
    let book = Book {
        codes: codes
            .into_iter()
            .map(|c| Code {
                id: c.id,
                name: c.name,
                parent: c.parent,
                description: c.description,
                terms: c.terms,
            })
            .collect(),
    };
    let written = format!(
        "# Imported from {} by thematic. Add `terms` to a code for the dictionary strategy.\n\n{}",
        file.display(),
        toml::to_string(&book).context("writing the codebook as TOML")?
    );
    write_atomic(output, written.as_bytes())?;
    say(format!(
        "wrote {}: {}",
        output.display(),
        count(book.codes.len(), "code")
    ));
    if without_terms > 0 {
        say(format!(
            "  {without_terms} of them without dictionary terms: a script strategy can use them as they are; add terms for the dictionary"
        ));
    }
    Ok(Outcome::Success)
}
