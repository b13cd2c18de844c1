//! Native plugins: shared libraries speaking the C ABI of `thematic-plugin-api`.
//!
//! This is the only crate that loads libraries. A plugin runs in one of two
//! places, behind the same [`Plugin`]:
//! - in this process ([`Plugin::load`]): the library is loaded once and never
//!   unloaded (its code may still be called, and thread-local destructors may
//!   run after an unload), its ABI version is checked before any other call,
//!   and every buffer it returns goes back to its own `free`;
//! - in child processes ([`Plugin::isolated`]), for code that is not trusted:
//!   the `thematic` binary, started as `thematic plugin serve LIBRARY`, loads
//!   the library there ([`serve`]) and answers the same requests over its
//!   stdin and stdout. A segfault, abort or hang in the plugin ends that child
//!   and fails the call, never the host.

mod in_process;
mod isolation;
mod strategies;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use thematic_plugin_api::{
    CodeRequest, CodeResponse, GroupRequest, GroupResponse, ABI_VERSION, ENTRY_SYMBOL, KIND_CODING, KIND_THEMES,
    STATUS_OK, STATUS_PANIC,
};
use thiserror::Error;

pub use isolation::{serve, IsolationLimits, Served};
pub use strategies::{PluginCodingStrategy, PluginThemeGrouper};

#[derive(Debug, Error, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PluginError {
    #[error("{path}: no such plugin file")]
    Missing { path: String },
    #[error("{path}: not a shared library that can be loaded: {message}")]
    NotALibrary { path: String, message: String },
    #[error("{path}: not a thematic plugin: it does not export `{ENTRY_SYMBOL}`")]
    NoEntry { path: String },
    #[error("{path}: plugin ABI version {found}, but this thematic speaks version {ABI_VERSION}; rebuild the plugin against it")]
    AbiMismatch { path: String, found: u32 },
    #[error("{plugin}: does not {what}")]
    Unsupported { plugin: String, what: String },
    #[error("{plugin}: {message}")]
    Failed { plugin: String, message: String },
    #[error("{plugin}: panicked: {message}")]
    Panicked { plugin: String, message: String },
    #[error("{plugin}: returned a malformed response: {message}")]
    Malformed { plugin: String, message: String },
    #[error("{plugin}: the plugin's process {how}")]
    Crashed { plugin: String, how: String },
    #[error("{plugin}: could not run the plugin in a process of its own: {message}")]
    Isolation { plugin: String, message: String },
}

/// Whether `bytes` open as a shared library does on any platform thematic
/// runs on (ELF, Mach-O, PE): what can be told of a plugin without loading
/// it, which would run its code.
pub fn looks_like_library(bytes: &[u8]) -> bool {
    const HEADERS: [&[u8]; 7] = [
        b"\x7fELF",
        b"\xfe\xed\xfa\xce",
        b"\xfe\xed\xfa\xcf",
        b"\xce\xfa\xed\xfe",
        b"\xcf\xfa\xed\xfe",
        b"\xca\xfe\xba\xbe",
        b"MZ",
    ];
    HEADERS.iter().any(|header| bytes.starts_with(header))
}

/// A request a plugin answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Call {
    Code,
    Group,
}

impl Call {
    fn kind(self) -> u32 {
        match self {
            Call::Code => KIND_CODING,
            Call::Group => KIND_THEMES,
        }
    }

    /// The call's tag in a request frame to an isolated plugin.
    fn tag(self) -> i32 {
        match self {
            Call::Code => 1,
            Call::Group => 2,
        }
    }

    fn from_tag(tag: i32) -> Option<Call> {
        [Call::Code, Call::Group].into_iter().find(|call| call.tag() == tag)
    }

    /// What a plugin serving this call does, for messages.
    fn what(self) -> &'static str {
        match self {
            Call::Code => "code segments",
            Call::Group => "group codes into themes",
        }
    }
}

/// What a plugin function returned: its status and its buffer's bytes.
struct Reply {
    status: i32,
    bytes: Vec<u8>,
}

impl Reply {
    fn into_response<R: DeserializeOwned>(self, plugin: &str) -> Result<R, PluginError> {
        let plugin = plugin.to_string();
        match self.status {
            STATUS_OK => serde_json::from_slice(&self.bytes).map_err(|e| PluginError::Malformed {
                plugin,
                message: e.to_string(),
            }),
            STATUS_PANIC => Err(PluginError::Panicked {
                plugin,
                message: String::from_utf8_lossy(&self.bytes).into_owned(),
            }),
            _ => Err(PluginError::Failed {
                plugin,
                message: String::from_utf8_lossy(&self.bytes).into_owned(),
            }),
        }
    }
}

