//! The plan of one run: every decision the sandbox makes before anything starts, from the
//! config, what the kernel supports and where the run's own directories are. It creates and
//! changes nothing (it only looks paths up), so each decision is unit-tested here:
//! - which paths become read, write, execute (and write-and-execute) grants, and the refusal of
//!   a write directory beneath an executable one ([`grants`]);
//! - where the decoy home appears: over the real home, or beneath `/run` when a grant needs
//!   the real home itself ([`Home::place`]);
//! - the environment passed in: the caller's variables the profile lets through, the profile's
//!   own (CI markers), the caller's forced ones, the decoy tokens, never a real secret
//!   ([`environment`]);
//! - the mount layout: overlays, what each grant looks like inside, which protected paths get
//!   a mask ([`Layout`]);
//! - what the supervisor knows of the inside view ([`InsideView`]).

use std::ffi::{OsStr, OsString};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::child::{MAX_ARGS, MAX_ENV};
use super::landlock::{FsRule, Grant};
use super::namespaces::{attr, Overlay, Visible};
use super::supervisor::normalize;
use super::{SandboxConfig, SandboxError};
use crate::profile::Profile;

/// The `PATH` inside when the caller passes none.
const DEFAULT_PATH: &str = "/usr/local/bin:/usr/bin:/bin";

/// Where the run keeps its own directories on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RunPaths {
    /// Holds the decoy home, `/run` and `/dev/shm` stand-ins and the tripwires.
    pub root: PathBuf,
    /// The private `/tmp` (on the temporary directory's disk).
    pub private_tmp: PathBuf,
    pub decoy_home: PathBuf,
    /// Shown as `/run`.
    pub run_dir: PathBuf,
    /// Shown as `/dev/shm`.
    pub shm_dir: PathBuf,
}

impl RunPaths {
    /// The run's directories beneath `root`, with the private `/tmp` at `private_tmp`.
    pub(super) fn new(root: &Path, private_tmp: &Path) -> RunPaths {
        RunPaths {
            root: root.to_owned(),
            private_tmp: private_tmp.to_owned(),
            decoy_home: root.join("home"),
            run_dir: root.join("run"),
            shm_dir: root.join("shm"),
        }
    }

    /// Whether `path` is one of the run's own directories (or beneath one).
    fn owns(&self, path: &Path) -> bool {
        path.starts_with(&self.root) || path.starts_with(&self.private_tmp)
    }
}

/// The program to run, after checking the command's length.
pub(crate) fn program(config: &SandboxConfig) -> Result<&OsStr, SandboxError> {
    let Some(program) = config.command.first() else {
        return Err(SandboxError::NoCommand);
    };
    if config.command.len() >= MAX_ARGS {
        return Err(SandboxError::Prepare {
            step: "passing arguments".into(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "too many arguments"),
        });
    }
    Ok(program)
}

/// The paths the caller named, checked and in canonical form.
#[derive(Debug, Clone, Default)]
pub(crate) struct Request {
    pub read: Vec<PathBuf>,
    pub write: Vec<PathBuf>,
    pub write_exec: Vec<PathBuf>,
    /// Write directories whose produced programs may run (`SandboxConfig::produced_exec`).
    pub produced_exec: Vec<PathBuf>,
    pub exec: Vec<PathBuf>,
    /// Write directories whose files may be mapped executable (those that exist).
    pub exec_map: Vec<PathBuf>,
    /// The working directory (canonical where it exists).
    pub cwd: PathBuf,
}

impl Request {
    /// Checks and canonicalizes the caller's paths: each must exist, write directories must be
    /// directories.
    pub(super) fn resolve(config: &SandboxConfig) -> Result<Request, SandboxError> {
        let all = |paths: &[PathBuf], check: &dyn Fn(&Path) -> Result<PathBuf, SandboxError>| {
            paths
                .iter()
                .map(|p| check(p))
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Request {
            read: all(&config.extra_read, &|p| existing("read", p))?,
            write: all(&config.extra_write, &|p| write_dir("write", p))?,
            write_exec: all(&config.extra_write_exec, &|p| write_dir("write", p))?,
            produced_exec: all(&config.produced_exec, &|p| write_dir("write", p))?,
            exec: all(&config.extra_exec, &|p| existing("exec", p))?,
            exec_map: config
                .exec_map
                .iter()
                .filter_map(|p| fs::canonicalize(p).ok())
                .collect(),
            cwd: fs::canonicalize(&config.cwd).unwrap_or_else(|_| config.cwd.clone()),
        })
    }
}

