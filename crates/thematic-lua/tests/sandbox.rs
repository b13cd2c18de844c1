//! Scripts that try to escape or exhaust the sandbox, each of which must end
//! in a clear error within the limits and leave the host running.

use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use thematic_lua::{Limits, LuaCodingStrategy, Module, ScriptFiles};
use thematic_model::{Segment, Transcript};
use thematic_pipeline::{CodingStrategy, StrategyError};

const LIMITS: Limits = Limits {
    memory_bytes: 32 * 1024 * 1024,
    time: Duration::from_millis(300),
};

fn transcript() -> Transcript {
    Transcript {
        id: "t/P1.txt".into(),
        participant: Some("P1".into()),
        content_hash: "h".into(),
        segments: vec![Segment {
            turn: 2,
            speaker: Some("P1".into()),
            role: "participant".into(),
            participant: Some("P1".into()),
            start: 10,
            end: 34,
            text: "P1: maybe it was fine, é".into(),
            start_ms: None,
            end_ms: None,
        }],
    }
}

/// Modules the attack scripts may require.
fn modules() -> BTreeMap<String, Module> {
    let module = |path: &str, source: &str| Module {
        path: path.into(),
        source: source.into(),
    };
    BTreeMap::from([
        (
            "helpers".to_string(),
            module("scripts/helpers.lua", "return { twice = function(x) return x * 2 end }"),
        ),
        (
            "lexicons.calm".to_string(),
            module(
                "scripts/lexicons/calm.lua",
                "loads = (loads or 0) + 1\nreturn { 'calm' }",
            ),
        ),
    ])
}

fn load(body: &str) -> Result<LuaCodingStrategy, String> {
    let script = ScriptFiles {
        name: "scripts/attack.lua".into(),
        source: body.into(),
        modules: modules(),
    };
    LuaCodingStrategy::new(&script, LIMITS, &toml::Table::new(), None, &[], &[], None).map_err(|e| e.message)
}

fn run(strategy: &LuaCodingStrategy) -> Result<Vec<thematic_pipeline::CodeHit>, StrategyError> {
    let transcript = transcript();
    let segments: Vec<&Segment> = transcript.segments.iter().collect();
    strategy.code(&transcript, &segments)
}

/// Runs `code` of a script whose body is `body`, returning the error message.
fn code_error(body: &str) -> String {
    let strategy = load(&format!("function code(segment, context)\n{body}\nend\n")).expect("the script loads");
    let started = Instant::now();
    let result = run(&strategy);
    assert!(started.elapsed() < Duration::from_secs(5), "ended within the limits");
    match result {
        Err(StrategyError::Failed(message)) => message,
        other => panic!("expected a script error, got {other:?}"),
    }
}

#[test]
fn runaway_loops_end_at_the_time_limit_even_inside_pcall() {
    assert!(code_error("while true do end").contains("time limit of 300ms exceeded"));
    let hidden = code_error("while true do pcall(function() while true do end end) end");
    assert!(hidden.contains("time limit"), "{hidden}");
    let coroutine = code_error("local co = coroutine.wrap(function() while true do end end) co()");
    assert!(coroutine.contains("time limit"), "{coroutine}");
}

#[test]
fn a_script_is_usable_again_after_hitting_the_time_limit() {
    let strategy = load(
        "calls = 0\nfunction code(segment)\ncalls = calls + 1\nif calls == 1 then while true do end end\nreturn {{code = 'ok'}}\nend",
    )
    .unwrap();
    assert!(run(&strategy).is_err());
    assert_eq!(run(&strategy).unwrap()[0].code, "ok");
}

#[test]
fn unbounded_recursion_is_an_error() {
    let message = code_error("local function f(n) return f(n + 1) + 1 end return f(1)");
    assert!(
        message.contains("stack overflow") || message.contains("memory limit exceeded"),
        "{message}"
    );
}

