use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mlua::chunk::ChunkMode;
use mlua::debug::Debug;
use mlua::{HookTriggers, Lua, LuaOptions, StdLib, Value, VmState};
use thiserror::Error;

/// A script's text and the modules it may `require`, as the shell read them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptFiles {
    /// The script as messages name it (`scripts/name.lua`).
    pub name: String,
    pub source: String,
    /// Module name (`helpers`, `lexicons.emotion`) to the module's file.
    pub modules: BTreeMap<String, Module>,
}

/// A Lua file a script may `require`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// As messages name it (`scripts/lexicons/emotion.lua`).
    pub path: String,
    pub source: String,
}

/// Limits a script runs under; each stage may set its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Memory one script's Lua state may hold.
    pub memory_bytes: usize,
    /// Time one call into the script may take.
    pub time: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            memory_bytes: 256 * 1024 * 1024,
            time: Duration::from_secs(5),
        }
    }
}

/// A script failed: it would not load, raised an error, broke a limit or
/// returned something the pipeline cannot take. The message starts with the
/// script's path and line where Lua knows it.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{message}")]
pub struct ScriptError {
    pub message: String,
}

impl ScriptError {
    pub(crate) fn new(message: impl Into<String>) -> ScriptError {
        ScriptError {
            message: message.into(),
        }
    }

    /// Renders a Lua error without mlua's wrapping ("runtime error: ", callback layers).
    pub(crate) fn from_lua(error: &mlua::Error) -> ScriptError {
        let message = match error {
            mlua::Error::RuntimeError(message) | mlua::Error::SyntaxError { message, .. } => message.clone(),
            mlua::Error::MemoryError(_) => "memory limit exceeded".to_string(),
            mlua::Error::CallbackError { traceback, cause } => {
                format!("{}\n{traceback}", ScriptError::from_lua(cause).message)
            }
            mlua::Error::WithContext { context, cause } => {
                format!("{context}: {}", ScriptError::from_lua(cause).message)
            }
            other => other.to_string(),
        };
        ScriptError { message }
    }
}

/// How many VM instructions run between two looks at the clock.
const INSTRUCTIONS_PER_CHECK: u32 = 10_000;

/// A script's Lua state with its limits.
pub(crate) struct Sandbox {
    pub lua: Lua,
    /// The script as named in messages (`scripts/name.lua`).
    pub name: String,
    limits: Limits,
    deadline: Arc<Deadline>,
}

/// The time by which the current call must end.
pub(crate) struct Deadline {
    /// `None` between calls.
    at: Mutex<Option<Instant>>,
    /// Set once the deadline has passed during a call: the hook then fires
    /// on every instruction until the call has unwound.
    expired: AtomicBool,
    /// The host's own work inside calls, which no limit counts: its total
    /// so far, and since when it has been running, if it is.
    host_work: Mutex<(Duration, Option<Instant>)>,
}

impl Deadline {
    /// How long past its deadline the current call is at `now`, if it is.
    pub fn overdue_by(&self, now: Instant) -> Option<Duration> {
        let at = (*self.at.lock().unwrap_or_else(|e| e.into_inner()))?;
        now.checked_duration_since(at)
    }

    /// Runs `work` (the host's own work inside a call) with the clock of the
    /// current call stopped: neither the hook nor the watchdog counts it.
    pub fn stopped_during<T>(&self, work: impl FnOnce() -> T) -> T {
        let at = || self.at.lock().unwrap_or_else(|e| e.into_inner());
        let host_work = || self.host_work.lock().unwrap_or_else(|e| e.into_inner());
        let started = Instant::now();
        let left = at().take().map(|deadline| deadline.saturating_duration_since(started));
        host_work().1 = Some(started);
        let done = work();
        let now = Instant::now();
        *host_work() = (self.host_work_until(now), None);
        if let Some(left) = left {
            *at() = Some(now.checked_add(left).unwrap_or(now));
        }
        done
    }

    /// How long the host has worked inside calls, all told, by `now`.
    pub fn host_work_until(&self, now: Instant) -> Duration {
        let (total, since) = *self.host_work.lock().unwrap_or_else(|e| e.into_inner());
        total + since.map_or(Duration::ZERO, |since| now.saturating_duration_since(since))
    }
}

