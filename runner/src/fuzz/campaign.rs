//! Running a campaign: libFuzzer per target inside the sandbox, then triage of every artifact.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::artifacts::{artifacts_in, pick_for_triage};
use super::baseline::apply_baseline;
use super::events::{CampaignEvents, TargetEvents};
use super::instrumented_build::{FuzzBuild, Vetting, NO_CLANG};
use super::libfuzzer::{as_args, libfuzzer_limits, libfuzzer_options, parse_stats, Stats};
use super::project::{FuzzProject, TargetRecord};
use super::schedule;
use super::target_run::TargetRun;
use super::triage::{self, Crash};
use super::{write_err, CampaignOptions, FuzzError};
use crate::build::verdict::Verdicts;
use crate::report::{Finding, FuzzSection, TargetResult};

/// Extra time a libFuzzer run gets past its own `-max_total_time` before the sandbox kills it.
const GRACE: Duration = Duration::from_secs(60);

/// Most seconds spent minimizing one finding.
const MINIMIZE_SECS: u64 = 20;

/// Seconds of fuzzing its target had had when `artifact` was saved.
fn found_after(slices: Option<&Vec<Slice>>, artifact: &Path) -> Option<u64> {
    let saved = fs::metadata(artifact).ok()?.modified().ok()?;
    let spans: Vec<(SystemTime, Duration)> = slices?.iter().map(|s| (s.start, s.length)).collect();
    schedule::fuzzing_secs_before(&spans, saved)
}

/// One libFuzzer run of one target.
struct Slice {
    start: SystemTime,
    /// How long it ran (a little more than its share: start-up and the last job's end).
    length: Duration,
    stats: Stats,
    /// Its features were still growing at the end.
    growing: bool,
    /// It saved an artifact.
    crashed: bool,
}

/// Fuzzes `record` for `time` in fork mode, in the sandbox; its log goes to
/// `logs/<target><suffix>.log`, what it attempted to `events`.
#[allow(clippy::too_many_arguments)]
fn fuzz_slice(
    project: &FuzzProject,
    record: &TargetRecord,
    time: Duration,
    triple: &str,
    logs: &Path,
    opts: &CampaignOptions,
    suffix: &str,
    events: &mut CampaignEvents,
) -> Result<Slice, FuzzError> {
    let name = &record.name;
    let corpus = project.corpus(name);
    let artifacts = project.artifacts(name);
    fs::create_dir_all(&corpus).map_err(write_err(&corpus))?;
    fs::create_dir_all(&artifacts).map_err(write_err(&artifacts))?;
    let mut args: Vec<OsString> = vec![
        corpus.clone().into_os_string(),
        format!("-artifact_prefix={}/", artifacts.display()).into(),
        format!("-max_total_time={}", time.as_secs().max(1)).into(),
        "-print_final_stats=1".into(),
        // Fork mode keeps going after a crash, so one shallow bug cannot hide the others.
        format!("-fork={}", opts.jobs.max(1)).into(),
        "-ignore_crashes=1".into(),
        "-ignore_timeouts=1".into(),
        "-ignore_ooms=1".into(),
    ];
    args.extend(as_args(libfuzzer_options(
        opts.input_timeout,
        opts.rss_limit_mb,
        record.libfuzzer,
    )));
    let mut read = Vec::new();
    if let Some(dict) = project.dict(name) {
        args.push(format!("-dict={}", dict.display()).into());
        read.push(dict.parent().unwrap_or(Path::new("/")).to_owned());
    }
    let (krate, _) = project.crate_of(record);
    let binary = project.binary(triple, name);
    let runner = TargetRun {
        binary: &binary,
        krate: &krate,
        allow_degraded: opts.allow_degraded,
        stack_bytes: record.stack(),
    };
    let start = SystemTime::now();
    let log = logs.join(format!("{name}{suffix}.log"));
    let (outcome, text) = runner.run(
        args,
        read,
        vec![artifacts.clone(), corpus],
        &log,
        time + GRACE,
    )?;
    events
        .target(name, &krate)
        .add(name, super::events::of_target(outcome.events));
    let length = start.elapsed().unwrap_or_default();
    Ok(Slice {
        start,
        length,
        stats: parse_stats(&text),
        growing: schedule::still_growing(&text),
        // Saved (or saved again: names are content hashes) during this run.
        crashed: artifacts_in(&artifacts).iter().any(|a| {
            fs::metadata(a)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t >= start)
        }),
    })
}

/// What a campaign found.
#[derive(Debug)]
pub struct Campaign {
    /// The report's `fuzz` section.
    pub section: FuzzSection,
    /// What the build scripts and proc-macro expansions of the instrumented build did.
    pub verdicts: Verdicts,
    /// Why the instrumented build failed for every target, if it did (nothing was fuzzed).
    pub failure: Option<String>,
}

