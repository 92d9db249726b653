//! The run's own directories on the host and what is planted in them: the decoy home (decoys,
//! stand-ins mirroring the real home), `/run` and `/dev/shm` stand-ins, the tripwires that
//! mask protected paths, and the private `/tmp`; and, when asked, a decoy `.env` in the working
//! directory (one the tool owns). Everything is removed when the run ends.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::sys::statfs::{statfs, TMPFS_MAGIC};
use nix::unistd::{access, AccessFlags};
use tempfile::TempDir;

use super::decoys::DecoySet;
use super::plan::{Plan, Request, RunPaths};
use super::tripwire::{self, Meaning, Tripwire};
use super::SandboxError;

/// The directories of one run, and the tripwires planted so far.
#[derive(Debug)]
pub(crate) struct RunDir {
    /// Holds the small files (on a tmpfs where there is one).
    _root: TempDir,
    /// The private `/tmp`, on the temporary directory's disk: builds may put large files there.
    _tmp: TempDir,
    pub paths: RunPaths,
    tripwire_dir: PathBuf,
    /// Every tripwire planted, for the supervisor's inotify watch.
    pub tripwires: Vec<Tripwire>,
    /// Decoy files planted outside the run's directories (the `.env`), removed with the run.
    planted_outside: Vec<PathBuf>,
}

impl Drop for RunDir {
    fn drop(&mut self) {
        // Its own again (see [`hide`]), for the removal.
        reveal(&self.paths.root);
        for path in &self.planted_outside {
            let _ = fs::remove_file(path);
        }
    }
}

fn step<T>(what: &str, result: io::Result<T>) -> Result<T, SandboxError> {
    super::prepare(what, result)
}

impl RunDir {
    /// Creates the run's directories.
    pub(super) fn create() -> Result<RunDir, SandboxError> {
        let root = step(
            "creating the run directory",
            tempfile::Builder::new()
                .prefix("airlock-run-")
                .tempdir_in(scratch_base()),
        )?;
        let tmp = step(
            "creating the private /tmp",
            tempfile::Builder::new().prefix("airlock-tmp-").tempdir(),
        )?;
        let paths = RunPaths::new(root.path(), tmp.path());
        for d in [&paths.decoy_home, &paths.run_dir, &paths.shm_dir] {
            step("creating the run directory", fs::create_dir(d))?;
        }
        step(
            "opening the private /tmp",
            fs::set_permissions(&paths.private_tmp, fs::Permissions::from_mode(0o1777)),
        )?;
        let tripwire_dir = root.path().join("tripwires");
        step("creating the run directory", fs::create_dir(&tripwire_dir))?;
        Ok(RunDir {
            _root: root,
            _tmp: tmp,
            paths,
            tripwire_dir,
            tripwires: Vec::new(),
            planted_outside: Vec::new(),
        })
    }

    /// Plants the decoy home (when `enabled`), each decoy file a tripwire, and a decoy `.env`
    /// in `dotenv_dir` when given (the working directory, which the caller owns: see
    /// `SandboxConfig::decoy_dotenv`).
    pub(super) fn plant_decoys(
        &mut self,
        enabled: bool,
        dotenv_dir: Option<&Path>,
    ) -> Result<Option<DecoySet>, SandboxError> {
        if !enabled {
            return Ok(None);
        }
        let home = &self.paths.decoy_home;
        let mut set = step("planting decoys", DecoySet::plant(home))?;
        if let Some(dir) = dotenv_dir {
            let planted = step("planting the decoy .env", set.plant_dotenv(dir))?;
            self.planted_outside.extend(planted);
        }
        self.tripwires.extend(set.decoys.iter().filter_map(|d| {
            Some(Tripwire {
                host: home.join(d.file.as_ref()?),
                meaning: Meaning::Decoy(d.name.clone()),
            })
        }));
        Ok(Some(set))
    }

    /// Plants the plan's tripwires: where the decoy home lies over the real home, an empty
    /// stand-in for each of the real home's entries (see [`tripwire::mirror_home`]) except the
    /// granted paths; and a mask for each protected path the mount layout would expose.
    /// Returns the masks (target, tripwire) for the mount plan.
    pub(super) fn plant_tripwires(
        &mut self,
        plan: &Plan,
        request: &Request,
    ) -> Result<Vec<(PathBuf, PathBuf)>, SandboxError> {
        if let (true, Some(real)) = (plan.home.over_real, &plan.home.real) {
            self.tripwires.extend(tripwire::mirror_home(
                real,
                &self.paths.decoy_home,
                &plan.home.inside,
                &plan.keep_out_of_home(request),
            ));
        }
        match &plan.layout {
            Some(layout) => self.plant_masks(&layout.masks),
            None => Ok(Vec::new()),
        }
    }