/// Canonical form of a user-given path that must exist.
fn existing(flag: &'static str, path: &Path) -> Result<PathBuf, SandboxError> {
    fs::canonicalize(path).map_err(|source| {
        if source.kind() == io::ErrorKind::NotFound {
            SandboxError::BadPath {
                flag,
                path: path.to_owned(),
                reason: "does not exist; create it first or fix the path".into(),
            }
        } else {
            SandboxError::Unusable {
                flag,
                path: path.to_owned(),
                source,
            }
        }
    })
}

/// Canonical form of a user-given directory that must exist.
fn write_dir(flag: &'static str, path: &Path) -> Result<PathBuf, SandboxError> {
    let c = existing(flag, path)?;
    if !c.is_dir() {
        return Err(SandboxError::BadPath {
            flag,
            path: path.to_owned(),
            reason: "is not a directory".into(),
        });
    }
    Ok(c)
}

/// The filesystem grants of a run: the profile's, the caller's, and the run's own directories
/// (private `/tmp` and `/dev/shm` writable, the decoy home readable). A profile path marked
/// optional is skipped where it does not exist; any other missing path is an error. A write
/// directory beneath an executable one is refused: Landlock rights add up down the tree, so
/// the sandbox could run what it writes there.
pub(crate) fn grants(
    profile: &Profile,
    request: &Request,
    paths: &RunPaths,
) -> Result<Vec<FsRule>, SandboxError> {
    let mut rules: Vec<FsRule> = Vec::new();
    let mut add = |path: &Path, grant: Grant, optional: bool| -> Result<(), SandboxError> {
        match fs::canonicalize(path) {
            Ok(p) => {
                rules.push(FsRule { path: p, grant });
                Ok(())
            }
            Err(_) if optional => Ok(()),
            Err(e) => Err(SandboxError::Prepare {
                step: format!(
                    "granting {} from profile `{}`",
                    path.display(),
                    profile.name
                ),
                source: e,
            }),
        }
    };
    for a in &profile.read {
        add(&a.path, Grant::Read, a.optional)?;
    }
    for a in &profile.exec {
        add(&a.path, Grant::Exec, a.optional)?;
    }
    for a in &profile.write {
        add(&a.path, Grant::Write, a.optional)?;
    }
    for (list, grant) in [
        (&request.read, Grant::Read),
        (&request.exec, Grant::Exec),
        (&request.write, Grant::Write),
        (&request.write_exec, Grant::WriteExec),
        // Executable for Landlock; the supervisor runs only produced programs there.
        (&request.produced_exec, Grant::WriteExec),
    ] {
        for p in list {
            add(p, grant, false)?;
        }
    }
    add(&paths.private_tmp, Grant::Write, false)?;
    add(&paths.shm_dir, Grant::Write, false)?;
    add(&paths.decoy_home, Grant::Read, false)?;
    // Only an explicit write-and-execute grant may be both.
    for w in rules.iter().filter(|r| r.grant == Grant::Write) {
        if let Some(x) = rules
            .iter()
            .find(|r| r.grant.executable() && w.path.starts_with(&r.path))
        {
            return Err(SandboxError::BadPath {
                flag: "write",
                path: w.path.clone(),
                reason: format!(
                    "lies inside executable directory {}: the sandbox could run what it writes. Choose a write directory outside it",
                    x.path.display()
                ),
            });
        }
    }
    Ok(rules)
}