#[test]
fn memory_bombs_hit_the_memory_limit() {
    let rep = code_error("local s = string.rep('x', 2^40)");
    assert!(
        rep.contains("memory") || rep.contains("resulting string too large"),
        "{rep}"
    );
    let doubling = code_error("local s = 'x' while true do s = s .. s end");
    assert!(doubling.contains("memory"), "{doubling}");
    let tables = code_error("local t = {} for i = 1, 1e9 do t[i] = {i} end");
    assert!(tables.contains("memory") || tables.contains("time limit"), "{tables}");
}

#[test]
fn the_outside_world_is_not_reachable() {
    for (body, global) in [
        ("io.open('/etc/passwd')", "io"),
        ("os.execute('true')", "os"),
        ("os.getenv('HOME')", "os"),
        ("debug.getregistry()", "debug"),
        ("package.loadlib('x', 'y')", "package"),
    ] {
        let message = code_error(body);
        assert!(message.contains(&format!("global '{global}'")), "{body}: {message}");
        assert!(message.contains("scripts/attack.lua:2:"), "{body}: located: {message}");
    }
    for body in [
        "dofile('/etc/passwd')",
        "loadfile('/etc/passwd')",
        "collectgarbage('stop')",
    ] {
        let message = code_error(body);
        assert!(message.contains("attempt to call a nil value"), "{body}: {message}");
        assert!(!message.contains("root:"), "no file contents leak: {message}");
    }
}

#[test]
fn bytecode_cannot_be_made_or_loaded() {
    assert!(code_error("return string.dump(function() end)").contains("attempt to call a nil value (field 'dump')"));
    let binary = code_error("local f, err = load('\\27Lua', nil, 'b') error(err or 'loaded')");
    assert!(binary.contains("only text chunks"), "{binary}");
    let sneaked = code_error("local f, err = load('\\27LuaT\\0') error(err or 'loaded')");
    assert!(sneaked.contains("binary chunks are not allowed"), "{sneaked}");
}

#[test]
fn text_chunks_still_load_and_see_the_script_globals() {
    let strategy =
        load("x = 41\nfunction code()\nlocal f = load('return x + 1')\nreturn {{code = 'n' .. f()}}\nend").unwrap();
    assert_eq!(run(&strategy).unwrap()[0].code, "n42");
}

#[test]
fn wrong_return_shapes_are_clear_errors() {
    let number = code_error("return 42");
    assert!(
        number.contains("must return a list of codings (or nil), not a"),
        "{number}"
    );
    let unknown = code_error("return {{code = 'x', colour = 'red'}}");
    assert!(unknown.contains("unknown field `colour`"), "{unknown}");
    let span = code_error("return {{code = 'x', spans = {{1, 99}}}}");
    assert!(
        span.contains("span {1, 99} is not a stretch of the segment's text"),
        "{span}"
    );
    let split = code_error("return {{code = 'x', spans = {{1, 24}}}}");
    assert!(split.contains("on character boundaries"), "{split}");
}

#[test]
fn a_failing_index_metamethod_or_a_cycle_in_the_result_is_an_error_not_a_crash() {
    // Results are read without metamethods: the erroring `__index` is never called.
    let strategy =
        load("function code() return setmetatable({}, {__index = function() error('boom') end}) end").unwrap();
    assert_eq!(run(&strategy).unwrap(), []);
    let cycle = code_error("local t = {code = 'x'} t.memo = t return {t}");
    assert!(cycle.contains("malformed list of codings"), "{cycle}");
}

#[test]
fn spans_become_code_points_of_the_transcript() {
    let strategy = load(
        "function code(segment)\nlocal s, e = segment.text:find('maybe')\nlocal t = segment.text:find('é')\n\
         return {{code = 'hedge', spans = {{s, e}, {t, t + 1}}, confidence = 0.5, memo = segment.speaker}}\nend",
    )
    .unwrap();
    let hits = run(&strategy).unwrap();
    let spans: Vec<(usize, usize)> = hits[0].spans.iter().map(|s| (s.start, s.end)).collect();
    assert_eq!(spans, [(14, 19), (33, 34)]);
    assert_eq!((hits[0].confidence, hits[0].memo.as_deref()), (Some(0.5), Some("P1")));
}

