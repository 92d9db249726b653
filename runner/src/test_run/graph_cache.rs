//! The last run's dependency graph and toolchain (host triple and `rustc -V`), reused while
//! nothing they depend on changed: `cargo metadata` and the `rustc` queries cost a warm
//! `cargo airlock test` a few hundred milliseconds that a warm `cargo test` does not spend.
//!
//! The graph is the one the last run's session recorded (`session.json` of
//! `<target>/airlock/test-session`), and next to it a `graph-key` file holds the toolchain's
//! host triple and version and a SHA-256 over everything the two are made from: the tool's version, cargo's path, the
//! manifest and working directory, the environment cargo and rustup read (`CARGO_*`,
//! `RUSTUP_*`, `RUSTC*`, `PATH`), and the contents of the lock file, of the manifest of every
//! path package of the graph (workspace members and path dependencies: a new dependency is an
//! edit of one of them), of cargo's configuration files (`.cargo/config.toml` of the working
//! directory's and the workspace's ancestors and of `CARGO_HOME`) and of the toolchain files
//! (`rust-toolchain.toml`, rustup's `settings.toml`). The key is written after a run only if
//! none of those files changed since the session recorded its graph, and the graph is reused
//! only while the key is still the same. The session is looked for in the target directory
//! cargo uses by default (`CARGO_TARGET_DIR`, else `target/` beside the manifest); a target
//! directory set elsewhere (`build.target-dir`) finds none, and every run reads the graph anew.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use super::hook::RustcIdentity;
use crate::build::graph::{Graph, SourceKind};
use crate::build::session::SessionInfo;

/// The file beside `session.json` that holds the key, the host triple and rustc's version.
const KEY_FILE: &str = "graph-key";

/// Where the graph of the workspace of `manifest` is looked for and kept.
#[derive(Debug, Clone)]
pub(super) struct GraphCache {
    /// `<target>/airlock/<session_subdir>`, for the target directory cargo uses by default.
    session_dir: PathBuf,
    /// The target directory that must be the graph's.
    target: PathBuf,
    manifest: PathBuf,
    cargo: PathBuf,
    cwd: PathBuf,
}

impl GraphCache {
    /// The cache of the workspace of `manifest` (built with `cargo` from `cwd`), whose session
    /// is `session_subdir` of the target directory's `airlock/`.
    pub(super) fn new(manifest: &Path, cargo: &Path, cwd: &Path, session_subdir: &str) -> Self {
        let manifest = std::path::absolute(manifest).unwrap_or_else(|_| manifest.to_owned());
        let from_env = std::env::var_os("CARGO_TARGET_DIR")
            .or_else(|| std::env::var_os("CARGO_BUILD_TARGET_DIR"))
            .filter(|d| !d.is_empty())
            .map(|d| cwd.join(d));
        let target =
            from_env.unwrap_or_else(|| manifest.parent().unwrap_or(Path::new("/")).join("target"));
        let target = fs::canonicalize(&target).unwrap_or(target);
        GraphCache {
            session_dir: target.join("airlock").join(session_subdir),
            target,
            manifest,
            cargo: cargo.to_owned(),
            cwd: cwd.to_owned(),
        }
    }

    /// The last run's graph and toolchain, if nothing they depend on changed since.
    pub(super) fn lookup(&self) -> Option<(Graph, RustcIdentity)> {
        let stored = fs::read_to_string(self.session_dir.join(KEY_FILE)).ok()?;
        let mut lines = stored.lines();
        let (key, host, version) = (lines.next()?, lines.next()?, lines.next()?);
        let rustc = RustcIdentity {
            host: host.to_owned(),
            version: version.to_owned(),
        };
        let graph = self.recorded_graph()?.0;
        (self.key(&graph, &rustc) == key).then_some((graph, rustc))
    }

    /// Notes the key of the graph the session just recorded, with the toolchain `rustc`,
    /// unless one of the files it depends on changed after the graph was read.
    pub(super) fn store(&self, rustc: &RustcIdentity) {
        let path = self.session_dir.join(KEY_FILE);
        let _ = fs::remove_file(&path);
        let Some((graph, recorded)) = self.recorded_graph() else {
            return;
        };
        let changed_since = self
            .inputs(&graph)
            .1
            .iter()
            .filter_map(|f| fs::metadata(f).and_then(|m| m.modified()).ok())
            .any(|t| t >= recorded);
        if !changed_since {
            let key = self.key(&graph, rustc);
            let _ = fs::write(&path, format!("{key}\n{}\n{}\n", rustc.host, rustc.version));
        }
    }

    /// The graph `session.json` recorded, with the time it was written, if it is of this
    /// target directory.
    fn recorded_graph(&self) -> Option<(Graph, SystemTime)> {
        let path = self.session_dir.join("session.json");
        let written = fs::metadata(&path).and_then(|m| m.modified()).ok()?;
        let info: SessionInfo = serde_json::from_slice(&fs::read(&path).ok()?).ok()?;
        let theirs = fs::canonicalize(&info.graph.target_directory).ok()?;
        (theirs == self.target).then_some((info.graph, written))
    }

