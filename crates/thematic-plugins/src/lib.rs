//! Native plugins: shared libraries speaking the C ABI of `thematic-plugin-api`.
//!
//! This is the only crate that loads libraries. A library is loaded once and
//! never unloaded (its code may still be called, and thread-local destructors
//! may run after an unload), its ABI version is checked before any other call,
//! and every buffer it returns goes back to its own `free`.

use std::ffi::CStr;
use std::path::Path;

use libloading::Library;
use thematic_codebook::Codebook;
use thematic_model::{Segment, Transcript};
use thematic_pipeline::{CodeHit, CodingStrategy, StrategyError};
use thematic_plugin_api::{
    Buffer, CodeRequest, CodeResponse, EntryFn, PluginTable, RequestCode, RequestSegment, ABI_VERSION, ENTRY_SYMBOL,
    KIND_CODING, STATUS_OK, STATUS_PANIC,
};
use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PluginError {
    #[error("{path}: no such plugin file")]
    Missing { path: String },
    #[error("{path}: not a shared library that can be loaded: {message}")]
    NotALibrary { path: String, message: String },
    #[error("{path}: not a thematic plugin: it does not export `{ENTRY_SYMBOL}`")]
    NoEntry { path: String },
    #[error("{path}: plugin ABI version {found}, but this thematic speaks version {ABI_VERSION}; rebuild the plugin against it")]
    AbiMismatch { path: String, found: u32 },
    #[error("{plugin}: does not code segments")]
    NotCoding { plugin: String },
    #[error("{plugin}: {message}")]
    Failed { plugin: String, message: String },
    #[error("{plugin}: panicked: {message}")]
    Panicked { plugin: String, message: String },
    #[error("{plugin}: returned a malformed response: {message}")]
    Malformed { plugin: String, message: String },
}

/// A loaded plugin.
pub struct Plugin {
    name: String,
    table: &'static PluginTable,
}

