//! What `thematic pack` does: make, build, install, list, verify, update
//! and remove plugin packs, pinned per study in `thematic.lock`. Each
//! operation tells what it did, a line at a time, to the `tell` it is handed.

use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};
use thematic_config::CONFIG_FILE;
use thematic_packs::{
    archive, valid_name, ArchiveKind, LockedPack, Manifest, Scope, UnpackedFile, LOCK_FILE, MANIFEST_FILE,
};

use crate::diagnostics::{Diagnostics, Outcome};
use crate::files::write_atomic;
use crate::packs::{self, hash_of, install_files, manifest_of, read_folder, read_source};

/// Where an operation tells what it did.
pub type Tell<'a> = &'a mut dyn FnMut(String);

/// A working skeleton: a manifest, a codebook, a Lua strategy and a preset
/// running both, which a study can use as soon as the pack is installed.
pub fn new(name: &str, parent: &Path, tell: Tell) -> Result<Outcome> {
    if !valid_name(name) {
        bail!("`{name}`: a pack's name is lower-case letters, digits and `-`");
    }
    let dir = parent.join(name);
    if dir.exists() {
        bail!("{}: already exists", dir.display());
    }
    let manifest = format!(
        r#"# A thematic plugin pack. Every key is explained in docs/packs.md of thematic.

[pack]
name = "{name}"
version = "0.1.0"
description = "Replace this with a sentence about the coding approach."
authors = []
licence = "CC-BY-4.0"
engine = ">={engine}"

[provides]
codebooks = {{ {ident} = "codebooks/{name}.csv" }}
scripts = {{ {ident} = "scripts/{name}.lua" }}

[[presets]]
name = "{name}"
description = "The pack's codebook by dictionary, and its script."
stages = [
  {{ name = "dictionary", kind = "coding", strategy = "dictionary", codebook = "{ident}" }},
  {{ name = "script", kind = "coding", strategy = "lua", script = "{ident}" }},
]
"#,
        engine = env!("CARGO_PKG_VERSION"),
        ident = name.replace('-', "_"),
    );
    let files = [
        (format!("{}/pack.toml", name), manifest),
        (
            format!("{name}/codebooks/{name}.csv"),
            "code,term\nsupport,support*\nsupport,mentor*\nisolation,alone\nisolation,nobody to talk to\n".to_string(),
        ),
        (
            format!("{name}/scripts/{name}.lua"),
            "-- Codes a turn that asks for help. `require` finds only this pack's scripts.\ncodes = { \"asking\" }\n\nfunction code(segment)\n  if segment.text:lower():find(\"ask\") then\n    return { { code = \"asking\" } }\n  end\nend\n"
                .to_string(),
        ),
        (
            format!("{name}/README.md"),
            format!("# {name}\n\nInstall into a study with `thematic pack install {name}` and add\n\n```toml\n[[packs]]\nuses = \"{name}@0.1\"\n```\n\nto its `thematic.toml`.\n"),
        ),
    ];
    // Made whole beside its place, then renamed there: no half-made pack is left.
    fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
    let staging = tempfile::Builder::new().prefix(".new-pack-").tempdir_in(parent)?;
    for (path, text) in files {
        let path = staging.path().join(path);
        if let Some(folder) = path.parent() {
            fs::create_dir_all(folder).with_context(|| format!("creating {}", folder.display()))?;
        }
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    fs::rename(staging.path().join(name), &dir).with_context(|| format!("creating {}", dir.display()))?;
    tell(format!(
        "made the pack {}; `thematic pack build {}` archives it",
        dir.display(),
        dir.display()
    ));
    Ok(Outcome::Success)
}

/// Archives a pack folder: `NAME-VERSION.zip` beside it, or `output`
/// (`.zip` or `.tar.gz`).
pub fn build(dir: &Path, output: Option<&Path>, tell: Tell) -> Result<Outcome> {
    let files = read_folder(dir)?;
    let manifest = manifest_of(&files, &dir.display().to_string())?;
    check_provided(&manifest, &files, &dir.display().to_string())?;
    let output = match output {
        Some(path) => path.to_path_buf(),
        None => dir.canonicalize()?.parent().unwrap_or(Path::new(".")).join(format!(
            "{}-{}.zip",
            manifest.name(),
            manifest.version()
        )),
    };
    let name = output
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let Some(kind) = ArchiveKind::of(&name) else {
        bail!("{}: a pack archive is a `.zip` or a `.tar.gz`", output.display());
    };
    write_atomic(&output, &archive(kind, &files)?)?;
    tell(format!(
        "built {} {} into {} ({} files, sha256 {})",
        manifest.name(),
        manifest.version(),
        output.display(),
        files.len(),
        hash_of(&files)
    ));
    Ok(Outcome::Success)
}

/// Installs a pack for the study in `study` (or for the user, `global`) and
/// pins it in the study's lock. An incompatible or unsafe pack is refused
/// before anything is written.
pub fn install(source: &Path, study: &Path, global: bool, allow_native: bool, tell: Tell) -> Result<Outcome> {
    require_study(study)?;
    let files = read_source(source)?;
    let shown = source.display().to_string();
    let manifest = manifest_of(&files, &shown)?;
    manifest
        .check_compatible(env!("CARGO_PKG_VERSION"), thematic_plugin_api::ABI_VERSION)
        .with_context(|| format!("{shown}: refused; nothing was installed"))?;
    check_provided(&manifest, &files, &shown)?;
    // The lock is read first: a study whose lock is broken gets no pack it cannot pin.
    let mut lock = packs::read_lock(study)?;
    let scope = if global { Scope::User } else { Scope::Study };
    let destination = packs::installed_dir(study, scope, manifest.name(), manifest.version())?;
    install_files(&files, &destination)?;
    let sha256 = hash_of(&files);
    lock.pin(LockedPack {
        name: manifest.name().to_string(),
        version: manifest.version().to_string(),
        sha256: sha256.clone(),
        scope,
        native: allow_native,
    });
    packs::write_lock(study, &lock)?;
    tell(format!(
        "installed {} {} in {}; pinned in {LOCK_FILE} (sha256 {sha256})",
        manifest.name(),
        manifest.version(),
        destination.display()
    ));
    if !manifest.provides.plugins.is_empty() && !allow_native {
        tell(String::from(
            "  its native plugins will not run: install again with --allow-native to let them",
        ));
    }
    Ok(Outcome::Success)
}

/// The study's locked packs, each checked, and the packs installed.
pub fn list(study: &Path, tell: Tell) -> Result<Outcome> {
    require_study(study)?;
    let lock = packs::read_lock(study)?;
    if lock.packs.is_empty() {
        tell(format!("no packs in {LOCK_FILE}"));
    }
    let mut diagnostics = Diagnostics::default();
    for locked in &lock.packs {
        let (state, about) = match packs::verified(study, locked) {
            // What the pack says of itself, from the manifest just checked.
            Ok(dir) => {
                let manifest = dir.join(MANIFEST_FILE);
                let about = fs::read_to_string(&manifest)
                    .ok()
                    .and_then(|text| Manifest::parse(&manifest.display().to_string(), &text).ok())
                    .and_then(|manifest| manifest.pack.description)
                    .map_or(String::new(), |d| format!(" — {d}"));
                ("ok".to_string(), about)
            }
            Err(problem) => {
                diagnostics.fail(problem);
                ("not as locked".to_string(), String::new())
            }
        };
        tell(
            format!(
                "{} {} ({}{}): {state}",
                locked.name,
                locked.version,
                match locked.scope {
                    Scope::Study => "in the study",
                    Scope::User => "for the user",
                },
                if locked.native { ", native code allowed" } else { "" }
            ) + &about,
        );
    }
    for (place, dir) in [
        ("in the study", packs::study_packs_dir(study)),
        ("for the user", packs::user_packs_dir()?),
    ] {
        let mut installed: Vec<String> = fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.starts_with('.'))
            .collect();
        installed.sort();
        if !installed.is_empty() {
            tell(format!(
                "installed {place} ({}): {}",
                dir.display(),
                installed.join(", ")
            ));
        }
    }
    Ok(diagnostics.outcome())
}