/// A plugin ready to be called, wherever it runs.
pub struct Plugin {
    name: String,
    /// The kinds it declares and has a function for.
    kinds: u32,
    runner: Runner,
}

enum Runner {
    InProcess(in_process::Library),
    Isolated(isolation::Pool),
}

impl Plugin {
    /// Loads the library at `path` into this process and checks that it is a
    /// plugin of this ABI.
    pub fn load(path: &std::path::Path) -> Result<Plugin, PluginError> {
        let library = in_process::Library::load(path)?;
        Ok(Plugin {
            name: library.name.clone(),
            kinds: library.kinds,
            runner: Runner::InProcess(library),
        })
    }

    /// Runs the library at `path` in child processes, each `executable plugin
    /// serve PATH`; the first is started now, so that a library that is not a
    /// plugin of this ABI is refused here as [`Plugin::load`] would.
    pub fn isolated(
        executable: &std::path::Path,
        path: &std::path::Path,
        limits: IsolationLimits,
    ) -> Result<Plugin, PluginError> {
        let (pool, hello) = isolation::Pool::start(executable, path, limits)?;
        Ok(Plugin {
            name: hello.name,
            kinds: hello.kinds,
            runner: Runner::Isolated(pool),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the plugin runs in processes of its own.
    pub fn is_isolated(&self) -> bool {
        matches!(self.runner, Runner::Isolated(_))
    }

    pub fn codes_segments(&self) -> bool {
        self.kinds & KIND_CODING != 0
    }

    pub fn groups_codes(&self) -> bool {
        self.kinds & KIND_THEMES != 0
    }

    /// The stage kinds the plugin serves, by their names in thematic.toml.
    pub fn kinds(&self) -> Vec<&'static str> {
        [(self.codes_segments(), "coding"), (self.groups_codes(), "themes")]
            .into_iter()
            .filter_map(|(served, kind)| served.then_some(kind))
            .collect()
    }

    /// Codes one transcript.
    pub fn code(&self, request: &CodeRequest) -> Result<CodeResponse, PluginError> {
        self.call(Call::Code, request)
    }

    /// Proposes candidate themes from how the study was coded.
    pub fn group(&self, request: &GroupRequest) -> Result<GroupResponse, PluginError> {
        self.call(Call::Group, request)
    }

    fn call<R: DeserializeOwned>(&self, call: Call, request: &impl Serialize) -> Result<R, PluginError> {
        if self.kinds & call.kind() == 0 {
            return Err(PluginError::Unsupported {
                plugin: self.name.clone(),
                what: call.what().to_string(),
            });
        }
        let input = serde_json::to_vec(request).map_err(|e| PluginError::Failed {
            plugin: self.name.clone(),
            message: e.to_string(),
        })?;
        let reply = match &self.runner {
            Runner::InProcess(library) => library.call(call, &input),
            Runner::Isolated(pool) => pool.call(&self.name, call, &input)?,
        };
        reply.into_response(&self.name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: i32, bytes: &str) -> Reply {
        Reply {
            status,
            bytes: bytes.as_bytes().to_vec(),
        }
    }

    #[test]
    fn a_malformed_response_is_an_error_naming_the_plugin() {
        let err = reply(STATUS_OK, "{\"codings\": [")
            .into_response::<CodeResponse>("p")
            .unwrap_err();
        assert!(matches!(err, PluginError::Malformed { .. }), "{err}");
        assert!(
            err.to_string().starts_with("p: returned a malformed response: "),
            "{err}"
        );
        let unknown_field = reply(STATUS_OK, r#"{"codings": [{"turn": 1, "code": "x", "spanz": []}]}"#)
            .into_response::<CodeResponse>("p")
            .unwrap_err();
        assert!(
            unknown_field.to_string().contains("unknown field `spanz`"),
            "{unknown_field}"
        );
    }

    #[test]
    fn statuses_other_than_ok_carry_the_plugin_message() {
        let failed = reply(1, "no lexicon").into_response::<CodeResponse>("p").unwrap_err();
        assert_eq!(failed.to_string(), "p: no lexicon");
        let panicked = reply(STATUS_PANIC, "boom")
            .into_response::<CodeResponse>("p")
            .unwrap_err();
        assert_eq!(panicked.to_string(), "p: panicked: boom");
    }
}
