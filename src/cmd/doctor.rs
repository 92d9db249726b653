//! `cargo airlock doctor`: what this kernel and toolchain support, and whether the sandbox can
//! be enforced here (exit 2 if not).

use std::process::Command;

use runner::profile::{Placeholders, Profile, DEFAULT_PROFILE};
use runner::sandbox::probe::Support;

use crate::outcome::Outcome;

/// Arguments of `cargo airlock doctor`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  cargo airlock doctor --json")]
pub struct DoctorArgs {
    /// Print the findings as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

fn nightly() -> Option<String> {
    let out = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .output()
        .or_else(|_| {
            Command::new("rustc")
                .args(["+nightly", "--version"])
                .output()
        })
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Probes and prints.
pub fn run(args: DoctorArgs) -> anyhow::Result<Outcome> {
    let support = Support::get();
    let profile = Profile::load(DEFAULT_PROFILE, &Placeholders::from_env())?;
    let missing = support.missing_for(&profile);
    let nightly = nightly();
    if args.json {
        let value = serde_json::json!({
            "support": support,
            "profile_landlock_abi": profile.landlock_abi,
            "nightly": nightly,
            "missing": missing,
            "enforceable": missing.is_empty(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        let ok = |b: bool| if b { "ok" } else { "MISSING" };
        let uid = effective_uid();
        println!("cargo-airlock doctor");
        println!("  kernel              {}", support.kernel);
        println!(
            "  user                {} (uid {uid})",
            if support.root { "root" } else { "unprivileged" }
        );
        match support.landlock_abi {
            Some(abi) => println!(
                "  landlock            ABI {abi} (profiles pin ABI {})  {}",
                profile.landlock_abi,
                ok(abi >= profile.landlock_abi)
            ),
            None => println!("  landlock            not available  MISSING"),
        }
        println!(
            "  seccomp notify      {}  {}",
            if support.seccomp_user_notif {
                "available"
            } else {
                "not available"
            },
            ok(support.seccomp_user_notif)
        );
        println!(
            "  namespaces          user, mount, pid, net, ipc, uts  {}",
            ok(support.user_namespaces)
        );
        println!(
            "  process limit       {}",
            if support.root {
                "pids cgroup + RLIMIT_NPROC"
            } else {
                "RLIMIT_NPROC (per user namespace)"
            }
        );
        println!(
            "  memory limit        {}",
            if support.root {
                "memory cgroup (all of a run's processes together)"
            } else {
                "RLIMIT_AS (per process)"
            }
        );
        match &nightly {
            Some(v) => println!("  nightly toolchain   {v}  ok (needed only by `fuzz`)"),
            None => println!(
                "  nightly toolchain   missing (needed only by `fuzz`): rustup toolchain install nightly"
            ),
        }
        if missing.is_empty() {
            println!("verdict: every sandbox layer is enforced on this machine");
        } else {
            println!("verdict: the sandbox cannot be fully enforced:");
            for m in &missing {
                println!("  - {m}");
            }
            println!("commands refuse to run untrusted code here unless given --allow-degraded");
        }
    }
    Ok(if missing.is_empty() {
        Outcome::Clean
    } else {
        Outcome::Error
    })
}

fn effective_uid() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().nth(1).and_then(|n| n.parse().ok()))
        })
        .unwrap_or(u32::MAX)
}