impl Sandbox {
    /// A fresh state running `source` (the script's text) as its top level.
    pub fn new(script: &ScriptFiles, limits: Limits) -> Result<Sandbox, ScriptError> {
        let (name, source) = (script.name.as_str(), script.source.as_str());
        let libs = StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::UTF8 | StdLib::COROUTINE;
        let lua = Lua::new_with(libs, LuaOptions::default()).map_err(|e| ScriptError::from_lua(&e))?;
        let deadline = Arc::new(Deadline {
            at: Mutex::new(None),
            expired: AtomicBool::new(false),
            host_work: Mutex::new((Duration::ZERO, None)),
        });
        let sandbox = Sandbox {
            lua,
            name: name.to_string(),
            limits,
            deadline,
        };
        sandbox.restrict().map_err(|e| ScriptError::from_lua(&e))?;
        install_require(&sandbox.lua, script.modules.clone()).map_err(|e| ScriptError::from_lua(&e))?;
        crate::api::register(&sandbox.lua, name).map_err(|e| ScriptError::from_lua(&e))?;
        sandbox
            .lua
            .set_memory_limit(limits.memory_bytes)
            .map_err(|e| ScriptError::from_lua(&e))?;
        sandbox
            .lua
            .set_global_hook(
                HookTriggers::new().every_nth_instruction(INSTRUCTIONS_PER_CHECK),
                hook(sandbox.deadline.clone(), limits.time),
            )
            .map_err(|e| ScriptError::from_lua(&e))?;
        sandbox.call(|lua| {
            lua.load(source)
                .set_name(format!("@{name}"))
                .set_mode(ChunkMode::Text)
                .exec()
        })?;
        Ok(sandbox)
    }

    /// Removes what a sandboxed script must not reach.
    fn restrict(&self) -> mlua::Result<()> {
        let globals = self.lua.globals();
        for name in ["dofile", "loadfile", "collectgarbage"] {
            globals.set(name, Value::Nil)?;
        }
        let string: mlua::Table = globals.get("string")?;
        string.set("dump", Value::Nil)?;
        let load: mlua::Function = globals.get("load")?;
        let text_only = self.lua.create_function(move |lua, args: mlua::MultiValue| {
            let mut args: Vec<Value> = args.into_iter().collect();
            if let Some(Value::String(mode)) = args.get(2) {
                if mode.as_bytes().as_ref() != b"t" {
                    return Err(mlua::Error::runtime(
                        "load: only text chunks can be loaded (mode \"t\")",
                    ));
                }
            }
            if let Some(Value::String(chunk)) = args.first() {
                if chunk.as_bytes().first() == Some(&0x1b) {
                    return Err(mlua::Error::runtime("load: binary chunks are not allowed"));
                }
            }
            // The environment argument counts even when nil, so it is passed on only if given.
            args.resize(args.len().max(3), Value::Nil);
            args[2] = Value::String(lua.create_string("t")?);
            load.call::<mlua::MultiValue>(mlua::MultiValue::from_iter(args))
        })?;
        globals.set("load", text_only)
    }

    /// Runs `work` as one call into the script, under the time limit.
    pub fn call<T>(&self, work: impl FnOnce(&Lua) -> mlua::Result<T>) -> Result<T, ScriptError> {
        let started = Instant::now();
        *self.deadline.at.lock().unwrap_or_else(|e| e.into_inner()) =
            Some(started.checked_add(self.limits.time).unwrap_or(started));
        let result = work(&self.lua);
        *self.deadline.at.lock().unwrap_or_else(|e| e.into_inner()) = None;
        if self.deadline.expired.swap(false, Ordering::SeqCst) {
            // Back to the cheap hook for the next call.
            let reset = self.lua.set_global_hook(
                HookTriggers::new().every_nth_instruction(INSTRUCTIONS_PER_CHECK),
                hook(self.deadline.clone(), self.limits.time),
            );
            reset.map_err(|e| ScriptError::from_lua(&e))?;
            return Err(ScriptError::new(format!(
                "{}: time limit of {:?} exceeded",
                self.name, self.limits.time
            )));
        }
        result.map_err(|e| self.named(ScriptError::from_lua(&e)))
    }

    /// The error with the script's name in front, unless Lua already put its
    /// `script:line` there.
    pub fn named(&self, error: ScriptError) -> ScriptError {
        if error.message.starts_with(&self.name) {
            error
        } else {
            ScriptError::new(format!("{}: {}", self.name, error.message))
        }
    }

    /// The script's global `name`, read without metamethods (a script's own
    /// `_G` metatable is not run by the host).
    pub fn global(&self, name: &str) -> Value {
        self.lua.globals().raw_get(name).unwrap_or(Value::Nil)
    }

    /// Whether the script defines a global function `name`.
    pub fn defines(&self, name: &str) -> bool {
        matches!(self.global(name), Value::Function(_))
    }

    /// Gives the script's `thematic.embed` and its kin a model to embed with.
    /// Embedding is the host's work, bounded per call (at most so many
    /// texts): the time it takes is not counted against the script's time
    /// limit, which is there to stop the script's own runaway code.
    pub fn install_embedding(&self, with: crate::api::Embed) -> Result<(), ScriptError> {
        let deadline = self.deadline();
        let uncounted: crate::api::Embed = Arc::new(move |texts: &[&str]| deadline.stopped_during(|| with(texts)));
        crate::api::install_embedding(&self.lua, uncounted).map_err(|e| ScriptError::from_lua(&e))
    }

    /// The time by which the current call must end, if a call is running.
    pub fn deadline(&self) -> Arc<Deadline> {
        self.deadline.clone()
    }
}

/// The instruction hook that enforces the time limit.
type Hook = Box<dyn Fn(&Lua, &Debug) -> mlua::Result<VmState> + Send>;