/// Runs the campaign described by `opts`, telling `say` one line per step (progress).
pub fn run_campaign(
    opts: &CampaignOptions,
    say: &(dyn Fn(&str) + Sync),
) -> Result<Campaign, FuzzError> {
    let project = FuzzProject::open(&opts.dir)?;
    let selected = project.select(&opts.targets, opts.shard)?;
    let build = FuzzBuild::prepare(Vetting {
        airlock_bin: opts.airlock_bin.clone(),
        allow_degraded: opts.allow_degraded,
    })?;
    let names: Vec<&str> = selected.iter().map(|t| t.name.as_str()).collect();
    let logs = opts.report_dir.join("logs");
    let reproducers = opts.report_dir.join("reproducers");
    fs::create_dir_all(&logs).map_err(write_err(&logs))?;
    fs::create_dir_all(&reproducers).map_err(write_err(&reproducers))?;
    say(&format!(
        "fuzz: building {} targets ({}, ASan, coverage{})",
        names.len(),
        build.instrumentation.toolchain,
        if build.instrumentation.c_instrumented {
            ", C instrumented with clang"
        } else {
            ""
        }
    ));
    if !build.instrumentation.c_instrumented {
        say(&format!("fuzz: {NO_CLANG}"));
    }
    let (failed, mut verdicts, build_failure): (BTreeMap<String, String>, _, _) =
        if names.is_empty() {
            (BTreeMap::new(), Verdicts::default(), None)
        } else {
            let built = build.build(&project, &names, &logs, say)?;
            (
                built.failed.into_iter().collect(),
                built.verdicts,
                built.failure,
            )
        };
    // Nothing to fuzz: the report still says what the build scripts did and why it failed.
    let failure = (!names.is_empty() && failed.len() == names.len()).then(|| {
        build_failure.unwrap_or_else(|| {
            format!(
                "the instrumented build failed for every target; first error: {}",
                failed.values().next().cloned().unwrap_or_default()
            )
        })
    });

    let mut section = FuzzSection {
        project: project.dir.clone(),
        instrumentation: Some(build.instrumentation.clone()),
        ..FuzzSection::default()
    };
    // Every record of targets.json appears in the report, fuzzed or not.
    for record in &project.targets {
        let chosen = selected.iter().any(|s| s.name == record.name);
        if !record.is_built() || !chosen {
            if !record.is_built() {
                section.targets.push(TargetResult {
                    name: record.name.clone(),
                    kind: record.kind.to_string(),
                    item: record.item.clone(),
                    format: record.format.clone(),
                    status: record.status.to_string(),
                    reason: record.reason.clone(),
                    runs: 0,
                    execs_per_sec: 0,
                    coverage: 0,
                    seconds: 0,
                    events: 0,
                    notable_events: 0,
                });
            }
            continue;
        }
    }
    let runnable: Vec<&&TargetRecord> = selected
        .iter()
        .filter(|t| !failed.contains_key(&t.name))
        .collect();
    let triple = build.instrumentation.triple.clone();
    // Each libFuzzer run of each target, for its figures and for the time to a finding.
    let mut slices: BTreeMap<String, Vec<Slice>> = BTreeMap::new();
    let share = schedule::first_round_share(opts.time, runnable.len());
    let mut outcomes = Vec::new();
    // What every sandboxed run of each target attempted.
    let mut events = CampaignEvents::default();
    for (i, record) in runnable.iter().enumerate() {
        say(&format!(
            "fuzz: [{}/{}] {} for {}s with {} job(s)",
            i + 1,
            runnable.len(),
            record.name,
            share.as_secs(),
            opts.jobs
        ));
        let slice = fuzz_slice(
            &project,
            record,
            share,
            &triple,
            &logs,
            opts,
            "",
            &mut events,
        )?;
        outcomes.push(schedule::Outcome {
            growing: slice.growing,
            crashed: slice.crashed,
        });
        slices.entry(record.name.clone()).or_default().push(slice);
    }
    let spent = share * u32::try_from(runnable.len()).unwrap_or(u32::MAX);
    let plan = schedule::second_round(opts.time.saturating_sub(spent), &outcomes);
    let second = plan.shares;
    if !second.is_empty() {
        let names: Vec<&str> = second
            .iter()
            .map(|(i, _)| runnable[*i].name.as_str())
            .collect();
        say(&format!(
            "fuzz: the rest of the time to {} ({})",
            names.join(", "),
            plan.why
        ));
    }
    for (n, (i, time)) in second.iter().enumerate() {
        let record = runnable[*i];
        say(&format!(
            "fuzz: [{}/{}] {} for {}s more",
            n + 1,
            second.len(),
            record.name,
            time.as_secs()
        ));
        let slice = fuzz_slice(
            &project,
            record,
            *time,
            &triple,
            &logs,
            opts,
            "-more",
            &mut events,
        )?;
        slices.entry(record.name.clone()).or_default().push(slice);
    }
    // Figures over all of a target's runs (execs/s as an average: fork mode reports 0 while
    // its jobs keep crashing).
    for record in &runnable {
        let runs = slices.get(&record.name).map_or(&[][..], Vec::as_slice);
        let total_runs: u64 = runs.iter().map(|s| s.stats.runs).sum();
        let seconds: u64 = runs.iter().map(|s| s.length.as_secs()).sum();
        section.targets.push(TargetResult {
            name: record.name.clone(),
            kind: record.kind.to_string(),
            item: record.item.clone(),
            format: record.format.clone(),
            status: "built".into(),
            reason: None,
            runs: total_runs,
            execs_per_sec: total_runs / seconds.max(1),
            coverage: runs.iter().map(|s| s.stats.coverage).max().unwrap_or(0),
            seconds,
            // Filled in once triage has run too.
            events: 0,
            notable_events: 0,
        });
    }
    for (name, err) in &failed {
        if let Some(record) = project.targets.iter().find(|t| &t.name == name) {
            section.targets.push(TargetResult {
                name: name.clone(),
                kind: record.kind.to_string(),
                item: record.item.clone(),
                format: record.format.clone(),
                status: "failed".into(),
                reason: Some(err.clone()),
                runs: 0,
                execs_per_sec: 0,
                coverage: 0,
                seconds: 0,
                events: 0,
                notable_events: 0,
            });
        }
    }

    // Triage: reproduce every artifact of the fuzzed targets, deduplicate by signature, by
    // fault site and by input (one defect reached through other targets, callers or instances,
    // or one input failing the same way in several entry points, is one finding, whose other
    // targets are listed as `also_reached_by`).
    let mut known: HashMap<String, usize> = HashMap::new();
    let report_json = opts.report_dir.join("report.json");
    for record in &runnable {
        let name = &record.name;
        let (krate, crate_dir) = project.crate_of(record);
        let crate_dir = crate_dir
            .as_deref()
            .and_then(Path::to_str)
            .map(str::to_owned);
        let binary = project.binary(&triple, name);
        let runner = TargetRun {
            binary: &binary,
            krate: &krate,
            allow_degraded: opts.allow_degraded,
            stack_bytes: record.stack(),
        };
        let arts = pick_for_triage(artifacts_in(&project.artifacts(name)));
        if !arts.is_empty() {
            say(&format!(
                "fuzz: triage of {} artifact(s) of {name}",
                arts.len()
            ));
        }
        for (n, artifact) in arts.iter().enumerate() {
            let log = logs.join(format!("{name}-triage-{n}.log"));
            let mut rep = runner.rerun(artifact, &log, opts.input_timeout, opts.rss_limit_mb)?;
            events.target(name, &krate).add(
                name,
                super::events::of_target(std::mem::take(&mut rep.events)),
            );
            let Some(crash) = rep.crash else { continue };
            let signature = triage::signature(&crash, &krate, crate_dir.as_deref());
            let site = format!(
                "{krate}|{}",
                triage::site(&crash, &krate, crate_dir.as_deref())
            );
            // A hang or a recursion keyed by where the input entered the crate differs per entry
            // point (`from_str`, `from_slice`, `Deserializer::from_str`) for one input.
            let input = fs::read(artifact)
                .ok()
                .map(|bytes| format!("{krate}|{}|{}", crash.kind, triage::input_key(&bytes)));
            let seen = known
                .get(&signature)
                .or_else(|| known.get(&site))
                .or_else(|| input.as_ref().and_then(|k| known.get(k)))
                .copied();
            if let Some(i) = seen {
                // The same bug again: artifacts are triaged smallest first, not earliest first,
                // so the time to finding is the earliest of its target's artifacts.
                let f = &mut section.findings[i];
                if f.target == *name {
                    let after = found_after(slices.get(name), artifact);
                    f.found_after_secs = match (f.found_after_secs, after) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                } else if !f.also_reached_by.contains(name) {
                    f.also_reached_by.push(name.clone());
                }
                known.insert(signature, i);
                continue;
            }
            known.insert(signature.clone(), section.findings.len());
            known.insert(site, section.findings.len());
            if let Some(k) = input {
                known.insert(k, section.findings.len());
            }
            let id = triage::finding_id(&signature);
            let kept = reproducers.join(&id);
            fs::copy(artifact, &kept).map_err(write_err(&kept))?;
            let minimized = minimize(
                &runner,
                &kept,
                &reproducers,
                &logs,
                &id,
                &crash,
                opts,
                crate_dir.as_deref(),
                events.target(name, &krate),
            )?;
            let reproducer = minimized.clone().unwrap_or_else(|| kept.clone());
            section.findings.push(Finding {
                id: id.clone(),
                target: name.clone(),
                kind: crash.kind.clone(),
                signature,
                message: crash.message.clone(),
                frames: crash.frames.clone(),
                reproducer,
                minimized: minimized.is_some(),
                status: "new".into(),
                repro: format!(
                    "cargo airlock repro {id} --report {}",
                    report_json.display()
                ),
                found_after_secs: found_after(slices.get(name), artifact),
                also_reached_by: vec![],
            });
        }
    }
    // One hang caught in two places, or one recursion through two branch kinds, is one finding.
    let crate_of = |f: &Finding| {
        let target = project.targets.iter().find(|t| t.name == f.target)?;
        let (krate, dir) = project.crate_of(target);
        Some((krate, dir.and_then(|d| d.to_str().map(str::to_owned))))
    };
    for f in triage::merge_findings(&mut section.findings, crate_of) {
        let _ = fs::remove_file(&f.reproducer);
    }
    if let Some(base) = &opts.baseline {
        apply_baseline(&mut section, base, |a, b| {
            triage::same_defect(a, b, crate_of)
        });
    }
    for t in &mut section.targets {
        (t.events, t.notable_events) = events.counts(&t.name);
    }
    events.apply(&mut verdicts, &project.crates);
    Ok(Campaign {
        section,
        verdicts,
        failure,
    })
}