#[test]
fn a_broken_global_environment_stays_inside_its_own_script() {
    let vandal = load("setmetatable(_G, nil)\nstring.len = nil\nfunction code() return nil end").unwrap();
    drop(vandal);
    let fine = load("function code(segment) return {{code = 'n' .. string.len(segment.text)}} end").unwrap();
    assert_eq!(run(&fine).unwrap()[0].code, "n25");
}

#[test]
fn errors_at_load_name_the_script_and_line() {
    let err = load("function code()\n  return {\nend").err().unwrap();
    assert!(err.starts_with("scripts/attack.lua:3:"), "{err}");
    let err = load("x = 1").err().unwrap();
    assert!(err.contains("defines neither `code(segment, context)`"), "{err}");
}

#[test]
fn absent_values_are_nil_in_lua() {
    let strategy = load(
        "function code(segment) return {{code = tostring(segment.speaker == nil and segment.attributes == nil)}} end",
    )
    .unwrap();
    let mut transcript = transcript();
    transcript.segments[0].speaker = None;
    let segments: Vec<&Segment> = transcript.segments.iter().collect();
    assert_eq!(strategy.code(&transcript, &segments).unwrap()[0].code, "true");
}

#[test]
fn the_watchdog_ends_a_library_call_the_hook_cannot_reach_and_the_script_starts_afresh() {
    let strategy = load(
        "calls = 0\nfunction code(segment)\ncalls = calls + 1\n\
         if segment.text:find('maybe') then string.find(('a'):rep(1e5), '.-.-.-.-b$') end\n\
         return {{code = 'call ' .. calls}}\nend",
    )
    .unwrap();
    let started = Instant::now();
    let message = match run(&strategy) {
        Err(StrategyError::Failed(message)) => message,
        other => panic!("expected the watchdog, got {other:?}"),
    };
    assert!(message.contains("stopped by the watchdog"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
    let mut calm = transcript();
    calm.segments[0].text = "P1: it was fine, all of it".into();
    let segments: Vec<&Segment> = calm.segments.iter().collect();
    let hits = strategy.code(&calm, &segments).unwrap();
    assert_eq!(hits[0].code, "call 1", "a fresh state: the script's globals start over");
}

#[test]
fn require_reaches_only_the_modules_of_the_scripts_folder() {
    let strategy = load(
        "local helpers = require('helpers')\nlocal calm = require('lexicons.calm')\nrequire('lexicons.calm')\n\
         function code() return {{code = calm[1] .. helpers.twice(21) .. loads}} end",
    )
    .unwrap();
    assert_eq!(run(&strategy).unwrap()[0].code, "calm421", "modules load once");
    for (name, expected) in [
        ("../../secret", "is not a module name"),
        ("/etc/passwd", "is not a module name"),
        ("lexicons..calm", "is not a module name"),
        ("secret", "no module `secret` beside the script"),
    ] {
        let message = code_error(&format!("require('{name}')"));
        assert!(message.contains(expected), "{name}: {message}");
    }
}

#[test]
fn the_host_regex_finds_matches_with_byte_positions() {
    let strategy = load(
        "local hedge = thematic.regex([[\\b(maybe|it was fine)\\b]])\nfunction code(segment)\n\
         local spans = {}\nfor _, m in ipairs(hedge:find(segment.text)) do spans[#spans + 1] = {m.first, m.last} end\n\
         return {{code = 'hedge', spans = spans, memo = tostring(hedge:is_match('MAYBE'))}}\nend",
    )
    .unwrap();
    let hits = run(&strategy).unwrap();
    let spans: Vec<(usize, usize)> = hits[0].spans.iter().map(|s| (s.start, s.end)).collect();
    assert_eq!(spans, [(14, 19), (20, 31)]);
    assert_eq!(hits[0].memo.as_deref(), Some("true"), "case-insensitive by default");
    let bad = load("local r = thematic.regex('(')\nfunction code() end")
        .err()
        .unwrap();
    assert!(bad.contains("thematic.regex: invalid pattern `(`"), "{bad}");
}

#[test]
fn a_single_coding_instead_of_a_list_is_named_as_such() {
    let message = code_error("return {code = 'x'}");
    assert!(
        message.contains("must return a list of codings (a table indexed 1, 2, ...)"),
        "{message}"
    );
    assert!(message.contains("scripts/attack.lua"), "the script is named: {message}");
}

#[test]
fn turns_empty_spans_and_odd_confidences_are_refused() {
    let turn = code_error("return {{code = 'x', turn = 2}}");
    assert!(
        turn.contains("`turn` belongs only to codings from code_document()"),
        "{turn}"
    );
    let empty = code_error("return {{code = 'x', spans = {{3, 2}}}}");
    assert!(empty.contains("is not a stretch of the segment's text"), "{empty}");
    assert!(empty.contains("scripts/attack.lua"), "{empty}");
}

#[test]
fn what_a_script_does_to_its_context_does_not_reach_the_next_transcript() {
    let strategy = load(
        "function code(segment, context)\n\
         context.params.n = (context.params.n or 0) + 1\n\
         return {{code = 'n' .. context.params.n}}\nend",
    )
    .unwrap();
    assert_eq!(run(&strategy).unwrap()[0].code, "n1");
    assert_eq!(run(&strategy).unwrap()[0].code, "n1");
}

#[test]
fn a_loop_of_requires_is_a_clear_error() {
    let script = ScriptFiles {
        name: "scripts/attack.lua".into(),
        source: "require('a')\nfunction code() end".into(),
        modules: BTreeMap::from([
            (
                "a".to_string(),
                Module {
                    path: "scripts/a.lua".into(),
                    source: "require('b')".into(),
                },
            ),
            (
                "b".to_string(),
                Module {
                    path: "scripts/b.lua".into(),
                    source: "require('a')".into(),
                },
            ),
        ]),
    };
    let err = LuaCodingStrategy::new(&script, LIMITS, &toml::Table::new(), None, &[], &[], None)
        .err()
        .unwrap()
        .message;
    assert!(
        err.contains("module `a` requires itself, through a loop of modules"),
        "{err}"
    );
}

#[test]
fn host_functions_refuse_texts_past_their_cap_and_the_log_stays_small() {
    let big = code_error("thematic.words(string.rep('a ', 3 * 1024 * 1024))");
    assert!(
        big.contains("thematic.words: a text of 6291456 bytes is longer than"),
        "{big}"
    );
    let strategy =
        load("function code()\nlocal s = string.rep('x', 5000)\nfor i = 1, 500 do thematic.log(s) end\nend").unwrap();
    run(&strategy).unwrap();
    let log = strategy.take_log();
    assert_eq!(log.len(), 200);
    assert!(log[0].chars().count() < 1010, "messages are cut");
}

#[test]
fn the_watchdog_watches_each_call_not_the_whole_transcript() {
    let strategy =
        load("function code(segment)\nif segment.turn == 1 then string.find(('a'):rep(1e5), '.-.-.-.-b$') end\nend")
            .unwrap();
    let mut transcript = transcript();
    let template = transcript.segments[0].clone();
    transcript.segments = (1..=12)
        .map(|turn| Segment {
            turn,
            ..template.clone()
        })
        .collect();
    let segments: Vec<&Segment> = transcript.segments.iter().collect();
    let started = Instant::now();
    assert!(strategy.code(&transcript, &segments).is_err());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "stopped soon after the first call's limit: {:?}",
        started.elapsed()
    );
}
