//! `cargo airlock report R --format md|sarif|html|json`: render a saved `report.json`; and
//! `cargo airlock report merge A.json B.json.. -o DIR`: join reports of the same schema (the
//! shards of one `vet --manifest-path --shard K/N` run) into one, written in every format.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use runner::report::{Format, Report, Verdict};
use runner::vet::merge::merge_files;

use crate::outcome::Outcome;

/// Arguments of `cargo airlock report`.
#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "Examples:\n  cargo airlock report target/airlock/build/report.json --format html -o build.html\n  cargo airlock report target/airlock/fuzz/report.json --format sarif\n  cargo airlock report merge shard-1/report.json shard-2/report.json -o merged\n\nExit status: 0 rendered; for merge, the merged verdict: 0 clean, 1 suspicious, 2 could not vet or a bad input (a missing file, not a report, another schema)."
)]
pub(crate) struct ReportArgs {
    #[command(subcommand)]
    pub action: Option<ReportAction>,
    /// A report.json written by build (target/airlock/build), fuzz (target/airlock/fuzz) or vet
    /// (target/airlock/vet).
    #[arg(value_name = "REPORT", required = true)]
    pub report: Option<PathBuf>,
    /// md, sarif, html or json.
    #[arg(long, default_value = "md", value_parser = parse_format)]
    pub format: Format,
    /// Write here instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// What `report` does instead of rendering one report.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum ReportAction {
    /// Join reports of the same schema (e.g. the shards of one `vet --manifest-path --shard`
    /// run) into one: crates and sections united, the verdict decided again from the merged
    /// reasons, the environment of the first, errors concatenated.
    Merge(MergeArgs),
}

/// Arguments of `cargo airlock report merge`.
#[derive(Debug, clap::Args)]
pub(crate) struct MergeArgs {
    /// The reports to join (report.json files).
    #[arg(required = true, value_name = "REPORT")]
    pub reports: Vec<PathBuf>,
    /// Where the merged report.json, .md, .sarif and .html go.
    #[arg(long, short, value_name = "DIR")]
    pub output: PathBuf,
}

fn parse_format(text: &str) -> Result<Format, String> {
    Format::parse(text)
        .ok_or_else(|| format!("unknown format `{text}`: use md, sarif, html or json"))
}

/// Renders the report, or merges reports.
pub(crate) fn run(args: ReportArgs) -> anyhow::Result<Outcome> {
    if let Some(ReportAction::Merge(merge)) = args.action {
        return run_merge(merge);
    }
    let path = args
        .report
        .context("no report given: cargo airlock report REPORT.json --format md")?;
    let report = Report::read(&path)?;
    let text = report.render(args.format);
    match &args.output {
        Some(path) => std::fs::write(path, text)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => {
            let _ = std::io::stdout().write_all(text.as_bytes());
        }
    }
    Ok(Outcome::Clean)
}

/// Merges the reports, writes every format, and exits with the merged verdict.
fn run_merge(args: MergeArgs) -> anyhow::Result<Outcome> {
    let merged = merge_files(&args.reports)?;
    let written = merged.write(
        &args.output,
        &[Format::Json, Format::Markdown, Format::Sarif, Format::Html],
    )?;
    let verdict = match &merged.vetting.verdict {
        Some(v) => v.verdict,
        // Build reports: suspicious when any crate is, failed when the build failed.
        None if merged.summary.suspicious > 0 => Verdict::Suspicious,
        None if !merged.summary.build_succeeded || !merged.errors.is_empty() => Verdict::Failed,
        None => Verdict::Clean,
    };
    eprintln!(
        "airlock report merge: {} report{} joined: {} ({} crate{} in the build graph); written: {}",
        args.reports.len(),
        if args.reports.len() == 1 { "" } else { "s" },
        verdict.as_str().to_uppercase(),
        merged.summary.crates,
        if merged.summary.crates == 1 { "" } else { "s" },
        written
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(match verdict {
        Verdict::Clean => Outcome::Clean,
        Verdict::Suspicious => Outcome::Findings,
        Verdict::Failed | Verdict::NotRun => Outcome::Error,
    })
}
