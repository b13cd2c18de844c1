//! What ARCHITECTURE.md says of the code that the code itself can show,
//! checked against the source: which crates reach the world (files,
//! processes, the clock, SQL, shared libraries, the network, the store),
//! which crates depend on which, that the command line's commands are leaves,
//! and that no crate's modules depend on each other in a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Every crate of the workspace with its sources: `crates/*`, `plugins/*`
/// and the `thematic` binary (`src/`).
fn crates() -> BTreeMap<String, PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut crates = BTreeMap::from([("thematic".to_string(), root.to_path_buf())]);
    for folder in ["crates", "plugins"] {
        for entry in fs::read_dir(root.join(folder)).unwrap().flatten() {
            let manifest = entry.path().join("Cargo.toml");
            if let Ok(text) = fs::read_to_string(&manifest) {
                let name = text.parse::<toml::Table>().unwrap()["package"]["name"]
                    .as_str()
                    .unwrap()
                    .to_string();
                crates.insert(name, entry.path());
            }
        }
    }
    crates
}

/// The `.rs` files below a folder.
fn rust_files(folder: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in fs::read_dir(folder).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files.sort();
    files
}

/// A source file's code, its tests (a `#[cfg(test)]` module at its end) left out.
fn code_of(file: &Path) -> String {
    let text = fs::read_to_string(file).unwrap();
    match text.find("#[cfg(test)]") {
        Some(at) => text[..at].to_string(),
        None => text,
    }
}

/// The crates whose code (tests aside) names any of `names`.
fn naming(names: &[&str]) -> BTreeSet<String> {
    crates()
        .into_iter()
        .filter(|(_, dir)| {
            rust_files(&dir.join("src"))
                .iter()
                .any(|file| names.iter().any(|name| code_of(file).contains(name)))
        })
        .map(|(name, _)| name)
        .collect()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

#[test]
fn only_the_shell_crates_reach_the_world() {
    let reaches = [
        (
            "the file system",
            &["std::fs", "fs::", "File::open", "File::create", "tempfile::"][..],
            &["thematic-engine", "thematic-live", "thematic-plugins", "thematic-watch"][..],
        ),
        (
            "processes",
            &["process::Command", "Command::new"],
            &["thematic-plugins"],
        ),
        (
            "the clock",
            &["Instant::now", "SystemTime::now", "now_utc"],
            &["thematic-engine", "thematic-lua", "thematic-plugins", "thematic-watch"],
        ),
        ("SQL", &["rusqlite"], &["thematic-store"]),
        ("shared libraries", &["libloading"], &["thematic-plugins"]),
        (
            "the network",
            &["std::net", "tiny_http", "hf_hub"],
            &["thematic-hub", "thematic-live"],
        ),
        ("the store", &["thematic_store"], &["thematic-engine"]),
    ];
    for (what, names, allowed) in reaches {
        assert_eq!(naming(names), set(allowed), "the crates that reach {what}");
    }
}

/// The `thematic-*` crates a crate depends on (not its dev-dependencies).
fn dependencies(dir: &Path) -> BTreeSet<String> {
    let manifest: toml::Table = fs::read_to_string(dir.join("Cargo.toml")).unwrap().parse().unwrap();
    manifest
        .get("dependencies")
        .and_then(|d| d.as_table())
        .map(|d| d.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn the_pure_crates_depend_only_on_pure_crates_and_the_plugin_api_on_serde() {
    let shell = set(&[
        "thematic-engine",
        "thematic-hub",
        "thematic-live",
        "thematic-lua",
        "thematic-plugins",
        "thematic-store",
        "thematic-watch",
    ]);
    for (name, dir) in crates() {
        if shell.contains(&name) || name == "thematic" || !name.starts_with("thematic-") {
            continue;
        }
        let reaching: Vec<String> = dependencies(&dir).intersection(&shell).cloned().collect();
        assert!(reaching.is_empty(), "{name} is pure but depends on {reaching:?}");
    }
    let crates = crates();
    assert_eq!(
        dependencies(&crates["thematic-plugin-api"]),
        set(&["serde", "serde_json"]),
        "plugin authors get nothing else"
    );
    for (name, dir) in &crates {
        if dependencies(dir).contains("thematic-engine") {
            assert_eq!(name, "thematic", "only the command line drives the engine");
        }
    }
}

/// Each module of the crate whose sources are in `src` (by name: a file's
/// stem, or its folder's name for `mod.rs`) with the sibling modules it names
/// as `crate::NAME`.
fn module_graph(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let files = rust_files(src);
    let name_of = |file: &Path| -> String {
        let stem = file.file_stem().unwrap().to_str().unwrap();
        match stem {
            "mod" => file
                .parent()
                .unwrap()
                .file_name()
                .unwrap()
                .to_str()
                .unwrap()
                .to_string(),
            other => other.to_string(),
        }
    };
    let modules: BTreeSet<String> = files.iter().map(|f| name_of(f)).collect();
    let mut graph = BTreeMap::new();
    for file in &files {
        let named: BTreeSet<String> = crate_paths(&code_of(file))
            .into_iter()
            .filter(|other| modules.contains(other) && *other != name_of(file))
            .collect();
        graph.entry(name_of(file)).or_insert_with(BTreeSet::new).extend(named);
    }
    graph
}

/// The first segment of every `crate::…` path in `code`, those of
/// `use crate::{a, b::c}` groups included.
fn crate_paths(code: &str) -> BTreeSet<String> {
    let identifier = |text: &str| -> String {
        text.chars()
            .skip_while(|c| c.is_whitespace())
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        match rest.strip_prefix('{') {
            Some(group) => {
                let group = &group[..group.find('}').unwrap_or(group.len())];
                found.extend(group.split(',').map(identifier));
            }
            None => {
                found.insert(identifier(rest));
            }
        }
    }
    found.retain(|name| !name.is_empty());
    found
}

/// A circle of modules in `graph`, if there is one.
fn circle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        module: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|m| m == module) {
            return Some(path[at..].to_vec());
        }
        if done.contains(module) {
            return None;
        }
        path.push(module.to_string());
        for next in graph.get(module).into_iter().flatten() {
            if let Some(found) = visit(next, graph, path, done) {
                return Some(found);
            }
        }
        path.pop();
        done.insert(module.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|module| visit(module, graph, &mut Vec::new(), &mut done))
}

#[test]
fn no_crate_has_modules_that_depend_on_each_other_in_a_circle() {
    for (name, dir) in crates() {
        let graph = module_graph(&dir.join("src"));
        assert_eq!(circle(&graph), None, "modules of {name} in a circle");
    }
    let engine = module_graph(&crates()["thematic-engine"].join("src"));
    assert!(
        engine["run"].contains("analyse"),
        "the check reads real edges: {engine:?}"
    );
    let mut example = BTreeMap::new();
    example.insert("a".to_string(), set(&["b"]));
    example.insert("b".to_string(), set(&["a"]));
    assert!(
        circle(&example).is_some(),
        "the check finds a circle where there is one"
    );
}

#[test]
fn the_commands_are_leaves_over_the_engine() {
    let commands = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/commands");
    for file in rust_files(&commands) {
        let code = code_of(&file);
        for line in code.lines().filter(|l| l.trim_start().starts_with("use crate::")) {
            let module = line.trim_start().trim_start_matches("use crate::");
            assert!(
                ["cli", "outcome", "templates"].iter().any(|m| module.starts_with(m)),
                "{}: `{line}`: a command uses the command line's types and printing, not another command or main.rs",
                file.display()
            );
        }
        assert!(
            !code.contains("crate::commands::"),
            "{}: calls another command",
            file.display()
        );
    }
}
