//! `cargo airlock gen`: discover Deserialize types and FFI wrappers in the selected packages and
//! write a cargo-fuzz project with a `targets.json` manifest. The work is `harness_gen`'s; this
//! module parses the flags, prints one line per step on stderr and maps the result to an outcome.

use std::path::PathBuf;

use anyhow::Context as _;

use crate::outcome::Outcome;

/// Flags of `cargo airlock gen`.
#[derive(Debug, clap::Args)]
pub(crate) struct GenArgs {
    /// Path to the workspace's Cargo.toml (default: cargo's search from the current directory).
    #[arg(long, value_name = "PATH")]
    pub manifest_path: Option<PathBuf>,

    /// Package to analyse, `NAME` or `NAME@VERSION`; a workspace member or any dependency,
    /// registry ones included. Repeatable. Default: the workspace's default members that have a
    /// library.
    #[arg(short = 'p', long = "package", value_name = "PKG")]
    pub packages: Vec<String>,

    /// Directory for the cargo-fuzz project (default: `fuzz-airlock/` next to the manifest given,
    /// or the nearest Cargo.toml; not `fuzz/`, so a hand-written cargo-fuzz project is never
    /// overwritten).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Skip the compile check (by default the generated project is built with `cargo build` and
    /// targets that do not compile are marked `failed`).
    #[arg(long)]
    pub no_compile: bool,
}

/// Runs `gen`. Targets that are skipped or fail to compile are reported in `targets.json` and do
/// not make the command fail: it did its job. Bad input (no manifest, no library, an unparsable
/// crate root) is an error, exit 2.
pub(crate) fn run(args: GenArgs) -> anyhow::Result<Outcome> {
    let out_dir = match &args.out {
        Some(dir) => dir.clone(),
        None => default_out(args.manifest_path.as_deref())?,
    };
    let opts = harness_gen::GenOptions {
        manifest_path: args.manifest_path.clone(),
        packages: args.packages.clone(),
        out_dir: out_dir.clone(),
        compile_check: !args.no_compile,
        target_dir: None,
    };
    let summary = harness_gen::generate_with_progress(&opts, &mut |p| match p {
        harness_gen::Progress::Selected(pkgs) => eprintln!("gen: analysing {}", pkgs.join(", ")),
        harness_gen::Progress::Analysed(name, de, ffi) => {
            eprintln!("gen: {name}: {de} Deserialize types, {ffi} FFI wrappers")
        }
        harness_gen::Progress::Written(n) => {
            eprintln!("gen: wrote {n} targets to {}", out_dir.display())
        }
        harness_gen::Progress::Compiling => {
            eprintln!("gen: compile check (cargo build of the generated project)")
        }
    })
    .with_context(|| {
        format!(
            "gen could not write a fuzz project to {}",
            out_dir.display()
        )
    })?;
    for w in &summary.warnings {
        eprintln!("gen: warning: {w}");
    }
    let c = summary.counts;
    let took = summary.discovery_time + summary.metadata_time;
    if args.no_compile {
        eprintln!(
            "gen: {} generated (not compiled: `fuzz` builds them), {} skipped in {took:.1?}",
            c.unchecked, c.skipped,
        );
    } else {
        eprintln!(
            "gen: {} built, {} failed, {} skipped in {took:.1?} (+ {:.1?} compile check)",
            c.built, c.failed, c.skipped, summary.compile_time,
        );
    }
    eprintln!("gen: {}", summary.targets_json.display());
    Ok(Outcome::Clean)
}

/// `fuzz-airlock/` next to the manifest given, or in the workspace found from the current
/// directory.
fn default_out(manifest: Option<&std::path::Path>) -> anyhow::Result<PathBuf> {
    if let Some(m) = manifest {
        let dir = m
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new("."));
        return Ok(dir.join("fuzz-airlock"));
    }
    let cwd = std::env::current_dir().context("cannot read the current directory")?;
    let root = cwd
        .ancestors()
        .find(|d| d.join("Cargo.toml").is_file())
        .with_context(|| {
            format!(
                "no Cargo.toml in {} or its parents; pass --manifest-path",
                cwd.display()
            )
        })?;
    Ok(root.join("fuzz-airlock"))
}
