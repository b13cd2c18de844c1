//! A plugin library loaded into this process.

use std::ffi::CStr;
use std::path::{Component, Path, PathBuf};

use thematic_plugin_api::{
    Buffer, EntryFn, PluginTable, ABI_VERSION, ENTRY_SYMBOL, KIND_CODING, KIND_THEMES, STATUS_ERROR,
};

use crate::{Call, PluginError, Reply};

pub(crate) struct Library {
    pub name: String,
    /// The kinds the table declares and has a function for.
    pub kinds: u32,
    table: &'static PluginTable,
}

/// The file at `path` as the loader must be given it: a bare file name
/// (`libname.so`) would send the loader searching its own folders
/// (`LD_LIBRARY_PATH`, the system's) instead of the file that is here.
fn as_path_for_loader(path: &Path) -> PathBuf {
    let mut components = path.components();
    match (components.next(), components.next()) {
        (Some(Component::Normal(_)), None) => Path::new(".").join(path),
        _ => path.to_path_buf(),
    }
}

/// Why the loader refused a library, in its own words (`invalid ELF
/// header`, a missing dependency), without the path the message names already.
fn loader_reason(error: &libloading::Error, path: &Path) -> String {
    let Some(reason) = std::error::Error::source(error).map(ToString::to_string) else {
        return error.to_string();
    };
    let given = format!("{}: ", path.display());
    reason.strip_prefix(&given).unwrap_or(&reason).to_string()
}

impl Library {
    pub fn load(path: &Path) -> Result<Library, PluginError> {
        let shown = path.display().to_string();
        if !path.is_file() {
            return Err(PluginError::Missing { path: shown });
        }
        let path = as_path_for_loader(path);
        // SAFETY: loading runs the library's initialisers; a plugin loaded in
        // process is code the user chose to trust (the rest run isolated).
        let library = unsafe { libloading::Library::new(&path) }.map_err(|e| PluginError::NotALibrary {
            message: loader_reason(&e, &path),
            path: shown.clone(),
        })?;
        // Never unloaded: nothing may call into an unloaded library.
        let library: &'static libloading::Library = Box::leak(Box::new(library));
        // SAFETY: the symbol's type is the ABI's entry type; its version is checked next.
        let entry = unsafe { library.get::<EntryFn>(ENTRY_SYMBOL.as_bytes()) }
            .map_err(|_| PluginError::NoEntry { path: shown.clone() })?;
        // SAFETY: the entry takes nothing and returns a pointer to a static table.
        let table = unsafe { entry() };
        if table.is_null() {
            return Err(PluginError::NoEntry { path: shown });
        }
        // SAFETY: the table of every ABI version starts with its version, a
        // u32; only that is read until the version is known to be ours (a
        // table of another version may be smaller than ours).
        let found = unsafe { table.cast::<u32>().read() };
        if found != ABI_VERSION {
            return Err(PluginError::AbiMismatch { path: shown, found });
        }
        // SAFETY: a table of this version is a static `PluginTable`.
        let table: &'static PluginTable = unsafe { &*table };
        let name = if table.name.is_null() {
            shown
        } else {
            // SAFETY: the ABI's name is a static NUL-terminated string.
            unsafe { CStr::from_ptr(table.name) }.to_string_lossy().into_owned()
        };
        let served = |kind: u32, function: bool| if table.kinds & kind != 0 && function { kind } else { 0 };
        let kinds = served(KIND_CODING, table.code.is_some()) | served(KIND_THEMES, table.group.is_some());
        Ok(Library { name, kinds, table })
    }

    pub fn call(&self, call: Call, input: &[u8]) -> Reply {
        let function = match call {
            Call::Code => self.table.code,
            Call::Group => self.table.group,
        };
        let Some(function) = function else {
            return Reply {
                status: STATUS_ERROR,
                bytes: format!("the plugin's table has no function to {}", call.what()).into_bytes(),
            };
        };
        let mut output = Buffer {
            ptr: std::ptr::null_mut(),
            len: 0,
        };
        // SAFETY: the input outlives the call; the plugin writes a buffer it allocated.
        let status = unsafe { function(input.as_ptr(), input.len(), &mut output) };
        let bytes = if output.ptr.is_null() {
            Vec::new()
        } else {
            // SAFETY: the plugin's buffer holds `len` bytes until handed back to its `free`.
            unsafe { std::slice::from_raw_parts(output.ptr, output.len) }.to_vec()
        };
        // SAFETY: the buffer came from this plugin and is released once.
        unsafe { (self.table.free)(output) };
        Reply { status, bytes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_file_name_is_the_file_here_and_other_paths_stay_as_given() {
        assert_eq!(as_path_for_loader(Path::new("libname.so")), Path::new("./libname.so"));
        for given in ["./libname.so", "plugins/libname.so", "/opt/libname.so"] {
            assert_eq!(as_path_for_loader(Path::new(given)), Path::new(given));
        }
    }
}
