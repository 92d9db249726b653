//! The registry client and the provenance phase of `vet` against a real sparse registry served
//! over loopback by the test (no mock of the protocol): every provenance signal and a clean
//! control, typo neighbours, the download and its checksum, safe unpacking, and the bad inputs
//! that must be clear errors. Everything is written under the tests' temporary directories.

mod bad_archives;
mod server;

use std::path::Path;
use std::time::Duration;

use runner::vet::provenance::{assess, Assessment, Code, Level, ProvenanceOptions};
use runner::vet::registry::{ConfigInputs, RegistryError, RegistrySource, SparseRegistry};
use runner::vet::spec::CrateSpec;
use runner::vet::typo::TypoRule;
use server::{crate_file, history, sha256, v, Registry, Route, Validators, DAY, HOUR};

const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

struct Fixture {
    registry: Registry,
    tmp: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        Self {
            registry: Registry::start(),
            tmp: tempfile::tempdir().unwrap(),
        }
    }

    /// Cargo's configuration as the CLI would see it: the registry named `fixture` through
    /// `CARGO_REGISTRIES_FIXTURE_INDEX`, a cargo home and working directory in the temp dir.
    fn inputs(&self) -> ConfigInputs {
        ConfigInputs {
            cwd: self.tmp.path().to_owned(),
            env: Some(vec![(
                "CARGO_REGISTRIES_FIXTURE_INDEX".into(),
                self.registry.index_url(),
            )]),
            cargo_home: Some(self.tmp.path().join("cargo-home")),
        }
    }

    fn cache(&self) -> std::path::PathBuf {
        self.tmp.path().join("cache")
    }

    fn client(&self) -> SparseRegistry {
        let source = RegistrySource::resolve(Some("fixture"), &self.inputs()).unwrap();
        SparseRegistry::open(source, &self.cache()).unwrap()
    }

    fn assess_with(&self, spec: &str, extra: &[&str]) -> Assessment {
        let options = ProvenanceOptions {
            extra_names: extra.iter().map(|s| (*s).to_owned()).collect(),
            ..ProvenanceOptions::default()
        };
        assess(
            &self.client(),
            &spec.parse::<CrateSpec>().unwrap(),
            &options,
        )
        .unwrap()
    }

    fn assess(&self, spec: &str) -> Assessment {
        self.assess_with(spec, &[])
    }

    fn download(
        &self,
        name: &str,
        version: &str,
    ) -> Result<runner::vet::registry::UnpackedCrate, RegistryError> {
        let client = self.client();
        let file = client.index(name)?.expect("published");
        let entry = file
            .version(&version.parse().unwrap())
            .expect("listed")
            .clone();
        client.download(&entry)
    }
}

fn signals(a: &Assessment) -> Vec<(Code, Level)> {
    a.provenance
        .signals
        .iter()
        .map(|s| (s.code, s.level))
        .collect()
}

fn reason(a: &Assessment, code: Code) -> String {
    a.provenance
        .signals
        .iter()
        .find(|s| s.code == code)
        .map(|s| s.reason.clone())
        .unwrap_or_default()
}

