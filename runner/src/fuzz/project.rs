//! A generated (or any cargo-fuzz) project on disk, and every path in it: one owner for paths,
//! as in cargo-fuzz's `FuzzProject`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::FuzzError;

/// One record of `targets.json` (written by `cargo airlock gen`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetRecord {
    pub name: String,
    #[serde(default)]
    pub package: String,
    pub kind: String,
    pub item: String,
    #[serde(default)]
    pub format: String,
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
    /// Per-target libFuzzer options the generator chose (absent: the campaign's defaults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub libfuzzer: Option<LibFuzzerOptions>,
}

/// libFuzzer options of one target in `targets.json`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LibFuzzerOptions {
    /// `-max_len`: the longest input libFuzzer tries.
    #[serde(default)]
    pub max_len: Option<usize>,
    /// `-len_control`: how slowly input lengths grow (`0`: use `max_len` at once).
    #[serde(default)]
    pub len_control: Option<u32>,
}

/// The project.
#[derive(Debug, Clone)]
pub struct FuzzProject {
    pub dir: PathBuf,
    pub targets: Vec<TargetRecord>,
    /// Path dependencies of the project (the crates under test): name -> directory.
    pub crates: BTreeMap<String, PathBuf>,
}

impl FuzzProject {
    /// Opens the project in `dir`: its `Cargo.toml` and `targets.json` must exist.
    pub fn open(dir: &Path) -> Result<FuzzProject, FuzzError> {
        let manifest = dir.join("Cargo.toml");
        let text = fs::read_to_string(&manifest).map_err(|source| FuzzError::NoProject {
            dir: dir.to_owned(),
            source,
        })?;
        let list = dir.join("targets.json");
        let json = fs::read_to_string(&list).map_err(|source| FuzzError::NoProject {
            dir: dir.to_owned(),
            source,
        })?;
        let targets: Vec<TargetRecord> =
            serde_json::from_str(&json).map_err(|e| FuzzError::BadTargets {
                path: list.clone(),
                message: e.to_string(),
            })?;
        let manifest_value: toml::Value =
            toml::from_str(&text).map_err(|e| FuzzError::BadTargets {
                path: manifest.clone(),
                message: e.to_string(),
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

    /// The targets that were generated and compiled (`status == "built"`).
    pub fn runnable(&self) -> impl Iterator<Item = &TargetRecord> {
        self.targets.iter().filter(|t| t.status == "built")
    }

    /// The runnable targets among `names` (all when empty) in shard `shard` (`(k, n)`), or the
    /// names that match no target.
    pub fn select(
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
    pub fn manifest(&self) -> PathBuf {
        self.dir.join("Cargo.toml")
    }

    /// The persistent corpus of a target (seeds included).
    pub fn corpus(&self, target: &str) -> PathBuf {
        self.dir.join("corpus").join(target)
    }

    /// Where libFuzzer writes a target's crashing inputs.
    pub fn artifacts(&self, target: &str) -> PathBuf {
        self.dir.join("artifacts").join(target)
    }

    /// The target's dictionary, if the generator wrote one.
    pub fn dict(&self, target: &str) -> Option<PathBuf> {
        let p = self.dir.join("dicts").join(format!("{target}.dict"));
        p.is_file().then_some(p)
    }

    /// Where instrumented binaries land.
    pub fn target_dir(&self) -> PathBuf {
        self.dir.join("target").join("airlock")
    }

    /// The instrumented binary of `target` for `triple`.
    pub fn binary(&self, triple: &str, target: &str) -> PathBuf {
        self.target_dir().join(triple).join("release").join(target)
    }

    /// The crate under test of `record` and its directory.
    pub fn crate_of(&self, record: &TargetRecord) -> (String, Option<PathBuf>) {
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
pub fn in_shard(target: &str, k: u32, n: u32) -> bool {
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
