//! Decoys: a fake home full of credentials and fake tokens in the usual variables, so that a
//! payload that goes looking for secrets finds ours, and we can tell. Each run gets fresh random
//! values; any read of a decoy file, and any decoy value found in what the sandbox wrote or
//! tried to send, is a `leak` event. Real secrets are never passed in.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aho_corasick::AhoCorasick;

use super::decode;

/// One planted secret.
#[derive(Debug, Clone)]
pub struct Decoy {
    /// Short name used in events: `ssh-key`, `cargo-token`, `env:GITHUB_TOKEN`, ...
    pub name: String,
    /// The secret value itself (unique per run).
    pub value: String,
    /// The file it was planted in, relative to the decoy home (None for variables).
    pub file: Option<PathBuf>,
    /// The encodings of `value` searched for in output.
    needles: Vec<Vec<u8>>,
}

/// The decoys of one run.
#[derive(Debug, Clone, Default)]
pub struct DecoySet {
    /// Every decoy planted for the run.
    pub decoys: Vec<Decoy>,
    /// Variables to set inside the sandbox (name, value).
    pub env: Vec<(String, String)>,
    /// One automaton over every encoding of every decoy (pattern -> decoy index), so a scan is
    /// one pass over the bytes whatever the number of decoys. Built on the first scan: building
    /// it takes about a millisecond, which a run that writes and sends nothing never pays.
    matcher: OnceLock<Option<(AhoCorasick, Vec<usize>)>>,
}

/// Environment variables given decoy values: the usual token names payloads harvest.
pub const TOKEN_VARIABLES: &[(&str, &str)] = &[
    ("GITHUB_TOKEN", "ghp_"),
    ("GH_TOKEN", "ghp_"),
    ("CARGO_REGISTRY_TOKEN", "cio"),
    ("CARGO_REGISTRIES_CRATES_IO_TOKEN", "cio"),
    ("NPM_TOKEN", "npm_"),
    ("AWS_ACCESS_KEY_ID", "AKIA"),
    ("AWS_SECRET_ACCESS_KEY", ""),
    ("GITLAB_TOKEN", "glpat-"),
    ("CI_JOB_TOKEN", ""),
    ("DOCKER_PASSWORD", ""),
];

