//! Misbehaves as the stage's `params.misbehave` says, so that tests can show
//! the host holding: `"panic"`, `"unknown-code"`, `"span-outside"`, and, for
//! plugins run with `isolation = "process"`, `"segfault"`, `"abort"`, `"hang"`,
//! `"fork-and-hang"` (a forked copy holds the replies open), `"hog"` (takes
//! 4 GiB) and `"chatter"` (writes to stdout, then answers properly). It codes
//! and groups, misbehaving alike in both.

use thematic_plugin_api::{
    export_plugin, CodeRequest, CodeResponse, GroupRequest, GroupResponse, ResponseCoding, ResponseTheme,
};

export_plugin!(name: "testing-misbehaviour", code: code, group: group);

fn code(request: CodeRequest) -> Result<CodeResponse, String> {
    let turn = request.segments.first().map_or(1, |s| s.turn);
    let coding = |code: &str, spans: Vec<(usize, usize)>| ResponseCoding {
        turn,
        code: code.to_string(),
        spans,
        confidence: None,
        memo: None,
    };
    match misbehave(&request.params) {
        Some("unknown-code") => Ok(CodeResponse {
            codings: vec![coding("no-such-code", vec![])],
        }),
        Some("span-outside") => Ok(CodeResponse {
            codings: vec![coding("support", vec![(0, 1_000_000)])],
        }),
        _ => Ok(CodeResponse {
            codings: request
                .segments
                .iter()
                .filter(|s| s.text.contains("support"))
                .map(|s| ResponseCoding {
                    turn: s.turn,
                    ..coding("support", Vec::new())
                })
                .collect(),
        }),
    }
}

fn group(request: GroupRequest) -> Result<GroupResponse, String> {
    misbehave(&request.params);
    Ok(GroupResponse {
        themes: vec![ResponseTheme {
            id: "M1".into(),
            name: "Every code".into(),
            codes: request.codes.keys().cloned().collect(),
            subthemes: Vec::new(),
        }],
    })
}

/// Does what `params.misbehave` asks for, if it ends or stalls the call, and
/// returns it.
fn misbehave(params: &serde_json::Value) -> Option<&str> {
    let mode = params.get("misbehave").and_then(|v| v.as_str());
    match mode {
        Some("panic") => panic!("the plugin was asked to panic"),
        // SAFETY: none; the point is a segmentation fault.
        Some("segfault") => unsafe { std::ptr::null_mut::<u8>().write_volatile(1) },
        Some("abort") => std::process::abort(),
        Some("hang") => loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        },
        Some("chatter") => println!("a plugin talking on stdout"),
        Some("hog") => {
            // Touch every page, so that no lazy allocation hides the size.
            let hog = vec![1u8; 4 << 30];
            std::hint::black_box(hog);
        }
        #[cfg(unix)]
        Some("fork-and-hang") => {
            // SAFETY: the child of a fork only sleeps, holding the parent's
            // descriptors (the replies among them) open.
            unsafe { libc::fork() };
            loop {
                std::thread::sleep(std::time::Duration::from_secs(1));
            }
        }
        _ => {}
    }
    mode
}