/// Where the decoy home appears inside the sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Home {
    /// The caller's `HOME`.
    pub real: Option<PathBuf>,
    /// `HOME` inside: the real home's path (the decoy home laid over it), `/run/airlock/home`,
    /// or, without namespaces, the decoy home's host path.
    pub inside: PathBuf,
    /// Whether the decoy home is laid over the real home (then the real home's entries get
    /// empty stand-ins, see `tripwire::mirror_home`).
    pub over_real: bool,
}

impl Home {
    /// Over the real home, unless a grant needs the real home itself (a grant of the home, or
    /// a write or execute grant above it): then beneath `/run`.
    pub(super) fn place(
        real: Option<&Path>,
        rules: &[FsRule],
        namespaces: bool,
        decoy_home: &Path,
    ) -> Home {
        let overlay_ok = real.is_some_and(|h| {
            h.is_absolute()
                && h != Path::new("/")
                && h.is_dir()
                && !rules
                    .iter()
                    .any(|r| h.starts_with(&r.path) && r.grant != Grant::Read || r.path == h)
        });
        let inside = match (real, overlay_ok, namespaces) {
            (Some(h), true, true) => fs::canonicalize(h).unwrap_or_else(|_| h.to_owned()),
            (_, _, true) => PathBuf::from("/run/airlock/home"),
            (_, _, false) => decoy_home.to_owned(),
        };
        Home {
            real: real.map(Path::to_owned),
            inside,
            over_real: real.is_some() && overlay_ok && namespaces,
        }
    }
}

/// The command's environment: the caller's variables that the profile passes, `HOME` (the
/// decoy home), `TMPDIR` (the private `/tmp`), a default `PATH`, then, each replacing what came
/// before, the profile's `env.set`, the config's `env_set` and the decoy tokens.
pub(crate) fn environment(
    config: &SandboxConfig,
    home: &Home,
    tmpdir: &Path,
    decoy_env: &[(String, String)],
) -> Result<Vec<(OsString, OsString)>, SandboxError> {
    let profile = &config.profile;
    let mut env: Vec<(OsString, OsString)> = config
        .env
        .iter()
        .filter(|(k, _)| profile.env.passes(&k.to_string_lossy()))
        .cloned()
        .collect();
    env.retain(|(k, _)| k != "HOME" && k != "TMPDIR");
    env.push(("HOME".into(), home.inside.clone().into_os_string()));
    env.push(("TMPDIR".into(), tmpdir.as_os_str().to_owned()));
    if !env.iter().any(|(k, _)| k == "PATH") {
        env.push(("PATH".into(), DEFAULT_PATH.into()));
    }
    let mut set = |k: OsString, v: OsString| {
        env.retain(|(ek, _)| *ek != k);
        env.push((k, v));
    };
    for (k, v) in &profile.env.set {
        set(k.into(), v.into());
    }
    for (k, v) in &config.env_set {
        set(k.clone(), v.clone());
    }
    for (k, v) in decoy_env {
        set(k.into(), v.into());
    }
    if env.len() >= MAX_ENV {
        return Err(SandboxError::Prepare {
            step: "passing the environment".into(),
            source: io::Error::new(io::ErrorKind::InvalidInput, "too many variables"),
        });
    }
    Ok(env)
}

/// Finds `program` in `path_var` (the `PATH` inside) unless it is a path already.
pub(crate) fn resolve_program(
    program: &OsStr,
    path_var: Option<&OsStr>,
) -> Result<PathBuf, SandboxError> {
    let p = Path::new(program);
    if p.components().count() > 1 || p.is_absolute() {
        return Ok(fs::canonicalize(p).unwrap_or_else(|_| p.to_owned()));
    }
    let search = path_var.unwrap_or(OsStr::new(DEFAULT_PATH));
    for dir in std::env::split_paths(search) {
        let candidate = dir.join(p);
        if let Ok(meta) = fs::metadata(&candidate) {
            use std::os::unix::fs::PermissionsExt;
            if meta.is_file() && meta.permissions().mode() & 0o111 != 0 {
                return Ok(candidate);
            }
        }
    }
    Err(SandboxError::CommandNotFound {
        program: program.to_string_lossy().into_owned(),
        path: search.to_string_lossy().into_owned(),
    })
}

