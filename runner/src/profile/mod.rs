//! Sandbox profiles: TOML data that says what a sandboxed process may read, write and execute,
//! which paths are protected, which syscalls are refused, which environment passes through and
//! which limits apply. Every allowance carries a `reason`.
//!
//! Parsing is two-phase, as in cargo-deny: `toml` + serde (`deny_unknown_fields`) reject unknown
//! keys and bad types with a line and column; [`RawProfile::validate`] then checks meaning
//! (absolute paths, known syscalls, sizes, durations) and reports every problem at once, each
//! pointing at its `file:line:col`.
//!
//! The built-in profiles live in `sandbox-profiles/*.toml` and are embedded in the binary.

mod placeholders;
mod raw;
mod units;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

pub use placeholders::Placeholders;
pub use raw::RawProfile;
pub use units::{parse_duration, parse_size, DEFAULT_FILE_SIZE, DEFAULT_PROCESSES};

/// The profile `sandbox` and `build` use unless told otherwise.
pub const DEFAULT_PROFILE: &str = "build";

/// The built-in profiles, by name: embedded copies of `sandbox-profiles/<name>.toml`.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "build",
        include_str!("../../../sandbox-profiles/build.toml"),
    ),
    (
        "strict",
        include_str!("../../../sandbox-profiles/strict.toml"),
    ),
    ("fuzz", include_str!("../../../sandbox-profiles/fuzz.toml")),
    ("test", include_str!("../../../sandbox-profiles/test.toml")),
];

/// Whether a missing sandbox layer is an error or is tolerated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Compatibility {
    /// Every layer must be fully enforced, or the run is refused (unless `--allow-degraded`).
    Required,
    /// Enforce what the kernel supports; the report says what was missing.
    BestEffort,
}

/// One path the profile grants or protects, with the reason it is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allowance {
    /// Absolute path, placeholders expanded.
    pub path: PathBuf,
    /// Why the profile lists it.
    pub reason: String,
    /// Skip silently when the path does not exist on this machine.
    pub optional: bool,
}

/// A syscall the sandbox refuses with `EPERM` and records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeniedSyscall {
    /// The syscall's name on this architecture.
    pub name: String,
    /// Why the profile refuses it.
    pub reason: String,
}

/// Resource limits applied to every process of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time for the whole run.
    pub timeout: Option<Duration>,
    /// Processes (and threads) at once.
    pub processes: u64,
    /// Largest file a process may write, in bytes.
    pub file_size: u64,
    /// Address space per process, in bytes.
    pub memory: Option<u64>,
    /// Main-thread stack per process (RLIMIT_STACK), in bytes; unset keeps the caller's.
    pub stack: Option<u64>,
}

/// Which environment variables reach the sandboxed process.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnvPolicy {
    /// Names (a trailing `*` matches a prefix) passed through from the caller.
    pub pass: Vec<String>,
    /// Variables set inside regardless of the caller (e.g. `CI=true`).
    pub set: BTreeMap<String, String>,
}

impl EnvPolicy {
    /// Whether a caller's variable passes into the sandbox.
    pub fn passes(&self, name: &str) -> bool {
        self.pass.iter().any(|p| match p.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => p == name,
        })
    }
}

/// A validated profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The profile's name (`build`, `strict`, `fuzz`, or its own).
    pub name: String,
    /// What it is for, in a sentence.
    pub description: String,
    /// Whether a missing layer refuses the run.
    pub compatibility: Compatibility,
    /// The Landlock ABI the rules are written for (pinned, never detected at runtime).
    pub landlock_abi: u8,
    /// Paths that may be read (recursively).
    pub read: Vec<Allowance>,
    /// Paths that may be written (recursively).
    pub write: Vec<Allowance>,
    /// Paths whose files may be executed (recursively).
    pub exec: Vec<Allowance>,
    /// Paths whose opens are refused and recorded even where a broader rule would grant them.
    pub protect: Vec<Allowance>,
    /// Syscalls refused with `EPERM` and recorded.
    pub deny_syscalls: Vec<DeniedSyscall>,
    /// Program names whose execution marks a crate suspicious.
    pub network_tools: Vec<String>,
    /// Which environment reaches the sandboxed process.
    pub env: EnvPolicy,
    /// The resource limits of a run.
    pub limits: Limits,
    /// Whether to plant the decoy home and decoy tokens.
    pub decoys: bool,
}

