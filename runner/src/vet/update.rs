//! `vet CRATE@OLD..NEW`: vet OLD (its report goes to `old/` under the report directory), vet
//! NEW, and fill NEW's report's `diff` with what NEW adds ([`super::diff`]). New behaviour
//! raises findings of its own, and those of `warn` level are reasons against NEW (phase
//! `diff`): a build script that appears, a network or process capability that appears, a new
//! shipped binary, a new dependency that is itself young, yanked or one typo from an
//! established crate.

use std::time::Instant;

use super::diff::{self, Side};
use super::pipeline::{self, Phase, VetOptions, VetProgress, VetResult};
use super::provenance::{self, ProvenanceOptions};
use super::spec::{CrateSpec, UpdateSpec};
use super::verdict;
use super::VetError;
use crate::error_chain::error_chain;
use crate::report::{
    Code, DiffFinding, Level, PhaseRecord, PhaseStatus, Reason, VetDiff, VetPhase,
};

/// Vets the update `update` and writes both reports.
pub fn run_update(
    opts: &VetOptions,
    update: &UpdateSpec,
    progress: &(dyn Fn(VetProgress) + Sync),
) -> Result<VetResult, VetError> {
    let old_dir = opts.report_dir.join("old");
    let old_opts = VetOptions {
        specs: vec![update.old.clone()],
        report_dir: old_dir.clone(),
        ..opts.clone()
    };
    let old = pipeline::vet_crates(&old_opts, progress)?;
    let new_opts = VetOptions {
        specs: vec![update.new.clone()],
        ..opts.clone()
    };
    let mut new = pipeline::vet_crates(&new_opts, progress)?;
    if opts.phases.contains(Phase::Diff) {
        let name = &update.new.name;
        let label = format!("{name} {}..{}", version(&update.old), version(&update.new));
        progress(VetProgress::Started {
            phase: Phase::Diff,
            krate: label.clone(),
        });
        let started = Instant::now();
        let mut d = diff::compare(
            name,
            &Side {
                report: &old.report,
                version: &version(&update.old),
                dir: old.dirs.first().and_then(|d| d.as_deref()),
            },
            &Side {
                report: &new.report,
                version: &version(&update.new),
                dir: new.dirs.first().and_then(|d| d.as_deref()),
            },
        );
        d.old_report = Some(old_dir.join("report.json"));
        dependency_findings(&new.registry, opts, &mut d);
        let reasons: Vec<Reason> = d
            .findings
            .iter()
            .filter(|f| f.level >= Level::Warn)
            .map(|f| Reason {
                krate: format!("{name} {}", d.new),
                phase: VetPhase::Diff,
                code: f.code.clone(),
                level: f.level,
                evidence: f.reason.clone(),
                location: None,
            })
            .collect();
        let changes = d.capabilities.len()
            + d.signals.len()
            + d.events.len()
            + d.dependencies.len()
            + d.files.len()
            + usize::from(d.build_script.is_some());
        let outcome = format!(
            "{changes} change{} in {}; {} finding{}",
            if changes == 1 { "" } else { "s" },
            d.new,
            d.findings.len(),
            if d.findings.len() == 1 { "" } else { "s" },
        );
        if let Some(v) = new.report.vetting.verdict.as_mut() {
            verdict::add_reasons(v, name, reasons);
        }
        let elapsed = started.elapsed();
        if let Some(record) = new
            .report
            .vetting
            .phases
            .iter_mut()
            .find(|p| p.phase == Phase::Diff)
        {
            *record = PhaseRecord {
                phase: Phase::Diff,
                status: PhaseStatus::Ran,
                reason: None,
                skipped_crates: Vec::new(),
                duration_ms: Some(elapsed.as_millis() as u64),
            };
        }
        new.report.vetting.diff = Some(d);
        progress(VetProgress::Finished {
            phase: Phase::Diff,
            krate: label,
            elapsed,
            outcome,
        });
    }
    if let Some(request) = new.report.vetting.vet.as_mut() {
        request.specs = vec![format!(
            "{}@{}..{}",
            update.new.name,
            version(&update.old),
            version(&update.new)
        )];
    }
    pipeline::write(old.report, &old_dir)?;
    pipeline::write(new.report, &opts.report_dir)
}

fn version(spec: &CrateSpec) -> String {
    spec.version
        .as_ref()
        .map_or_else(String::new, ToString::to_string)
}

/// A `dependency-added` finding (warn) for each dependency NEW added that is young, yanked, or
/// has a provenance signal of `warn` level or above (a typo neighbour of an established crate).
fn dependency_findings(
    registry: &super::registry::SparseRegistry,
    opts: &VetOptions,
    d: &mut VetDiff,
) {
    let options = ProvenanceOptions {
        now: opts.now,
        extra_names: Vec::new(),
    };
    for (dep, v) in diff::added_dependencies(d) {
        let Ok(spec) = format!("{dep}@{v}").parse::<CrateSpec>() else {
            continue;
        };
        let finding = match provenance::assess(registry, &spec, &options) {
            Ok(a) => {
                let telling: Vec<String> = a
                    .provenance
                    .signals
                    .iter()
                    .filter(|s| s.level >= Level::Warn || s.code == Code::YoungCrate)
                    .map(|s| format!("{}: {}", s.code, s.reason))
                    .collect();
                (!telling.is_empty()).then(|| DiffFinding {
                    code: "dependency-added".to_owned(),
                    level: Level::Warn,
                    reason: format!(
                        "{} {} adds the dependency {dep} {v}, which is not established: {}",
                        d.name,
                        d.new,
                        telling.join("; ")
                    ),
                })
            }
            // Not from this registry (git, another registry): listed, not judged.
            Err(e) => Some(DiffFinding {
                code: "dependency-added".to_owned(),
                level: Level::Info,
                reason: format!(
                    "{} {} adds the dependency {dep} {v}; its provenance could not be read: {}",
                    d.name,
                    d.new,
                    error_chain(&e)
                ),
            }),
        };
        d.findings.extend(finding);
    }
}