    /// The key of `graph` and `rustc` as the files and environment are now.
    fn key(&self, graph: &Graph, rustc: &RustcIdentity) -> String {
        let (env, files) = self.inputs(graph);
        let mut h = Sha256::new();
        let mut put = |bytes: &[u8]| {
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        put(env!("CARGO_PKG_VERSION").as_bytes());
        put(rustc.host.as_bytes());
        put(rustc.version.as_bytes());
        for p in [&self.cargo, &self.manifest, &self.cwd] {
            put(p.as_os_str().as_encoded_bytes());
        }
        for (k, v) in &env {
            put(k.as_encoded_bytes());
            put(v.as_encoded_bytes());
        }
        for f in &files {
            put(f.as_os_str().as_encoded_bytes());
            match fs::read(f) {
                Ok(content) => put(&content),
                Err(_) => put(b"\0missing"),
            }
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The variables and the files the graph and the host triple are made from.
    fn inputs(&self, graph: &Graph) -> (Vec<(OsString, OsString)>, Vec<PathBuf>) {
        let mut env: Vec<(OsString, OsString)> = std::env::vars_os()
            .filter(|(k, _)| {
                let k = k.to_string_lossy();
                k.starts_with("CARGO")
                    || k.starts_with("RUSTUP")
                    || k.starts_with("RUSTC")
                    || k == "PATH"
            })
            .collect();
        env.sort();
        let mut files = vec![graph.workspace_root.join("Cargo.lock")];
        files.extend(
            graph
                .packages
                .iter()
                .filter(|p| p.source == SourceKind::Path)
                .map(|p| p.manifest_dir.join("Cargo.toml")),
        );
        let mut dirs: Vec<&Path> = self.cwd.ancestors().collect();
        dirs.extend(graph.workspace_root.ancestors());
        dirs.sort();
        dirs.dedup();
        for d in dirs {
            for name in [
                ".cargo/config.toml",
                ".cargo/config",
                "rust-toolchain.toml",
                "rust-toolchain",
            ] {
                files.push(d.join(name));
            }
        }
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let dir_of = |var: &str, default: &str| {
            std::env::var_os(var)
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(default)))
        };
        if let Some(cargo_home) = dir_of("CARGO_HOME", ".cargo") {
            files.push(cargo_home.join("config.toml"));
            files.push(cargo_home.join("config"));
        }
        if let Some(rustup_home) = dir_of("RUSTUP_HOME", ".rustup") {
            files.push(rustup_home.join("settings.toml"));
        }
        (env, files)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::graph::Package;

    fn graph(root: &Path) -> Graph {
        Graph {
            workspace_root: root.to_owned(),
            target_directory: root.join("target"),
            packages: vec![Package {
                id: "path+file:///ws#p@0.1.0".into(),
                name: "p".into(),
                version: "0.1.0".into(),
                source: SourceKind::Path,
                location: root.to_string_lossy().into_owned(),
                manifest_dir: root.to_owned(),
                build_script: false,
                proc_macro: false,
                workspace_member: true,
                in_build: true,
                deps: Vec::new(),
            }],
        }
    }

    #[test]
    fn the_graph_is_reused_until_the_lock_file_or_a_manifest_changes() {
        let tmp = tempfile::tempdir().unwrap();
        let root = fs::canonicalize(tmp.path()).unwrap();
        fs::write(root.join("Cargo.toml"), "[package]\nname = \"p\"\n").unwrap();
        fs::write(root.join("Cargo.lock"), "version = 4\n").unwrap();
        let session = root.join("target/airlock/test-session");
        fs::create_dir_all(&session).unwrap();
        let info = serde_json::json!({
            "graph": graph(&root),
            "profile": "build",
            "allow_degraded": false,
            "build_target": root.join("target/airlock/test-target"),
            "airlock_bin": "/bin/cargo-airlock",
            "exceptions": {},
        });
        std::thread::sleep(std::time::Duration::from_millis(20));
        fs::write(session.join("session.json"), info.to_string()).unwrap();
        let cache = GraphCache::new(
            &root.join("Cargo.toml"),
            Path::new("cargo"),
            &root,
            "test-session",
        );
        assert!(cache.lookup().is_none(), "nothing stored yet");
        let rustc = RustcIdentity {
            host: "x86_64-unknown-linux-gnu".into(),
            version: "rustc 1.95.0".into(),
        };
        cache.store(&rustc);
        let (g, known) = cache.lookup().expect("stored");
        assert_eq!(known, rustc);
        assert_eq!(g.packages[0].name, "p");

        fs::write(root.join("Cargo.lock"), "version = 4\n# changed\n").unwrap();
        assert!(cache.lookup().is_none(), "the lock file changed");
        // A file changed after the session recorded its graph: nothing is stored.
        cache.store(&rustc);
        assert!(cache.lookup().is_none());
        assert!(!session.join(KEY_FILE).exists());
    }
}
