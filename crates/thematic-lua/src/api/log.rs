//! `thematic.log(...)`: messages a script leaves for the run summary.

use mlua::{Lua, Table};

/// Messages logged since the last [`take_log`], kept in the state's app data.
struct Log(Vec<String>);

/// How many messages one state of a script keeps between two looks at its
/// log; later ones are dropped.
const MAX_MESSAGES: usize = 200;
/// The longest message kept, in characters; the rest is cut.
const MAX_MESSAGE_CHARS: usize = 1000;

pub(super) fn register(lua: &Lua, api: &Table) -> mlua::Result<()> {
    lua.set_app_data(Log(Vec::new()));
    let log = lua.create_function(|lua, parts: mlua::Variadic<mlua::Value>| {
        let full = lua.app_data_ref::<Log>().is_none_or(|log| log.0.len() >= MAX_MESSAGES);
        if full {
            return Ok(());
        }
        let mut message = String::new();
        for part in parts.iter() {
            if !message.is_empty() {
                message.push(' ');
            }
            message.push_str(&part.to_string()?);
            if message.chars().count() > MAX_MESSAGE_CHARS {
                message = message.chars().take(MAX_MESSAGE_CHARS).collect::<String>() + " […]";
                break;
            }
        }
        if let Some(mut log) = lua.app_data_mut::<Log>() {
            log.0.push(message);
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