/// Checks every locked pack's files against the lock.
pub fn verify(study: &Path, tell: Tell) -> Result<Outcome> {
    require_study(study)?;
    let lock = packs::read_lock(study)?;
    let mut diagnostics = Diagnostics::default();
    for locked in &lock.packs {
        match packs::verified(study, locked) {
            Ok(dir) => tell(format!(
                "{} {}: as locked ({})",
                locked.name,
                locked.version,
                dir.display()
            )),
            Err(problem) => diagnostics.fail(problem),
        }
    }
    Ok(diagnostics.outcome())
}

/// Pins a locked pack's installed files as they are now, on purpose, once
/// they still make the same pack. Changed files are code nobody allowed:
/// native plugins may run again only with `allow_native`.
pub fn update(name: &str, study: &Path, allow_native: bool, tell: Tell) -> Result<Outcome> {
    require_study(study)?;
    let mut lock = packs::read_lock(study)?;
    let Some(locked) = lock.get(name).cloned() else {
        bail!("pack `{name}` is not in {LOCK_FILE}");
    };
    let dir = packs::installed_dir(study, locked.scope, &locked.name, &locked.version)?;
    let files = read_folder(&dir)?;
    let shown = dir.display().to_string();
    let manifest = manifest_of(&files, &shown)?;
    if manifest.name() != locked.name || manifest.version() != locked.version {
        bail!(
            "{shown}: its pack.toml now says {} {}, not the {} {} that is pinned; install the pack again instead",
            manifest.name(),
            manifest.version(),
            locked.name,
            locked.version
        );
    }
    check_provided(&manifest, &files, &shown)?;
    let sha256 = hash_of(&files);
    tell(format!(
        "{name} {}: pinned as installed now (sha256 {sha256}, was {})",
        locked.version, locked.sha256
    ));
    let has_plugins = !manifest.provides.plugins.is_empty();
    if locked.native && has_plugins && !allow_native {
        tell(String::from(
            "  its native plugins will not run until allowed again: `thematic pack update NAME --allow-native`",
        ));
    }
    lock.pin(LockedPack {
        sha256,
        native: allow_native && has_plugins,
        ..locked
    });
    packs::write_lock(study, &lock)?;
    Ok(Outcome::Success)
}

