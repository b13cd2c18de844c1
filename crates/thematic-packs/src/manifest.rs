//! `pack.toml`: what a pack is, what thematic it needs, what it provides,
//! and the presets of stages a study can use by name.

use std::collections::BTreeMap;

use semver::{Version, VersionReq};
use serde::Deserialize;
use thematic_config::Stage;
use toml::Spanned;

use crate::{line_of, PackError};

pub const MANIFEST_FILE: &str = "pack.toml";

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub pack: PackInfo,
    #[serde(default)]
    pub provides: Provides,
    #[serde(default)]
    pub presets: Vec<Preset>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackInfo {
    /// Lower-case letters, digits and `-`: it names folders and archives.
    pub name: Spanned<String>,
    /// Semantic version.
    pub version: Spanned<String>,
    pub description: Option<String>,
    #[serde(default)]
    pub authors: Vec<String>,
    pub licence: Option<String>,
    /// The thematic versions it works with (`">=0.1, <0.2"`).
    pub engine: Spanned<String>,
    /// The plugin ABI its native plugins were built for.
    pub plugin_abi: Option<u32>,
}

/// Paths are relative to the pack's folder.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provides {
    /// Name → codebook (CSV or TOML).
    #[serde(default)]
    pub codebooks: BTreeMap<String, Spanned<String>>,
    /// Name → Lua strategy; the `.lua` files beside it are the modules it may `require`.
    #[serde(default)]
    pub scripts: BTreeMap<String, Spanned<String>>,
    /// Name → target (a triple, `x86_64-unknown-linux-gnu`, or `arch-os`, `x86_64-linux`) → shared library.
    #[serde(default)]
    pub plugins: BTreeMap<String, BTreeMap<String, Spanned<String>>>,
    /// Name → report template, for the studies that use it.
    #[serde(default)]
    pub templates: BTreeMap<String, Spanned<String>>,
    /// Name → the SHA-256 of a sentence-embedding model (its hash as
    /// `thematic model list` shows it). A pack names a model, never carries
    /// its weights: the study finds it in its `models/` or the model store.
    #[serde(default)]
    pub models: BTreeMap<String, Spanned<String>>,
}

/// Stages a study takes by naming the preset (`uses = "pack/preset@1"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Preset {
    pub name: String,
    pub description: Option<String>,
    /// Stages as `thematic.toml` writes them, with `codebook`, `script` and
    /// `plugin` naming what the pack provides; how they run (`limits`,
    /// `isolation`) and a person's `codings` are the study's to say.
    pub stages: Vec<Stage>,
}

