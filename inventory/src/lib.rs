//! Static inventory of a Rust package (what a `.crate` holds, unpacked): which capabilities its
//! code uses and where (`net`, `process`, `fs`, `env`, `unsafe`, `ffi`, `build-script`,
//! `proc-macro`), and signals that a person vetting it should hear about (shipped binaries and
//! scripts, encoded strings, address literals, secret paths and variables, downloaders handed to
//! a process, static constructors, embedded binaries).
//!
//! Every `.rs` file of the package is parsed with syn whatever its `cfg` (a `cfg(windows)`
//! payload is seen on Linux), including `build.rs`, `tests/`, `examples/` and `benches/`; C, C++,
//! assembly and scripts are scanned as text; every other file is checked for executable magic.
//! Nothing is compiled or run.
//!
//! ```no_run
//! let inv = inventory::scan_package(std::path::Path::new("/tmp/itoa-1.0.15"), "itoa", "1.0.15")?;
//! for s in inv.signals_at_least(inventory::Level::Warn) {
//!     println!("{} {}:{} {}", s.code, s.path, s.line, s.reason);
//! }
//! # Ok::<(), inventory::InventoryError>(())
//! ```
//!
//! Levels are calibrated on popular crates (see `bench/inventory-real-crates`): capabilities are
//! facts, never alarms; `warn` and `error` signals are what a clean crate does not do.

mod binary;
mod code;
mod collect;
mod error;
mod files;
mod manifest;
mod model;
mod native;
mod rust;
mod text;

pub use code::SignalCode;
pub use error::InventoryError;
pub use model::{
    Capability, CapabilityKind, CrateInventory, FileCounts, Level, Place, Signal,
    MAX_DETAILS_PER_CAPABILITY, MAX_PLACES_PER_CAPABILITY,
};

use std::path::Path;

/// Inventories the unpacked package at `root` (the directory a `.crate` unpacks to).
///
/// Fails only when `root` is not a readable directory; unreadable, oversized or unparsable files
/// inside it are reported as signals.
pub fn scan_package(root: &Path, name: &str, version: &str) -> Result<CrateInventory, InventoryError> {
    if !root.is_dir() {
        return Err(InventoryError::NotADirectory {
            path: root.to_path_buf(),
        });
    }
    let listing = files::list(root)?;
    let mut out = collect::Collector::default();
    manifest::scan(root, &mut out);
    for sig in &listing.skipped {
        out.signal(sig.clone());
    }
    for file in &listing.files {
        match file.kind {
            files::Kind::Rust => rust::scan_file(root, file, &mut out),
            files::Kind::Native | files::Kind::Script => native::scan_file(root, file, &mut out),
            files::Kind::Binary(_) | files::Kind::Other => {}
        }
        files::report_kind(file, &mut out);
    }
    Ok(out.finish(name, version))
}
