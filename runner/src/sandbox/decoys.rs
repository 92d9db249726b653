//! Decoys: a fake home full of credentials and wallets, fake tokens and private keys in the
//! usual variables, and (for a run whose working directory the tool owns) a fake `.env`, so that
//! a payload that goes looking for secrets finds ours, and we can tell. Each run gets fresh
//! random values; any read of a decoy file, and any decoy value found in what the sandbox wrote
//! or tried to send, is a `leak` event. Real secrets are never passed in.
//!
//! Wallets and keys are written in their real formats (a Solana keypair is a JSON array of 64
//! bytes, an Ethereum keystore a v3 JSON, ...), so that a payload that checks what it found
//! before sending it still sends ours; each is recognised in the forms a payload would send it
//! in (the file's text, the key's bytes, their hex, base58 or base64); `formats` writes them.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aho_corasick::AhoCorasick;

use super::decode;
use formats::{private_key, token};

mod formats;

/// One planted secret.
#[derive(Debug, Clone)]
pub struct Decoy {
    /// Short name used in events: `ssh-key`, `cargo-token`, `env:GITHUB_TOKEN`, ...
    pub name: String,
    /// The secret value itself (unique per run).
    pub value: String,
    /// The file it was planted in: relative to the decoy home, or absolute for a file planted
    /// outside it (the `.env` of a working directory the tool owns); None for variables.
    pub file: Option<PathBuf>,
    /// The encodings of `value` (and of the forms it takes in its file) searched for in output.
    needles: Vec<Vec<u8>>,
}

/// The decoys of one run.
#[derive(Debug, Clone, Default)]
pub struct DecoySet {
    /// Every decoy planted for the run.
    pub decoys: Vec<Decoy>,
    /// Variables to set inside the sandbox (name, value).
    pub env: Vec<(String, String)>,
    /// Files planted outside the decoy home (host path, content as planted): a scan of what
    /// the run wrote skips them while they are unchanged.
    planted_outside: Vec<(PathBuf, Vec<u8>)>,
    /// One automaton over the first [`ANCHOR_LEN`] bytes of every encoding of every decoy, so
    /// a scan is one pass over the bytes whatever the number of decoys. Built on the first
    /// scan (the first `execve` of most runs, which checks its arguments).
    matcher: OnceLock<Option<Matcher>>,
}

/// How many leading bytes of each needle the automaton holds; a hit is confirmed by comparing
/// the whole needle at its position. An automaton over whole needles (some 40 decoys, nine
/// encodings each, hundreds of bytes per key or wallet) has tens of thousands of states and
/// took about 3 ms to build, the largest single cost of a short sandboxed run; over 8-byte
/// anchors it is an order of magnitude smaller, and an anchor hit that is not a decoy is rare
/// and costs one comparison.
const ANCHOR_LEN: usize = 8;

/// The decoy search: an automaton over the needles' anchors, and for each of its patterns the
/// decoy it belongs to and its whole needle.
#[derive(Debug, Clone)]
struct Matcher {
    anchors: AhoCorasick,
    /// Pattern -> (decoy index, needle index).
    owners: Vec<(usize, usize)>,
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

/// Variables given decoy private keys: the names deploy scripts and wallets read keys from.
pub const PRIVATE_KEY_VARIABLES: &[(&str, KeyForm)] = &[
    ("PRIVATE_KEY", KeyForm::Hex),
    ("ETH_PRIVATE_KEY", KeyForm::Hex),
    ("DEPLOYER_PRIVATE_KEY", KeyForm::Hex),
    ("WALLET_PRIVATE_KEY", KeyForm::Hex),
    ("SOLANA_PRIVATE_KEY", KeyForm::Base58Keypair),
    ("SSH_PRIVATE_KEY", KeyForm::OpenSsh),
];

/// How a decoy private key variable is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyForm {
    /// An Ethereum-style key: `0x` and 64 hex digits (32 bytes).
    Hex,
    /// A Solana keypair (64 bytes) in base58, as wallets export it.
    Base58Keypair,
    /// An OpenSSH private key file's text.
    OpenSsh,
}