/// Takes a pack out of a study: its lock entry, and its files if installed in the study.
pub fn remove(name: &str, study: &Path, tell: Tell) -> Result<Outcome> {
    require_study(study)?;
    let mut lock = packs::read_lock(study)?;
    let Some(locked) = lock.get(name).cloned() else {
        bail!("pack `{name}` is not in {LOCK_FILE}");
    };
    if locked.scope == Scope::Study {
        let dir = packs::installed_dir(study, Scope::Study, &locked.name, &locked.version)?;
        if dir.exists() {
            fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
    }
    lock.unpin(name);
    packs::write_lock(study, &lock)?;
    tell(format!("removed {name} {} from the study", locked.version));
    Ok(Outcome::Success)
}

fn require_study(study: &Path) -> Result<()> {
    if !study.join(CONFIG_FILE).is_file() {
        bail!(
            "{}: no {CONFIG_FILE} here; name the study with --study DIR",
            study.display()
        );
    }
    Ok(())
}

/// Every file the manifest names is in the pack.
fn check_provided(manifest: &Manifest, files: &[UnpackedFile], shown: &str) -> Result<()> {
    for path in manifest.provides.paths() {
        if !files.iter().any(|f| &f.path == path.get_ref()) {
            bail!(
                "{shown}: pack.toml names `{}`, which is not in the pack",
                path.get_ref()
            );
        }
    }
    Ok(())
}
