//! A minimal driver for `harness_gen::generate`, used by the bench scripts (the CLI lives in the
//! root package). Prints the counts and timings as one JSON object on stdout.
//!
//! `gen [--manifest-path M] [-p PKG].. --out DIR [--no-compile] [--target-dir D]`

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut opts = harness_gen::GenOptions {
        compile_check: true,
        ..Default::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| panic!("{name} needs a value"))
        };
        match a.as_str() {
            "--manifest-path" => opts.manifest_path = Some(PathBuf::from(value("--manifest-path"))),
            "-p" | "--package" => opts.packages.push(value("-p")),
            "--out" => opts.out_dir = PathBuf::from(value("--out")),
            "--target-dir" => opts.target_dir = Some(PathBuf::from(value("--target-dir"))),
            "--no-compile" => opts.compile_check = false,
            other => {
                eprintln!("gen: unknown argument {other}");
                return ExitCode::from(2);
            }
        }
    }
    if opts.out_dir.as_os_str().is_empty() {
        eprintln!("gen: --out DIR is required");
        return ExitCode::from(2);
    }
    match harness_gen::generate(&opts) {
        Ok(s) => {
            for w in &s.warnings {
                eprintln!("gen: warning: {w}");
            }
            let lines: usize = s.packages.iter().map(|p| p.2).sum();
            println!(
                "{}",
                serde_json::json!({
                    "packages": s.packages.iter().map(|p| format!("{} {}", p.0, p.1)).collect::<Vec<_>>(),
                    "lines": lines,
                    "counts": s.counts,
                    "metadata_ms": s.metadata_time.as_secs_f64() * 1e3,
                    "discovery_emission_ms": s.discovery_time.as_secs_f64() * 1e3,
                    "compile_ms": s.compile_time.as_secs_f64() * 1e3,
                    "targets_json": s.targets_json,
                })
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("gen: error: {e}");
            ExitCode::from(2)
        }
    }
}