impl Manifest {
    /// Reads `pack.toml` and checks that it holds together: a usable name, a
    /// semantic version, a version requirement for thematic, presets naming
    /// only what the pack provides, paths that stay inside the pack.
    pub fn parse(file: &str, text: &str) -> Result<Manifest, PackError> {
        let error = |offset: usize, message: String| PackError::Manifest {
            file: file.to_string(),
            line: line_of(text, offset),
            message,
        };
        let manifest: Manifest =
            toml::from_str(text).map_err(|e| error(e.span().map_or(0, |s| s.start), e.message().to_string()))?;
        let name = &manifest.pack.name;
        if !valid_name(name.get_ref()) {
            return Err(error(
                name.span().start,
                "a pack's name is lower-case letters, digits and `-`".into(),
            ));
        }
        Version::parse(manifest.pack.version.get_ref()).map_err(|e| {
            error(
                manifest.pack.version.span().start,
                format!(
                    "`{}` is not a semantic version (1.2.0): {e}",
                    manifest.pack.version.get_ref()
                ),
            )
        })?;
        VersionReq::parse(manifest.pack.engine.get_ref()).map_err(|e| {
            error(
                manifest.pack.engine.span().start,
                format!(
                    "`{}` is not a version requirement (\">=0.1, <0.2\"): {e}",
                    manifest.pack.engine.get_ref()
                ),
            )
        })?;
        let provides = &manifest.provides;
        for path in provides.paths() {
            if !is_inside(path.get_ref()) {
                return Err(error(
                    path.span().start,
                    format!("`{}` must be a path inside the pack", path.get_ref()),
                ));
            }
        }
        for hash in provides.models.values() {
            let hex = hash.get_ref();
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
                return Err(error(
                    hash.span().start,
                    format!("`{hex}` is not a model's SHA-256 (64 lower-case hex digits, as `thematic model list` shows it)"),
                ));
            }
        }
        for preset in &manifest.presets {
            for stage in &preset.stages {
                check_studys_own(stage).map_err(|(at, m)| error(at, m))?;
                check_reference(&stage.codebook, "codebook", |n| provides.codebooks.contains_key(n))
                    .map_err(|(at, m)| error(at, m))?;
                check_reference(&stage.script, "script", |n| provides.scripts.contains_key(n))
                    .map_err(|(at, m)| error(at, m))?;
                check_reference(&stage.plugin, "plugin", |n| provides.plugins.contains_key(n))
                    .map_err(|(at, m)| error(at, m))?;
                check_reference(&stage.model, "model", |n| provides.models.contains_key(n))
                    .map_err(|(at, m)| error(at, m))?;
            }
        }
        Ok(manifest)
    }

    pub fn name(&self) -> &str {
        self.pack.name.get_ref()
    }

    pub fn version(&self) -> &str {
        self.pack.version.get_ref()
    }

    /// Refuses a pack this thematic cannot run: another engine version, or
    /// native plugins built for another plugin ABI.
    pub fn check_compatible(&self, engine: &str, plugin_abi: u32) -> Result<(), PackError> {
        let needs = VersionReq::parse(self.pack.engine.get_ref()).unwrap_or(VersionReq::STAR);
        let running = Version::parse(engine).unwrap_or(Version::new(0, 0, 0));
        if !needs.matches(&running) {
            return Err(PackError::Engine {
                name: self.name().to_string(),
                version: self.version().to_string(),
                needs: self.pack.engine.get_ref().clone(),
                engine: engine.to_string(),
            });
        }
        if !self.provides.plugins.is_empty() {
            let needs = self.pack.plugin_abi.unwrap_or(0);
            if needs != plugin_abi {
                return Err(PackError::PluginAbi {
                    name: self.name().to_string(),
                    version: self.version().to_string(),
                    needs,
                    abi: plugin_abi,
                });
            }
        }
        Ok(())
    }

    /// The preset a study asks for: by name, or the pack's only one (or the
    /// one named like the pack) when it names none.
    pub fn preset(&self, name: Option<&str>) -> Option<&Preset> {
        match name {
            Some(name) => self.presets.iter().find(|p| p.name == name),
            None if self.presets.len() == 1 => self.presets.first(),
            None => self.presets.iter().find(|p| p.name == self.name()),
        }
    }
}

/// Whether `name` can name a pack: lower-case letters, digits and `-`
/// (it names folders and archives).
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

impl Provides {
    /// Every file the pack says it provides.
    pub fn paths(&self) -> impl Iterator<Item = &Spanned<String>> {
        self.codebooks
            .values()
            .chain(self.scripts.values())
            .chain(self.templates.values())
            .chain(self.plugins.values().flat_map(|targets| targets.values()))
    }
}

/// A preset's stage may not say what only the study using it may say.
fn check_studys_own(stage: &Stage) -> Result<(), (usize, String)> {
    let name = stage.name.get_ref();
    let at = stage.name.span().start;
    let refused = match (&stage.limits, &stage.isolation, &stage.codings) {
        (Some(_), _, _) => "limits",
        (_, Some(_), _) => "isolation",
        (_, _, Some(_)) => "codings",
        _ => return Ok(()),
    };
    Err((
        at,
        format!("preset stage `{name}` sets `{refused}`, which is the study's to set (in its [[packs]] entry or its own stages)"),
    ))
}

fn check_reference(
    reference: &Option<Spanned<String>>,
    what: &str,
    provided: impl Fn(&str) -> bool,
) -> Result<(), (usize, String)> {
    match reference {
        Some(name) if !provided(name.get_ref()) => Err((
            name.span().start,
            format!(
                "the preset names {what} `{}`, which the pack does not provide",
                name.get_ref()
            ),
        )),
        _ => Ok(()),
    }
}

/// Whether `path` is relative and never climbs out (`..`, a drive, a root).
pub(crate) fn is_inside(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with(['/', '\\'])
        && !path.contains(':')
        && path.split(['/', '\\']).all(|part| part != "..")
}

/// What a study's `[[packs]] uses = "pack/preset@1"` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackUse {
    pub pack: String,
    pub preset: Option<String>,
    pub versions: VersionReq,
}

