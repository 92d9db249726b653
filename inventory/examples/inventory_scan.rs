//! Prints the inventory of unpacked packages as JSON lines, one per directory given
//! (`inventory_scan DIR..`); the name and version come from the directory name `NAME-VERSION`.
//! Used by `bench/inventory-real-crates`.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut status = ExitCode::SUCCESS;
    for dir in std::env::args().skip(1) {
        let path = Path::new(&dir);
        let base = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // `NAME-VERSION`: the version starts at the last `-` followed by a digit.
        let split = base
            .char_indices()
            .filter(|&(i, c)| c == '-' && base[i + 1..].starts_with(|d: char| d.is_ascii_digit()))
            .map(|(i, _)| i)
            .last();
        let (name, version) = match split {
            Some(i) => (&base[..i], &base[i + 1..]),
            None => (base.as_str(), ""),
        };
        match inventory::scan_package(path, name, version) {
            Ok(inv) => println!(
                "{}",
                serde_json::to_string(&inv).expect("inventory serializes")
            ),
            Err(e) => {
                eprintln!("{dir}: {e}");
                status = ExitCode::FAILURE;
            }
        }
    }
    status
}
