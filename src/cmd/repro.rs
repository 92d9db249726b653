//! `cargo airlock repro`: rerun one finding's reproducer (rebuilding its target if needed) in the
//! sandbox, print the input it ran (escaped text and hex, bounded) and the crash, and exit 1
//! while it still reproduces, 0 once fixed.

use std::path::PathBuf;

use anyhow::Context;
use runner::fuzz::{self, FuzzError};

use crate::outcome::Outcome;

/// Arguments of `cargo airlock repro`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  cargo airlock repro F1a2b3c4d --report target/airlock/fuzz/report.json\n  cargo airlock repro fuzz-airlock/artifacts/de_version/crash-0123abcd"
)]
pub(crate) struct ReproArgs {
    /// A finding id from the report, or the path of an artifact under `<project>/artifacts/<target>/`.
    pub id_or_artifact: String,
    /// The report that lists the finding.
    #[arg(
        long,
        value_name = "R",
        default_value = "target/airlock/fuzz/report.json"
    )]
    pub report: PathBuf,
    /// Run even if this kernel lacks a sandbox layer.
    #[arg(long)]
    pub allow_degraded: bool,
}

/// Reruns and reports.
pub(crate) fn run(args: ReproArgs) -> anyhow::Result<Outcome> {
    let as_path = PathBuf::from(&args.id_or_artifact);
    let (project, target, input, expected) = if as_path.is_file() {
        // <project>/artifacts/<target>/<file>
        let input = std::fs::canonicalize(&as_path)?;
        let target_dir = input.parent().context("artifact has no parent directory")?;
        let target = target_dir
            .file_name()
            .and_then(|n| n.to_str())
            .context("artifact is not under artifacts/<target>/")?
            .to_owned();
        let project = target_dir
            .parent()
            .and_then(|a| a.parent())
            .context("artifact is not under <project>/artifacts/<target>/")?
            .to_owned();
        (project, target, input, None)
    } else {
        let section = crate::cmd::fuzz::load_section(&args.report)?;
        let finding = section
            .findings
            .iter()
            .find(|f| f.id == args.id_or_artifact)
            .ok_or_else(|| FuzzError::UnknownFinding(args.id_or_artifact.clone()))?;
        (
            section.project.clone(),
            finding.target.clone(),
            finding.reproducer.clone(),
            Some(finding.signature.clone()),
        )
    };
    eprintln!(
        "repro: {target} on {} (rebuilding if needed)",
        input.display()
    );
    let scratch = std::env::temp_dir().join(format!("airlock-repro-{}", std::process::id()));
    let vetting = fuzz::Vetting {
        airlock_bin: crate::cmd::fuzz::airlock_bin()?,
        allow_degraded: args.allow_degraded,
    };
    let (rep, signature) = fuzz::reproduce(
        &project,
        &target,
        &input,
        &scratch,
        vetting,
        crate::cmd::fuzz::progress,
    )
    .context("cannot reproduce")?;
    let _ = std::fs::remove_dir_all(&scratch);
    match std::fs::read(&input) {
        Ok(bytes) => print!("{}", describe_input(&bytes)),
        Err(e) => println!("input: cannot read {}: {e}", input.display()),
    }
    match rep.crash {
        Some(crash) => {
            println!("{} {}: {}", target, crash.kind, crash.message);
            for (i, f) in crash.frames.iter().enumerate().take(16) {
                println!(
                    "  #{i} {}{}",
                    f.function,
                    f.location
                        .as_ref()
                        .map(|l| format!(" at {l}"))
                        .unwrap_or_default()
                );
            }
            println!("signature: {signature}");
            if let Some(expected) = expected {
                if expected != signature {
                    println!("note: the report's signature was {expected}; the crash has moved");
                }
            }
            Ok(Outcome::Findings)
        }
        None => {
            println!("{target}: the input no longer crashes: fixed");
            Ok(Outcome::Clean)
        }
    }
}

/// Bytes of the input shown as escaped text.
const TEXT_SHOWN: usize = 256;
/// Bytes of the input shown as hex.
const HEX_SHOWN: usize = 64;

/// The input as printed: its length, its first [`TEXT_SHOWN`] bytes as escaped text (`\n`,
/// `\x00`) and its first [`HEX_SHOWN`] bytes as hex, each saying how much was left out.
fn describe_input(bytes: &[u8]) -> String {
    let more = |shown: usize| {
        if bytes.len() > shown {
            format!(" ... ({} more bytes)", bytes.len() - shown)
        } else {
            String::new()
        }
    };
    let text = bytes[..bytes.len().min(TEXT_SHOWN)]
        .escape_ascii()
        .to_string();
    let hex: Vec<String> = bytes[..bytes.len().min(HEX_SHOWN)]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!(
        "input: {} bytes\n  text: \"{text}\"{}\n  hex:  {}{}\n",
        bytes.len(),
        more(TEXT_SHOWN),
        hex.join(" "),
        more(HEX_SHOWN)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_input_is_shown_escaped_and_in_hex_and_bounded() {
        let shown = describe_input(b"a = [\n\x00\"");
        assert_eq!(
            shown,
            "input: 8 bytes\n  text: \"a = [\\n\\x00\\\"\"\n  hex:  61 20 3d 20 5b 0a 00 22\n"
        );
        let long = describe_input(&[b'x'; 300]);
        assert!(long.contains("(44 more bytes)"), "{long}");
        assert!(long.contains("(236 more bytes)"), "{long}");
        assert_eq!(long.matches("78").count(), 64, "{long}");
    }
}
