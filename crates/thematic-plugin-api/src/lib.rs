//! The boundary between thematic and a native plugin.
//!
//! A plugin is a shared library exporting one symbol, [`ENTRY_SYMBOL`], a
//! C function taking nothing and returning a pointer to a [`PluginTable`]:
//! the plugin's [`ABI_VERSION`] first (checked by the host before anything
//! else is called), then its name, the stage kinds it serves and its
//! functions. Only `#[repr(C)]` data and `extern "C"` functions cross.
//!
//! A plugin serves one or both of two stage kinds: coding ([`KIND_CODING`],
//! its `code` is called once per transcript) and theme grouping
//! ([`KIND_THEMES`], its `group` is called once per run with how the study
//! was coded).
//!
//! Data crosses as UTF-8 JSON in byte buffers with explicit lengths: the host
//! owns what it passes in; the plugin allocates what it returns and the host
//! hands it back to the plugin's own `free`. Messages are the serde types of
//! this crate ([`CodeRequest`] and [`CodeResponse`], [`GroupRequest`] and
//! [`GroupResponse`]).
//!
//! Rust authors write an ordinary function and let [`export_plugin!`] make
//! the exports, each wrapped in `catch_unwind`, so that a panic becomes an
//! error code instead of aborting the host.

use std::ffi::c_char;

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The version of this ABI. It changes only when the table or the messages
/// change incompatibly, never with the crate version. Version 1 had no
/// `group` in the table.
pub const ABI_VERSION: u32 = 2;

/// The one symbol a plugin exports: `extern "C" fn() -> *const PluginTable`.
pub const ENTRY_SYMBOL: &str = "thematic_plugin_entry";

/// Bit in [`PluginTable::kinds`]: the plugin codes segments.
pub const KIND_CODING: u32 = 1;
/// Bit in [`PluginTable::kinds`]: the plugin groups codes into candidate themes.
pub const KIND_THEMES: u32 = 2;

/// The call succeeded; the output buffer holds the response.
pub const STATUS_OK: i32 = 0;
/// The plugin reports an error; the output buffer holds a UTF-8 message.
pub const STATUS_ERROR: i32 = 1;
/// The plugin panicked; the output buffer holds the panic's message.
pub const STATUS_PANIC: i32 = 2;

/// Bytes owned by whoever allocated them.
#[repr(C)]
pub struct Buffer {
    pub ptr: *mut u8,
    pub len: usize,
}

/// `call(input, input_len, output) -> status`: a request in, a response or
/// a message out (`code` takes a [`CodeRequest`], `group` a [`GroupRequest`]).
pub type CallFn = unsafe extern "C" fn(*const u8, usize, *mut Buffer) -> i32;
/// `free(buffer)`: releases a buffer the plugin returned.
pub type FreeFn = unsafe extern "C" fn(Buffer);
/// The entry symbol's type.
pub type EntryFn = unsafe extern "C" fn() -> *const PluginTable;

/// What a plugin offers. `abi_version` must stay the first field.
#[repr(C)]
pub struct PluginTable {
    pub abi_version: u32,
    /// NUL-terminated, static.
    pub name: *const c_char,
    /// [`KIND_CODING`] and/or [`KIND_THEMES`].
    pub kinds: u32,
    /// Codes one transcript; null unless the plugin codes.
    pub code: Option<CallFn>,
    /// Proposes candidate themes; null unless the plugin groups.
    pub group: Option<CallFn>,
    pub free: FreeFn,
}

// The table is immutable and its pointers are to static data and functions.
unsafe impl Sync for PluginTable {}

/// A transcript to code: the segments the stage codes, and its parameters.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeRequest {
    pub transcript: String,
    pub segments: Vec<RequestSegment>,
    /// The stage's `params` from thematic.toml.
    pub params: serde_json::Value,
    /// The stage's codebook, if it names one.
    #[serde(default)]
    pub codebook: Vec<RequestCode>,
}

/// A code of the stage's codebook and its terms.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestCode {
    pub id: String,
    pub terms: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RequestSegment {
    pub turn: u32,
    pub speaker: Option<String>,
    pub role: String,
    pub participant: Option<String>,
    pub text: String,
}

/// What a plugin puts on the transcript.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CodeResponse {
    pub codings: Vec<ResponseCoding>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseCoding {
    pub turn: u32,
    pub code: String,
    /// Byte ranges `[start, end)` in the segment's text, from 0.
    #[serde(default)]
    pub spans: Vec<(usize, usize)>,
    pub confidence: Option<f64>,
    pub memo: Option<String>,
}

