//! Declares ABI version 0, so that tests can show the host refusing it
//! before calling anything else.

use thematic_plugin_api::{Buffer, PluginTable};

unsafe extern "C" fn free(_: Buffer) {}

static TABLE: PluginTable = PluginTable {
    abi_version: 0,
    name: c"testing-old-abi".as_ptr(),
    kinds: 0,
    code: None,
    group: None,
    free,
};

#[unsafe(no_mangle)]
pub extern "C" fn thematic_plugin_entry() -> *const PluginTable {
    &TABLE
}
