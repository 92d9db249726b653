//! Prints the inventory of unpacked packages as JSON lines, one per directory given
//! (`inventory_scan DIR..`); the name and version come from the package's `Cargo.toml`.
//! Used by `bench/inventory-real-crates`.

use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut status = ExitCode::SUCCESS;
    for dir in std::env::args().skip(1) {
        let path = Path::new(&dir);
        let manifest: toml::Table = std::fs::read_to_string(path.join("Cargo.toml"))
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or_default();
        let field = |k: &str| {
            manifest
                .get("package")
                .and_then(|p| p.get(k))
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        match inventory::scan_package(path, &field("name"), &field("version")) {
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
