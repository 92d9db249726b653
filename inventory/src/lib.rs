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
//! # Levels
//!
//! Levels are calibrated on popular crates (see `bench/inventory-real-crates`): capabilities are
//! facts, never alarms; `warn` and `error` signals are what a clean crate does not do.
//!
//! - `error`: a base64/hex string (or fragments joined at run time) that decodes to a drop site,
//!   a raw IP, a downloader or a secret path.
//! - `warn`: programs and libraries shipped (ELF/PE/Mach-O executables and shared libraries,
//!   wasm, Java classes; prebuilt object files and static libraries of them, such as `ring`'s
//!   assembly, and Windows import libraries are `info`: they run only once a build links them,
//!   which the build and load phases watch), an encoded plain URL or command, fragments that join
//!   into an address, known drop sites, URLs with a public raw IP, public IPs outside URLs in a
//!   file that uses the network or starts programs, secret paths, reads of `*_TOKEN`,
//!   `*_PRIVATE_KEY` and AWS credential variables (and `_TOKEN`-style patterns matched over all
//!   variables), downloaders handed to a process, scripts piping a download into a shell,
//!   static constructors (`#[ctor]`, `.init_array`/`.ctors`/`.CRT$XC*` sections, C
//!   `__attribute__((constructor))`), `include_bytes!` of machine code or of a file outside the
//!   package.
//! - `info`: everything else worth listing: shipped scripts, C sources' data, archives and data
//!   files, other public addresses, secret variable names merely mentioned, unparsable files.
//!
//! Test code (`tests/`, `examples/`, `benches/`, `#[cfg(test)]`, `#[test]`) lowers secret paths,
//! public addresses and encoded strings by one level: the test phase of `vet` watches it run.
//!
//! # Limits
//!
//! At most [`MAX_PLACES_PER_CAPABILITY`] places and [`MAX_DETAILS_PER_CAPABILITY`] details per
//! capability (with the full count), 50 `info` signals per code (warn and error are never
//! dropped), 50,000 files, 8 MiB of text per file; `.rs` files whose brackets nest deeper than
//! 256 or whose expressions chain more than 20,000 operators are scanned as text (a package must
//! not overflow the scanner's stack). Files are scanned on up to 8 threads.

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
pub fn scan_package(
    root: &Path,
    name: &str,
    version: &str,
) -> Result<CrateInventory, InventoryError> {
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
    for per_file in scan_files(root, &listing.files) {
        out.merge(per_file);
    }
    Ok(out.finish(name, version))
}

/// Stack of a scanning thread.
const WORKER_STACK: usize = 256 << 20;

/// Scans every file on a few threads (parsing dominates and files are independent); the
/// per-file results come back in path order so places and signals are deterministic.
fn scan_files(root: &Path, files: &[files::File]) -> Vec<collect::Collector> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Mutex, PoisonError};

    let workers = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .clamp(1, 8)
        .min(files.len().max(1));
    let next = AtomicUsize::new(0);
    let slots: Vec<Mutex<Option<collect::Collector>>> =
        files.iter().map(|_| Mutex::new(None)).collect();
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        let Some(file) = files.get(i) else {
            break;
        };
        // A build script's or a test's uses are not what the package's users run (C projects
        // keep their tests in a `test/` directory anywhere: jemalloc's `jemalloc/test/`).
        let native_test =
            file.kind == files::Kind::Native && file.rel.split('/').any(|c| c == "test");
        let mut out =
            collect::Collector::for_file(file.test || native_test || file.rel == "build.rs");
        scan_file(root, file, &mut out);
        *slots[i].lock().unwrap_or_else(PoisonError::into_inner) = Some(out);
    };
    std::thread::scope(|s| {
        for _ in 0..workers {
            // A large stack (reserved, touched only as used) for syn's recursion on long
            // expression chains; bracket nesting is bounded before parsing (`MAX_NESTING`).
            let spawned = std::thread::Builder::new()
                .stack_size(WORKER_STACK)
                .spawn_scoped(s, work);
            if spawned.is_err() {
                break;
            }
        }
    });
    // Files no worker took (no thread could be started) are scanned on this thread.
    work();
    slots
        .into_iter()
        .filter_map(|m| m.into_inner().unwrap_or_else(PoisonError::into_inner))
        .collect()
}

fn scan_file(root: &Path, file: &files::File, out: &mut collect::Collector) {
    match file.kind {
        files::Kind::Rust => rust::scan_file(root, file, out),
        files::Kind::Native | files::Kind::Script => native::scan_file(root, file, out),
        files::Kind::Binary(_) | files::Kind::Other => {}
    }
    files::report_kind(file, out);
}