/// How the study was coded, for a theme-grouping plugin: the same view a
/// Lua `group(summary, context)` gets.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GroupRequest {
    /// Each code used: the segments carrying it and the participants they came from.
    pub codes: BTreeMap<String, SummaryCode>,
    /// Each pair of codes found on one segment, `a < b`.
    pub cooccurrence: Vec<SummaryPair>,
    /// The stage's `params` from thematic.toml.
    pub params: serde_json::Value,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SummaryCode {
    pub segments: usize,
    pub participants: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SummaryPair {
    pub a: String,
    pub b: String,
    /// Segments carrying both codes.
    pub segments: usize,
    /// Participants with at least one such segment.
    pub participants: Vec<String>,
}

/// The candidate themes a grouping plugin proposes; the review rule then
/// keeps or discards each.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupResponse {
    pub themes: Vec<ResponseTheme>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseTheme {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub codes: Vec<String>,
    #[serde(default)]
    pub subthemes: Vec<ResponseTheme>,
}

/// Support for [`export_plugin!`]; not for direct use.
#[doc(hidden)]
pub mod support {
    use super::*;

    /// Moves `bytes` into a buffer the plugin's `free` releases.
    pub fn into_buffer(bytes: Vec<u8>) -> Buffer {
        let mut bytes = bytes.into_boxed_slice();
        let buffer = Buffer {
            ptr: bytes.as_mut_ptr(),
            len: bytes.len(),
        };
        std::mem::forget(bytes);
        buffer
    }

    /// Releases a buffer made by [`into_buffer`].
    ///
    /// # Safety
    /// `buffer` must come from [`into_buffer`] and be released once.
    pub unsafe fn free_buffer(buffer: Buffer) {
        if !buffer.ptr.is_null() {
            drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(buffer.ptr, buffer.len)) });
        }
    }

    /// Runs a plugin function behind the C boundary: decodes the request,
    /// catches panics, encodes the response or the error.
    ///
    /// # Safety
    /// `input` must point to `len` readable bytes and `output` to a writable `Buffer`.
    pub unsafe fn run_call<Request: DeserializeOwned, Response: Serialize>(
        input: *const u8,
        len: usize,
        output: *mut Buffer,
        function: fn(Request) -> Result<Response, String>,
    ) -> i32 {
        let bytes = if input.is_null() {
            &[][..]
        } else {
            unsafe { std::slice::from_raw_parts(input, len) }
        };
        let outcome = std::panic::catch_unwind(|| {
            let request: Request =
                serde_json::from_slice(bytes).map_err(|e| format!("the request is not valid: {e}"))?;
            let response = function(request)?;
            serde_json::to_vec(&response).map_err(|e| e.to_string())
        });
        let (status, message) = match outcome {
            Ok(Ok(response)) => (STATUS_OK, response),
            Ok(Err(message)) => (STATUS_ERROR, message.into_bytes()),
            Err(panic) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".to_string());
                (STATUS_PANIC, message.into_bytes())
            }
        };
        if !output.is_null() {
            unsafe { *output = into_buffer(message) };
        }
        status
    }

    /// The stage kinds of a table whose `code` and `group` are as given.
    pub const fn kinds(code: Option<CallFn>, group: Option<CallFn>) -> u32 {
        (if code.is_some() { KIND_CODING } else { 0 }) | (if group.is_some() { KIND_THEMES } else { 0 })
    }
}

/// Exports a plugin: `export_plugin!(name: "my-plugin", code: my_code);`,
/// `export_plugin!(name: "my-plugin", group: my_group);` or both, where
/// `my_code: fn(CodeRequest) -> Result<CodeResponse, String>` and
/// `my_group: fn(GroupRequest) -> Result<GroupResponse, String>`.
#[macro_export]
macro_rules! export_plugin {
    (name: $name:literal $(, code: $code:path)? $(, group: $group:path)? $(,)?) => {
        const __THEMATIC_CODE: Option<$crate::CallFn> =
            $crate::__thematic_call!($($code, $crate::CodeRequest, $crate::CodeResponse)?);
        const __THEMATIC_GROUP: Option<$crate::CallFn> =
            $crate::__thematic_call!($($group, $crate::GroupRequest, $crate::GroupResponse)?);

        unsafe extern "C" fn __thematic_free(buffer: $crate::Buffer) {
            unsafe { $crate::support::free_buffer(buffer) }
        }

        const _: () = assert!(
            $crate::support::kinds(__THEMATIC_CODE, __THEMATIC_GROUP) != 0,
            "export_plugin! needs `code:`, `group:` or both"
        );

        static __THEMATIC_TABLE: $crate::PluginTable = $crate::PluginTable {
            abi_version: $crate::ABI_VERSION,
            name: concat!($name, "\0").as_ptr() as *const ::std::ffi::c_char,
            kinds: $crate::support::kinds(__THEMATIC_CODE, __THEMATIC_GROUP),
            code: __THEMATIC_CODE,
            group: __THEMATIC_GROUP,
            free: __thematic_free,
        };

        #[unsafe(no_mangle)]
        pub extern "C" fn thematic_plugin_entry() -> *const $crate::PluginTable {
            &__THEMATIC_TABLE
        }
    };
}

/// One entry of a plugin's table, for [`export_plugin!`]; not for direct use.
#[doc(hidden)]
#[macro_export]
macro_rules! __thematic_call {
    () => {
        None
    };
    ($function:path, $request:ty, $response:ty) => {{
        unsafe extern "C" fn call(input: *const u8, len: usize, output: *mut $crate::Buffer) -> i32 {
            let function: fn($request) -> Result<$response, String> = $function;
            unsafe { $crate::support::run_call(input, len, output, function) }
        }
        Some(call)
    }};
}
