//! `cargo airlock vet --manifest-path M [--since LOCKFILE|REV] [--shard K/N]`: every
//! third-party package of a workspace's graph (registry and git; path packages are the user's
//! own), each vetted once through the pipeline of a single crate, and one report for all.
//!
//! The steps, in order: the graph (`cargo metadata`, host platform) gives the packages and
//! the workspace's `Cargo.lock` their checksums, and the registry packages the lockfile holds
//! for other platforms only (a `[target.'cfg(windows)'.dependencies]` entry), which are vetted
//! by the phases that read code (provenance, inventory: a payload gated on another platform is
//! still in the source) with the others skipped saying why; `--since` drops those locked identically
//! before (`lockfile`); `--shard K/N` keeps those whose `name@version` hashes into shard K, the
//! split `fuzz --shard` makes; each package left is taken from the verdict cache (`cache`)
//! when a complete vet of exactly it is there, else vetted (a registry package by the
//! pipeline against the registry its source id names, a git package by `git_package`) and
//! cached; the per-package reports are merged (`merge`) into the workspace's report.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::cache::{CacheKey, VerdictCache};
use super::git_package::{self, GitPackage};
use super::lockfile::{self, Change, LockedPackage, Lockfile, LockfileError};
use super::merge::{merge, MergeError};
use super::pipeline::{self, VetError, VetOptions, VetProgress, VetResult};
use super::registry::source::{CRATES_IO, CRATES_IO_GIT_INDEX, CRATES_IO_SPARSE_INDEX};
use super::registry::{RegistrySource, SparseRegistry};
use super::spec::CrateSpec;
use super::verdict;
use crate::build::graph::{Graph, SourceKind};
use crate::build::BuildError;
use crate::error_chain::error_chain;
use crate::fuzz::project::in_shard;
use crate::report::{Report, Summary, Verdict, VetRequest, VetSections, WorkspaceScope, SCHEMA};

/// What `vet --manifest-path` is given.
#[derive(Debug, Clone)]
pub struct WorkspaceOptions {
    /// The options of every package's vet (`specs` and `registry` are set per package).
    pub vet: VetOptions,
    /// The workspace's `Cargo.toml`.
    pub manifest_path: PathBuf,
    /// `--since`: an older `Cargo.lock`, or a git revision of the workspace's repository.
    pub since: Option<String>,
    /// `--shard K/N`.
    pub shard: Option<(u32, u32)>,
    /// Take complete verdicts from the cache (`--no-cache` turns it off; fresh verdicts are
    /// stored either way).
    pub use_cache: bool,
    /// The directory a relative `--since` path is read from.
    pub cwd: PathBuf,
}

