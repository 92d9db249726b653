//! The phase pipeline of `cargo airlock vet`: for every crate asked for, the phases in order
//! (provenance, inventory, build, then the run-time phases `test`, `load`, `probe` and `fuzz`
//! when this version can run them), one report for all of it, and the verdict.
//!
//! A phase is a [`Phase`] (the report's `VetPhase`, in `phases`); [`unsupported`] says which ones this
//! version cannot run yet and why, and [`run`] dispatches each supported phase to its step for
//! every crate that is still in the running. A crate leaves the running when it does not exist
//! (the verdict says so: exit 1) or when it could not be fetched (the run could not vet it);
//! every later phase records it in `skipped_crates` with the reason. A new phase plugs in as a
//! variant, an arm in [`unsupported`] and a step in `Pipeline::run_phase`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

pub use super::error::VetError;
pub use super::options::{VetOptions, VetProgress, VetResult};
pub use super::phases::{
    default_cache_dir, parse_time, runs_code, unsupported, Phase, PhaseSelection, DEFAULT_TIME,
};
use super::provenance::{self, Assessment, ProvenanceOptions};
use super::registry::source::CRATES_IO;
use super::registry::{RegistrySource, SparseRegistry, UnpackedCrate};
use super::spec::CrateSpec;
use super::{scratch, verdict};
use crate::build::graph::{Graph, SourceKind};
use crate::build::{self, BuildOptions};
use crate::error_chain::error_chain;
use crate::report::{
    CrateReport, Environment, Format, PhaseRecord, PhaseStatus, Reason, Report, Summary, Verdict,
    VetRequest, VetSections, SCHEMA,
};

/// Why the `diff` phase does not run for a plain vet.
pub(crate) const DIFF_ONLY_FOR_UPDATES: &str = "runs for an update only (CRATE@OLD..NEW)";

/// One crate as it goes through the phases.
pub(super) struct Vetted {
    spec: CrateSpec,
    assessment: Option<Assessment>,
    unpacked: Option<UnpackedCrate>,
    /// Why the later phases skip it.
    out: Option<String>,
    /// Why it could not be vetted completely.
    errors: Vec<String>,
    pub(super) reasons: Vec<Reason>,
    /// Where this vet's build phase had cargo build the scratch workspace (None: no build
    /// phase ran): what the `load` program links and the `probe` project builds into.
    pub(super) build_target: Option<PathBuf>,
}

impl Vetted {
    fn label(&self) -> String {
        match self.assessment.as_ref().and_then(|a| a.entry.as_ref()) {
            Some(e) => format!("{} {}", e.name, e.vers),
            None => self.spec.to_string(),
        }
    }

    pub(super) fn fail(&mut self, message: String) {
        self.errors.push(message);
    }
}

/// The pipeline's state: the registry, the crates, and what the report collects.
pub(super) struct Pipeline<'a> {
    pub(super) opts: &'a VetOptions,
    pub(super) registry: Arc<SparseRegistry>,
    pub(super) crates: Vec<Vetted>,
    sections: VetSections,
    pub(super) built: Vec<CrateReport>,
    /// The fuzz campaigns of the vetted crates (the `fuzz` phase).
    pub(super) fuzz: Option<crate::report::FuzzReport>,
    /// Inventories of the vetted crates' dependencies (after the vetted crates in the report).
    dependencies: Vec<inventory::CrateInventory>,
    /// What a phase noted without failing (it goes into the phase's `reason`).
    pub(super) notes: Vec<String>,
    environment: Option<Environment>,
    build_succeeded: bool,
    pub(super) progress: &'a (dyn Fn(VetProgress) + Sync),
}

/// Vets every crate of `opts.specs` and writes the reports.
pub fn run(
    opts: &VetOptions,
    progress: &(dyn Fn(VetProgress) + Sync),
) -> Result<VetResult, VetError> {
    let vetting = vet_crates(opts, progress)?;
    write(vetting.report, &opts.report_dir)
}

