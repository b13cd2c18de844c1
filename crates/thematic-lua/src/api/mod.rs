//! The `thematic` table scripts call into: one `register` per module, each
//! adding its functions to the table.

mod dictionary;
mod log;
mod text;

use mlua::{Lua, Table};

pub(crate) use log::take_log;

/// Installs the `thematic` table in `lua`'s globals.
pub(crate) fn register(lua: &Lua, script: &str) -> mlua::Result<()> {
    let api: Table = lua.create_table()?;
    dictionary::register(lua, &api, script)?;
    text::register(lua, &api)?;
    log::register(lua, &api)?;
    lua.globals().set("thematic", api)
}
