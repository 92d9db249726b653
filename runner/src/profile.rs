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

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

/// The profile `sandbox` and `build` use unless told otherwise.
pub const DEFAULT_PROFILE: &str = "build";

/// The built-in profiles, by name: embedded copies of `sandbox-profiles/<name>.toml`.
pub const BUILTIN: &[(&str, &str)] = &[
    ("build", include_str!("../../sandbox-profiles/build.toml")),
    ("strict", include_str!("../../sandbox-profiles/strict.toml")),
    ("fuzz", include_str!("../../sandbox-profiles/fuzz.toml")),
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
    pub name: String,
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
    pub name: String,
    pub description: String,
    pub compatibility: Compatibility,
    /// The Landlock ABI the rules are written for (pinned, never detected at runtime).
    pub landlock_abi: u8,
    pub read: Vec<Allowance>,
    pub write: Vec<Allowance>,
    pub exec: Vec<Allowance>,
    /// Paths whose opens are refused and recorded even where a broader rule would grant them.
    pub protect: Vec<Allowance>,
    pub deny_syscalls: Vec<DeniedSyscall>,
    /// Program names whose execution marks a crate suspicious.
    pub network_tools: Vec<String>,
    pub env: EnvPolicy,
    pub limits: Limits,
    /// Whether to plant the decoy home and decoy tokens.
    pub decoys: bool,
}

/// Values for the placeholders a profile's paths may use: `{home}`, `{cargo_home}`,
/// `{rustup_home}`.
#[derive(Debug, Clone)]
pub struct Placeholders {
    pub home: PathBuf,
    pub cargo_home: PathBuf,
    pub rustup_home: PathBuf,
}

impl Placeholders {
    /// Reads `HOME`, `CARGO_HOME` and `RUSTUP_HOME` from the caller's environment.
    pub fn from_env() -> Self {
        let home = std::env::var_os("HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/root"));
        let cargo_home = std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".cargo"));
        let rustup_home = std::env::var_os("RUSTUP_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".rustup"));
        Placeholders {
            home,
            cargo_home,
            rustup_home,
        }
    }

    fn expand(&self, raw: &str) -> Result<PathBuf, String> {
        let mut out = String::new();
        let mut rest = raw;
        while let Some(start) = rest.find('{') {
            out.push_str(&rest[..start]);
            let end = rest[start..]
                .find('}')
                .ok_or_else(|| format!("unclosed placeholder in `{raw}`"))?;
            let key = &rest[start + 1..start + end];
            let value = match key {
                "home" => &self.home,
                "cargo_home" => &self.cargo_home,
                "rustup_home" => &self.rustup_home,
                other => {
                    return Err(format!(
                        "unknown placeholder `{{{other}}}` (known: {{home}}, {{cargo_home}}, {{rustup_home}})"
                    ))
                }
            };
            out.push_str(&value.to_string_lossy());
            rest = &rest[start + end + 1..];
        }
        out.push_str(rest);
        let path = PathBuf::from(out);
        if !path.is_absolute() {
            return Err(format!("path `{raw}` is not absolute"));
        }
        Ok(path)
    }
}