/// A vet's report before it is written, with what the comparison of an update needs.
pub(crate) struct Vetting {
    /// The report.
    pub report: Report,
    /// Each crate's unpacked package (in the order of the specs), when it was fetched.
    pub dirs: Vec<Option<PathBuf>>,
    /// The registry client (its index files cached for this run).
    pub registry: Arc<SparseRegistry>,
}

/// Writes `report` in every format into `dir`.
pub(crate) fn write(report: Report, dir: &Path) -> Result<VetResult, VetError> {
    let written = report.write(
        dir,
        &[Format::Json, Format::Markdown, Format::Sarif, Format::Html],
    )?;
    Ok(VetResult {
        report,
        report_dir: dir.to_owned(),
        written,
    })
}

/// Runs the phases for every crate of `opts.specs`; writes nothing but the cache.
pub(crate) fn vet_crates(
    opts: &VetOptions,
    progress: &(dyn Fn(VetProgress) + Sync),
) -> Result<Vetting, VetError> {
    let registry = match &opts.source {
        Some(registry) => Arc::clone(registry),
        None => {
            let source = RegistrySource::resolve(opts.registry.as_deref(), &opts.config)?;
            Arc::new(SparseRegistry::open(source, &opts.cache_dir)?)
        }
    };
    let source = registry.source();
    std::fs::create_dir_all(&opts.cache_dir).map_err(|source| VetError::Cache {
        path: opts.cache_dir.clone(),
        source,
    })?;
    let request = VetRequest {
        specs: opts.specs.iter().map(ToString::to_string).collect(),
        registry: source.display_name(),
        index: source.index.clone(),
        time_secs: Some(opts.time.as_secs()),
        cache_dir: opts.cache_dir.clone(),
        workspace: None,
    };
    let mut p = Pipeline {
        opts,
        registry,
        crates: opts
            .specs
            .iter()
            .map(|spec| Vetted {
                spec: spec.clone(),
                assessment: None,
                unpacked: None,
                out: None,
                errors: Vec::new(),
                reasons: Vec::new(),
                build_target: None,
            })
            .collect(),
        sections: VetSections {
            vet: Some(request),
            ..VetSections::default()
        },
        built: Vec::new(),
        fuzz: None,
        dependencies: Vec::new(),
        notes: Vec::new(),
        environment: None,
        build_succeeded: true,
        progress,
    };
    // The index entry is needed by every phase: provenance always looks it up, and its entry
    // and signals enter the report when the phase is selected.
    for c in &mut p.crates {
        let options = ProvenanceOptions {
            now: opts.now,
            extra_names: opts.extra_names.clone(),
        };
        match provenance::assess(&p.registry, &c.spec, &options) {
            Ok(a) => {
                if a.entry.is_none() {
                    c.out = Some(match a.provenance.exists {
                        true => "this version does not exist".to_owned(),
                        false => "it does not exist".to_owned(),
                    });
                }
                c.assessment = Some(a);
            }
            Err(e) => {
                c.fail(error_chain(&e));
                c.out = Some("its index could not be read".to_owned());
            }
        }
    }
    for phase in Phase::ALL {
        let record = p.run_phase(phase);
        p.sections.phases.push(record);
    }
    Ok(p.finish())
}

