//! The verdict cache of `vet --manifest-path`: the report of one package's vet, kept under
//! `CACHE_DIR/verdicts/` and keyed by everything that decides it (name, version, source,
//! checksum, tool version, profile, phases selected), so that a nightly job re-vets only what
//! changed. Only complete vets are kept: a crate whose vet failed or was partial (an error, a
//! phase that failed or skipped a crate) is vetted again next time.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::phases::{Phase, PhaseSelection};
use crate::report::{PhaseStatus, Report, Verdict};

/// What a cached verdict is valid for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CacheKey {
    /// The package name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// Cargo's source id (registry URL, or git URL with its commit).
    pub source: String,
    /// The `.crate`'s sha256 (None for git packages: the commit in `source` pins them).
    pub checksum: Option<String>,
    /// cargo-airlock's version.
    pub tool_version: String,
    /// The sandbox profile.
    pub profile: String,
    /// The phases selected, in pipeline order.
    pub phases: Vec<Phase>,
}

impl CacheKey {
    /// The key for a package vetted with `phases` by this tool version and profile.
    pub(crate) fn new(
        name: &str,
        version: &str,
        source: &str,
        checksum: Option<&str>,
        tool_version: &str,
        profile: &str,
        phases: &PhaseSelection,
    ) -> Self {
        Self {
            name: name.to_owned(),
            version: version.to_owned(),
            source: source.to_owned(),
            checksum: checksum.map(str::to_owned),
            tool_version: tool_version.to_owned(),
            profile: profile.to_owned(),
            phases: Phase::ALL
                .into_iter()
                .filter(|p| phases.contains(*p))
                .collect(),
        }
    }

    /// A stable digest of every field (a field boundary cannot be forged: each is
    /// length-prefixed).
    fn digest(&self) -> String {
        let mut h = Sha256::new();
        let phases: Vec<&str> = self.phases.iter().map(|p| p.as_str()).collect();
        let phases = phases.join(",");
        for field in [
            "airlock-vet-cache/1",
            &self.name,
            &self.version,
            &self.source,
            self.checksum.as_deref().unwrap_or("-"),
            &self.tool_version,
            &self.profile,
            &phases,
        ] {
            h.update((field.len() as u64).to_le_bytes());
            h.update(field.as_bytes());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The cache under a cache directory.
#[derive(Debug, Clone)]
pub(crate) struct VerdictCache {
    dir: PathBuf,
}

impl VerdictCache {
    /// The cache of `cache_dir` (`cache_dir/verdicts`).
    pub(crate) fn new(cache_dir: &Path) -> Self {
        Self {
            dir: cache_dir.join("verdicts"),
        }
    }

    fn path(&self, key: &CacheKey) -> PathBuf {
        let digest = key.digest();
        self.dir.join(format!(
            "{}-{}-{}.json",
            key.name,
            key.version,
            &digest[..24]
        ))
    }

    /// The cached report for `key`, if there is a readable one.
    pub(crate) fn get(&self, key: &CacheKey) -> Option<Report> {
        Report::read(&self.path(key)).ok()
    }

    /// Keeps `report` for `key` when it is a complete vet ([`cacheable`]); returns whether it
    /// was kept. A cache that cannot be written only costs a re-vet next time.
    pub(crate) fn put(&self, key: &CacheKey, report: &Report) -> bool {
        if !cacheable(report) {
            return false;
        }
        let Ok(text) = serde_json::to_string(report) else {
            return false;
        };
        let path = self.path(key);
        let tmp = path.with_extension("json.tmp");
        std::fs::create_dir_all(&self.dir).is_ok()
            && std::fs::write(&tmp, text).is_ok()
            && std::fs::rename(&tmp, &path).is_ok()
    }
}

/// Whether a package's report is a complete vet: a verdict that is not `failed`, no errors, no
/// phase that failed or left a crate out.
pub(crate) fn cacheable(report: &Report) -> bool {
    let Some(verdict) = &report.vetting.verdict else {
        return false;
    };
    verdict.verdict != Verdict::Failed
        && verdict.crates.iter().all(|c| c.verdict != Verdict::Failed)
        && report.errors.is_empty()
        && report
            .vetting
            .phases
            .iter()
            .all(|p| p.status != PhaseStatus::Failed && p.skipped_crates.is_empty())
        && (report.crates.is_empty() || report.summary.build_succeeded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::{
        Environment, PhaseRecord, Summary, VetSections, VetVerdict, VettedCrate, SCHEMA,
    };

    fn key(checksum: &str, phases: &str) -> CacheKey {
        CacheKey::new(
            "itoa",
            "1.0.0",
            "registry+https://github.com/rust-lang/crates.io-index",
            Some(checksum),
            "0.1.0",
            "build",
            &PhaseSelection::parse(phases).unwrap(),
        )
    }

    fn report(verdict: Verdict) -> Report {
        Report {
            schema: SCHEMA.to_owned(),
            command: "vet".into(),
            workspace: None,
            summary: Summary {
                build_succeeded: true,
                ..Summary::default()
            },
            crates: vec![],
            vetting: VetSections {
                verdict: Some(VetVerdict {
                    verdict,
                    reasons: vec![],
                    crates: vec![VettedCrate {
                        name: "itoa".into(),
                        version: Some("1.0.0".into()),
                        verdict,
                        reasons: vec![],
                        cached: false,
                    }],
                }),
                ..VetSections::default()
            },
            fuzz: None,
            environment: Environment::default(),
            errors: vec![],
        }
    }

    #[test]
    fn keys_differ_in_every_field_that_decides_a_verdict() {
        let base = key("aa", "provenance,inventory");
        assert_eq!(base.digest(), key("aa", "inventory,provenance").digest());
        assert_ne!(base.digest(), key("ab", "provenance,inventory").digest());
        assert_ne!(base.digest(), key("aa", "provenance").digest());
        let mut other = base.clone();
        other.tool_version = "0.2.0".into();
        assert_ne!(base.digest(), other.digest());
        let mut other = base.clone();
        other.profile = "strict".into();
        assert_ne!(base.digest(), other.digest());
        let mut other = base.clone();
        other.source = "sparse+http://127.0.0.1:1/index/".into();
        assert_ne!(base.digest(), other.digest());
    }

    #[test]
    fn complete_vets_are_kept_and_failed_or_partial_ones_are_not() {
        let tmp = tempfile::tempdir().unwrap();
        let cache = VerdictCache::new(tmp.path());
        let k = key("aa", "provenance,inventory");
        assert!(cache.get(&k).is_none());
        assert!(cache.put(&k, &report(Verdict::Suspicious)));
        assert_eq!(
            cache.get(&k).unwrap().vetting.verdict.unwrap().verdict,
            Verdict::Suspicious
        );
        assert!(cache.get(&key("ab", "provenance,inventory")).is_none());

        let other = key("bb", "provenance");
        assert!(!cache.put(&other, &report(Verdict::Failed)));
        let mut partial = report(Verdict::Clean);
        partial
            .errors
            .push("inventory of itoa 1.0.0: unreadable".into());
        assert!(!cache.put(&other, &partial));
        let mut partial = report(Verdict::Clean);
        partial.vetting.phases.push(PhaseRecord {
            phase: Phase::Build,
            status: PhaseStatus::Failed,
            reason: None,
            skipped_crates: vec![],
            duration_ms: None,
        });
        assert!(!cache.put(&other, &partial));
        assert!(cache.get(&other).is_none());
    }
}
