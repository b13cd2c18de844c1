//! Strategies written as Lua scripts, run in a sandbox.
//!
//! Each script gets a Lua 5.4 state of its own with only the `table`,
//! `string`, `math`, `utf8` and `coroutine` libraries (no `io`, `os`,
//! `debug`, `package`, `dofile`, `loadfile`, `string.dump`; `load` takes text
//! only; `require` reaches only the modules the shell hands over, those of the
//! study's `scripts/` folder), a memory limit, and a time limit per call enforced by an instruction
//! hook: once the deadline has passed the hook fires on every instruction, so
//! a script cannot hide a runaway loop inside `pcall`; a watchdog abandons a
//! call stuck in C, where the hook cannot reach it. Errors name the script,
//! and the line where Lua knows it (`scripts/name.lua:LINE: message`).
//!
//! This crate does no IO: the shell reads the script and hands over its text.

mod api;
mod coding;
mod grouping;
mod host;
mod sandbox;

pub use api::Embed;
pub use coding::LuaCodingStrategy;
pub use grouping::{LuaAreaMapper, LuaThemeGrouper};
pub use sandbox::{Limits, Module, ScriptError, ScriptFiles};