    /// Plants one tripwire (a directory or an empty file, like its target) per protected path
    /// to mask, and pairs each target with it.
    fn plant_masks(
        &mut self,
        targets: &[PathBuf],
    ) -> Result<Vec<(PathBuf, PathBuf)>, SandboxError> {
        let mut masks = Vec::new();
        for (i, target) in targets.iter().enumerate() {
            let wire = self.tripwire_dir.join(format!("mask-{i}"));
            let made = if target.is_dir() {
                fs::create_dir(&wire)
            } else {
                fs::write(&wire, b"")
            };
            step("planting a tripwire", made)?;
            self.tripwires.push(Tripwire {
                host: wire.clone(),
                meaning: Meaning::Protected(target.clone()),
            });
            masks.push((target.clone(), wire));
        }
        Ok(masks)
    }
}

/// Hides the run's directory from the host once the sandbox has mounted what it shows from
/// there (decoy home, stand-ins, tripwires, `/run`, `/dev/shm`): mode `000`, so that no
/// process of the run's user on the host (a `find /`, an indexer, a backup) can open a
/// stand-in or a decoy by its host name. Unprivileged, the tripwires are watched with
/// inotify, which names no opener: such an open would otherwise count as the run's. The
/// sandbox reaches these files through its mounts, which no permission on a directory above
/// them governs. A process running as root still gets through: as root the watch is fanotify,
/// which tells a host open from the run's; run unprivileged, a root process walking the
/// directory (a backup running as root) is the one case left.
pub(crate) fn hide(root: &Path) {
    let _ = fs::set_permissions(root, fs::Permissions::from_mode(0o000));
}

/// Undoes [`hide`]: the run's directory is readable by its owner again (for the scans after
/// the run and the removal).
pub(crate) fn reveal(root: &Path) {
    let _ = fs::set_permissions(root, fs::Permissions::from_mode(0o700));
}

/// Where a run keeps its own small files: a tmpfs (`$XDG_RUNTIME_DIR`, then `/dev/shm`) where
/// one is writable, else the temporary directory.
///
/// A run creates and deletes a few dozen inodes (decoys, stand-ins mirroring the real home,
/// tripwires). On ext4, allocating inodes in a directory that churns through many deleted ones
/// scans the inode bitmap and table (`find_inode_bit`, `recently_deleted`): measured at 40% of
/// a run's setup CPU on this project's machines; on tmpfs it costs nothing.
fn scratch_base() -> PathBuf {
    let candidates = std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("/dev/shm")]);
    for dir in candidates {
        let usable = statfs(&dir).is_ok_and(|st| st.filesystem_type() == TMPFS_MAGIC)
            && access(&dir, AccessFlags::W_OK | AccessFlags::X_OK).is_ok();
        if usable {
            return dir;
        }
    }
    std::env::temp_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_are_tripwires_of_their_targets_kind() {
        let targets = tempfile::tempdir().unwrap();
        let dir = targets.path().join("ssh");
        let file = targets.path().join("shadow");
        fs::create_dir(&dir).unwrap();
        fs::write(&file, "secret").unwrap();
        let mut run = RunDir::create().unwrap();
        let masks = run.plant_masks(&[dir.clone(), file.clone()]).unwrap();
        assert_eq!(masks.len(), 2);
        assert!(masks[0].1.is_dir() && masks[1].1.is_file());
        assert_eq!(fs::read(&masks[1].1).unwrap(), b"", "never the content");
        assert_eq!(run.tripwires.len(), 2);
        let decoys = run.plant_decoys(true, None).unwrap().unwrap();
        assert!(run.tripwires.len() > 2);
        assert!(run.paths.decoy_home.join(".ssh/id_rsa").is_file());
        assert!(!decoys.env.is_empty());
        let root = run.paths.root.clone();
        drop(run);
        assert!(!root.exists(), "removed with the run");
    }
}
