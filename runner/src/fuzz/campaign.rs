//! Running a campaign: libFuzzer per target inside the sandbox, then triage of every artifact.

use std::collections::{BTreeMap, HashSet};
use std::ffi::OsString;
use std::fs;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::instrument::{FuzzBuild, Vetting};
use super::project::{FuzzProject, LibFuzzerOptions, TargetRecord};
use super::schedule;
use super::triage::{self, Crash};
use super::{CampaignOptions, Finding, FuzzError, FuzzSection, TargetResult};
use crate::build::verdict::Verdicts;
use crate::events::Phase;
use crate::profile::{Placeholders, Profile};
use crate::sandbox::{self, SandboxConfig};

/// The profile fuzz targets run under.
pub const FUZZ_PROFILE: &str = "fuzz";

/// Extra time a libFuzzer run gets past its own `-max_total_time` before the sandbox kills it.
const GRACE: Duration = Duration::from_secs(60);

/// Most artifacts of one target reproduced per campaign.
const MAX_TRIAGED: usize = 12;

/// Fork mode saves every crashing input, mostly the same bugs again, and each reproduction is
/// a sandboxed run: keep at most [`MAX_TRIAGED`], taken in turn from each kind libFuzzer
/// named (`crash-`, `leak-`, `timeout-`, `oom-`), smallest first within a kind.
fn pick_for_triage(artifacts: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut groups: BTreeMap<String, Vec<(u64, PathBuf)>> = BTreeMap::new();
    for a in artifacts {
        let kind = a
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.split('-').next())
            .unwrap_or("")
            .to_owned();
        let size = fs::metadata(&a).map_or(u64::MAX, |m| m.len());
        groups.entry(kind).or_default().push((size, a));
    }
    for g in groups.values_mut() {
        g.sort();
        g.reverse(); // pop() takes the smallest
    }
    let mut picked = Vec::new();
    while picked.len() < MAX_TRIAGED && groups.values().any(|g| !g.is_empty()) {
        for g in groups.values_mut() {
            if let Some((_, a)) = g.pop() {
                if picked.len() < MAX_TRIAGED {
                    picked.push(a);
                }
            }
        }
    }
    picked
}

/// Most seconds spent minimizing one finding.
const MINIMIZE_SECS: u64 = 20;

fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> FuzzError + '_ {
    move |source| FuzzError::Write {
        path: path.to_owned(),
        source,
    }
}

/// One instrumented target binary and how its runs are sandboxed.
pub struct TargetRun<'a> {
    pub binary: &'a Path,
    /// The crate under test (events are attributed to it).
    pub krate: &'a str,
    pub allow_degraded: bool,
    /// The main-thread stack the generator recorded for the target (`stack_bytes`).
    pub stack_bytes: u64,
}

impl TargetRun<'_> {
    /// Runs the binary with `args` in the sandbox, stdout and stderr into `log`.
    fn run(
        &self,
        args: Vec<OsString>,
        read: Vec<PathBuf>,
        write: Vec<PathBuf>,
        log: &Path,
        timeout: Duration,
    ) -> Result<(sandbox::RunOutcome, String), FuzzError> {
        let (binary, krate, allow_degraded) = (self.binary, self.krate, self.allow_degraded);
        let mut profile = Profile::load(FUZZ_PROFILE, &Placeholders::from_env())?;
        // The stack comes from targets.json (harness_gen::targets::STACK_BYTES), not the profile.
        profile.limits.stack = Some(self.stack_bytes);
        let mut command = vec![binary.as_os_str().to_owned()];
        command.extend(args);
        let mut config = SandboxConfig::new(profile, command);
        config.phase = Phase::Fuzz;
        config.krate = krate.to_owned();
        config.extra_exec = vec![binary.parent().unwrap_or(Path::new("/")).to_owned()];
        config.extra_read = read;
        config.extra_write = write.clone();
        config.cwd = write.first().cloned().unwrap_or_else(|| PathBuf::from("/"));
        config.timeout = Some(timeout);
        config.allow_degraded = allow_degraded;
        let mut env = vec![
            (
                "ASAN_OPTIONS",
                "detect_leaks=1:symbolize=1:handle_abort=1:handle_segv=1:detect_odr_violation=0:allocator_may_return_null=0".to_owned(),
            ),
            ("RUST_BACKTRACE", "0".to_owned()),
        ];
        for candidate in ["/usr/bin/llvm-symbolizer", "/usr/local/bin/llvm-symbolizer"] {
            if Path::new(candidate).is_file() {
                env.push(("ASAN_SYMBOLIZER_PATH", candidate.to_owned()));
                break;
            }
        }
        config.env_set = env.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        let file = fs::File::create(log).map_err(write_err(log))?;
        let null = fs::File::open("/dev/null").map_err(write_err(Path::new("/dev/null")))?;
        config.stdio = [
            Some(null.as_raw_fd()),
            Some(file.as_raw_fd()),
            Some(file.as_raw_fd()),
        ];
        let outcome = sandbox::run(&config)?;
        drop(file);
        let text = fs::read(log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        Ok((outcome, text))
    }

    /// Runs the binary on `input` once and classifies what happened.
    pub fn rerun(
        &self,
        input: &Path,
        log: &Path,
        input_timeout: Duration,
        rss_limit_mb: u64,
    ) -> Result<Reproduction, FuzzError> {
        let mut args = libfuzzer_limits(input_timeout, rss_limit_mb);
        args.push(input.as_os_str().to_owned());
        let scratch = log.parent().unwrap_or(Path::new("/tmp")).to_owned();
        let (_, output) = self.run(
            args,
            vec![input.parent().unwrap_or(Path::new("/")).to_owned()],
            vec![scratch],
            log,
            input_timeout * 3 + Duration::from_secs(30),
        )?;
        Ok(Reproduction {
            crash: triage::classify(&output),
            output,
        })
    }
}

