//! The scratch workspace the build phase (and the run-time phases after it) vet a crate in: a
//! package of its own under the cache directory whose only dependency is `NAME = "=VERSION"`
//! from the vetted registry, so cargo resolves and builds the crate with its real dependencies,
//! exactly as a project that adds it would.

use std::path::{Path, PathBuf};

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

/// Writes (or rewrites) the scratch workspace for `name` `version` under `root`. `registry` is
/// the `--registry` name (None: crates.io, as cargo's default).
pub(crate) fn create(
    root: &Path,
    registry: Option<&str>,
    name: &str,
    version: &semver::Version,
) -> std::io::Result<Scratch> {
    let dir = root.join(format!("{name}-{version}"));
    std::fs::create_dir_all(&dir)?;
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
        let s = create(tmp.path(), Some("fixtures"), "evil-sys", &v).unwrap();
        let text = std::fs::read_to_string(&s.manifest).unwrap();
        let doc: toml::Table = toml::from_str(&text).unwrap();
        let dep = &doc["dependencies"]["evil-sys"];
        assert_eq!(dep["version"].as_str(), Some("=1.2.3"));
        assert_eq!(dep["registry"].as_str(), Some("fixtures"));
        assert!(doc.contains_key("workspace"));
        let plain = create(tmp.path(), None, "itoa", &v).unwrap();
        let text = std::fs::read_to_string(plain.manifest).unwrap();
        assert!(!text.contains("registry ="), "{text}");
    }
}