/// Errors that stop `vet --manifest-path` before it can vet anything.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkspaceError {
    /// The workspace's graph could not be read.
    #[error(transparent)]
    Graph(#[from] BuildError),
    /// The workspace's `Cargo.lock`, or the older one `--since` names, could not be read.
    #[error(transparent)]
    Lockfile(#[from] LockfileError),
    /// A step every package shares failed (the cache directory, writing the reports).
    #[error(transparent)]
    Vet(#[from] VetError),
    /// The per-package reports could not be joined.
    #[error("cannot join the packages' reports")]
    Merge(#[source] MergeError),
}

/// A third-party package to vet.
#[derive(Debug, Clone)]
struct Candidate {
    name: String,
    version: String,
    kind: SourceKind,
    /// Cargo's source id.
    source: String,
    checksum: Option<String>,
    dir: PathBuf,
    /// Whether the host platform's graph has it (else it is compiled for other platforms
    /// only, and the phases that build or run code skip it).
    host: bool,
}

/// Why the phases that build or run a package's code skip a package of other platforms.
const NOT_FOR_HOST: &str = "the workspace uses this package on other platforms only (a \
    target-specific dependency): its code is not compiled for this host, so it is vetted by \
    the phases that read it (provenance, inventory)";

impl Candidate {
    fn spec(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// Vets the workspace's third-party packages and writes the report.
pub fn run(
    opts: &WorkspaceOptions,
    progress: &(dyn Fn(VetProgress) + Sync),
) -> Result<VetResult, WorkspaceError> {
    let graph = Graph::load(&opts.vet.cargo, &opts.manifest_path)?;
    let lock_path = graph.workspace_root.join("Cargo.lock");
    // `cargo metadata` wrote it if it was missing; without one, nothing has a checksum (and
    // nothing is cached).
    let lock = if lock_path.is_file() {
        Lockfile::read(&lock_path)?
    } else {
        Lockfile::default()
    };
    let mut candidates = candidates(&graph, &lock);
    let packages = candidates.len();

    let unchanged = match &opts.since {
        Some(since) => {
            let older = Lockfile::since(since, &opts.cwd, &graph.workspace_root)?;
            drop_unchanged(&mut candidates, &older)
        }
        None => 0,
    };
    let selected = select_shard(candidates, opts.shard);

    let cache = VerdictCache::new(&opts.vet.cache_dir);
    std::fs::create_dir_all(&opts.vet.cache_dir).map_err(|source| VetError::Cache {
        path: opts.vet.cache_dir.clone(),
        source,
    })?;
    let extra_names = lockfile::names(&lock);
    // One client per registry, shared by its packages (connections, index files read).
    let mut sources: HashMap<String, Result<Arc<SparseRegistry>, String>> = HashMap::new();
    let mut reports = Vec::new();
    for c in &selected {
        let source = match c.kind {
            SourceKind::Git => None,
            _ => Some(
                sources
                    .entry(c.source.clone())
                    .or_insert_with(|| {
                        registry_for(&c.source, &opts.vet).and_then(|source| {
                            SparseRegistry::open(source, &opts.vet.cache_dir)
                                .map(Arc::new)
                                .map_err(|e| error_chain(&e))
                        })
                    })
                    .clone(),
            ),
        };
        reports.push(vet_or_reuse(
            opts,
            &cache,
            c,
            source,
            &extra_names,
            progress,
        )?);
    }

    let mut report = if reports.is_empty() {
        empty_report(&opts.vet)
    } else {
        merge(reports).map_err(WorkspaceError::Merge)?
    };
    report.workspace = Some(graph.workspace_root.clone());
    let request = report.vetting.vet.get_or_insert_with(|| VetRequest {
        specs: Vec::new(),
        registry: String::new(),
        index: String::new(),
        time_secs: Some(opts.vet.time.as_secs()),
        cache_dir: opts.vet.cache_dir.clone(),
        workspace: None,
    });
    request.specs = selected.iter().map(Candidate::spec).collect();
    request.time_secs = Some(opts.vet.time.as_secs());
    request.cache_dir = opts.vet.cache_dir.clone();
    request.workspace = Some(WorkspaceScope {
        manifest_path: opts.manifest_path.clone(),
        packages,
        since: opts.since.clone(),
        unchanged,
        shards: opts
            .shard
            .map(|(k, n)| vec![format!("{k}/{n}")])
            .unwrap_or_default(),
        selected: selected.len(),
    });
    Ok(pipeline::write(report, &opts.vet.report_dir)?)
}

/// The third-party packages of `graph` (registry and git; not the workspace's own path
/// packages) and the registry packages `lock` holds for other platforms only, each once, in
/// name order, with their checksums from `lock`.
fn candidates(graph: &Graph, lock: &Lockfile) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = graph
        .packages
        .iter()
        .filter(|p| p.source != SourceKind::Path && !p.workspace_member)
        .map(|p| Candidate {
            name: p.name.clone(),
            version: p.version.clone(),
            kind: p.source,
            source: p.location.clone(),
            checksum: lock
                .find(&p.name, &p.version, &p.location)
                .and_then(|l| l.checksum.clone()),
            dir: p.manifest_dir.clone(),
            host: true,
        })
        .collect();
    // Registry packages of other platforms: the lockfile resolves every platform. (A git
    // package of other platforms only is not checked out for this host: not vetted.)
    for l in &lock.packages {
        let Some(source) = l.source.as_deref() else {
            continue;
        };
        let registry = source.starts_with("registry+") || source.starts_with("sparse+");
        let known = out
            .iter()
            .any(|c| c.name == l.name && c.version == l.version && c.source == source);
        if registry && !known {
            out.push(Candidate {
                name: l.name.clone(),
                version: l.version.clone(),
                kind: SourceKind::Registry,
                source: source.to_owned(),
                checksum: l.checksum.clone(),
                dir: PathBuf::new(),
                host: false,
            });
        }
    }
    out.sort_by(|a, b| (&a.name, &a.version, &a.source).cmp(&(&b.name, &b.version, &b.source)));
    out.dedup_by(|a, b| a.name == b.name && a.version == b.version && a.source == b.source);
    out
}

/// Drops the candidates locked exactly so in `older`; returns how many.
fn drop_unchanged(candidates: &mut Vec<Candidate>, older: &Lockfile) -> usize {
    let before = candidates.len();
    candidates.retain(|c| {
        let locked = LockedPackage {
            name: c.name.clone(),
            version: c.version.clone(),
            source: Some(c.source.clone()),
            checksum: c.checksum.clone(),
        };
        lockfile::change(older, &locked) != Change::Unchanged
    });
    before - candidates.len()
}

/// The report of `c`: from the cache when a complete vet of exactly it is there (and the cache
/// is used), else vetted now (`source`: its registry; None for a git package) and cached.
fn vet_or_reuse(
    opts: &WorkspaceOptions,
    cache: &VerdictCache,
    c: &Candidate,
    source: Option<Result<Arc<SparseRegistry>, String>>,
    extra_names: &[String],
    progress: &(dyn Fn(VetProgress) + Sync),
) -> Result<Report, WorkspaceError> {
    let key = CacheKey::new(
        &c.name,
        &c.version,
        &c.source,
        c.checksum.as_deref(),
        &opts.vet.tool_version,
        &opts.vet.profile,
        &if c.host {
            opts.vet.phases.clone()
        } else {
            opts.vet.phases.reading_only()
        },
    );
    // A registry package without a locked checksum has nothing that pins its content.
    let cacheable = c.checksum.is_some() || c.kind == SourceKind::Git;
    if cacheable && opts.use_cache {
        if let Some(mut cached) = cache.get(&key) {
            mark_cached(&mut cached);
            progress(VetProgress::Cached {
                krate: format!("{} {}", c.name, c.version),
                verdict: cached
                    .vetting
                    .verdict
                    .as_ref()
                    .map_or(Verdict::Failed, |v| v.verdict),
            });
            return Ok(cached);
        }
    }
    let report = match source {
        None => git_package::vet(
            &opts.vet,
            &GitPackage {
                name: c.name.clone(),
                version: c.version.clone(),
                source: c.source.clone(),
                dir: c.dir.clone(),
            },
            progress,
        ),
        Some(source) => vet_registry_package(opts, c, source, extra_names, progress)?,
    };
    if cacheable {
        cache.put(&key, &report);
    }
    Ok(report)
}

/// The packages of shard `k` of `n` (all of them without `--shard`), by a stable hash of
/// `name@version` (`fuzz --shard`'s split).
fn select_shard(candidates: Vec<Candidate>, shard: Option<(u32, u32)>) -> Vec<Candidate> {
    match shard {
        None => candidates,
        Some((k, n)) => candidates
            .into_iter()
            .filter(|c| in_shard(&c.spec(), k, n))
            .collect(),
    }
}

/// Vets one registry package through the pipeline (a package whose registry cannot be
/// resolved is recorded as failed, with why).
fn vet_registry_package(
    opts: &WorkspaceOptions,
    c: &Candidate,
    source: Result<Arc<SparseRegistry>, String>,
    extra_names: &[String],
    progress: &(dyn Fn(VetProgress) + Sync),
) -> Result<Report, WorkspaceError> {
    let spec: Result<CrateSpec, _> = c.spec().parse();
    let (source, spec) = match (source, spec) {
        (Ok(source), Ok(spec)) => (source, spec),
        (Err(why), _) => return Ok(failed_report(&opts.vet, c, why)),
        (_, Err(e)) => return Ok(failed_report(&opts.vet, c, error_chain(&e))),
    };
    let registry = (source.source().name != CRATES_IO).then(|| source.source().name.clone());
    let package_opts = VetOptions {
        specs: vec![spec],
        registry,
        source: Some(source),
        extra_names: extra_names.to_vec(),
        // Its dependencies are packages of the workspace's graph too, each vetted on its own
        // (and cached on its own) as the workspace's lockfile resolves them.
        inventory_dependencies: false,
        not_for_host: (!c.host).then(|| NOT_FOR_HOST.to_owned()),
        ..opts.vet.clone()
    };
    match pipeline::vet_crates(&package_opts, progress) {
        Ok(vetting) => Ok(vetting.report),
        Err(VetError::Registry(e)) => Ok(failed_report(&opts.vet, c, error_chain(&e))),
        Err(e) => Err(e.into()),
    }
}

/// The registry a `registry+URL` or `sparse+URL` source id names: crates.io as cargo's
/// configuration resolves it (source replacement honoured), else the configured registry of
/// that index, else the index itself under a name made from it.
fn registry_for(source_id: &str, opts: &VetOptions) -> Result<RegistrySource, String> {
    let index = source_id.strip_prefix("registry+").unwrap_or(source_id);
    let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
    if same(index, CRATES_IO_GIT_INDEX) || same(index, CRATES_IO_SPARSE_INDEX) {
        return RegistrySource::resolve(None, &opts.config).map_err(|e| error_chain(&e));
    }
    if let Ok(config) = cargo_config2::Config::load_with_cwd(&opts.config.cwd) {
        let named = config
            .registries
            .iter()
            .find(|(_, r)| r.index.as_deref().is_some_and(|i| same(i, index)))
            .map(|(name, _)| name.to_ascii_lowercase());
        if let Some(name) = named {
            if let Ok(source) = RegistrySource::resolve(Some(&name), &opts.config) {
                return Ok(source);
            }
        }
    }
    RegistrySource::from_index(&name_of_index(index), index).map_err(|e| {
        format!(
            "the registry of source `{source_id}` cannot be read: {}",
            error_chain(&e)
        )
    })
}

/// A registry name made from an index URL: `airlock-HOST-PORT`.
fn name_of_index(index: &str) -> String {
    let host = index
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("registry");
    let clean: String = host
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("airlock-{clean}")
}

/// Marks every crate of a cached report as taken from the cache; its phases took no time in
/// this run.
fn mark_cached(report: &mut Report) {
    if let Some(v) = report.vetting.verdict.as_mut() {
        for c in &mut v.crates {
            c.cached = true;
        }
    }
    for p in &mut report.vetting.phases {
        p.duration_ms = None;
    }
}

/// The report of a package that could not be vetted at all.
fn failed_report(opts: &VetOptions, c: &Candidate, why: String) -> Report {
    let mut report = empty_report(opts);
    let judged = verdict::crate_verdict(&c.name, Some(c.version.clone()), Vec::new(), true);
    report.vetting.verdict = Some(verdict::overall(vec![judged]));
    report
        .errors
        .push(format!("{} {}: {why}", c.name, c.version));
    report
}

/// A vet report with nothing in it yet.
fn empty_report(opts: &VetOptions) -> Report {
    Report {
        schema: SCHEMA.to_owned(),
        command: "vet".to_owned(),
        workspace: None,
        summary: Summary {
            build_succeeded: true,
            ..Summary::default()
        },
        crates: Vec::new(),
        vetting: VetSections {
            verdict: Some(verdict::overall(Vec::new())),
            ..VetSections::default()
        },
        fuzz: None,
        environment: git_package::probed_environment(opts),
        errors: Vec::new(),
    }
}

/// The workspace manifest `--manifest-path` names: the file, or `Cargo.toml` in a directory.
/// Canonical where it exists, so reports name it plainly.
pub fn manifest_of(path: &Path) -> PathBuf {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    if path.is_dir() {
        path.join("Cargo.toml")
    } else {
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(name: &str, version: &str) -> Candidate {
        Candidate {
            name: name.into(),
            version: version.into(),
            kind: SourceKind::Registry,
            source: "registry+x".into(),
            checksum: None,
            dir: PathBuf::new(),
            host: true,
        }
    }

    #[test]
    fn shards_split_the_packages_deterministically_and_completely() {
        let all: Vec<Candidate> = (0..40)
            .map(|i| candidate(&format!("crate{i}"), "1.0.0"))
            .collect();
        let mut seen = Vec::new();
        for k in 1..=3 {
            let shard = select_shard(all.clone(), Some((k, 3)));
            assert!(!shard.is_empty(), "shard {k} is empty");
            let again = select_shard(all.clone(), Some((k, 3)));
            assert_eq!(
                shard.iter().map(Candidate::spec).collect::<Vec<_>>(),
                again.iter().map(Candidate::spec).collect::<Vec<_>>()
            );
            seen.extend(shard.into_iter().map(|c| c.spec()));
        }
        seen.sort();
        let mut want: Vec<String> = all.iter().map(Candidate::spec).collect();
        want.sort();
        assert_eq!(seen, want, "every package in exactly one shard");
        // The split is fuzz's: the same hash of the same string.
        let one = select_shard(vec![candidate("serde", "1.0.0")], Some((1, 2)));
        assert_eq!(one.len() == 1, in_shard("serde@1.0.0", 1, 2));
        assert_eq!(select_shard(all.clone(), None).len(), 40);
    }

    #[test]
    fn unknown_indexes_get_a_name_of_their_own() {
        assert_eq!(
            name_of_index("sparse+http://127.0.0.1:8080/index/"),
            "airlock-127-0-0-1-8080"
        );
        assert_eq!(
            manifest_of(Path::new("/nonexistent/Cargo.toml")),
            Path::new("/nonexistent/Cargo.toml")
        );
    }
}