/// libFuzzer's final figures, from its log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Inputs run.
    pub runs: u64,
    /// Edges covered.
    pub coverage: u64,
}

/// The number right after `key` in a libFuzzer status line.
pub(super) fn number_after(line: &str, key: &str) -> Option<u64> {
    let rest = &line[line.find(key)? + key.len()..];
    rest.trim_start()
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// Parses the status lines of a libFuzzer log (fork mode `#N: cov: ...` and plain `#N\tNEW
/// cov: ...`) and its final stats.
pub fn parse_stats(log: &str) -> Stats {
    let mut stats = Stats::default();
    for line in log.lines() {
        if line.starts_with('#') && line.contains("cov:") {
            stats.runs = stats.runs.max(number_after(line, "#").unwrap_or(0));
            stats.coverage = stats.coverage.max(number_after(line, "cov:").unwrap_or(0));
        } else if let Some(n) = number_after(line, "stat::number_of_executed_units:") {
            stats.runs = stats.runs.max(n);
        }
    }
    stats
}

fn artifacts_in(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                        ["crash-", "leak-", "timeout-", "oom-"]
                            .iter()
                            .any(|k| n.starts_with(k))
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found
}

/// The libFuzzer options of a target's runs, as `(name, value)`: the limits every run gets,
/// then the options the generator chose for the target (format and parse targets need longer
/// inputs to nest deeply enough for unbounded recursion to show). The ClusterFuzzLite export
/// writes the same options into `<target>.options`.
pub fn libfuzzer_options(
    input_timeout: Duration,
    rss_limit_mb: u64,
    chosen: Option<LibFuzzerOptions>,
) -> Vec<(&'static str, String)> {
    let mut options = vec![
        ("timeout", input_timeout.as_secs().max(1).to_string()),
        ("rss_limit_mb", rss_limit_mb.to_string()),
        ("malloc_limit_mb", rss_limit_mb.to_string()),
    ];
    if let Some(chosen) = chosen {
        if let Some(max_len) = chosen.max_len {
            options.push(("max_len", max_len.to_string()));
        }
        if let Some(len_control) = chosen.len_control {
            options.push(("len_control", len_control.to_string()));
        }
    }
    options
}

/// `options` as libFuzzer arguments (`-name=value`).
fn as_args(options: Vec<(&'static str, String)>) -> Vec<OsString> {
    options
        .into_iter()
        .map(|(k, v)| format!("-{k}={v}").into())
        .collect()
}

/// The limits of a run that is not a target's campaign (reproduction, minimization).
fn libfuzzer_limits(input_timeout: Duration, rss_limit_mb: u64) -> Vec<OsString> {
    as_args(libfuzzer_options(input_timeout, rss_limit_mb, None))
}

/// What a reproduction run showed.
#[derive(Debug, Clone)]
pub struct Reproduction {
    /// The crash, or `None` when the input no longer crashes.
    pub crash: Option<Crash>,
    /// Everything the target printed.
    pub output: String,
}

/// Rebuilds `target` of the project in `dir` (a no-op when fresh; build scripts sandboxed as
/// `vetting` says) and reruns `input`; `say` hears of sandboxed runs that need a look.
pub fn reproduce(
    dir: &Path,
    target: &str,
    input: &Path,
    scratch: &Path,
    vetting: Vetting,
    say: fn(&str),
) -> Result<(Reproduction, String), FuzzError> {
    let project = FuzzProject::open(dir)?;
    let record = project
        .targets
        .iter()
        .find(|t| t.name == target)
        .ok_or_else(|| FuzzError::UnknownTarget(vec![target.to_owned()]))?;
    let allow_degraded = vetting.allow_degraded;
    let build = FuzzBuild::prepare(vetting)?;
    let built = build.build(&project, &[target], scratch, say)?;
    if let Some((_, err)) = built.failed.first() {
        return Err(FuzzError::BuildFailed(err.clone()));
    }
    let (krate, crate_dir) = project.crate_of(record);
    let binary = project.binary(&build.instrumentation.triple, target);
    let log = scratch.join(format!("repro-{target}.log"));
    let runner = TargetRun {
        binary: &binary,
        krate: &krate,
        allow_degraded,
        stack_bytes: record.stack(),
    };
    let rep = runner.rerun(input, &log, Duration::from_secs(10), 2048)?;
    let sig = rep
        .crash
        .as_ref()
        .map(|c| triage::signature(c, &krate, crate_dir.as_deref().and_then(Path::to_str)))
        .unwrap_or_default();
    Ok((rep, sig))
}

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
/// `logs/<target><suffix>.log`.
fn fuzz_slice(
    project: &FuzzProject,
    record: &TargetRecord,
    time: Duration,
    triple: &str,
    logs: &Path,
    opts: &CampaignOptions,
    suffix: &str,
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
    let (_, text) = runner.run(
        args,
        read,
        vec![artifacts.clone(), corpus],
        &log,
        time + GRACE,
    )?;
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
    pub section: FuzzSection,
    /// What the build scripts and proc-macro expansions of the instrumented build did.
    pub verdicts: Verdicts,
    /// Why the instrumented build failed for every target, if it did (nothing was fuzzed).
    pub failure: Option<String>,
}

/// Runs the campaign described by `opts`.
pub fn run_campaign(opts: &CampaignOptions) -> Result<Campaign, FuzzError> {
    let say = opts.progress;
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
            "; C code not instrumented: no clang"
        }
    ));
    let (failed, verdicts, build_failure): (BTreeMap<String, String>, _, _) = if names.is_empty() {
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
    for (i, record) in runnable.iter().enumerate() {
        say(&format!(
            "fuzz: [{}/{}] {} for {}s with {} job(s)",
            i + 1,
            runnable.len(),
            record.name,
            share.as_secs(),
            opts.jobs
        ));
        let slice = fuzz_slice(&project, record, share, &triple, &logs, opts, "")?;
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
        let slice = fuzz_slice(&project, record, *time, &triple, &logs, opts, "-more")?;
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
            });
        }
    }

    // Triage: reproduce every artifact of the fuzzed targets, deduplicate by signature.
    let mut seen: HashSet<String> = HashSet::new();
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
            let rep = runner.rerun(artifact, &log, opts.input_timeout, opts.rss_limit_mb)?;
            let Some(crash) = rep.crash else { continue };
            let signature = triage::signature(&crash, &krate, crate_dir.as_deref());
            if !seen.insert(signature.clone()) {
                // The same bug again: artifacts are triaged smallest first, not earliest first,
                // so the time to finding is the earliest of its target's artifacts.
                let after = found_after(slices.get(name), artifact);
                if let Some(f) = section
                    .findings
                    .iter_mut()
                    .find(|f| f.signature == signature && f.target == *name)
                {
                    f.found_after_secs = match (f.found_after_secs, after) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                continue;
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
            });
        }
    }
    if let Some(base) = &opts.baseline {
        apply_baseline(&mut section, base);
    }
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
    runner.run(
        args,
        vec![reproducers.to_owned()],
        vec![scratch.clone(), logs.to_owned()],
        &log,
        Duration::from_secs(MINIMIZE_SECS) + GRACE,
    )?;
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
    let check = runner.rerun(
        &out,
        &logs.join(format!("{id}-check.log")),
        opts.input_timeout,
        opts.rss_limit_mb,
    )?;
    let same = check
        .crash
        .is_some_and(|c| triage::signature(&c, krate, crate_dir) == signature);
    if same {
        Ok(Some(out))
    } else {
        let _ = fs::remove_file(&out);
        Ok(None)
    }
}

