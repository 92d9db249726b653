//! `cargo airlock fuzz export clusterfuzzlite`: write what ClusterFuzzLite / OSS-Fuzz need to
//! build and run the generated targets as `cargo airlock fuzz` does; exit 0 once written, 2 on
//! bad input.

use std::path::PathBuf;

use anyhow::Context;
use runner::fuzz::export::{self, ExportOptions};

use crate::cmd::fuzz::{parse_shard, InputLimits};
use crate::outcome::Outcome;

/// The infrastructure to export for.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub(crate) enum Infrastructure {
    /// ClusterFuzzLite (`.clusterfuzzlite/`); OSS-Fuzz reads the same `build.sh` and Dockerfile.
    Clusterfuzzlite,
}

/// Arguments of `cargo airlock fuzz export`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  cargo airlock fuzz export clusterfuzzlite --dir fuzz-airlock\n  cargo airlock fuzz export clusterfuzzlite --dir fuzz-airlock --out . --shard 1/2 --workflow\n\nExit status: 0 the files were written, 2 bad input (no project, unknown target, a file in the way)."
)]
pub(crate) struct ExportArgs {
    /// Where to export for.
    #[arg(value_enum, value_name = "INFRA")]
    pub infrastructure: Infrastructure,
    /// The project `cargo airlock gen` wrote.
    #[arg(long, value_name = "DIR", default_value = "fuzz-airlock")]
    pub dir: PathBuf,
    /// The repository root: `.clusterfuzzlite/` goes here and the image copies it whole; it
    /// must hold the project and the crates it tests (default: the directory holding --dir).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Export only this target (repeatable).
    #[arg(long = "target", value_name = "T")]
    pub targets: Vec<String>,
    /// Export only shard K of N (the same split as `fuzz --shard`), e.g. 2/4.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    pub shard: Option<(u32, u32)>,
    // Written into each `<target>.options`.
    #[command(flatten)]
    pub limits: InputLimits,
    /// Also write ClusterFuzzLite's pull-request workflow, .github/workflows/cflite_pr.yml.
    #[arg(long)]
    pub workflow: bool,
}

/// Writes the export and says what it wrote.
pub(crate) fn run(args: ExportArgs) -> anyhow::Result<Outcome> {
    let Infrastructure::Clusterfuzzlite = args.infrastructure;
    let out = match args.out {
        Some(out) => out,
        None => std::fs::canonicalize(&args.dir)
            .ok()
            .and_then(|d| d.parent().map(PathBuf::from))
            .with_context(|| {
                format!(
                    "no generated fuzz project in {}; run `cargo airlock gen --out {}` first",
                    args.dir.display(),
                    args.dir.display()
                )
            })?,
    };
    let exported = export::clusterfuzzlite(&ExportOptions {
        dir: args.dir,
        out,
        targets: args.targets,
        shard: args.shard,
        input_timeout: args.limits.input_timeout,
        rss_limit_mb: args.limits.rss_limit_mb,
        workflow: args.workflow,
    })
    .context("cannot export for ClusterFuzzLite")?;
    eprintln!(
        "export: {} targets for ClusterFuzzLite: {}",
        exported.targets.len(),
        exported.targets.join(", ")
    );
    for path in &exported.written {
        eprintln!("  wrote {}", path.display());
    }
    Ok(Outcome::Clean)
}