/// The mount namespace's layout, before the mask tripwires exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Layout {
    /// Host directories hidden behind the run's own: `/tmp`, `/run`, the home, `/dev/shm`.
    pub overlays: Vec<Overlay>,
    /// Every grant at its own path, with its mount attributes, and the working directory.
    pub visible: Vec<Visible>,
    /// Protected paths a broader grant would expose, each to be covered by a tripwire.
    pub masks: Vec<PathBuf>,
}

impl Layout {
    /// The layout for `rules`. Every grant appears at its host path; writable directories are
    /// `noexec` except write-and-execute grants and `exec_map` directories (mappable, not
    /// executable: Landlock still refuses `execve` there).
    pub(super) fn new(
        profile: &Profile,
        request: &Request,
        rules: &[FsRule],
        paths: &RunPaths,
        home: &Home,
    ) -> Layout {
        let mut overlays = vec![
            Overlay {
                target: "/tmp".into(),
                source: paths.private_tmp.clone(),
                attrs: attr::NOSUID | attr::NODEV | attr::NOEXEC,
            },
            Overlay {
                target: "/run".into(),
                source: paths.run_dir.clone(),
                attrs: attr::NOSUID | attr::NODEV | attr::NOEXEC,
            },
            Overlay {
                target: home.inside.clone(),
                source: paths.decoy_home.clone(),
                attrs: attr::RDONLY | attr::NOSUID | attr::NODEV | attr::NOEXEC,
            },
        ];
        if Path::new("/dev/shm").is_dir() {
            overlays.push(Overlay {
                target: "/dev/shm".into(),
                source: paths.shm_dir.clone(),
                attrs: attr::NOSUID | attr::NODEV | attr::NOEXEC,
            });
        }
        let mut visible: Vec<Visible> = rules
            .iter()
            .filter(|r| !paths.owns(&r.path))
            .map(|r| Visible {
                path: r.path.clone(),
                attrs: match r.grant {
                    Grant::Read => attr::RDONLY | attr::NOSUID | attr::NODEV,
                    Grant::Exec => attr::RDONLY | attr::NODEV,
                    Grant::Write if request.exec_map.contains(&r.path) => {
                        attr::NOSUID | attr::NODEV
                    }
                    Grant::Write => attr::NOSUID | attr::NODEV | attr::NOEXEC,
                    Grant::WriteExec => attr::NOSUID | attr::NODEV,
                },
                self_bind: r.grant.writable() && r.path.is_dir(),
                contents: true,
            })
            .collect();
        visible.push(Visible {
            path: request.cwd.clone(),
            attrs: attr::RDONLY | attr::NOSUID | attr::NODEV,
            self_bind: false,
            contents: false,
        });
        Layout {
            overlays,
            visible,
            masks: masked(profile, rules),
        }
    }
}

/// The protected paths (existing, canonical) that lie strictly beneath a grant and contain
/// none: a broader grant would expose them, so a tripwire covers each.
pub(crate) fn masked(profile: &Profile, rules: &[FsRule]) -> Vec<PathBuf> {
    profile
        .protect
        .iter()
        .filter_map(|a| fs::canonicalize(&a.path).ok())
        .filter(|p| rules.iter().any(|r| p.starts_with(&r.path) && p != &r.path))
        .filter(|p| !rules.iter().any(|r| r.path.starts_with(p)))
        .collect()
}

/// What the supervisor knows of the sandbox's view, in inside paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct InsideView {
    /// Every grant except the decoy home (beneath it, whatever is not a decoy is the real home).
    pub grants: Vec<PathBuf>,
    /// Writable regions, deepest wins: write grants are writable; every other grant seen through
    /// a rebind is mounted read-only, even beneath the private `/tmp`.
    pub write_regions: Vec<(PathBuf, bool)>,
    pub exec_dirs: Vec<PathBuf>,
    pub write_exec_dirs: Vec<PathBuf>,
    /// Those of `write_exec_dirs` where only produced programs may run.
    pub produced_dirs: Vec<PathBuf>,
    /// The profile's protected paths, and the real home where the decoy home is not over it.
    pub protect: Vec<PathBuf>,
}

