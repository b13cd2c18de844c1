//! Misbehaves as the stage's `params.misbehave` says, so that tests can show
//! the host holding: `"panic"`, `"unknown-code"`, `"span-outside"`.

use thematic_plugin_api::{export_plugin, CodeRequest, CodeResponse, ResponseCoding};

export_plugin!(name: "testing-misbehaviour", code: code);

fn code(request: CodeRequest) -> Result<CodeResponse, String> {
    let turn = request.segments.first().map_or(1, |s| s.turn);
    let coding = |code: &str, spans: Vec<(usize, usize)>| ResponseCoding {
        turn,
        code: code.to_string(),
        spans,
        confidence: None,
        memo: None,
    };
    match request.params.get("misbehave").and_then(|v| v.as_str()) {
        Some("panic") => panic!("the plugin was asked to panic"),
        Some("unknown-code") => Ok(CodeResponse {
            codings: vec![coding("no-such-code", vec![])],
        }),
        Some("span-outside") => Ok(CodeResponse {
            codings: vec![coding("support", vec![(0, 1_000_000)])],
        }),
        _ => Ok(CodeResponse::default()),
    }
}