/// A random token: 24 hex digits from the kernel's CSPRNG, after an `AIRLOCK` tag.
fn token() -> String {
    let mut bytes = [0u8; 12];
    // /dev/urandom never blocks after boot; getrandom(2) would do the same.
    let filled = fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if filled.is_err() {
        // Fall back to time and pid: still unique per run, which is all a decoy needs.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes[..8].copy_from_slice(&(now as u64).to_le_bytes());
        bytes[8..].copy_from_slice(&std::process::id().to_le_bytes());
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("AIRLOCK{hex}")
}

impl DecoySet {
    /// Plants a decoy home in `home` (created) and makes decoy token variables.
    pub fn plant(home: &Path) -> io::Result<DecoySet> {
        let mut set = DecoySet::default();
        let mut file = |name: &str, rel: &str, render: &dyn Fn(&str) -> String| -> io::Result<()> {
            let value = token();
            let path = home.join(rel);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            fs::write(&path, render(&value))?;
            set.decoys
                .push(Decoy::new(name, value, Some(PathBuf::from(rel))));
            Ok(())
        };
        file("ssh-key", ".ssh/id_rsa", &|v| {
            format!("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA{v}\n-----END OPENSSH PRIVATE KEY-----\n")
        })?;
        file("ssh-key-ed25519", ".ssh/id_ed25519", &|v| {
            format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{v}\n-----END OPENSSH PRIVATE KEY-----\n")
        })?;
        file("cargo-credentials", ".cargo/credentials.toml", &|v| {
            format!("[registry]\ntoken = \"cio{v}\"\n")
        })?;
        file("aws-credentials", ".aws/credentials", &|v| {
            format!(
                "[default]\naws_access_key_id = AKIA{}\naws_secret_access_key = {v}\n",
                &v[7..19]
            )
        })?;
        file("git-credentials", ".git-credentials", &|v| {
            format!("https://builder:ghp_{v}@github.com\n")
        })?;
        file("npmrc", ".npmrc", &|v| {
            format!("//registry.npmjs.org/:_authToken=npm_{v}\n")
        })?;
        file("docker-config", ".docker/config.json", &|v| {
            format!("{{\"auths\":{{\"registry.example\":{{\"auth\":\"{v}\"}}}}}}\n")
        })?;
        file("netrc", ".netrc", &|v| {
            format!("machine api.github.com login builder password {v}\n")
        })?;
        fs::write(home.join(".bashrc"), "# decoy home of cargo-airlock\n")?;
        // git reads its global config on every run (even `git --version`): a plain one here,
        // rather than a tripwire over the real one, so that running git is no finding.
        fs::write(home.join(".gitconfig"), "# decoy home of cargo-airlock\n")?;
        for (var, prefix) in TOKEN_VARIABLES {
            let value = token();
            set.env
                .push(((*var).to_owned(), format!("{prefix}{value}")));
            set.decoys
                .push(Decoy::new(&format!("env:{var}"), value, None));
        }
        Ok(set)
    }

    fn matcher(&self) -> Option<&(AhoCorasick, Vec<usize>)> {
        self.matcher
            .get_or_init(|| {
                let mut patterns = Vec::new();
                let mut owners = Vec::new();
                for (i, d) in self.decoys.iter().enumerate() {
                    for n in &d.needles {
                        patterns.push(n.clone());
                        owners.push(i);
                    }
                }
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .build(&patterns)
                    .ok()
                    .map(|ac| (ac, owners))
            })
            .as_ref()
    }

    /// The decoy planted in `rel` (relative to the decoy home), if any.
    pub fn by_file(&self, rel: &Path) -> Option<&Decoy> {
        self.decoys.iter().find(|d| d.file.as_deref() == Some(rel))
    }

    /// The decoys whose values appear (in any encoding) in `bytes`.
    pub fn found_in(&self, bytes: &[u8]) -> Vec<&Decoy> {
        let mut hit = vec![false; self.decoys.len()];
        match self.matcher() {
            Some((ac, owners)) => {
                for m in ac.find_overlapping_iter(bytes) {
                    hit[owners[m.pattern().as_usize()]] = true;
                }
            }
            None => {
                for (i, d) in self.decoys.iter().enumerate() {
                    hit[i] = decode::contains_encoded(bytes, &d.needles);
                }
            }
        }
        self.decoys
            .iter()
            .zip(hit)
            .filter_map(|(d, h)| h.then_some(d))
            .collect()
    }

    /// Walks `dir` and returns (file, decoy name) for every file holding a decoy value. Reads
    /// at most `MAX_SCAN_FILE` bytes of each file and `MAX_SCAN_TOTAL` in all.
    pub fn scan_dir(&self, dir: &Path) -> Vec<(PathBuf, String)> {
        let mut found = Vec::new();
        let mut budget = MAX_SCAN_TOTAL;
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            let Ok(entries) = fs::read_dir(&d) else {
                continue;
            };
            for entry in entries.flatten() {
                let Ok(kind) = entry.file_type() else {
                    continue;
                };
                let path = entry.path();
                if kind.is_dir() {
                    stack.push(path);
                } else if kind.is_file() && budget > 0 {
                    let mut buf = Vec::new();
                    let limit = MAX_SCAN_FILE.min(budget);
                    if let Ok(f) = fs::File::open(&path) {
                        let _ = f.take(limit).read_to_end(&mut buf);
                    }
                    budget = budget.saturating_sub(buf.len() as u64);
                    for decoy in self.found_in(&buf) {
                        found.push((path.clone(), decoy.name.clone()));
                    }
                }
            }
        }
        found
    }
}

/// Most bytes read from one file when scanning output for decoys.
pub const MAX_SCAN_FILE: u64 = 16 << 20;
/// Most bytes read in all when scanning one run's output.
pub const MAX_SCAN_TOTAL: u64 = 256 << 20;

impl Decoy {
    fn new(name: &str, value: String, file: Option<PathBuf>) -> Decoy {
        let needles = decode::encodings(&value);
        Decoy {
            name: name.to_owned(),
            value,
            file,
            needles,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plants_files_and_finds_them_again() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let set = DecoySet::plant(&home).unwrap();
        let key = fs::read_to_string(home.join(".ssh/id_rsa")).unwrap();
        let decoy = set.by_file(Path::new(".ssh/id_rsa")).unwrap();
        assert!(key.contains(&decoy.value));
        assert_eq!(set.found_in(key.as_bytes())[0].name, "ssh-key");
        assert!(set.env.iter().any(|(k, _)| k == "GITHUB_TOKEN"));

        let out = dir.path().join("out");
        fs::create_dir_all(out.join("nested")).unwrap();
        let gh = set.env.iter().find(|(k, _)| k == "GITHUB_TOKEN").unwrap();
        fs::write(out.join("nested/x.txt"), format!("stolen: {}", gh.1)).unwrap();
        fs::write(out.join("clean.txt"), "nothing").unwrap();
        let hits = set.scan_dir(&out);
        assert_eq!(hits.len(), 1, "{hits:?}");
        assert_eq!(hits[0].1, "env:GITHUB_TOKEN");
    }

    #[test]
    fn tokens_are_fresh() {
        assert_ne!(token(), token());
    }
}
