//! What running one command by hand (`cargo airlock sandbox -- CMD`) grants besides the
//! profile, and what it tells the user when the sandbox hid something the command named:
//! - the program, resolved through `PATH` as a shell would (or a path such as `./prog`), is
//!   readable and executable inside ([`CommandGrants::exec`]);
//! - the working directory is readable, read-only, unless the caller opts out (`--no-cwd`) or
//!   it is `/`, the home directory (or above it) or beneath a protected path: granting one of
//!   those would expose what the decoy home and the masks hide ([`CommandGrants::read`]);
//! - the arguments that name a file the sandbox hides, each with the flag that would show it
//!   ([`hidden_arguments`]), so that a failing command gets "the sandbox hides it: pass
//!   `--read DIR`" rather than a bare "No such file or directory".
//!
//! Pure but for looking paths up; the engine itself ([`super::run`]) grants only what its
//! config says, so builds are unaffected.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use super::plan::resolve_program;

/// Directories the sandbox replaces with its own (private `/tmp`, empty `/run` and
/// `/dev/shm`): a grant of one of them shows nothing of the host's, only a grant beneath.
const REPLACED: &[&str] = &["/tmp", "/run", "/dev/shm"];
use super::{SandboxConfig, SandboxError};
use crate::profile::Profile;

/// What a command run by hand is granted besides the profile.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CommandGrants {
    /// The program, canonical, when no executable grant of the profile covers it already.
    pub exec: Option<PathBuf>,
    /// The working directory, canonical, when it is granted (read-only).
    pub read: Option<PathBuf>,
    /// Why the working directory was not granted although the caller did not opt out.
    pub cwd_withheld: Option<String>,
}

impl CommandGrants {
    /// The grants for running `program` (as given on the command line) from `cwd` under
    /// `profile`, with `path_var` the `PATH` to search and `home` the caller's home; `read_cwd`
    /// false (`--no-cwd`) leaves the working directory hidden.
    ///
    /// Errors: the program does not exist (a path) or is not on `PATH` (a bare name).
    pub fn new(
        profile: &Profile,
        program: &OsStr,
        cwd: &Path,
        path_var: Option<&OsStr>,
        home: Option<&Path>,
        read_cwd: bool,
    ) -> Result<CommandGrants, SandboxError> {
        let given = Path::new(program);
        let located = if given.components().count() > 1 || given.is_absolute() {
            let on_host = cwd.join(given);
            if fs::symlink_metadata(&on_host).is_err() {
                return Err(SandboxError::NoSuchProgram {
                    program: given.to_owned(),
                    cwd: cwd.to_owned(),
                });
            }
            fs::canonicalize(&on_host).unwrap_or(on_host)
        } else {
            let found = resolve_program(program, path_var)?;
            fs::canonicalize(&found).unwrap_or(found)
        };
        let executable = |p: &Path| {
            profile
                .exec
                .iter()
                .filter_map(|a| fs::canonicalize(&a.path).ok())
                .any(|g| p.starts_with(g))
        };
        let exec = (!executable(&located)).then_some(located);
        let cwd = fs::canonicalize(cwd).unwrap_or_else(|_| cwd.to_owned());
        let (read, cwd_withheld) = if !read_cwd {
            (None, None)
        } else {
            match cwd_refusal(profile, &cwd, home) {
                Some(why) => (None, Some(why)),
                None => (Some(cwd), None),
            }
        };
        Ok(CommandGrants {
            exec,
            read,
            cwd_withheld,
        })
    }

    /// Adds these grants to `config`.
    pub fn apply(&self, config: &mut SandboxConfig) {
        config.extra_exec.extend(self.exec.iter().cloned());
        config.extra_read.extend(self.read.iter().cloned());
    }
}

/// Why `cwd` (canonical) must not be granted by default, if it must not.
fn cwd_refusal(profile: &Profile, cwd: &Path, home: Option<&Path>) -> Option<String> {
    if cwd == Path::new("/") {
        return Some("it is the root directory (pass --read . to show it)".into());
    }
    if REPLACED.iter().any(|r| cwd == Path::new(r)) {
        return Some(format!(
            "the sandbox has its own {}: work from a directory beneath it, or pass --read FILE \
             for each file the command needs",
            cwd.display()
        ));
    }
    if let Some(home) = home.and_then(|h| fs::canonicalize(h).ok()) {
        if home.starts_with(cwd) {
            return Some(format!(
                "it holds your home directory {}, where the sandbox shows a decoy home (pass \
                 --read . to show it)",
                home.display()
            ));
        }
    }
    profile
        .protect
        .iter()
        .filter_map(|a| fs::canonicalize(&a.path).ok())
        .find(|p| cwd.starts_with(p))
        .map(|p| {
            format!(
                "it lies beneath protected path {} (pass --read . to show it)",
                p.display()
            )
        })
}

/// An argument of the command that names a file the sandbox hides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hidden {
    /// The argument as given.
    pub argument: String,
    /// The flag that would make it visible (`--read DIR`, `--exec PATH`).
    pub flag: String,
}