/// One problem in a profile, located in its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line in the profile's text.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// A profile that could not be loaded: every problem found, with where it is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProfileError {
    /// `--profile NAME` named no built-in profile and no existing file.
    #[error(
        "no profile named `{name}`: built-in profiles are {}; or pass the path of a TOML profile",
        builtin_names()
    )]
    Unknown {
        /// The name given.
        name: String,
    },
    /// The profile file could not be read.
    #[error("cannot read profile {}", path.display())]
    Read {
        /// The profile file.
        path: PathBuf,
        /// Why reading failed.
        #[source]
        source: std::io::Error,
    },
    /// The profile did not parse or did not validate.
    #[error("{}", render_problems(origin, problems))]
    Invalid {
        /// The file, or `<built-in NAME>`.
        origin: String,
        /// Every problem found, in source order.
        problems: Vec<Problem>,
    },
}

fn builtin_names() -> String {
    BUILTIN
        .iter()
        .map(|(n, _)| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn render_problems(origin: &str, problems: &[Problem]) -> String {
    let mut out = format!("invalid profile {origin}:");
    for p in problems {
        out.push_str(&format!(
            "\n  {origin}:{}:{}: {}",
            p.line, p.column, p.message
        ));
    }
    out
}

fn locate(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rfind('\n')
        .map_or(before.len(), |nl| before.len() - nl - 1)
        + 1;
    (line, column)
}

impl Profile {
    /// Loads `name_or_path`: a built-in profile name, or a path to a TOML profile.
    pub fn load(name_or_path: &str, vars: &Placeholders) -> Result<Profile, ProfileError> {
        if let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            return Profile::parse(text, &format!("<built-in {name}>"), vars);
        }
        let path = Path::new(name_or_path);
        let looks_like_path = name_or_path.contains('/') || name_or_path.ends_with(".toml");
        if !looks_like_path && !path.exists() {
            return Err(ProfileError::Unknown {
                name: name_or_path.to_owned(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
            path: path.to_owned(),
            source,
        })?;
        Profile::parse(&text, &path.display().to_string(), vars)
    }

    /// Parses and validates a profile's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str, vars: &Placeholders) -> Result<Profile, ProfileError> {
        let raw: RawProfile = toml::from_str(text).map_err(|err| {
            let (line, column) = err.span().map_or((1, 1), |s| locate(text, s.start));
            ProfileError::Invalid {
                origin: origin.to_owned(),
                problems: vec![Problem {
                    line,
                    column,
                    message: err.message().trim().to_owned(),
                }],
            }
        })?;
        raw.validate(text, vars)
            .map_err(|problems| ProfileError::Invalid {
                origin: origin.to_owned(),
                problems,
            })
    }
}

impl fmt::Display for Compatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compatibility::Required => "required",
            Compatibility::BestEffort => "best-effort",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> Placeholders {
        Placeholders {
            home: "/home/u".into(),
            cargo_home: "/home/u/.cargo".into(),
            rustup_home: "/home/u/.rustup".into(),
        }
    }

    #[test]
    fn every_builtin_profile_validates() {
        for (name, _) in BUILTIN {
            let profile = Profile::load(name, &vars()).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(&profile.name, name);
            assert!(profile.read.iter().all(|a| !a.reason.is_empty()));
        }
    }

    #[test]
    fn unknown_key_is_rejected_with_its_line() {
        let text = "[profile]\nname = \"x\"\ncompatibility = \"required\"\nlandlock-abi = 6\n\n[[read]]\npath = \"/usr\"\nreason = \"r\"\nrecursive = true\n";
        let err = Profile::parse(text, "x.toml", &vars())
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("x.toml:6:1") || err.contains("x.toml:9:"),
            "{err}"
        );
        assert!(err.contains("recursive"), "{err}");
    }

    #[test]
    fn every_semantic_problem_is_reported_at_once() {
        let text = r#"[profile]
name = "x"
compatibility = "best-effort"
landlock-abi = 99

[limits]
timeout = "soon"
file-size = "2 parsecs"

[[read]]
path = "relative/dir"
reason = ""

[[deny-syscall]]
name = "no_such_call"
reason = "because"
"#;
        let err = Profile::parse(text, "x.toml", &vars()).unwrap_err();
        let ProfileError::Invalid { problems, .. } = &err else {
            panic!("{err}")
        };
        let lines: Vec<usize> = problems.iter().map(|p| p.line).collect();
        assert_eq!(lines, vec![4, 7, 8, 11, 12, 15], "{err}");
    }

    #[test]
    fn env_patterns() {
        let env = EnvPolicy {
            pass: vec!["PATH".into(), "CARGO_*".into()],
            set: BTreeMap::new(),
        };
        assert!(env.passes("PATH"));
        assert!(env.passes("CARGO_PKG_NAME"));
        assert!(!env.passes("PATHX"));
        assert!(!env.passes("GITHUB_TOKEN"));
    }

    #[test]
    fn unknown_profile_name_says_what_exists() {
        let err = Profile::load("nosuch", &vars()).unwrap_err().to_string();
        assert!(err.contains("`build`") && err.contains("path"), "{err}");
    }
}