/// Marks findings `known` when the baseline had their signature, and adds the baseline's
/// findings that did not come back as `fixed`.
pub fn apply_baseline(section: &mut FuzzSection, baseline: &FuzzSection) {
    let before: HashSet<&str> = baseline
        .findings
        .iter()
        .filter(|f| f.status != "fixed")
        .map(|f| f.signature.as_str())
        .collect();
    let now: HashSet<String> = section
        .findings
        .iter()
        .map(|f| f.signature.clone())
        .collect();
    for f in &mut section.findings {
        f.status = if before.contains(f.signature.as_str()) {
            "known"
        } else {
            "new"
        }
        .into();
    }
    let fuzzed: HashSet<&str> = section
        .targets
        .iter()
        .filter(|t| t.status == "built")
        .map(|t| t.name.as_str())
        .collect();
    for old in &baseline.findings {
        if old.status != "fixed"
            && !now.contains(&old.signature)
            && fuzzed.contains(old.target.as_str())
        {
            let mut fixed = old.clone();
            fixed.status = "fixed".into();
            section.findings.push(fixed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triage_takes_every_kind_smallest_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut all = Vec::new();
        for i in 0..20 {
            let p = dir.path().join(format!("crash-{i:02}"));
            fs::write(&p, vec![b'x'; 100 - i]).unwrap();
            all.push(p);
        }
        let leak = dir.path().join("leak-1");
        fs::write(&leak, b"y").unwrap();
        all.push(leak.clone());
        let picked = pick_for_triage(all);
        assert_eq!(picked.len(), MAX_TRIAGED);
        assert!(picked.contains(&leak));
        assert!(
            picked.contains(&dir.path().join("crash-19")),
            "smallest crash first"
        );
    }

    #[test]
    fn stats_from_fork_and_plain_logs() {
        let fork = "#1024: cov: 120 ft: 300 corp: 45 exec/s: 2500 oom/timeout/crash: 0/0/3 time: 30s job: 12 dft_time: 0\n#4096: cov: 130 ft: 320 corp: 50 exec/s: 2600 oom/timeout/crash: 0/0/3 time: 60s job: 20 dft_time: 0\n";
        assert_eq!(
            parse_stats(fork),
            Stats {
                runs: 4096,
                coverage: 130
            }
        );
        let plain = "#2\tINITED cov: 10 ft: 10 corp: 1/1b exec/s: 0 rss: 30Mb\n#512\tNEW    cov: 15 ft: 20 corp: 2/3b lim: 4 exec/s: 512 rss: 31Mb\nstat::number_of_executed_units: 9000\nstat::average_exec_per_sec:     3000\n";
        let s = parse_stats(plain);
        assert_eq!(s.runs, 9000);
        assert_eq!(s.coverage, 15);
    }

    fn finding(sig: &str, status: &str) -> Finding {
        Finding {
            id: triage::finding_id(sig),
            target: "t".into(),
            kind: "panic".into(),
            signature: sig.into(),
            message: String::new(),
            frames: Vec::new(),
            reproducer: PathBuf::new(),
            minimized: false,
            status: status.into(),
            repro: String::new(),
            found_after_secs: None,
        }
    }

    #[test]
    fn baseline_marks_new_known_fixed() {
        let target = TargetResult {
            name: "t".into(),
            kind: "deserialize".into(),
            item: "c::T".into(),
            format: "json".into(),
            status: "built".into(),
            reason: None,
            runs: 1,
            execs_per_sec: 1,
            coverage: 1,
            seconds: 1,
        };
        let base = FuzzSection {
            targets: vec![target.clone()],
            findings: vec![finding("panic|a", "new"), finding("panic|b", "new")],
            ..FuzzSection::default()
        };
        let mut now = FuzzSection {
            targets: vec![target],
            findings: vec![finding("panic|a", "new"), finding("panic|c", "new")],
            ..FuzzSection::default()
        };
        apply_baseline(&mut now, &base);
        let status: Vec<(&str, &str)> = now
            .findings
            .iter()
            .map(|f| (f.signature.as_str(), f.status.as_str()))
            .collect();
        assert_eq!(
            status,
            vec![
                ("panic|a", "known"),
                ("panic|c", "new"),
                ("panic|b", "fixed")
            ]
        );
        assert!(now.has_new());
    }
}
