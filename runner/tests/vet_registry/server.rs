//! A real sparse registry served over loopback by the test itself: a tiny HTTP/1.1 responder on
//! `127.0.0.1:0` (one thread per connection, `Connection: close`) serving index files at the
//! standard paths, `config.json` and `.crate` files the test builds, with `ETag` /
//! `Last-Modified` validators and `304` answers, and a log of every request.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

/// How the server answers one path.
#[derive(Clone)]
pub(crate) enum Route {
    /// 200 with this body (and validators).
    Body(Vec<u8>),
    /// This status with no body.
    Status(u16),
    /// Close the connection without answering.
    HangUp,
}

/// Which validators 200 answers carry.
#[derive(Clone, Copy, PartialEq)]
pub(crate) enum Validators {
    ETag,
    LastModified,
}

struct State {
    /// Each route with the generation it was set in (its `Last-Modified`).
    routes: HashMap<String, (Route, u32)>,
    generation: u32,
    log: Vec<(String, u16)>,
    validators: Validators,
}

/// One version to publish.
pub(crate) struct Version {
    pub vers: String,
    pub yanked: bool,
    /// How long ago it was published.
    pub age: Duration,
}

/// Shorthand for [`Version`].
pub(crate) fn v(vers: &str, yanked: bool, age: Duration) -> Version {
    Version {
        vers: vers.to_owned(),
        yanked,
        age,
    }
}

/// `count` clean versions `0.1.0`, `0.2.0`, ..., the first `first_age` ago, the last
/// `last_age` ago, evenly spread.
pub(crate) fn history(count: usize, first_age: Duration, last_age: Duration) -> Vec<Version> {
    let step = (first_age - last_age) / (count.max(2) as u32 - 1);
    (0..count)
        .map(|i| Version {
            vers: format!("0.{}.0", i + 1),
            yanked: false,
            age: first_age - step * i as u32,
        })
        .collect()
}

pub(crate) const DAY: Duration = Duration::from_secs(24 * 3600);
pub(crate) const HOUR: Duration = Duration::from_secs(3600);

/// The registry: a listener and what it serves.
pub(crate) struct Registry {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    /// Index lines per crate, so `publish` can be called more than once.
    lines: Mutex<HashMap<String, Vec<String>>>,
}

impl Registry {
    /// Starts serving; `config.json` has the plain-URL `dl` form (`http://ADDR/dl`).
    pub(crate) fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State {
            routes: HashMap::new(),
            generation: 0,
            log: Vec::new(),
            validators: Validators::ETag,
        }));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        let registry = Self {
            addr,
            state,
            lines: Mutex::new(HashMap::new()),
        };
        registry.route(
            "/index/config.json",
            Route::Body(format!(r#"{{"dl":"http://{addr}/dl"}}"#).into_bytes()),
        );
        registry
    }

    /// `sparse+http://ADDR/index/`, for `CARGO_REGISTRIES_<NAME>_INDEX`.
    pub(crate) fn index_url(&self) -> String {
        format!("sparse+http://{}/index/", self.addr)
    }

    pub(crate) fn route(&self, path: &str, route: Route) {
        let mut state = self.state.lock().unwrap();
        state.generation += 1;
        let generation = state.generation;
        state.routes.insert(path.to_owned(), (route, generation));
    }

    pub(crate) fn set_validators(&self, validators: Validators) {
        self.state.lock().unwrap().validators = validators;
    }

    /// Every request so far: (path, status answered).
    pub(crate) fn log(&self) -> Vec<(String, u16)> {
        self.state.lock().unwrap().log.clone()
    }

    /// Publishes versions of `name`: index lines at the standard path (with `pubtime`s from
    /// their ages) and a `.crate` for each at the `dl` location.
    pub(crate) fn publish(&self, name: &str, versions: &[Version]) {
        for version in versions {
            let krate = crate_file(
                name,
                &version.vers,
                &[("src/lib.rs", b"pub fn f() {}\n".as_slice())],
            );
            self.publish_file(name, version, &krate, &sha256(&krate));
        }
    }

    /// Publishes one version with the given archive and the given index checksum.
    pub(crate) fn publish_file(&self, name: &str, version: &Version, krate: &[u8], cksum: &str) {
        let pubtime =
            humantime::format_rfc3339_seconds(SystemTime::now() - version.age).to_string();
        let line = format!(
            r#"{{"name":"{name}","vers":"{}","deps":[],"cksum":"{cksum}","features":{{}},"yanked":{},"links":null,"rust_version":null,"pubtime":"{pubtime}"}}"#,
            version.vers, version.yanked
        );
        let mut lines = self.lines.lock().unwrap();
        let all = lines.entry(name.to_owned()).or_default();
        all.push(line);
        self.route(&index_path(name), Route::Body(all.join("\n").into_bytes()));
        self.route(
            &format!("/dl/{name}/{}/download", version.vers),
            Route::Body(krate.to_vec()),
        );
    }
}