/// Minimizes a crash within a bounded budget; keeps the result only if it still crashes with
/// the same signature.
#[allow(clippy::too_many_arguments)]
fn minimize(
    runner: &TargetRun<'_>,
    input: &Path,
    reproducers: &Path,
    logs: &Path,
    id: &str,
    crash: &Crash,
    opts: &CampaignOptions,
    crate_dir: Option<&str>,
    events: &mut TargetEvents,
) -> Result<Option<PathBuf>, FuzzError> {
    let krate = runner.krate;
    let signature = triage::signature(crash, krate, crate_dir);
    // libFuzzer minimizes crashes; timeouts, out-of-memory and leaks are kept as found, and so
    // are stack overflows: their input is the nesting, and each attempt would be a process
    // death with a report of thousands of frames to symbolize.
    if matches!(
        crash.kind.as_str(),
        "timeout" | "oom" | "leak" | "stack-overflow"
    ) {
        return Ok(None);
    }
    // libFuzzer writes each smaller crashing input it finds into the prefix directory.
    let scratch = reproducers.join(format!("{id}.minimizing"));
    fs::create_dir_all(&scratch).map_err(write_err(&scratch))?;
    let mut args = libfuzzer_limits(opts.input_timeout, opts.rss_limit_mb);
    args.extend([
        OsString::from("-minimize_crash=1"),
        format!("-max_total_time={MINIMIZE_SECS}").into(),
        "-runs=100000".into(),
        format!("-artifact_prefix={}/", scratch.display()).into(),
        input.as_os_str().to_owned(),
    ]);
    let log = logs.join(format!("{id}-minimize.log"));
    let target = runner.target_name();
    let (outcome, _) = runner.run(
        args,
        vec![reproducers.to_owned()],
        vec![scratch.clone(), logs.to_owned()],
        &log,
        Duration::from_secs(MINIMIZE_SECS) + GRACE,
    )?;
    events.add(&target, super::events::of_target(outcome.events));
    let original = fs::metadata(input).map_or(0, |m| m.len());
    let smallest = fs::read_dir(&scratch)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.metadata().ok()?.len(), e.path())))
        .filter(|(len, _)| *len < original)
        .min();
    let out = reproducers.join(format!("{id}.min"));
    let moved = match smallest {
        Some((_, path)) => fs::rename(&path, &out).is_ok(),
        None => false,
    };
    let _ = fs::remove_dir_all(&scratch);
    if !moved {
        return Ok(None);
    }
    let mut check = runner.rerun(
        &out,
        &logs.join(format!("{id}-check.log")),
        opts.input_timeout,
        opts.rss_limit_mb,
    )?;
    events.add(
        &target,
        super::events::of_target(std::mem::take(&mut check.events)),
    );
    let site = triage::site(crash, krate, crate_dir);
    let same = check.crash.is_some_and(|c| {
        triage::signature(&c, krate, crate_dir) == signature
            || triage::site(&c, krate, crate_dir) == site
    });
    if same {
        Ok(Some(out))
    } else {
        let _ = fs::remove_file(&out);
        Ok(None)
    }
}