impl Pipeline<'_> {
    fn run_phase(&mut self, phase: Phase) -> PhaseRecord {
        let mut record = PhaseRecord {
            phase,
            status: PhaseStatus::Skipped,
            reason: None,
            skipped_crates: Vec::new(),
            duration_ms: None,
        };
        let why_not = if !self.opts.phases.contains(phase) {
            Some("not selected with --phases")
        } else if phase == Phase::Diff {
            Some(DIFF_ONLY_FOR_UPDATES)
        } else if let Some(why) = self
            .opts
            .not_for_host
            .as_deref()
            .filter(|_| runs_code(phase))
        {
            Some(why)
        } else {
            unsupported(phase)
        };
        if let Some(reason) = why_not {
            record.reason = Some(reason.to_owned());
            (self.progress)(VetProgress::Skipped {
                phase,
                reason: reason.to_owned(),
            });
            return record;
        }
        let started = Instant::now();
        let (mut ran, mut failed) = (0, 0);
        for i in 0..self.crates.len() {
            let krate = self.crates[i].label();
            if let Some(out) = &self.crates[i].out {
                if phase != Phase::Provenance {
                    record.skipped_crates.push(format!("{krate}: {out}"));
                    continue;
                }
            }
            (self.progress)(VetProgress::Started {
                phase,
                krate: krate.clone(),
            });
            let t = Instant::now();
            let outcome = match phase {
                Phase::Provenance => self.provenance(i),
                Phase::Inventory => self.inventory(i),
                Phase::Build => self.build(i),
                Phase::Probe => self.probe(i),
                Phase::Load => self.load(i),
                Phase::Fuzz => self.fuzz(i),
                Phase::Test => self.test(i),
                _ => Err("not supported".to_owned()),
            };
            let outcome = match outcome {
                Ok(words) => {
                    ran += 1;
                    words
                }
                Err(message) => {
                    failed += 1;
                    let c = &mut self.crates[i];
                    c.fail(format!("{phase} of {krate}: {message}"));
                    // Tests that do not compile leave the crate to the other phases.
                    if phase != Phase::Test {
                        c.out
                            .get_or_insert_with(|| format!("its {phase} phase failed"));
                    }
                    format!("could not finish: {message}")
                }
            };
            (self.progress)(VetProgress::Finished {
                phase,
                krate,
                elapsed: t.elapsed(),
                outcome,
            });
        }
        record.duration_ms = Some(started.elapsed().as_millis() as u64);
        if !self.notes.is_empty() {
            record.reason = Some(std::mem::take(&mut self.notes).join("; "));
        }
        record.status = match (ran, failed) {
            (0, 0) => {
                record.reason = Some("no crate to run it on".to_owned());
                PhaseStatus::Skipped
            }
            (0, _) => PhaseStatus::Failed,
            _ => PhaseStatus::Ran,
        };
        record
    }

    /// The provenance entry and its reasons (the lookup itself ran before the phases).
    fn provenance(&mut self, i: usize) -> Result<String, String> {
        let c = &mut self.crates[i];
        let Some(a) = &c.assessment else {
            return Err(c.errors.last().cloned().unwrap_or_default());
        };
        let reasons = verdict::provenance_reasons(&a.provenance);
        let words = words(&reasons, a.provenance.signals.len(), "signal");
        c.reasons.extend(reasons);
        self.sections.provenance.push(a.provenance.clone());
        Ok(words)
    }

    /// Downloads (checksum verified) and unpacks the crate, once.
    pub(super) fn unpacked(&mut self, i: usize) -> Result<UnpackedCrate, String> {
        if let Some(u) = &self.crates[i].unpacked {
            return Ok(u.clone());
        }
        let entry = self.crates[i]
            .assessment
            .as_ref()
            .and_then(|a| a.entry.as_ref())
            .ok_or_else(|| "no index entry to download".to_owned())?;
        let unpacked = self.registry.download(entry).map_err(|e| {
            self.crates[i].out = Some("its .crate could not be fetched".to_owned());
            error_chain(&e)
        })?;
        self.crates[i].unpacked = Some(unpacked.clone());
        Ok(unpacked)
    }

    fn inventory(&mut self, i: usize) -> Result<String, String> {
        let u = self.unpacked(i)?;
        let inv = inventory::scan_package(&u.dir, &u.name, &u.version.to_string())
            .map_err(|e| error_chain(&e))?;
        let mut reasons = verdict::inventory_reasons(&inv);
        let mut words = format!(
            "{} capabilities; {}",
            inv.capabilities.len(),
            words(&reasons, inv.signals.len(), "signal")
        );
        self.sections.inventory.push(inv);
        if !self.opts.inventory_dependencies {
            self.crates[i].reasons.extend(reasons);
            return Ok(words);
        }
        // The rest of the graph cargo resolves for it (host platform), from cargo's own
        // checksum-verified sources.
        let ws = self.scratch(&u)?;
        match Graph::load(&self.opts.cargo, &ws.manifest) {
            Ok(graph) => {
                let deps: Vec<_> = graph
                    .packages
                    .iter()
                    .filter(|p| !p.workspace_member && p.source != SourceKind::Path)
                    .filter(|p| !(p.name == u.name && p.version == u.version.to_string()))
                    .collect();
                let mut dep_reasons = Vec::new();
                for p in &deps {
                    if self
                        .dependencies
                        .iter()
                        .any(|d| d.name == p.name && d.version == p.version)
                    {
                        continue;
                    }
                    match inventory::scan_package(&p.manifest_dir, &p.name, &p.version) {
                        Ok(dep) => {
                            dep_reasons.extend(verdict::inventory_reasons(&dep));
                            self.dependencies.push(dep);
                        }
                        Err(e) => self.notes.push(format!(
                            "{} {} not inventoried: {}",
                            p.name,
                            p.version,
                            error_chain(&e)
                        )),
                    }
                }
                if !deps.is_empty() {
                    words.push_str(&format!(
                        "; {} dependenc{}: {}",
                        deps.len(),
                        if deps.len() == 1 { "y" } else { "ies" },
                        match dep_reasons.len() {
                            0 => "clean".to_owned(),
                            n => format!("{n} reason{} against them", plural(n)),
                        }
                    ));
                }
                reasons.extend(dep_reasons);
            }
            Err(e) => {
                let note = format!(
                    "the dependencies of {} {} were not inventoried: {}",
                    u.name,
                    u.version,
                    error_chain(&e)
                );
                words.push_str(&format!("; {note}"));
                self.notes.push(note);
            }
        }
        self.crates[i].reasons.extend(reasons);
        Ok(words)
    }

    /// The scratch workspace that depends on `u` (written again each time it is needed).
    pub(super) fn scratch(&self, u: &UnpackedCrate) -> Result<scratch::Scratch, String> {
        let opts = self.opts;
        let scratch_root = opts
            .cache_dir
            .join("scratch")
            .join(sanitize(&self.registry.source().display_name()));
        let config = scratch::cargo_config(self.registry.source());
        scratch::create(
            &scratch_root,
            opts.registry.as_deref().filter(|r| *r != CRATES_IO),
            config.as_deref(),
            &u.name,
            &u.version,
        )
        .map_err(|e| {
            format!(
                "cannot write the scratch workspace under {}: {e}",
                scratch_root.display()
            )
        })
    }

    fn build(&mut self, i: usize) -> Result<String, String> {
        let u = self.unpacked(i)?;
        let opts = self.opts;
        let ws = self.scratch(&u)?;
        let build_opts = BuildOptions {
            manifest_path: Some(ws.manifest.clone()),
            profile: opts.profile.clone(),
            report_dir: Some(ws.dir.join("report")),
            cargo_args: vec!["--keep-going".into()],
            allow_degraded: opts.allow_degraded,
            airlock_bin: opts.airlock_bin.clone(),
            cargo: opts.cargo.clone(),
            tool_version: opts.tool_version.clone(),
        };
        let progress = self.progress;
        let result = build::build(&build_opts, &|p| progress(VetProgress::Build(p)))
            .map_err(|e| error_chain(&e))?;
        let crates: Vec<CrateReport> = result
            .report
            .crates
            .into_iter()
            .filter(|c| c.name != scratch::SCRATCH_PACKAGE)
            .collect();
        let reasons = verdict::build_reasons(&crates);
        let suspicious = count(&crates, Verdict::Suspicious);
        let words = format!(
            "{} crate{} built; {}",
            crates.len(),
            plural(crates.len()),
            words(&reasons, suspicious, "suspicious crate")
        );
        self.environment
            .get_or_insert(result.report.environment.clone());
        for c in crates {
            if !self
                .built
                .iter()
                .any(|b| b.name == c.name && b.version == c.version && b.location == c.location)
            {
                self.built.push(c);
            }
        }
        self.crates[i].reasons.extend(reasons);
        self.crates[i].build_target = result.target_dir;
        if let Some(failure) = result.failure {
            self.build_succeeded = false;
            self.crates[i].fail(format!(
                "the sandboxed build of {} failed on its own: {failure} (cargo's output: {})",
                u.name,
                result.report_dir.join("cargo-build.log").display()
            ));
        }
        Ok(words)
    }

    fn finish(self) -> Vetting {
        let opts = self.opts;
        let dirs = self
            .crates
            .iter()
            .map(|c| c.unpacked.as_ref().map(|u| u.dir.clone()))
            .collect();
        let mut sections = self.sections;
        sections.inventory.extend(self.dependencies);
        let mut errors = Vec::new();
        let mut vetted = Vec::new();
        for c in self.crates {
            errors.extend(c.errors.iter().cloned());
            let version = c
                .assessment
                .as_ref()
                .and_then(|a| a.provenance.version.clone())
                .or(c.spec.version.as_ref().map(ToString::to_string));
            vetted.push(verdict::crate_verdict(
                &c.spec.name,
                version,
                c.reasons,
                !c.errors.is_empty(),
            ));
        }
        sections.verdict = Some(verdict::overall(vetted));
        let crates = self.built;
        let summary = Summary::of(&crates, self.build_succeeded);
        let environment = self.environment.unwrap_or_else(|| {
            let support = crate::sandbox::probe::Support::get();
            Environment {
                kernel: support.kernel.clone(),
                landlock_abi: support.landlock_abi,
                profile: opts.profile.clone(),
                tool_version: opts.tool_version.clone(),
                toolchain: build::toolchain(),
                ..Environment::default()
            }
        });
        let report = Report {
            schema: SCHEMA.to_owned(),
            command: "vet".to_owned(),
            workspace: None,
            summary,
            crates,
            vetting: sections,
            fuzz: self.fuzz,
            environment,
            errors,
        };
        Vetting {
            report,
            dirs,
            registry: self.registry,
        }
    }
}

fn count(crates: &[CrateReport], verdict: Verdict) -> usize {
    crates.iter().filter(|c| c.verdict == verdict).count()
}

/// `clean (2 signals)` or `3 reasons against it (5 signals)`.
pub(super) fn words(reasons: &[Reason], seen: usize, what: &str) -> String {
    let seen = format!("{seen} {what}{}", if seen == 1 { "" } else { "s" });
    match reasons.len() {
        0 => format!("clean ({seen})"),
        n => format!(
            "{n} reason{} against it ({seen})",
            if n == 1 { "" } else { "s" }
        ),
    }
}

pub(super) fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// A directory name from a registry name.
pub(super) fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// The scratch workspace of `name version` under `cache_dir` for `registry` (for the phases of
/// the next issue and for people reproducing a build).
pub fn scratch_dir(cache_dir: &Path, registry: &str, name: &str, version: &str) -> PathBuf {
    cache_dir
        .join("scratch")
        .join(sanitize(registry))
        .join(format!("{name}-{version}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_dirs_are_per_registry_and_package() {
        let d = scratch_dir(Path::new("/c"), "my reg", "foo", "1.0.0");
        assert_eq!(d, Path::new("/c/scratch/my-reg/foo-1.0.0"));
    }
}