/// A profile as written, before validation. Unknown keys are rejected by serde.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawProfile {
    profile: RawHeader,
    #[serde(default)]
    limits: RawLimits,
    #[serde(default)]
    read: Vec<RawAllowance>,
    #[serde(default)]
    write: Vec<RawAllowance>,
    #[serde(default)]
    exec: Vec<RawAllowance>,
    #[serde(default)]
    protect: Vec<RawAllowance>,
    #[serde(default, rename = "deny-syscall")]
    deny_syscall: Vec<RawSyscall>,
    #[serde(default)]
    network: RawNetwork,
    #[serde(default)]
    env: RawEnv,
    #[serde(default)]
    decoys: RawDecoys,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    name: String,
    #[serde(default)]
    description: String,
    compatibility: Compatibility,
    #[serde(rename = "landlock-abi")]
    landlock_abi: Spanned<u8>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLimits {
    timeout: Option<Spanned<String>>,
    processes: Option<u64>,
    #[serde(rename = "file-size")]
    file_size: Option<Spanned<String>>,
    memory: Option<Spanned<String>>,
    stack: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAllowance {
    path: Spanned<String>,
    reason: Spanned<String>,
    #[serde(default)]
    optional: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSyscall {
    name: Spanned<String>,
    reason: Spanned<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    #[serde(default)]
    tools: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnv {
    #[serde(default)]
    pass: Vec<String>,
    #[serde(default)]
    set: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDecoys {
    #[serde(default = "yes")]
    enabled: bool,
}

impl Default for RawDecoys {
    fn default() -> Self {
        RawDecoys { enabled: true }
    }
}

fn yes() -> bool {
    true
}

/// One problem in a profile, located in its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub column: usize,
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
    Unknown { name: String },
    /// The profile file could not be read.
    #[error("cannot read profile {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The profile did not parse or did not validate.
    #[error("{}", render_problems(origin, problems))]
    Invalid {
        origin: String,
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

impl RawProfile {
    /// Checks meaning and expands placeholders, collecting every problem.
    pub fn validate(self, text: &str, vars: &Placeholders) -> Result<Profile, Vec<Problem>> {
        let mut problems = Vec::new();
        let mut problem = |offset: usize, message: String| {
            let (line, column) = locate(text, offset);
            problems.push(Problem {
                line,
                column,
                message,
            });
        };

        let abi = *self.profile.landlock_abi.get_ref();
        if !(1..=crate::kernel::NEWEST_KNOWN_ABI).contains(&abi) {
            problem(
                self.profile.landlock_abi.span().start,
                format!(
                    "landlock-abi {abi} is not one this build knows (1..={})",
                    crate::kernel::NEWEST_KNOWN_ABI
                ),
            );
        }

        let mut allowances = |list: Vec<RawAllowance>| -> Vec<Allowance> {
            let mut out = Vec::new();
            for a in list {
                if a.reason.get_ref().trim().is_empty() {
                    problem(
                        a.reason.span().start,
                        "every allowance needs a reason".into(),
                    );
                }
                match vars.expand(a.path.get_ref()) {
                    Ok(path) => out.push(Allowance {
                        path,
                        reason: a.reason.into_inner(),
                        optional: a.optional,
                    }),
                    Err(msg) => problem(a.path.span().start, msg),
                }
            }
            out
        };
        let read = allowances(self.read);
        let write = allowances(self.write);
        let exec = allowances(self.exec);
        let protect = allowances(self.protect);

        let mut deny_syscalls = Vec::new();
        for s in self.deny_syscall {
            if crate::kernel::syscall_number(s.name.get_ref()).is_none() {
                problem(
                    s.name.span().start,
                    format!(
                        "unknown syscall `{}` on this architecture",
                        s.name.get_ref()
                    ),
                );
            }
            if s.reason.get_ref().trim().is_empty() {
                problem(
                    s.reason.span().start,
                    "every denied syscall needs a reason".into(),
                );
            }
            deny_syscalls.push(DeniedSyscall {
                name: s.name.into_inner(),
                reason: s.reason.into_inner(),
            });
        }

        let timeout = match self.limits.timeout {
            None => None,
            Some(t) => match parse_duration(t.get_ref()) {
                Ok(d) => Some(d),
                Err(msg) => {
                    problem(t.span().start, msg);
                    None
                }
            },
        };
        let mut size = |value: Option<Spanned<String>>, default: Option<u64>| match value {
            None => default,
            Some(v) if v.get_ref() == "unlimited" => None,
            Some(v) => match parse_size(v.get_ref()) {
                Ok(n) => Some(n),
                Err(msg) => {
                    problem(v.span().start, msg);
                    default
                }
            },
        };
        let file_size = size(self.limits.file_size, Some(DEFAULT_FILE_SIZE)).unwrap_or(u64::MAX);
        let memory = size(self.limits.memory, None);
        let stack = size(self.limits.stack, None);

        if !problems.is_empty() {
            problems.sort_by_key(|p| (p.line, p.column));
            return Err(problems);
        }
        Ok(Profile {
            name: self.profile.name,
            description: self.profile.description,
            compatibility: self.profile.compatibility,
            landlock_abi: abi,
            read,
            write,
            exec,
            protect,
            deny_syscalls,
            network_tools: self.network.tools,
            env: EnvPolicy {
                pass: self.env.pass,
                set: self.env.set,
            },
            limits: Limits {
                timeout,
                processes: self.limits.processes.unwrap_or(DEFAULT_PROCESSES),
                file_size,
                memory,
                stack,
            },
            decoys: self.decoys.enabled,
        })
    }
}

/// Largest file a sandboxed process may write unless the profile says otherwise.
pub const DEFAULT_FILE_SIZE: u64 = 2 << 30;
/// Processes at once unless the profile says otherwise.
pub const DEFAULT_PROCESSES: u64 = 1024;

/// Parses `90s`, `15m`, `2h`, `500ms`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a duration (e.g. 90s, 15m, 2h)"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => {
            return Err(format!(
                "unknown duration unit `{other}` in `{text}` (ms, s, m, h)"
            ))
        }
    };
    if !seconds.is_finite() || seconds <= 0.0 {
        return Err(format!("duration `{text}` must be positive"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Parses `2GiB`, `512MiB`, `64KiB`, `1G`, or a bare number of bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: u64 = number
        .parse()
        .map_err(|_| format!("`{text}` is not a size (e.g. 2GiB, 512MiB)"))?;
    let factor: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "KiB" | "k" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        "T" | "TiB" => 1 << 40,
        other => {
            return Err(format!(
                "unknown size unit `{other}` in `{text}` (KiB, MiB, GiB)"
            ))
        }
    };
    value
        .checked_mul(factor)
        .ok_or_else(|| format!("size `{text}` is too large"))
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
    fn placeholders_expand_and_unknown_ones_fail() {
        assert_eq!(
            vars().expand("{cargo_home}/registry").unwrap(),
            PathBuf::from("/home/u/.cargo/registry")
        );
        assert!(vars().expand("{nope}/x").is_err());
        assert!(vars().expand("{home").is_err());
    }

    #[test]
    fn sizes_and_durations() {
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("512MiB").unwrap(), 512 << 20);
        assert!(parse_size("lots").is_err());
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("0s").is_err());
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