/// The standard sparse path, written out independently of the code under test.
pub(crate) fn index_path(name: &str) -> String {
    let n = name.to_lowercase();
    let dir = match n.len() {
        1 => "1".to_owned(),
        2 => "2".to_owned(),
        3 => format!("3/{}", &n[..1]),
        _ => format!("{}/{}", &n[..2], &n[2..4]),
    };
    format!("/index/{dir}/{n}")
}

pub(crate) fn sha256(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A `.crate`: `NAME-VERSION/Cargo.toml` (a plain manifest) plus `files`, tar.gz.
pub(crate) fn crate_file(name: &str, version: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let manifest =
        format!("[package]\nname = \"{name}\"\nversion = \"{version}\"\nedition = \"2021\"\n");
    let mut all = vec![("Cargo.toml", manifest.as_bytes())];
    all.extend_from_slice(files);
    tarball(name, version, &all)
}

/// A tar.gz of `files` (paths relative to the package) under `NAME-VERSION/`, as a `.crate`
/// holds them; the caller supplies the manifest.
pub(crate) fn tarball(name: &str, version: &str, files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(GzEncoder::new(Vec::new(), flate2::Compression::fast()));
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_path(format!("{name}-{version}/{path}")).unwrap();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap().finish().unwrap()
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let ((route, generation), validators) = {
        let s = state.lock().unwrap();
        (
            s.routes
                .get(&path)
                .cloned()
                .unwrap_or((Route::Status(404), 0)),
            s.validators,
        )
    };
    let (status, response): (u16, Vec<u8>) = match route {
        Route::HangUp => {
            state.lock().unwrap().log.push((path, 0));
            return;
        }
        Route::Status(status) => (
            status,
            format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .into_bytes(),
        ),
        Route::Body(body) => {
            let etag = format!("\"{}\"", &sha256(&body)[..16]);
            // One date per generation of the route, so revalidation can match it.
            let modified = format!(
                "Mon, 01 Jan 2024 {:02}:{:02}:00 GMT",
                generation / 60 % 24,
                generation % 60
            );
            let (header, current, sent) = match validators {
                Validators::ETag => ("ETag", etag, headers.get("if-none-match")),
                Validators::LastModified => {
                    ("Last-Modified", modified, headers.get("if-modified-since"))
                }
            };
            if sent == Some(&current) {
                (304, format!("HTTP/1.1 304 Not Modified\r\n{header}: {current}\r\nConnection: close\r\n\r\n").into_bytes())
            } else {
                let mut r = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n{header}: {current}\r\nConnection: close\r\n\r\n",
                    body.len()
                )
                .into_bytes();
                r.extend_from_slice(&body);
                (200, r)
            }
        }
    };
    // Logged before answering, so the log is complete once the client has its answer.
    state.lock().unwrap().log.push((path, status));
    let mut out = stream;
    let _ = out.write_all(&response);
    let _ = out.flush();
}
