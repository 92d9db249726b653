//! A profile as written: the serde shape of the TOML (unknown keys rejected, values spanned)
//! and [`RawProfile::validate`], the second phase that checks meaning and reports every problem
//! with its place.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use super::units::{parse_duration, parse_size, DEFAULT_FILE_SIZE, DEFAULT_PROCESSES};
use super::{
    locate, Allowance, Compatibility, DeniedSyscall, EnvPolicy, Limits, Placeholders, Problem,
    Profile,
};

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
