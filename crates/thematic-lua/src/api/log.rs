//! `thematic.log(...)`: messages a script leaves for the run summary.

use mlua::{Lua, Table};

/// Messages logged since the last [`take_log`], kept in the state's app data.
struct Log(Vec<String>);

/// How many messages one script may leave in a run; the rest are counted.
const MAX_MESSAGES: usize = 200;

pub(super) fn register(lua: &Lua, api: &Table) -> mlua::Result<()> {
    lua.set_app_data(Log(Vec::new()));
    let log = lua.create_function(|lua, parts: mlua::Variadic<mlua::Value>| {
        let text: Vec<String> = parts
            .iter()
            .map(|v| v.to_string().unwrap_or_else(|_| format!("{v:?}")))
            .collect();
        if let Some(mut log) = lua.app_data_mut::<Log>() {
            if log.0.len() < MAX_MESSAGES {
                log.0.push(text.join(" "));
            }
        }
        Ok(())
    })?;
    api.set("log", log)
}

/// The messages logged since the last call.
pub(crate) fn take_log(lua: &Lua) -> Vec<String> {
    lua.app_data_mut::<Log>()
        .map(|mut log| std::mem::take(&mut log.0))
        .unwrap_or_default()
}