/// The name of the decoy `.env` planted in a working directory the tool owns.
pub const DOTENV: &str = ".env";

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
        set.plant_wallets(home)?;
        for (var, form) in PRIVATE_KEY_VARIABLES {
            let (text, decoy) = private_key(&format!("env:{var}"), *form);
            set.env.push(((*var).to_owned(), text));
            set.decoys.push(decoy);
        }
        Ok(set)
    }

    /// Writes `content` to `home/rel` (parents created) and records `decoy` as planted there.
    fn put(&mut self, home: &Path, rel: &str, content: &[u8], mut decoy: Decoy) -> io::Result<()> {
        let path = home.join(rel);
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent)?;
        }
        fs::write(&path, content)?;
        decoy.file = Some(PathBuf::from(rel));
        self.decoys.push(decoy);
        Ok(())
    }

    /// Plants the wallets and keystores payloads look for ([`formats::wallets`]).
    fn plant_wallets(&mut self, home: &Path) -> io::Result<()> {
        for (rel, content, decoy) in formats::wallets() {
            self.put(home, &rel, &content, decoy)?;
        }
        Ok(())
    }

    /// Plants a decoy `.env` in `dir` (a working directory the tool owns), unless one is there
    /// already, and returns its path. Its values (a database password, an API secret, a private
    /// key) make one decoy, `dotenv`, whose `file` is the absolute path.
    pub fn plant_dotenv(&mut self, dir: &Path) -> io::Result<Option<PathBuf>> {
        let path = dir.join(DOTENV);
        if path.symlink_metadata().is_ok() {
            return Ok(None);
        }
        let (text, mut decoy) = formats::dotenv();
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        io::Write::write_all(&mut file, text.as_bytes())?;
        decoy.file = Some(path.clone());
        self.decoys.push(decoy);
        self.matcher = OnceLock::new(); // built again, with the new decoy
        self.planted_outside.push((path.clone(), text.into_bytes()));
        Ok(Some(path))
    }

    /// Builds the search for decoy values now, as the first scan would: a run does it beside
    /// its launch, so that its first `execve` (whose arguments are scanned) does not wait for
    /// it.
    pub(crate) fn prepare_search(&self) {
        self.matcher();
    }

    fn matcher(&self) -> Option<&Matcher> {
        self.matcher
            .get_or_init(|| {
                let mut anchors = Vec::new();
                let mut owners = Vec::new();
                for (i, d) in self.decoys.iter().enumerate() {
                    for (j, n) in d.needles.iter().enumerate() {
                        if !n.is_empty() {
                            anchors.push(&n[..n.len().min(ANCHOR_LEN)]);
                            owners.push((i, j));
                        }
                    }
                }
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    .build(&anchors)
                    .ok()
                    .map(|anchors| Matcher { anchors, owners })
            })
            .as_ref()
    }

    /// The decoy planted outside the decoy home at `path` (the `.env`), if any: free when
    /// nothing was planted outside it (the supervisor asks on every open).
    pub fn outside_home(&self, path: &Path) -> Option<&Decoy> {
        if !self.planted_outside.iter().any(|(p, _)| p == path) {
            return None;
        }
        self.by_file(path)
    }

    /// The decoy planted in `rel` (relative to the decoy home), or at the absolute path `rel`
    /// (a file planted outside the decoy home), if any.
    pub fn by_file(&self, rel: &Path) -> Option<&Decoy> {
        self.decoys.iter().find(|d| d.file.as_deref() == Some(rel))
    }

    /// The decoys whose values appear (in any encoding) in `bytes`.
    pub fn found_in(&self, bytes: &[u8]) -> Vec<&Decoy> {
        let mut hit = vec![false; self.decoys.len()];
        match self.matcher() {
            Some(matcher) => {
                for m in matcher.anchors.find_overlapping_iter(bytes) {
                    let (decoy, needle) = matcher.owners[m.pattern().as_usize()];
                    let needle = &self.decoys[decoy].needles[needle];
                    let whole = bytes.get(m.start()..m.start() + needle.len());
                    if whole.is_some_and(|w| w.eq_ignore_ascii_case(needle)) {
                        hit[decoy] = true;
                    }
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
                    if self
                        .planted_outside
                        .iter()
                        .any(|(p, c)| *p == path && *c == buf)
                    {
                        continue; // a decoy as planted, not a leak
                    }
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

    /// A decoy recognised by `needles` (the forms its value takes) rather than by the
    /// encodings of `value` alone.
    fn with_needles(name: &str, value: String, needles: Vec<Vec<u8>>) -> Decoy {
        Decoy {
            name: name.to_owned(),
            value,
            file: None,
            needles,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::formats::{base58, hex};
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

    /// The automaton holds only the needles' first bytes: a text that starts like a decoy but
    /// goes on otherwise (or ends early) is no hit; the whole value, in any case, is.
    #[test]
    fn a_decoy_is_found_whole_not_by_its_anchor() {
        let dir = tempfile::tempdir().unwrap();
        let set = DecoySet::plant(dir.path()).unwrap();
        let gh = &set.env.iter().find(|(k, _)| k == "GITHUB_TOKEN").unwrap().1;
        assert!(gh.len() > ANCHOR_LEN + 2, "{gh}");
        let mut altered = gh.clone().into_bytes();
        let last = altered.len() - 1;
        altered[last] = if altered[last] == b'x' { b'y' } else { b'x' };
        assert!(set.found_in(&altered).is_empty(), "a changed last byte");
        assert!(
            set.found_in(&gh.as_bytes()[..ANCHOR_LEN + 1]).is_empty(),
            "cut short"
        );
        let mut sent = b"token=".to_vec();
        sent.extend_from_slice(gh.to_ascii_lowercase().as_bytes());
        sent.extend_from_slice(b"&x=1");
        let found: Vec<_> = set.found_in(&sent).iter().map(|d| d.name.clone()).collect();
        assert!(found.contains(&"env:GITHUB_TOKEN".to_owned()), "{found:?}");
    }

    #[test]
    fn tokens_are_fresh() {
        assert_ne!(token(), token());
    }

    /// Every wallet and keystore is planted where its software keeps it, in its format, and
    /// its value is found again in the file's bytes and in the forms a payload sends it in.
    #[test]
    fn wallets_are_planted_in_their_formats_and_found_again() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("home");
        let set = DecoySet::plant(&home).unwrap();
        let file_of = |name: &str| {
            let d = set.decoys.iter().find(|d| d.name == name).unwrap();
            (d, home.join(d.file.as_ref().unwrap()))
        };
        for (name, rel) in [
            ("solana-keypair", ".config/solana/id.json"),
            ("bitcoin-wallet", ".bitcoin/wallet.dat"),
            ("electrum-wallet", ".electrum/wallets/default_wallet"),
            ("exodus-wallet", ".config/Exodus/exodus.wallet/seed.seco"),
        ] {
            let (d, path) = file_of(name);
            assert_eq!(d.file.as_deref(), Some(Path::new(rel)));
            let bytes = fs::read(&path).unwrap();
            let found: Vec<_> = set.found_in(&bytes).iter().map(|d| &d.name).collect();
            assert_eq!(found, [name], "{rel}");
        }
        let (d, path) = file_of("ethereum-keystore");
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(path.starts_with(home.join(".ethereum/keystore")));
        let keystore: serde_json::Value =
            serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(keystore["version"], 3);
        assert_eq!(keystore["crypto"]["ciphertext"], d.value.as_str());
        let address = keystore["address"].as_str().unwrap();
        assert!(name.starts_with("UTC--") && name.ends_with(&format!("--{address}")));
        assert_eq!(
            set.found_in(d.value.as_bytes())[0].name,
            "ethereum-keystore"
        );

        // Solana's keypair: 64 bytes as JSON; found as that text, as bytes, hex and base58.
        let (d, path) = file_of("solana-keypair");
        let bytes: Vec<u8> = serde_json::from_slice(&fs::read(path).unwrap()).unwrap();
        assert_eq!(bytes.len(), 64);
        assert_eq!(d.value, base58(&bytes));
        for form in [
            bytes.clone(),
            hex(&bytes).into_bytes(),
            d.value.clone().into_bytes(),
        ] {
            let mut sent = b"POST /x HTTP/1.1\r\n\r\nkey=".to_vec();
            sent.extend_from_slice(&form);
            assert_eq!(set.found_in(&sent)[0].name, "solana-keypair");
        }
        let electrum: serde_json::Value = serde_json::from_slice(
            &fs::read(home.join(".electrum/wallets/default_wallet")).unwrap(),
        )
        .unwrap();
        assert!(electrum["keystore"]["xprv"]
            .as_str()
            .unwrap()
            .starts_with("xprv"));
    }

    /// Each private key variable is set, and its value (as set, or as the key's bytes) is
    /// found again.
    #[test]
    fn private_key_variables_are_set_and_found_again() {
        let dir = tempfile::tempdir().unwrap();
        let set = DecoySet::plant(dir.path()).unwrap();
        for (var, form) in PRIVATE_KEY_VARIABLES {
            let (_, value) = set.env.iter().find(|(k, _)| k == var).unwrap();
            match form {
                KeyForm::Hex => assert!(value.starts_with("0x") && value.len() == 66),
                KeyForm::Base58Keypair => assert!(value.len() > 80),
                KeyForm::OpenSsh => assert!(value.contains("OPENSSH PRIVATE KEY")),
            }
            let found: Vec<_> = set
                .found_in(format!("echo {value} > out").as_bytes())
                .iter()
                .map(|d| d.name.clone())
                .collect();
            assert_eq!(found, [format!("env:{var}")]);
        }
        let eth = &set
            .env
            .iter()
            .find(|(k, _)| k == "ETH_PRIVATE_KEY")
            .unwrap()
            .1;
        let raw: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&eth[2 + 2 * i..4 + 2 * i], 16).unwrap())
            .collect();
        assert_eq!(set.found_in(&raw)[0].name, "env:ETH_PRIVATE_KEY");
        assert!(set.env.iter().all(|(_, v)| !v.is_empty()));
        let other = DecoySet::plant(&dir.path().join("again")).unwrap();
        assert_ne!(set.env, other.env, "fresh values per run");
    }

    /// The `.env` is planted only when asked, never over an existing one, found by its absolute
    /// path and in output, and a scan skips it while it is as planted.
    #[test]
    fn the_dotenv_is_planted_only_when_asked() {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        fs::create_dir(&work).unwrap();
        let mut set = DecoySet::plant(&dir.path().join("home")).unwrap();
        assert!(!work.join(DOTENV).exists(), "not planted with the home");
        assert!(set.decoys.iter().all(|d| d.name != "dotenv"));
        assert!(set.outside_home(&work.join(DOTENV)).is_none());
        assert!(set.found_in(b"nothing").is_empty(), "the matcher is built");
        let path = set.plant_dotenv(&work).unwrap().unwrap();
        assert_eq!(path, work.join(DOTENV));
        let decoy = set.by_file(&path).unwrap();
        assert_eq!(decoy.name, "dotenv");
        assert_eq!(set.outside_home(&path).unwrap().name, "dotenv");
        assert!(set.outside_home(Path::new(".ssh/id_rsa")).is_none());
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("DATABASE_URL=") && text.contains("PRIVATE_KEY=0x"));
        for line in text.lines().filter(|l| l.contains('=')) {
            let value = line.split_once('=').unwrap().1;
            assert_eq!(set.found_in(value.as_bytes())[0].name, "dotenv", "{line}");
        }
        assert!(
            set.scan_dir(&work).is_empty(),
            "the .env as planted is no leak"
        );
        fs::write(work.join("copy"), &text).unwrap();
        assert_eq!(
            set.scan_dir(&work),
            [(work.join("copy"), "dotenv".to_owned())]
        );

        let mine = dir.path().join("mine");
        fs::create_dir(&mine).unwrap();
        fs::write(mine.join(DOTENV), "KEEP=me\n").unwrap();
        assert_eq!(set.plant_dotenv(&mine).unwrap(), None);
        assert_eq!(fs::read_to_string(mine.join(DOTENV)).unwrap(), "KEEP=me\n");
    }
}
