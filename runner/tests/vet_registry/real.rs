//! By hand only (it reaches the internet, which CI tests must not): the registry client and the
//! provenance phase against the real crates.io, as cargo's own configuration resolves it.
//!
//! ```sh
//! cargo test -p airlock-runner --test vet_registry -- --ignored --nocapture
//! AIRLOCK_REAL_CRATES="serde_json anyhow@1.0.90" cargo test -p airlock-runner --test vet_registry -- --ignored --nocapture
//! ```

use std::time::Instant;

use runner::vet::provenance::{assess, ProvenanceOptions};
use runner::vet::registry::{ConfigInputs, RegistrySource, SparseRegistry};
use runner::vet::spec::CrateSpec;

#[test]
#[ignore = "reaches crates.io; run by hand"]
fn real_crates_io() {
    let specs =
        std::env::var("AIRLOCK_REAL_CRATES").unwrap_or_else(|_| "itoa semver rustdecimal".into());
    let cache = tempfile::tempdir().unwrap();
    let cwd = std::env::current_dir().unwrap();
    let source = RegistrySource::resolve(None, &ConfigInputs::from_process(&cwd)).unwrap();
    println!("registry: {} at {}", source.display_name(), source.base_url);
    let registry = SparseRegistry::open(source, cache.path()).unwrap();
    for spec in specs.split_whitespace() {
        let spec: CrateSpec = spec.parse().unwrap();
        let started = Instant::now();
        let a = assess(&registry, &spec, &ProvenanceOptions::default()).unwrap();
        println!("{spec}: provenance in {:?}", started.elapsed());
        println!("{}", serde_json::to_string_pretty(&a.provenance).unwrap());
        if let Some(entry) = &a.entry {
            let started = Instant::now();
            let unpacked = registry.download(entry).unwrap();
            let files = walk(&unpacked.dir);
            println!(
                "{spec}: downloaded, sha256 {} verified, {files} files unpacked to {} in {:?}",
                unpacked.checksum,
                unpacked.dir.display(),
                started.elapsed()
            );
            assert!(unpacked.dir.join("Cargo.toml").is_file());
        }
    }
}

fn walk(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| {
            if e.file_type().unwrap().is_dir() {
                walk(&e.path())
            } else {
                1
            }
        })
        .sum()
}