impl InsideView {
    /// The inside view of `rules`.
    pub(super) fn new(
        profile: &Profile,
        rules: &[FsRule],
        paths: &RunPaths,
        home: &Home,
    ) -> InsideView {
        let inside = |p: &Path| inside_path(p, paths, home);
        let not_home = || rules.iter().filter(|r| r.path != paths.decoy_home);
        let mut protect: Vec<PathBuf> =
            profile.protect.iter().map(|a| normalize(&a.path)).collect();
        if let Some(h) = &home.real {
            if home.inside != *h {
                protect.push(normalize(h));
            }
        }
        InsideView {
            grants: not_home().map(|r| inside(&r.path)).collect(),
            write_regions: not_home()
                .map(|r| (inside(&r.path), r.grant.writable()))
                .collect(),
            exec_dirs: rules
                .iter()
                .filter(|r| r.grant.executable())
                .map(|r| inside(&r.path))
                .collect(),
            write_exec_dirs: rules
                .iter()
                .filter(|r| r.grant == Grant::WriteExec)
                .map(|r| inside(&r.path))
                .collect(),
            produced_dirs: Vec::new(),
            protect,
        }
    }
}

/// Where host path `p` appears inside: the run's directories at their inside places, every
/// grant at its own path.
pub(crate) fn inside_path(p: &Path, paths: &RunPaths, home: &Home) -> PathBuf {
    if let Ok(rel) = p.strip_prefix(&paths.private_tmp) {
        Path::new("/tmp").join(rel)
    } else if p.starts_with(&paths.shm_dir) {
        PathBuf::from("/dev/shm")
    } else if p.starts_with(&paths.decoy_home) {
        home.inside.clone()
    } else {
        p.to_owned()
    }
}

/// The produced-program directories of `request` (inside view).
fn produced_dirs(request: &Request, paths: &RunPaths, home: &Home) -> Vec<PathBuf> {
    request
        .produced_exec
        .iter()
        .map(|p| inside_path(p, paths, home))
        .collect()
}

/// The whole plan of a run.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub rules: Vec<FsRule>,
    pub home: Home,
    pub env: Vec<(OsString, OsString)>,
    /// The program's path, found in the inside `PATH`.
    pub program: PathBuf,
    /// The mount layout; `None` without namespaces.
    pub layout: Option<Layout>,
    pub view: InsideView,
}

impl Plan {
    /// Plans a run of `config` (whose paths are `request`) in `paths`, with new namespaces or
    /// not, for a caller whose `HOME` is `real_home`, with the decoy tokens `decoy_env`.
    pub(super) fn new(
        config: &SandboxConfig,
        request: &Request,
        paths: &RunPaths,
        namespaces: bool,
        real_home: Option<&Path>,
        decoy_env: &[(String, String)],
    ) -> Result<Plan, SandboxError> {
        let profile = &config.profile;
        let program = program(config)?;
        let rules = grants(profile, request, paths)?;
        let home = Home::place(real_home, &rules, namespaces, &paths.decoy_home);
        let tmpdir = if namespaces {
            Path::new("/tmp")
        } else {
            &paths.private_tmp
        };
        let env = environment(config, &home, tmpdir, decoy_env)?;
        let path_var = env.iter().find(|(k, _)| k == "PATH").map(|(_, v)| v);
        let program = resolve_program(program, path_var.map(OsString::as_os_str))?;
        let layout = namespaces.then(|| Layout::new(profile, request, &rules, paths, &home));
        let mut view = InsideView::new(profile, &rules, paths, &home);
        view.produced_dirs = produced_dirs(request, paths, &home);
        Ok(Plan {
            rules,
            home,
            env,
            program,
            layout,
            view,
        })
    }

    /// The paths a mirrored home must leave to their rebinds: every grant and the working
    /// directory.
    pub(super) fn keep_out_of_home(&self, request: &Request) -> Vec<PathBuf> {
        self.rules
            .iter()
            .map(|r| r.path.clone())
            .chain([request.cwd.clone()])
            .collect()
    }
}

#[cfg(test)]
mod tests;
