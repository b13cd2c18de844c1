//! `thematic.regex(pattern [, case_insensitive])`: a regular expression (Rust
//! `regex` syntax, linear time: no pattern can run away) compiled once.

use mlua::{Lua, Table, UserData, UserDataMethods};
use regex::{Regex, RegexBuilder};

pub(super) fn register(lua: &Lua, api: &Table) -> mlua::Result<()> {
    let compile = lua.create_function(|_, (pattern, case_insensitive): (String, Option<bool>)| {
        if pattern.len() > super::MAX_TEXT {
            return Err(mlua::Error::runtime("thematic.regex: the pattern is too long"));
        }
        let regex = RegexBuilder::new(&pattern)
            .case_insensitive(case_insensitive.unwrap_or(true))
            .build()
            .map_err(|e| mlua::Error::runtime(format!("thematic.regex: invalid pattern `{pattern}`: {e}")))?;
        Ok(Pattern(regex))
    })?;
    api.set("regex", compile)
}

struct Pattern(Regex);

impl UserData for Pattern {
    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_method("is_match", |_, this, text: mlua::LuaString| {
            Ok(this.0.is_match(&text.to_str()?))
        });
        // Every match: `{ text = ..., first = ..., last = ... }`, 1-based inclusive byte positions.
        methods.add_method("find", |lua, this, text: mlua::LuaString| {
            let text = super::host_text("regex:find", &text)?;
            let found = lua.create_table()?;
            for m in this.0.find_iter(&text).filter(|m| !m.is_empty()) {
                let entry = lua.create_table()?;
                entry.set("text", m.as_str())?;
                entry.set("first", m.start() + 1)?;
                entry.set("last", m.end())?;
                found.push(entry)?;
            }
            Ok(found)
        });
    }
}
