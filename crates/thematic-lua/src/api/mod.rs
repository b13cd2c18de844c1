//! The `thematic` table scripts call into: one `register` per module, each
//! adding its functions to the table.

mod dictionary;
mod embed;
mod log;
mod regex;
mod text;

use mlua::{Lua, Table};

pub use embed::Embed;
pub(crate) use log::take_log;

/// The longest text a host function takes. What the host builds from a text
/// lives outside the script's memory limit, so texts are capped; a speaker
/// turn is a few kilobytes.
const MAX_TEXT: usize = 4 * 1024 * 1024;

/// `text` as UTF-8, refused past [`MAX_TEXT`]; `function` names the caller in messages.
fn host_text(function: &str, text: &mlua::LuaString) -> mlua::Result<String> {
    let bytes = text.as_bytes();
    if bytes.len() > MAX_TEXT {
        return Err(mlua::Error::runtime(format!(
            "{function}: a text of {} bytes is longer than the {MAX_TEXT} a host function takes",
            bytes.len()
        )));
    }
    Ok(text.to_str()?.to_string())
}

/// Installs the `thematic` table in `lua`'s globals.
pub(crate) fn register(lua: &Lua, script: &str) -> mlua::Result<()> {
    let api: Table = lua.create_table()?;
    dictionary::register(lua, &api, script)?;
    regex::register(lua, &api)?;
    text::register(lua, &api)?;
    log::register(lua, &api)?;
    embed::register(lua, &api, None)?;
    lua.globals().set("thematic", api)
}

/// Gives the `thematic` table's embedding functions a model to embed with.
pub(crate) fn install_embedding(lua: &Lua, with: Embed) -> mlua::Result<()> {
    let api: Table = lua.globals().get("thematic")?;
    embed::register(lua, &api, Some(with))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use mlua::{Lua, Value};

    const DEFINITIONS: &str = include_str!("../../../../scripts/thematic.d.lua");

    /// Names declared in the definitions file after `prefix` (`function thematic.` ...).
    fn declared(prefix: &str) -> BTreeSet<String> {
        DEFINITIONS
            .lines()
            .filter_map(|line| line.strip_prefix(prefix))
            .map(|rest| rest.split('(').next().unwrap_or_default().to_string())
            .collect()
    }

    #[test]
    fn the_type_definitions_declare_exactly_the_host_api() {
        let lua = Lua::new();
        super::register(&lua, "test.lua").unwrap();
        let api: mlua::Table = lua.globals().get("thematic").unwrap();
        let provided: BTreeSet<String> = api.pairs::<String, Value>().map(|pair| pair.unwrap().0).collect();
        assert_eq!(
            declared("function thematic."),
            provided,
            "scripts/thematic.d.lua and the `thematic` table differ"
        );
        let dictionary: Value = lua.load("return thematic.dictionary({ x = { 'y' } })").eval().unwrap();
        let methods = declared("function Dictionary:");
        assert!(!methods.is_empty());
        for method in methods {
            let found: Value = lua
                .load(format!("return select(1, ...)['{method}']"))
                .call(dictionary.clone())
                .unwrap();
            assert!(
                matches!(found, Value::Function(_)),
                "Dictionary:{method} is declared but not provided"
            );
        }
    }
}