impl PackUse {
    pub fn parse(text: &str) -> Result<PackUse, String> {
        let (name, versions) = text.split_once('@').ok_or_else(|| {
            format!("`{text}`: name the pack and the versions it may have, as `pack@1` or `pack/preset@1.2`")
        })?;
        let versions = VersionReq::parse(versions)
            .map_err(|e| format!("`{text}`: `{versions}` is not a version requirement: {e}"))?;
        let (pack, preset) = match name.split_once('/') {
            Some((pack, preset)) => (pack, Some(preset.to_string())),
            None => (name, None),
        };
        if pack.is_empty() {
            return Err(format!("`{text}`: no pack named"));
        }
        Ok(PackUse {
            pack: pack.to_string(),
            preset,
            versions,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[pack]
name = "leadership-coding"
version = "1.2.0"
engine = ">=0.1, <0.2"
licence = "CC-BY-4.0"

[provides]
codebooks = { leadership = "codebooks/leadership.csv" }
scripts = { hedging = "scripts/hedging.lua" }

[[presets]]
name = "leadership-coding"
stages = [
  { name = "code", kind = "coding", strategy = "dictionary", codebook = "leadership" },
  { name = "hedges", kind = "coding", strategy = "lua", script = "hedging" },
]
"#;

    #[test]
    fn a_manifest_reads_and_names_its_preset() {
        let manifest = Manifest::parse("pack.toml", GOOD).unwrap();
        assert_eq!((manifest.name(), manifest.version()), ("leadership-coding", "1.2.0"));
        assert_eq!(manifest.preset(None).unwrap().stages.len(), 2);
        assert!(manifest.check_compatible("0.1.0", 2).is_ok());
        assert!(matches!(
            manifest.check_compatible("0.2.0", 2),
            Err(PackError::Engine { .. })
        ));
    }

    #[test]
    fn broken_manifests_are_named_by_line() {
        let cases = [
            (GOOD.replace("1.2.0", "one"), 4, "not a semantic version"),
            (
                GOOD.replace("\"leadership-coding\"\nversion", "\"Leadership\"\nversion"),
                3,
                "lower-case",
            ),
            (
                GOOD.replace("codebook = \"leadership\"", "codebook = \"other\""),
                15,
                "does not provide",
            ),
            (
                GOOD.replace("codebooks/leadership.csv", "../outside.csv"),
                9,
                "inside the pack",
            ),
            (GOOD.replace("licence", "license"), 6, "unknown field"),
            (
                GOOD.replace(
                    "script = \"hedging\" }",
                    "script = \"hedging\", limits = { seconds = 1 } }",
                ),
                16,
                "preset stage `hedges` sets `limits`, which is the study's to set",
            ),
            (
                GOOD.replace(
                    "scripts = { hedging",
                    "models = { all-MiniLM-L6-v2 = \"not-a-hash\" }\nscripts = { hedging",
                ),
                10,
                "not a model's SHA-256",
            ),
            (
                GOOD.replace(
                    "codebook = \"leadership\" },",
                    "codebook = \"leadership\", model = \"unnamed\" },",
                ),
                15,
                "the preset names model `unnamed`, which the pack does not provide",
            ),
        ];
        for (text, line, message) in cases {
            match Manifest::parse("pack.toml", &text) {
                Err(PackError::Manifest {
                    line: at,
                    message: said,
                    ..
                }) => {
                    assert_eq!(at, line, "{said}");
                    assert!(said.contains(message), "{said}");
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn a_pack_names_a_model_by_its_hash() {
        let hash = "ab".repeat(32);
        let text = GOOD
            .replace(
                "scripts = { hedging",
                &format!("models = {{ all-MiniLM-L6-v2 = \"{hash}\" }}\nscripts = {{ hedging"),
            )
            .replace(
                "{ name = \"code\", kind = \"coding\", strategy = \"dictionary\", codebook = \"leadership\" }",
                "{ name = \"meaning\", kind = \"coding\", strategy = \"semantic\", codebook = \"leadership\", model = \"all-MiniLM-L6-v2\" }",
            );
        let manifest = Manifest::parse("pack.toml", &text).unwrap();
        assert_eq!(manifest.provides.models["all-MiniLM-L6-v2"].get_ref(), &hash);
    }

    #[test]
    fn uses_name_a_pack_a_preset_and_versions() {
        let used = PackUse::parse("leadership-coding/strict@1").unwrap();
        assert_eq!(
            (used.pack.as_str(), used.preset.as_deref()),
            ("leadership-coding", Some("strict"))
        );
        assert!(used.versions.matches(&Version::new(1, 4, 0)) && !used.versions.matches(&Version::new(2, 0, 0)));
        assert!(PackUse::parse("leadership-coding").is_err());
    }
}
