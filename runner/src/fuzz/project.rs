//! A generated (or any cargo-fuzz) project on disk, and every path in it: one owner for paths,
//! as in cargo-fuzz's `FuzzProject`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::FuzzError;

pub(crate) use harness_gen::targets::{LibFuzzerOptions, TargetRecord, TargetsManifest};

/// The project.
#[derive(Debug, Clone)]
pub(crate) struct FuzzProject {
    /// The project directory (canonical).
    pub dir: PathBuf,
    /// The records of `targets.json`, read with harness-gen's own schema.
    pub targets: Vec<TargetRecord>,
    /// Path dependencies of the project (the crates under test): name -> directory.
    pub crates: BTreeMap<String, PathBuf>,
}

impl FuzzProject {
    /// Opens the project in `dir`: its `Cargo.toml` and `targets.json` must exist.
    pub(crate) fn open(dir: &Path) -> Result<FuzzProject, FuzzError> {
        let manifest = dir.join("Cargo.toml");
        let text = fs::read_to_string(&manifest).map_err(|source| FuzzError::NoProject {
            dir: dir.to_owned(),
            source,
        })?;
        let targets = match TargetsManifest::read(dir) {
            Ok(manifest) => manifest.records,
            Err(harness_gen::targets::TargetsError::Read { source, .. }) => {
                return Err(FuzzError::NoProject {
                    dir: dir.to_owned(),
                    source,
                })
            }
            Err(e) => return Err(FuzzError::Targets(e)),
        };
        let manifest_value: toml::Value =
            toml::from_str(&text).map_err(|source| FuzzError::BadManifest {
                path: manifest.clone(),
                source,
            })?;
        let mut crates = BTreeMap::new();
        if let Some(deps) = manifest_value
            .get("dependencies")
            .and_then(|d| d.as_table())
        {
            for (name, spec) in deps {
                if let Some(path) = spec.get("path").and_then(|p| p.as_str()) {
                    let p = Path::new(path);
                    let abs = if p.is_absolute() {
                        p.to_owned()
                    } else {
                        dir.join(p)
                    };
                    crates.insert(name.clone(), fs::canonicalize(&abs).unwrap_or(abs));
                }
            }
        }
        Ok(FuzzProject {
            dir: fs::canonicalize(dir).unwrap_or_else(|_| dir.to_owned()),
            targets,
            crates,
        })
    }

    /// The targets a campaign builds and runs: `built`, or `generated` without the compile
    /// check.
    pub(crate) fn runnable(&self) -> impl Iterator<Item = &TargetRecord> {
        self.targets.iter().filter(|t| t.is_built())
    }

    /// The runnable targets among `names` (all when empty) in shard `shard` (`(k, n)`), or the
    /// names that match no target.
    pub(crate) fn select(
        &self,
        names: &[String],
        shard: Option<(u32, u32)>,
    ) -> Result<Vec<&TargetRecord>, FuzzError> {
        let unknown: Vec<String> = names
            .iter()
            .filter(|t| !self.targets.iter().any(|r| &r.name == *t))
            .cloned()
            .collect();
        if !unknown.is_empty() {
            return Err(FuzzError::UnknownTarget(unknown));
        }
        Ok(self
            .runnable()
            .filter(|t| names.is_empty() || names.contains(&t.name))
            .filter(|t| shard.is_none_or(|(k, n)| in_shard(&t.name, k, n)))
            .collect())
    }

    /// The project's `Cargo.toml`.
    pub(crate) fn manifest(&self) -> PathBuf {
        self.dir.join("Cargo.toml")
    }

    /// The persistent corpus of a target (seeds included).
    pub(crate) fn corpus(&self, target: &str) -> PathBuf {
        self.dir.join("corpus").join(target)
    }

    /// Where libFuzzer writes a target's crashing inputs.
    pub(crate) fn artifacts(&self, target: &str) -> PathBuf {
        self.dir.join("artifacts").join(target)
    }

    /// The target's dictionary, if the generator wrote one.
    pub(crate) fn dict(&self, target: &str) -> Option<PathBuf> {
        let p = self.dir.join("dicts").join(format!("{target}.dict"));
        p.is_file().then_some(p)
    }

    /// Where instrumented binaries land.
    pub(crate) fn target_dir(&self) -> PathBuf {
        self.dir.join("target").join("airlock")
    }