impl Plugin {
    /// Loads the library at `path` and checks that it is a plugin of this ABI.
    pub fn load(path: &Path) -> Result<Plugin, PluginError> {
        let shown = path.display().to_string();
        if !path.is_file() {
            return Err(PluginError::Missing { path: shown });
        }
        // SAFETY: loading runs the library's initialisers; a plugin is code the
        // user chose to run (untrusted code belongs in process isolation).
        let library = unsafe { Library::new(path) }.map_err(|e| PluginError::NotALibrary {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        // Never unloaded: nothing may call into an unloaded library.
        let library: &'static Library = Box::leak(Box::new(library));
        // SAFETY: the symbol's type is the ABI's entry type; its version is checked next.
        let entry = unsafe { library.get::<EntryFn>(ENTRY_SYMBOL.as_bytes()) }
            .map_err(|_| PluginError::NoEntry { path: shown.clone() })?;
        // SAFETY: the entry takes nothing and returns a pointer to a static table.
        let table = unsafe { entry() };
        // SAFETY: a non-null table pointer from the entry points to a static table,
        // whose first field is the ABI version, whatever the version.
        let Some(table) = (unsafe { table.as_ref() }) else {
            return Err(PluginError::NoEntry { path: shown });
        };
        if table.abi_version != ABI_VERSION {
            return Err(PluginError::AbiMismatch {
                path: shown,
                found: table.abi_version,
            });
        }
        let name = if table.name.is_null() {
            shown
        } else {
            // SAFETY: the ABI's name is a static NUL-terminated string.
            unsafe { CStr::from_ptr(table.name) }.to_string_lossy().into_owned()
        };
        Ok(Plugin { name, table })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the plugin offers a coding function.
    pub fn codes_segments(&self) -> bool {
        self.table.kinds & KIND_CODING != 0 && self.table.code.is_some()
    }

    /// The stage kinds the plugin serves, by name.
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut kinds = Vec::new();
        if self.codes_segments() {
            kinds.push("coding");
        }
        kinds
    }

    /// Codes one transcript.
    pub fn code(&self, request: &CodeRequest) -> Result<CodeResponse, PluginError> {
        let plugin = self.name.clone();
        let Some(code) = self.table.code else {
            return Err(PluginError::NotCoding { plugin });
        };
        let input = serde_json::to_vec(request).map_err(|e| PluginError::Failed {
            plugin: plugin.clone(),
            message: e.to_string(),
        })?;
        let mut output = Buffer {
            ptr: std::ptr::null_mut(),
            len: 0,
        };
        // SAFETY: the input outlives the call; the plugin writes a buffer it allocated.
        let status = unsafe { code(input.as_ptr(), input.len(), &mut output) };
        let bytes = if output.ptr.is_null() {
            Vec::new()
        } else {
            // SAFETY: the plugin's buffer holds `len` bytes until handed back to its `free`.
            unsafe { std::slice::from_raw_parts(output.ptr, output.len) }.to_vec()
        };
        // SAFETY: the buffer came from this plugin and is released once.
        unsafe { (self.table.free)(output) };
        match status {
            STATUS_OK => serde_json::from_slice(&bytes).map_err(|e| PluginError::Malformed {
                plugin,
                message: e.to_string(),
            }),
            STATUS_PANIC => Err(PluginError::Panicked {
                plugin,
                message: String::from_utf8_lossy(&bytes).into_owned(),
            }),
            _ => Err(PluginError::Failed {
                plugin,
                message: String::from_utf8_lossy(&bytes).into_owned(),
            }),
        }
    }
}

/// A plugin standing where a builtin coding strategy stands.
pub struct PluginCodingStrategy {
    plugin: Plugin,
    params: serde_json::Value,
    codebook: Vec<RequestCode>,
}

impl PluginCodingStrategy {
    /// `codebook`: the stage's, if it names one; the plugin then may return only its codes.
    pub fn new(plugin: Plugin, params: serde_json::Value, codebook: Option<&Codebook>) -> PluginCodingStrategy {
        let codebook = codebook
            .map(|book| {
                book.codes
                    .iter()
                    .map(|c| RequestCode {
                        id: c.id.clone(),
                        terms: c.terms.iter().map(|t| t.text.clone()).collect(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        PluginCodingStrategy {
            plugin,
            params,
            codebook,
        }
    }
}

impl CodingStrategy for PluginCodingStrategy {
    fn known_codes(&self) -> Option<Vec<String>> {
        (!self.codebook.is_empty()).then(|| self.codebook.iter().map(|c| c.id.clone()).collect())
    }

    fn code(&self, transcript: &Transcript, segments: &[&Segment]) -> Result<Vec<CodeHit>, StrategyError> {
        let request = CodeRequest {
            transcript: transcript.id.clone(),
            segments: segments
                .iter()
                .map(|s| RequestSegment {
                    turn: s.turn,
                    speaker: s.speaker.clone(),
                    role: s.role.clone(),
                    participant: s.participant.clone(),
                    text: s.text.clone(),
                })
                .collect(),
            params: self.params.clone(),
            codebook: self.codebook.clone(),
        };
        let response = self
            .plugin
            .code(&request)
            .map_err(|e| StrategyError::Failed(e.to_string()))?;
        let mut hits = Vec::with_capacity(response.codings.len());
        for coding in response.codings {
            let Some(segment) = segments.iter().find(|s| s.turn == coding.turn) else {
                return Err(StrategyError::UnknownTurn { turn: coding.turn });
            };
            let mut spans = Vec::with_capacity(coding.spans.len());
            for (start, end) in coding.spans {
                let Some(span) = segment.span_of_bytes(start, end) else {
                    return Err(StrategyError::Failed(format!(
                        "{}: turn {}: code `{}`: span {start}..{end} is not a stretch of the segment's {} bytes on character boundaries",
                        self.plugin.name(),
                        coding.turn,
                        coding.code,
                        segment.text.len()
                    )));
                };
                spans.push(span);
            }
            hits.push(CodeHit {
                turn: coding.turn,
                code: coding.code,
                spans,
                confidence: coding.confidence,
                memo: coding.memo,
            });
        }
        Ok(hits)
    }
}