/// The arguments of `config.command` (after the program) that name an existing host file
/// outside every grant of the run (or beneath a protected path), each with the flag to pass.
/// Flags such as `-o` and arguments that name nothing on the host are ignored.
pub fn hidden_arguments(config: &SandboxConfig) -> Vec<Hidden> {
    let profile = &config.profile;
    let canonical = |p: &Path| fs::canonicalize(p).ok();
    let grants: Vec<PathBuf> = [&profile.read, &profile.write, &profile.exec]
        .into_iter()
        .flatten()
        .map(|a| a.path.clone())
        .chain(config.extra_read.iter().cloned())
        .chain(config.extra_write.iter().cloned())
        .chain(config.extra_exec.iter().cloned())
        .chain(config.extra_write_exec.iter().cloned())
        .filter_map(|p| canonical(&p))
        .filter(|p| !REPLACED.iter().any(|r| p == Path::new(r)))
        .collect();
    let protect: Vec<PathBuf> = profile
        .protect
        .iter()
        .filter_map(|a| canonical(&a.path))
        .collect();
    let deepest = |list: &[PathBuf], p: &Path| {
        list.iter()
            .filter(|g| p.starts_with(g))
            .map(|g| g.components().count())
            .max()
    };
    config
        .command
        .iter()
        .skip(1)
        .filter_map(|arg| {
            let text = arg.to_string_lossy();
            if text.starts_with('-') || text.is_empty() {
                return None;
            }
            let path = canonical(&config.cwd.join(arg))?;
            let visible = match (deepest(&grants, &path), deepest(&protect, &path)) {
                (Some(g), Some(p)) => g >= p,
                (Some(_), None) => true,
                (None, _) => false,
            };
            if visible {
                return None;
            }
            let dir = match path.parent() {
                Some(parent)
                    if !path.is_dir() && !REPLACED.iter().any(|r| parent == Path::new(r)) =>
                {
                    parent.to_owned()
                }
                _ => path.clone(),
            };
            Some(Hidden {
                argument: text.into_owned(),
                flag: format!("--read {}", dir.display()),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Placeholders;

    fn profile() -> Profile {
        Profile::load("build", &Placeholders::from_env()).unwrap()
    }

    #[test]
    fn a_relative_program_is_granted_and_the_cwd_is_readable() {
        let dir = tempfile::tempdir().unwrap();
        let prog = dir.path().join("prog");
        fs::write(&prog, "#!/bin/sh\n").unwrap();
        let g = CommandGrants::new(
            &profile(),
            OsStr::new("./prog"),
            dir.path(),
            None,
            None,
            true,
        )
        .unwrap();
        let canonical = fs::canonicalize(dir.path()).unwrap();
        assert_eq!(g.exec, Some(canonical.join("prog")));
        assert_eq!(g.read, Some(canonical));
        assert_eq!(g.cwd_withheld, None);
    }

    #[test]
    fn a_program_on_the_path_under_an_exec_grant_needs_no_grant() {
        let dir = tempfile::tempdir().unwrap();
        let g = CommandGrants::new(&profile(), OsStr::new("sh"), dir.path(), None, None, false)
            .unwrap();
        assert_eq!(g.exec, None);
        assert_eq!(g.read, None, "--no-cwd leaves the working directory hidden");
    }

    #[test]
    fn a_missing_program_is_an_error_naming_it_once() {
        let dir = tempfile::tempdir().unwrap();
        let err = CommandGrants::new(
            &profile(),
            OsStr::new("./does-not-exist"),
            dir.path(),
            None,
            None,
            true,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, SandboxError::NoSuchProgram { .. }), "{text}");
        assert_eq!(text.matches("does-not-exist").count(), 1, "{text}");
        assert!(std::error::Error::source(&err).is_none());
    }

    #[test]
    fn the_home_and_the_root_are_not_granted_by_default() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        fs::create_dir(&home).unwrap();
        for cwd in [
            dir.path(),
            home.as_path(),
            Path::new("/"),
            Path::new("/tmp"),
        ] {
            let g = CommandGrants::new(&profile(), OsStr::new("sh"), cwd, None, Some(&home), true)
                .unwrap();
            assert_eq!(g.read, None, "{}", cwd.display());
            assert!(g.cwd_withheld.is_some());
        }
        let project = home.join("project");
        fs::create_dir(&project).unwrap();
        let g = CommandGrants::new(
            &profile(),
            OsStr::new("sh"),
            &project,
            None,
            Some(&home),
            true,
        )
        .unwrap();
        assert_eq!(g.read, Some(fs::canonicalize(&project).unwrap()));
    }

    #[test]
    fn hidden_arguments_name_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("install.sh");
        fs::write(&script, "true\n").unwrap();
        let mut config = SandboxConfig::new(
            profile(),
            vec![
                "sh".into(),
                "-e".into(),
                "./install.sh".into(),
                "nothing".into(),
            ],
        );
        config.cwd = dir.path().to_owned();
        let hidden = hidden_arguments(&config);
        assert_eq!(hidden.len(), 1, "{hidden:?}");
        assert_eq!(hidden[0].argument, "./install.sh");
        let canonical = fs::canonicalize(dir.path()).unwrap();
        assert_eq!(hidden[0].flag, format!("--read {}", canonical.display()));
        config.extra_read.push(dir.path().to_owned());
        assert!(hidden_arguments(&config).is_empty());
    }
}
