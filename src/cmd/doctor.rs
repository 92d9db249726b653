//! `cargo airlock doctor`: what this kernel and toolchain support, and whether the sandbox can
//! be enforced here (exit 2 if not). The text and `--json` carry the same facts.
//!
//! Capabilities are read here with the `caps` crate. The sandbox itself drops them in its
//! child between `clone` and `execve` with raw `capset`/`prctl` calls (runner's
//! `sandbox::child`): that code must not allocate, and `caps` builds a `HashSet` per set.

use std::process::Command;

use caps::{CapSet, CapsHashSet};
use serde_json::{json, Value};

use runner::profile::{Placeholders, Profile, DEFAULT_PROFILE};
use runner::sandbox::probe::Support;

use crate::outcome::Outcome;

/// Arguments of `cargo airlock doctor`.
#[derive(Debug, clap::Args)]
#[command(after_help = "Example:\n  cargo airlock doctor --json")]
pub(crate) struct DoctorArgs {
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

/// The capability sets this process holds, as `caps` reads them (`None` for a set that could
/// not be read): what a sandboxed run would start from, and every one of them is dropped.
struct Capabilities {
    sets: Vec<(&'static str, Option<CapsHashSet>)>,
}

impl Capabilities {
    fn read() -> Capabilities {
        let sets = [
            ("effective", CapSet::Effective),
            ("permitted", CapSet::Permitted),
            ("inheritable", CapSet::Inheritable),
            ("ambient", CapSet::Ambient),
            ("bounding", CapSet::Bounding),
        ];
        Capabilities {
            sets: sets
                .into_iter()
                .map(|(name, set)| (name, caps::read(None, set).ok()))
                .collect(),
        }
    }

    /// The names in a set, sorted.
    fn names(set: &CapsHashSet) -> Vec<String> {
        let mut names: Vec<String> = set.iter().map(ToString::to_string).collect();
        names.sort();
        names
    }

    /// `{"effective": ["CAP_CHOWN", ...], ...}`, `null` for an unreadable set.
    fn to_json(&self) -> Value {
        self.sets
            .iter()
            .map(|(name, set)| {
                let value = set.as_ref().map_or(Value::Null, |s| json!(Self::names(s)));
                ((*name).to_owned(), value)
            })
            .collect::<serde_json::Map<_, _>>()
            .into()
    }

    /// One set in words: `none`, `all 41`, `40 of 41, all but CAP_X` (a set holding most of
    /// them), or its names.
    fn describe(set: Option<&CapsHashSet>) -> String {
        let all = caps::all();
        match set {
            None => "unreadable".to_owned(),
            Some(s) if s.is_empty() => "none".to_owned(),
            Some(s) if *s == all => format!("all {}", s.len()),
            Some(s) if s.len() * 2 > all.len() => {
                let absent: CapsHashSet = all.difference(s).copied().collect();
                format!(
                    "{} of {}, all but {}",
                    s.len(),
                    all.len(),
                    Self::names(&absent).join(", ")
                )
            }
            Some(s) => Self::names(s).join(", "),
        }
    }
}

/// The namespaces a run is created in; this user can create all of them or none
/// ([`Support::user_namespaces`] probes them together).
const NAMESPACES: [&str; 6] = ["user", "mount", "pid", "net", "ipc", "uts"];

/// How a run's process count and memory are capped for this user.
fn limit_methods(root: bool) -> (&'static str, &'static str) {
    if root {
        (
            "pids cgroup + RLIMIT_NPROC",
            "memory cgroup (all of a run's processes together)",
        )
    } else {
        (
            "RLIMIT_NPROC (per user namespace)",
            "RLIMIT_AS (per process)",
        )
    }
}

/// Probes and prints.
pub(crate) fn run(args: DoctorArgs) -> anyhow::Result<Outcome> {
    let support = Support::get();
    let profile = Profile::load(DEFAULT_PROFILE, &Placeholders::from_env())?;
    let missing = support.missing_for(&profile);
    let nightly = nightly();
    let uid = effective_uid();
    let capabilities = Capabilities::read();
    let (process_limit, memory_limit) = limit_methods(support.root);
    let landlock_ok = support
        .landlock_abi
        .is_some_and(|abi| abi >= profile.landlock_abi);
    if args.json {
        let namespaces: serde_json::Map<String, Value> = NAMESPACES
            .iter()
            .map(|n| ((*n).to_owned(), Value::Bool(support.user_namespaces)))
            .collect();
        let value = json!({
            "support": support,
            "user": if support.root { "root" } else { "unprivileged" },
            "uid": uid,
            "landlock_ok": landlock_ok,
            "profile_landlock_abi": profile.landlock_abi,
            "namespaces": namespaces,
            "process_limit": process_limit,
            "memory_limit": memory_limit,
            "capabilities": capabilities.to_json(),
            "nightly": nightly,
            "clang": runner::fuzz::clang(),
            "missing": missing,
            "enforceable": missing.is_empty(),
        });
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        let ok = |b: bool| if b { "ok" } else { "MISSING" };
        println!("cargo-airlock doctor");
        println!("  kernel              {}", support.kernel);
        println!(
            "  user                {} (uid {uid})",
            if support.root { "root" } else { "unprivileged" }
        );
        let set = |name: &str| {
            Capabilities::describe(
                capabilities
                    .sets
                    .iter()
                    .find(|(n, _)| *n == name)
                    .and_then(|(_, s)| s.as_ref()),
            )
        };
        println!(
            "  capabilities        effective {}; bounding {} (a run drops every one)",
            set("effective"),
            set("bounding")
        );
        match support.landlock_abi {
            Some(abi) => println!(
                "  landlock            ABI {abi} (profiles pin ABI {})  {}",
                profile.landlock_abi,
                ok(landlock_ok)
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
            "  namespaces          {}  {}",
            NAMESPACES.join(", "),
            ok(support.user_namespaces)
        );
        println!("  process limit       {process_limit}");
        println!("  memory limit        {memory_limit}");
        match &nightly {
            Some(v) => println!("  nightly toolchain   {v}  ok (needed only by `fuzz`)"),
            None => println!(
                "  nightly toolchain   missing (needed only by `fuzz`): rustup toolchain install nightly"
            ),
        }
        match runner::fuzz::clang() {
            Some(c) => println!(
                "  clang               {}  ok (instruments C code in `fuzz`)",
                c.display()
            ),
            None => println!("  clang               missing: {}", runner::fuzz::NO_CLANG),
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
