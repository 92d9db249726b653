//! `cargo airlock report R --format md|sarif|html|json`: render a saved `report.json`.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use runner::report::{Format, Report};

use crate::outcome::Outcome;

/// Arguments of `cargo airlock report`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  cargo airlock report target/airlock/build/report.json --format html -o build.html\n  cargo airlock report target/airlock/fuzz/report.json --format sarif"
)]
pub(crate) struct ReportArgs {
    /// A report.json written by build (target/airlock/build), fuzz (target/airlock/fuzz) or vet
    /// (target/airlock/vet).
    #[arg(value_name = "REPORT")]
    pub report: PathBuf,
    /// md, sarif, html or json.
    #[arg(long, default_value = "md", value_parser = parse_format)]
    pub format: Format,
    /// Write here instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

fn parse_format(text: &str) -> Result<Format, String> {
    Format::parse(text)
        .ok_or_else(|| format!("unknown format `{text}`: use md, sarif, html or json"))
}

/// Renders the report.
pub(crate) fn run(args: ReportArgs) -> anyhow::Result<Outcome> {
    let report = Report::read(&args.report)?;
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