    /// The instrumented binary of `target` for `triple`.
    pub(crate) fn binary(&self, triple: &str, target: &str) -> PathBuf {
        self.target_dir().join(triple).join("release").join(target)
    }

    /// The crate under test of `record` and its directory.
    pub(crate) fn crate_of(&self, record: &TargetRecord) -> (String, Option<PathBuf>) {
        let name = if record.package.is_empty() {
            record.item.split("::").next().unwrap_or("").to_owned()
        } else {
            record.package.clone()
        };
        let dir = self.crates.get(&name).cloned().or_else(|| {
            self.crates
                .iter()
                .find(|(k, _)| k.replace('-', "_") == name.replace('-', "_"))
                .map(|(_, v)| v.clone())
        });
        (name, dir)
    }
}

/// Deterministic sharding: `target` belongs to shard `k` of `n` (1-based) when its FNV-1a
/// hash modulo `n` is `k - 1`, so adding a target never moves the others.
pub(crate) fn in_shard(target: &str, k: u32, n: u32) -> bool {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in target.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h % u64::from(n)) as u32 == k - 1
}

#[cfg(test)]
mod tests {
    use super::*;
    use harness_gen::targets::TargetStatus;

    /// Writes a project with `targets` as its targets.json.
    fn project(targets: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::write(
            dir.path().join("Cargo.toml"),
            "[package]\nname = \"x\"\n[dependencies]\nx = { path = \".\" }\n",
        )
        .expect("write");
        fs::write(dir.path().join("targets.json"), targets).expect("write");
        dir
    }

    #[test]
    fn targets_json_is_read_with_the_generators_schema() {
        let dir = project(
            r#"[{"name":"de_a","package":"x","kind":"deserialize","item":"x::A","format":"json","status":"built","reason":null,"stack_bytes":1048576},
                {"name":"ffi_b","package":"x","kind":"ffi","item":"x::b","format":"arbitrary","status":"skipped","reason":"no"},
                {"name":"parse_c","package":"x","kind":"parse","item":"x::c","format":"str","status":"built","reason":null},
                {"name":"fmt_d","package":"x","kind":"format","item":"x::d","format":"str","status":"generated","reason":null},
                {"name":"de_e","package":"x","kind":"deserialize","item":"x::E","format":"json","status":"failed","reason":"error[E0308]"}]"#,
        );
        let p = FuzzProject::open(dir.path()).expect("opens");
        let runnable: Vec<(&str, u64)> =
            p.runnable().map(|t| (t.name.as_str(), t.stack())).collect();
        // `generated` (gen --no-compile) is built by the campaign; `failed` is not.
        assert_eq!(
            runnable,
            [
                ("de_a", 1 << 20),
                ("parse_c", harness_gen::targets::STACK_BYTES),
                ("fmt_d", harness_gen::targets::STACK_BYTES)
            ]
        );
        assert_eq!(p.targets[1].status, TargetStatus::Skipped);
        assert!(p.crates.contains_key("x"));
    }

    #[test]
    fn a_bad_targets_json_is_a_typed_error_that_says_it_once() {
        let dir = project(r#"[{"name":"a","kind":"ffi","item":"a","status":"maybe"}]"#);
        let err = FuzzProject::open(dir.path()).expect_err("unknown status");
        assert!(matches!(err, FuzzError::Targets(_)), "{err:?}");
        let mut chain = vec![err.to_string()];
        let mut cause = std::error::Error::source(&err);
        while let Some(c) = cause {
            chain.push(c.to_string());
            cause = c.source();
        }
        assert!(
            chain.iter().any(|m| m.contains("unknown variant")),
            "{chain:?}"
        );
        for pair in chain.windows(2) {
            assert!(!pair[0].contains(&pair[1]), "repeated: {chain:?}");
        }
    }

    #[test]
    fn shards_partition_the_targets() {
        let names: Vec<String> = (0..50).map(|i| format!("de_type_{i}")).collect();
        let mut seen = 0;
        for k in 1..=3 {
            seen += names.iter().filter(|n| in_shard(n, k, 3)).count();
        }
        assert_eq!(seen, names.len());
        assert!(names.iter().filter(|n| in_shard(n, 1, 3)).count() > 5);
    }
}