/// Every file under `dir`, relative.
fn files_under(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                stack.push(p);
            } else {
                out.push(p.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

#[test]
fn clean_control_has_no_signals_and_downloads_verified() {
    let f = Fixture::new();
    f.registry
        .publish("steady", &history(40, 6 * YEAR, 200 * DAY));
    let a = f.assess("steady");
    let p = &a.provenance;
    assert!(p.exists);
    assert_eq!(p.version.as_deref(), Some("0.40.0"));
    assert_eq!(p.versions, 40);
    assert!(!p.yanked);
    assert!(
        p.first_published.is_some()
            && p.latest_published.is_some()
            && p.published == p.latest_published
    );
    assert_eq!(signals(&a), [], "{:?}", p.signals);
    assert!(p.neighbours.is_empty());

    let unpacked = f.client().download(a.entry.as_ref().unwrap()).unwrap();
    assert!(unpacked.dir.join("Cargo.toml").is_file() && unpacked.dir.join("src/lib.rs").is_file());
    assert!(unpacked.dir.starts_with(f.cache()) && unpacked.crate_file.is_file());
    assert_eq!(
        unpacked.checksum,
        sha256(&std::fs::read(&unpacked.crate_file).unwrap())
    );
    // A second download of the same checksum reuses the unpacked tree: no new request.
    let before = f
        .registry
        .log()
        .iter()
        .filter(|(p, _)| p.starts_with("/dl/"))
        .count();
    f.client().download(a.entry.as_ref().unwrap()).unwrap();
    assert_eq!(
        f.registry
            .log()
            .iter()
            .filter(|(p, _)| p.starts_with("/dl/"))
            .count(),
        before
    );
}

#[test]
fn dl_template_markers_are_filled() {
    let f = Fixture::new();
    let addr = f.registry.addr;
    f.registry.route(
        "/index/config.json",
        Route::Body(format!(r#"{{"dl":"http://{addr}/files/{{lowerprefix}}/{{crate}}-{{version}}.crate?sha={{sha256-checksum}}"}}"#).into_bytes()),
    );
    let krate = crate_file("Templ", "1.0.0", &[]);
    f.registry.publish_file(
        "Templ",
        &v("1.0.0", false, 400 * DAY),
        &krate,
        &sha256(&krate),
    );
    f.registry.route(
        &format!("/files/te/mp/Templ-1.0.0.crate?sha={}", sha256(&krate)),
        Route::Body(krate.clone()),
    );
    let unpacked = f.download("templ", "1.0.0").unwrap();
    assert!(unpacked.dir.ends_with("Templ-1.0.0"));
}

#[test]
fn not_found_is_an_error_and_names_the_real_crate() {
    let f = Fixture::new();
    f.registry
        .publish("rust_decimal", &history(60, 7 * YEAR, 30 * DAY));
    let a = f.assess("rustdecimal");
    assert!(!a.provenance.exists && a.entry.is_none());
    assert_eq!(a.provenance.versions, 0);
    assert_eq!(
        signals(&a),
        [
            (Code::NotFound, Level::Error),
            (Code::TypoNeighbour, Level::Info)
        ]
    );
    assert!(
        reason(&a, Code::NotFound).contains("did you mean `rust_decimal` (60 versions)"),
        "{}",
        reason(&a, Code::NotFound)
    );
    let n = &a.provenance.neighbours[0];
    assert_eq!(
        (n.name.as_str(), n.versions, n.rule),
        ("rust_decimal", 60, TypoRule::SeparatorAdded)
    );
}

#[test]
fn young_typo_neighbour_of_an_established_crate_warns() {
    let f = Fixture::new();
    f.registry
        .publish("rust_decimal", &history(60, 7 * YEAR, 30 * DAY));
    f.registry
        .publish("rustdecimal", &[v("1.0.0", false, 10 * DAY)]);
    let a = f.assess("rustdecimal");
    assert_eq!(
        signals(&a),
        [
            (Code::YoungCrate, Level::Info),
            (Code::TypoNeighbour, Level::Warn)
        ],
        "{:?}",
        a.provenance.signals
    );
    let why = reason(&a, Code::TypoNeighbour);
    assert!(
        why.contains("`rust_decimal` exists")
            && why.contains("60 version(s)")
            && why.contains("a `-` or `_` added"),
        "{why}"
    );

    // Seen from the established crate, the squat is information only.
    let a = f.assess("rust_decimal");
    assert_eq!(signals(&a), [(Code::TypoNeighbour, Level::Info)]);
    assert_eq!(a.provenance.neighbours[0].rule, TypoRule::SeparatorRemoved);
}

#[test]
fn rs_suffix_squat_warns_by_age_alone() {
    let f = Fixture::new();
    // Few versions on both sides: the neighbour is established by being years older.
    f.registry
        .publish("fastrand", &history(4, 5 * YEAR, 3 * YEAR));
    f.registry
        .publish("fastrand-rs", &history(2, 400 * DAY, 300 * DAY));
    let a = f.assess("fastrand-rs");
    assert_eq!(
        signals(&a),
        [(Code::TypoNeighbour, Level::Warn)],
        "{:?}",
        a.provenance.signals
    );
    assert_eq!(a.provenance.neighbours[0].rule, TypoRule::AffixRemoved);
    assert!(
        reason(&a, Code::TypoNeighbour).contains("older"),
        "{}",
        reason(&a, Code::TypoNeighbour)
    );
}

#[test]
fn lockfile_names_are_compared_too() {
    let f = Fixture::new();
    f.registry
        .publish("serde_json", &history(30, 8 * YEAR, 20 * DAY));
    f.registry
        .publish("serde_jsn", &[v("0.1.0", false, 5 * DAY)]);
    // One character added is not a generated candidate; the workspace's own names catch it.
    assert!(f.assess("serde_jsn").provenance.neighbours.is_empty());
    let a = f.assess_with("serde_jsn", &["serde_json", "tokio"]);
    let n = &a.provenance.neighbours;
    assert_eq!(n.len(), 1);
    assert_eq!(
        (n[0].name.as_str(), n[0].rule),
        ("serde_json", TypoRule::CharacterAdded)
    );
    assert!(signals(&a).contains(&(Code::TypoNeighbour, Level::Warn)));
}

#[test]
fn fresh_release_of_a_real_crate_is_information_only() {
    let f = Fixture::new();
    let mut versions = history(20, 4 * YEAR, 60 * DAY);
    versions.push(v("1.0.0", false, 10 * HOUR));
    f.registry.publish("steady", &versions);
    let a = f.assess("steady");
    assert_eq!(a.provenance.version.as_deref(), Some("1.0.0"));
    assert_eq!(signals(&a), [(Code::FreshVersion, Level::Info)]);
    assert!(
        reason(&a, Code::FreshVersion).contains("10 hours ago"),
        "{}",
        reason(&a, Code::FreshVersion)
    );
    assert_eq!(a.provenance.max_level(), Some(Level::Info));
}

#[test]
fn young_crate_is_information() {
    let f = Fixture::new();
    f.registry.publish(
        "brandnew",
        &[v("0.1.0", false, 20 * DAY), v("0.2.0", false, 5 * DAY)],
    );
    let a = f.assess("brandnew");
    assert_eq!(signals(&a), [(Code::YoungCrate, Level::Info)]);
    assert!(
        reason(&a, Code::YoungCrate).contains("20 days ago"),
        "{}",
        reason(&a, Code::YoungCrate)
    );
}

#[test]
fn yanked_version_and_default_choice() {
    let f = Fixture::new();
    let mut versions = history(10, 3 * YEAR, 100 * DAY);
    versions.push(v("1.0.0", true, 50 * DAY));
    f.registry.publish("steady", &versions);
    // No version: the newest non-yanked one.
    let a = f.assess("steady");
    assert_eq!(a.provenance.version.as_deref(), Some("0.10.0"));
    assert_eq!(signals(&a), []);
    let a = f.assess("steady@1.0.0");
    assert!(a.provenance.yanked);
    assert_eq!(signals(&a), [(Code::Yanked, Level::Warn)]);
    let a = f.assess("steady@9.9.9");
    assert!(a.provenance.exists && a.entry.is_none());
    assert_eq!(signals(&a), [(Code::VersionNotFound, Level::Error)]);
    assert!(reason(&a, Code::VersionNotFound).contains("newest: 0.10.0"));
}

#[test]
fn hijacked_release_with_older_versions_yanked_warns() {
    let f = Fixture::new();
    let mut versions: Vec<_> = history(5, 2 * YEAR, 100 * DAY)
        .into_iter()
        .map(|mut v| {
            v.yanked = true;
            v
        })
        .collect();
    versions[0].yanked = false;
    versions.push(v("0.6.0", false, 5 * HOUR));
    f.registry.publish("trusted", &versions);
    let a = f.assess("trusted");
    assert_eq!(a.provenance.version.as_deref(), Some("0.6.0"));
    assert_eq!(
        signals(&a),
        [
            (Code::OlderVersionsYanked, Level::Warn),
            (Code::FreshVersion, Level::Info)
        ]
    );
    let why = reason(&a, Code::OlderVersionsYanked);
    assert!(
        why.contains("4 of the 5 earlier versions") && why.contains("0.2.0, 0.3.0, 0.4.0, 0.5.0"),
        "{why}"
    );
}

#[test]
fn habitual_yanks_before_a_release_that_has_stood_for_months_are_information() {
    let f = Fixture::new();
    let mut versions: Vec<_> = history(5, 3 * YEAR, 400 * DAY)
        .into_iter()
        .map(|mut v| {
            v.yanked = true;
            v
        })
        .collect();
    versions[0].yanked = false;
    versions.push(v("0.6.0", false, 200 * DAY));
    f.registry.publish("habitual", &versions);
    let a = f.assess("habitual");
    assert_eq!(signals(&a), [(Code::OlderVersionsYanked, Level::Info)]);
    assert!(reason(&a, Code::OlderVersionsYanked).contains("has stood for"));
}

#[test]
fn a_successor_that_has_stood_for_years_beside_its_neighbour_is_information() {
    let f = Fixture::new();
    // adler2 beside adler: few versions, but years old.
    f.registry
        .publish("adler", &history(12, 7 * YEAR, 3 * YEAR));
    f.registry
        .publish("adler2", &history(2, 3 * YEAR, 2 * YEAR + 100 * DAY));
    let a = f.assess("adler2");
    assert_eq!(
        signals(&a),
        [(Code::TypoNeighbour, Level::Info)],
        "{:?}",
        a.provenance.signals
    );
}

#[test]
fn one_yanked_predecessor_is_ordinary() {
    let f = Fixture::new();
    f.registry.publish(
        "fixup",
        &[v("0.1.0", true, 300 * DAY), v("0.1.1", false, 299 * DAY)],
    );
    assert_eq!(signals(&f.assess("fixup")), []);
}

#[test]
fn revalidation_serves_304_from_the_cache() {
    for validators in [Validators::ETag, Validators::LastModified] {
        let f = Fixture::new();
        f.registry.set_validators(validators);
        f.registry.publish("steady", &history(3, 3 * YEAR, YEAR));
        let first = f.client().index("steady").unwrap().unwrap();
        // A new client (a later run) on the same cache revalidates instead of downloading.
        let again = f.client().index("steady").unwrap().unwrap();
        assert_eq!(first.entries.len(), again.entries.len());
        let log: Vec<u16> = f
            .registry
            .log()
            .into_iter()
            .filter(|(p, _)| p.ends_with("/steady"))
            .map(|(_, s)| s)
            .collect();
        assert_eq!(log, [200, 304]);
        // Within one run a file is requested once.
        let client = f.client();
        client.index("steady").unwrap();
        client.index("steady").unwrap();
        assert_eq!(
            f.registry
                .log()
                .iter()
                .filter(|(p, _)| p.ends_with("/steady"))
                .count(),
            3
        );
        // A changed file is fetched again.
        f.registry.publish("steady", &[v("9.0.0", false, DAY)]);
        assert_eq!(
            f.client().index("steady").unwrap().unwrap().entries.len(),
            4
        );
    }
}

#[test]
fn unknown_and_unreachable_registries_are_named() {
    let f = Fixture::new();
    let err = RegistrySource::resolve(Some("nope"), &f.inputs()).unwrap_err();
    assert!(matches!(err, RegistryError::UnknownRegistry { .. }));
    assert!(err.to_string().contains("`nope`"));

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let source =
        RegistrySource::from_index("gone", &format!("sparse+http://127.0.0.1:{port}/")).unwrap();
    let err = SparseRegistry::open(source, &f.cache())
        .unwrap()
        .index("serde")
        .unwrap_err();
    assert!(matches!(err, RegistryError::Transport { .. }), "{err}");
    assert!(
        err.to_string().starts_with(&format!(
            "could not reach registry `gone` at http://127.0.0.1:{port}/"
        )),
        "{err}"
    );
}

#[test]
fn empty_responses_are_errors() {
    let f = Fixture::new();
    f.registry.route("/index/config.json", Route::HangUp);
    let err = f.client().index("steady").unwrap_err();
    assert!(matches!(err, RegistryError::Transport { .. }), "{err}");

    let f = Fixture::new();
    f.registry
        .route("/index/config.json", Route::Body(Vec::new()));
    assert!(matches!(
        f.client().index("steady"),
        Err(RegistryError::EmptyResponse { .. })
    ));

    let f = Fixture::new();
    f.registry
        .route(&server::index_path("steady"), Route::Body(Vec::new()));
    let err = f.client().index("steady").unwrap_err();
    assert!(matches!(err, RegistryError::EmptyResponse { .. }), "{err}");

    let f = Fixture::new();
    f.registry.route("/index/config.json", Route::Status(404));
    assert!(matches!(
        f.client().index("steady"),
        Err(RegistryError::NoConfigJson { .. })
    ));
    f.registry.route("/index/config.json", Route::Status(500));
    assert!(matches!(
        f.client().index("steady"),
        Err(RegistryError::HttpStatus { status: 500, .. })
    ));
}

#[test]
fn an_index_line_that_is_not_json_is_named() {
    let f = Fixture::new();
    let body = "{\"name\":\"steady\",\"vers\":\"1.0.0\",\"cksum\":\"00\"}\n<html>oops</html>\n";
    f.registry.route(
        &server::index_path("steady"),
        Route::Body(body.as_bytes().to_vec()),
    );
    let err = f.client().index("steady").unwrap_err();
    assert!(
        matches!(err, RegistryError::BadIndexLine { line: 2, .. }),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("line 2 of the index file of `steady` in registry `fixture`"),
        "{err}"
    );
}
