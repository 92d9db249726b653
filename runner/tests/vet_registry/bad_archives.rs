//! Downloads that must keep nothing: a `.crate` that is not what the index lists, and archives
//! that are truncated, climb out of their directory, or declare a gigabyte.

use runner::vet::registry::unpack::UnpackError;
use runner::vet::registry::RegistryError;

use crate::server::{crate_file, sha256, v};
use crate::{files_under, Fixture, YEAR};

#[test]
fn checksum_mismatch_keeps_nothing() {
    let f = Fixture::new();
    let krate = crate_file("steady", "1.0.0", &[]);
    let other = crate_file(
        "steady",
        "1.0.0",
        &[("build.rs", b"fn main() {}\n".as_slice())],
    );
    f.registry
        .publish_file("steady", &v("1.0.0", false, YEAR), &other, &sha256(&krate));
    let err = f.download("steady", "1.0.0").unwrap_err();
    assert!(
        matches!(err, RegistryError::ChecksumMismatch { .. }),
        "{err}"
    );
    let text = err.to_string();
    assert!(
        text.contains("served something other than what its index lists")
            && text.contains(&sha256(&krate)),
        "{text}"
    );
    let kept: Vec<String> = files_under(&f.cache())
        .into_iter()
        .filter(|p| !p.starts_with("index/"))
        .collect();
    assert_eq!(kept, Vec::<String>::new());
}

/// Publishes `krate` as `bad 1.0.0` (the index lists exactly these bytes) and downloads it.
fn download_hostile(krate: &[u8]) -> (Fixture, UnpackError) {
    let f = Fixture::new();
    f.registry
        .publish_file("bad", &v("1.0.0", false, YEAR), krate, &sha256(krate));
    match f.download("bad", "1.0.0") {
        Err(RegistryError::Unpack { source, .. }) => {
            let left: Vec<String> = files_under(&f.cache())
                .into_iter()
                .filter(|p| p.starts_with("src/"))
                .collect();
            assert_eq!(
                left,
                Vec::<String>::new(),
                "a refused package leaves nothing unpacked"
            );
            (f, source)
        }
        other => panic!("expected an unpack error, got {other:?}"),
    }
}

#[test]
fn truncated_crate_is_refused() {
    let big: Vec<u8> = (0..20_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let krate = crate_file("bad", "1.0.0", &[("src/data.bin", &big)]);
    let (_f, err) = download_hostile(&krate[..krate.len() * 2 / 3]);
    assert!(
        matches!(
            err,
            UnpackError::ReadArchive { .. } | UnpackError::Truncated { .. }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("truncated"), "{err}");
}

/// A gzip tar written block by block, so that hostile names and sizes get through.
fn raw_crate(entries: &[(&str, u8, u64, &[u8])]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    for (path, kind, size, data) in entries {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_entry_type(tar::EntryType::new(*kind));
        h.set_size(*size);
        h.set_mode(0o644);
        h.set_cksum();
        gz.write_all(h.as_bytes()).unwrap();
        gz.write_all(data).unwrap();
        gz.write_all(&vec![0; (512 - data.len() % 512) % 512])
            .unwrap();
    }
    gz.write_all(&[0; 1024]).unwrap();
    gz.finish().unwrap()
}

#[test]
fn parent_dir_paths_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    let target = format!(
        "bad-1.0.0/../../../../../../../../..{}/pwned",
        outside.path().display()
    );
    assert!(target.len() < 100, "fits a plain tar name");
    let krate = raw_crate(&[
        ("bad-1.0.0/Cargo.toml", b'0', 10, b"[package]\n"),
        (&target, b'0', 4, b"evil"),
    ]);
    let (_f, err) = download_hostile(&krate);
    assert!(matches!(err, UnpackError::EntryEscapes { .. }), "{err}");
    assert!(!outside.path().join("pwned").exists());
}

#[test]
fn a_gigabyte_declared_is_refused() {
    let krate = raw_crate(&[
        ("bad-1.0.0/Cargo.toml", b'0', 10, b"[package]\n"),
        ("bad-1.0.0/huge.bin", b'0', 1 << 30, b""),
    ]);
    let (_f, err) = download_hostile(&krate);
    assert!(matches!(err, UnpackError::TooLarge { .. }), "{err}");
    assert!(err.to_string().contains("1073741"), "{err}");
}