fn hook(deadline: Arc<Deadline>, limit: Duration) -> Hook {
    Box::new(move |lua, _| {
        let passed = deadline
            .at
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .is_some_and(|at| Instant::now() >= at);
        if !passed {
            return Ok(VmState::Continue);
        }
        if !deadline.expired.swap(true, Ordering::SeqCst) {
            lua.set_global_hook(
                HookTriggers::new().every_nth_instruction(1),
                hook(deadline.clone(), limit),
            )?;
        }
        Err(mlua::Error::runtime(format!("time limit of {limit:?} exceeded")))
    })
}

/// Converts a value for a script: absent values (`None`) become `nil`, not
/// mlua's `null` sentinel, which Lua would count as true.
pub(crate) fn to_lua<T: serde::Serialize + ?Sized>(lua: &Lua, value: &T) -> mlua::Result<Value> {
    use mlua::LuaSerdeExt;
    let options = mlua::serde::SerializeOptions::new()
        .serialize_none_to_null(false)
        .serialize_unit_to_null(false);
    lua.to_value_with(value, options)
}

/// `require(name)` for the modules of the study's `scripts/` folder only:
/// `name` or `folder.name`, each loaded once, as text, and never a path.
fn install_require(lua: &Lua, modules: BTreeMap<String, Module>) -> mlua::Result<()> {
    let loaded = lua.create_table()?;
    let require = lua.create_function(move |lua, name: String| {
        let valid = !name.is_empty()
            && name
                .split('.')
                .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        if !valid {
            return Err(mlua::Error::runtime(format!(
                "require: `{name}` is not a module name; modules are the files of the study's scripts/ folder, \
                 required as `name` or `folder.name`"
            )));
        }
        let cached: Value = loaded.raw_get(name.as_str())?;
        if cached == Value::Boolean(false) {
            return Err(mlua::Error::runtime(format!(
                "require: module `{name}` requires itself, through a loop of modules"
            )));
        }
        if cached != Value::Nil {
            return Ok(cached);
        }
        let Some(module) = modules.get(&name) else {
            return Err(mlua::Error::runtime(format!(
                "require: no module `{name}` beside the script (the study's scripts/ folder, or a pack's own)"
            )));
        };
        // `false` marks a module being loaded, so a loop of requires is caught.
        loaded.raw_set(name.as_str(), false)?;
        let value: Value = lua
            .load(module.source.as_str())
            .set_name(format!("@{}", module.path))
            .set_mode(ChunkMode::Text)
            .call(name.as_str())?;
        let value = if value == Value::Nil {
            Value::Boolean(true)
        } else {
            value
        };
        loaded.raw_set(name.as_str(), value.clone())?;
        Ok(value)
    })?;
    lua.globals().set("require", require)
}

/// Where the study's context for the script (parameters, codebook, questions)
/// is kept in its Lua state.
const CONTEXT: &str = "thematic.context";

impl Sandbox {
    /// Keeps `context` in the state, for [`Sandbox::call_list`] to pass on.
    pub fn set_context(&self, context: &impl serde::Serialize) -> Result<(), ScriptError> {
        self.call(|lua| lua.set_named_registry_value(CONTEXT, to_lua(lua, context)?))
    }

    /// Calls the script's `function` with `input` and the context, as one call
    /// under the time limit, and reads what it returns: nil, or a list of
    /// `what` (named in messages).
    pub fn call_list<R: serde::de::DeserializeOwned>(
        &self,
        function: &str,
        input: &impl serde::Serialize,
        what: &str,
    ) -> Result<Vec<R>, ScriptError> {
        use mlua::LuaSerdeExt;
        self.call(|lua| {
            let script: mlua::Function = lua.globals().raw_get(function)?;
            let context: Value = lua.named_registry_value(CONTEXT)?;
            match script.call::<Value>((to_lua(lua, input)?, context))? {
                Value::Nil => Ok(Vec::new()),
                Value::Table(table) if !is_list(&table)? => Err(mlua::Error::runtime(format!(
                    "{function}() must return a list of {what} (a table indexed 1, 2, ...), \
                     not a table with other keys; a single one goes in braces: {{ {{ ... }} }}"
                ))),
                value @ Value::Table(_) => lua.from_value(value).map_err(|e| {
                    mlua::Error::runtime(format!("{function}() returned a malformed list of {what}: {e}"))
                }),
                other => Err(mlua::Error::runtime(format!(
                    "{function}() must return a list of {what} (or nil), not {}",
                    with_article(other.type_name())
                ))),
            }
        })
    }
}

/// Whether a table is a list: its keys are exactly 1, 2, ..., n.
fn is_list(table: &mlua::Table) -> mlua::Result<bool> {
    let mut count = 0;
    for pair in table.pairs::<Value, Value>() {
        let (key, _) = pair?;
        if !matches!(key, Value::Integer(i) if i >= 1) {
            return Ok(false);
        }
        count += 1;
    }
    Ok(count == table.raw_len())
}

/// "an integer", "a string".
fn with_article(noun: &str) -> String {
    let article = if noun.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {noun}")
}
