//! The scratch workspace the build phase (and the run-time phases after it) vet a crate in: a
//! package of its own under the cache directory whose only dependency is `NAME = "=VERSION"`
//! from the vetted registry, so cargo resolves and builds the crate with its real dependencies,
//! exactly as a project that adds it would. Its `.cargo/config.toml` points cargo at the same
//! index `vet` read (the registry may be configured only in the directory `vet` ran from).
//! The run-time phases keep their programs in it too: the `load` phase's program, its output
//! and its private working directory in [`Scratch::load_dir`].

use std::path::{Path, PathBuf};

use super::registry::source::CRATES_IO;
use super::registry::RegistrySource;

/// The scratch package's name; its own entry is left out of the report.
pub(crate) const SCRATCH_PACKAGE: &str = "airlock-vet-scratch";

/// A scratch workspace on disk.
#[derive(Debug, Clone)]
pub(crate) struct Scratch {
    /// Its directory.
    pub dir: PathBuf,
    /// Its `Cargo.toml`.
    pub manifest: PathBuf,
}

impl Scratch {
    /// Where the `load` phase links its program (`load.rs`, `bin/`) and runs it (`run/`,
    /// `output.log`): beside the package, outside anything cargo builds.
    pub(crate) fn load_dir(&self) -> PathBuf {
        self.dir.join("load")
    }
}

/// The cargo configuration that makes cargo read `source` the way `vet` did: the named registry
/// at its index, or crates.io replaced with the replacement's index (None: plain crates.io).
pub(crate) fn cargo_config(source: &RegistrySource) -> Option<String> {
    if source.name != CRATES_IO {
        Some(format!(
            "[registries.{}]\nindex = {}\n",
            toml_string(&source.name),
            toml_string(&source.index)
        ))
    } else if source.replaced_with.is_some() {
        Some(format!(
            "[source.crates-io]\nreplace-with = \"airlock-vet-replacement\"\n\n\
             [source.airlock-vet-replacement]\nregistry = {}\n",
            toml_string(&source.index)
        ))
    } else {
        None
    }
}

/// Writes (or rewrites) the scratch workspace for `name` `version` under `root`. `registry` is
/// the `--registry` name (None: crates.io, as cargo's default); `config` the text of its
/// `.cargo/config.toml` ([`cargo_config`]).
pub(crate) fn create(
    root: &Path,
    registry: Option<&str>,
    config: Option<&str>,
    name: &str,
    version: &semver::Version,
) -> std::io::Result<Scratch> {
    let dir = root.join(format!("{name}-{version}"));
    std::fs::create_dir_all(dir.join(".cargo"))?;
    let config_file = dir.join(".cargo/config.toml");
    match config {
        Some(text) => std::fs::write(&config_file, text)?,
        None if config_file.exists() => std::fs::remove_file(&config_file)?,
        None => {}
    }
    let registry_key = registry
        .map(|r| format!(", registry = {}", toml_string(r)))
        .unwrap_or_default();
    let manifest_text = format!(
        "# Written by `cargo airlock vet`: a workspace that depends on the vetted crate only.\n\
         [package]\nname = \"{SCRATCH_PACKAGE}\"\nversion = \"0.0.0\"\nedition = \"2021\"\n\
         publish = false\n\n[lib]\npath = \"lib.rs\"\n\n[dependencies]\n\
         {name} = {{ version = \"={version}\"{registry_key} }}\n\n\
         # Its own workspace, whatever directory the cache is in.\n[workspace]\n"
    );
    let manifest = dir.join("Cargo.toml");
    std::fs::write(&manifest, manifest_text)?;
    std::fs::write(
        dir.join("lib.rs"),
        "// The vetted crate is the dependency.\n",
    )?;
    Ok(Scratch { dir, manifest })
}

/// A TOML basic string.
fn toml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_pins_the_version_from_the_named_registry() {
        let tmp = tempfile::tempdir().unwrap();
        let v = semver::Version::new(1, 2, 3);
        let source =
            RegistrySource::from_index("fixtures", "sparse+http://127.0.0.1:9/index/").unwrap();
        let config = cargo_config(&source).unwrap();
        let s = create(tmp.path(), Some("fixtures"), Some(&config), "evil-sys", &v).unwrap();
        let written = std::fs::read_to_string(s.dir.join(".cargo/config.toml")).unwrap();
        let written: toml::Table = toml::from_str(&written).unwrap();
        assert_eq!(
            written["registries"]["fixtures"]["index"].as_str(),
            Some("sparse+http://127.0.0.1:9/index/")
        );
        let text = std::fs::read_to_string(&s.manifest).unwrap();
        let doc: toml::Table = toml::from_str(&text).unwrap();
        let dep = &doc["dependencies"]["evil-sys"];
        assert_eq!(dep["version"].as_str(), Some("=1.2.3"));
        assert_eq!(dep["registry"].as_str(), Some("fixtures"));
        assert!(doc.contains_key("workspace"));
        let crates_io =
            RegistrySource::from_index(CRATES_IO, "sparse+https://index.crates.io/").unwrap();
        assert_eq!(cargo_config(&crates_io), None);
        assert_eq!(s.load_dir(), s.dir.join("load"));
        let plain = create(tmp.path(), None, None, "itoa", &v).unwrap();
        let text = std::fs::read_to_string(plain.manifest).unwrap();
        assert!(!text.contains("registry ="), "{text}");
    }
}
