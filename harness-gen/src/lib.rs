//! Discovery of `serde::Deserialize` types and safe wrappers over FFI in a package's sources, and
//! emission of a cargo-fuzz project with one target per discovered item.
//!
//! The pipeline, one module per step, each depending only on the ones before it: [`workspace`]
//! selects packages with `cargo metadata`; [`source`] reads each crate's module tree under its
//! [`cfg`](mod@cfg) (expanding [`macros`]); [`model`] indexes items and computes public paths;
//! [`types`] renders and compares types, [`callgraph`] links the crate's functions and finds
//! those that reach FFI, [`args`] classifies argument types; [`deser`] (with [`serde_shape`]),
//! [`ffi`], [`formats`] (crates with their own serde `Deserializer`) and [`parsers`]
//! (hand-written parse entry points, with [`stateful`] for values built from the input and then
//! driven, closures and extra arguments) discover items and plan targets; [`mining`] finds
//! example inputs and dictionary tokens for the last two, [`c_mining`] the literals of the C/C++
//! behind FFI targets; [`emit`] turns each plan into a target and
//! writes the project; [`targets`] is the `targets.json` contract that `cargo airlock fuzz`
//! reads; [`compile`] checks that the targets build. For vet's `probe` phase, [`probe`] plans
//! calls of the crate's public functions and methods from the same analysis and
//! [`generate_probes`] writes them as a plain cargo package with one binary.
//!
//! # The generated project
//!
//! A plain cargo-fuzz project in `out_dir`: `Cargo.toml` (`[package.metadata] cargo-fuzz = true`,
//! its own `[workspace]`, one `[[bin]]` per target, a dependency on each analysed package with
//! its resolved features (by path, or by exact version for a crates.io package),
//! `libfuzzer-sys`, `arbitrary`, `serde_json` and the serde formats the package depends on,
//! pinned to the versions it resolved; `Cargo.lock` starts as a copy of the workspace's),
//! `fuzz_targets/<name>.rs`, `dicts/<name>.dict`, `corpus/<name>/seed-N.json` and
//! `targets.json` ([`targets::TargetsManifest`]): one record per target
//! and per discovered item without one (`name`, `package`, `kind`, `item`, `format`, `status`,
//! `reason`, `libfuzzer` options where a target needs them, and `stack_bytes`, the main-thread
//! stack every built target runs with: [`targets::STACK_BYTES`]). Deserialize targets are named
//! `de_<path>`, FFI targets `ffi_<path>`, format entry points `fmt_<path>`, parse entry points
//! `parse_<path>`; with several packages the names are prefixed with the crate's name.
//!
//! Deserialize, format and parse targets run each input once, on the main thread, whose stack
//! `cargo airlock fuzz` caps at [`targets::STACK_BYTES`] (2 MiB, `RLIMIT_STACK`, taken from the
//! target's `stack_bytes`): unbounded recursion overflows at a depth their inputs reach, while
//! libFuzzer's stack-depth coverage, measured on that thread, leads it towards deeper nesting
//! (the `targets.json` record asks for `-max_len=16384 -len_control=0` for format and parse
//! targets, `-max_len=4096 -len_control=0` for Deserialize targets). Format and parse targets get
//! seeds and dictionaries from the crate's own tests, examples, doc blocks and lexer literals
//! ([`mining`]); Deserialize targets get their field and variant names, the bounds of their
//! integer fields as words and seeds ([`int_bounds`]), and, for hand-written impls, the lexer's
//! tokens and nesting seeds. Generated sources are laid out as rustfmt lays them out.
//!
//! `status` is `built` when the target was generated and compiled, `generated` when it was
//! written without the compile check (`fuzz` builds it), `failed` when it did not compile (`reason` holds the first compiler error) and `skipped` when
//! no target could be generated (`reason` says why).
//!
//! # Limits
//!
//! - Item-level invocations of the crate's own `macro_rules!` macros are expanded when their
//!   rules use no repetitions ([`macros`]); other macro-generated items (repetitions, proc
//!   macros other than serde's derives, `include!`) are not seen. Calls inside macro invocations
//!   in function bodies are, when the macro's arguments parse as expressions or statements.
//! - Method calls are linked by name, not by type: `x.compress()` links to every crate method
//!   called `compress`, except names `std` uses everywhere. This over-approximates FFI reach.
//! - Seeds are built statically from each type's serde shape (renames, tags, `default`), not by
//!   tracing it at run time; types with hand-written impls get a dictionary from the string
//!   literals of the impl and its `Visitor`, and only the crate's nesting seeds.
//! - Generic Deserialize types are instantiated only with arguments the crate itself writes (a
//!   type alias, a field, a hand-written impl for a concrete instance); generic FFI types only
//!   when every parameter is an `io::Read`/`io::Write` one.
//!
//! ```no_run
//! let summary = harness_gen::generate(&harness_gen::GenOptions {
//!     manifest_path: None,
//!     packages: vec!["semver".into()],
//!     out_dir: "fuzz".into(),
//!     compile_check: true,
//!     target_dir: None,
//! })?;
//! println!("{} targets built, see {}", summary.counts.built, summary.targets_json.display());
//! # Ok::<(), harness_gen::GenError>(())
//! ```

mod args;
mod c_mining;
mod callgraph;
mod cfg;
pub mod compile;
mod deser;
mod emit;
mod error;
mod ffi;
mod formats;
mod int_bounds;
mod macros;
mod mining;
mod model;
mod naming;
mod nesting;
mod parsers;
pub mod probe;
mod read_type;
mod serde_attrs;
mod serde_shape;
mod shadow;
mod source;
mod stateful;
pub mod suggest;
pub mod targets;
mod text_classics;
mod types;
pub mod workspace;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use emit::probe::generate_probes;
pub use error::GenError;
pub use targets::{LibFuzzerOptions, TargetKind, TargetRecord, TargetStatus, TargetsManifest};

/// What `gen` should do.
#[derive(Debug, Clone, Default)]
pub struct GenOptions {
    /// The workspace manifest; `None` looks from the current directory as cargo does.
    pub manifest_path: Option<PathBuf>,
    /// Packages to analyse (`name` or `name@version`, members or dependencies); empty means the
    /// workspace's default members that have a library.
    pub packages: Vec<String>,
    /// Where the cargo-fuzz project is written.
    pub out_dir: PathBuf,
    /// Build the generated project and mark targets that do not compile as failed.
    pub compile_check: bool,
    /// Cargo target directory for the compile check; `None` uses cargo's default (`<out>/target`
    /// unless `CARGO_TARGET_DIR` is set).
    pub target_dir: Option<PathBuf>,
}

/// Totals over all records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Targets generated (built, failed, or written without the compile check).
    pub generated: usize,
    /// Targets generated and compiled by the compile check.
    pub built: usize,
    /// Targets written without the compile check (status `generated`).
    pub unchecked: usize,
    /// Items with no target.
    pub skipped: usize,
    /// Targets that did not compile.
    pub failed: usize,
}

impl Counts {
    /// Counts the records.
    pub fn of(records: &[TargetRecord]) -> Self {
        let mut c = Counts::default();
        for r in records {
            match r.status {
                TargetStatus::Built => c.built += 1,
                TargetStatus::Generated => c.unchecked += 1,
                TargetStatus::Skipped => c.skipped += 1,
                TargetStatus::Failed => c.failed += 1,
            }
        }
        c.generated = c.built + c.unchecked + c.failed;
        c
    }
}

/// What `gen` did.
#[derive(Debug, Clone)]
pub struct GenSummary {
    /// The project directory.
    pub out_dir: PathBuf,
    /// The path of `targets.json`.
    pub targets_json: PathBuf,
    /// Every record, as written to `targets.json`.
    pub targets: Vec<TargetRecord>,
    /// Totals.
    pub counts: Counts,
    /// Per package: name, version and source lines read.
    pub packages: Vec<(String, String, usize)>,
    /// Files skipped and workspace members passed over, as messages.
    pub warnings: Vec<String>,
    /// Time spent in `cargo metadata`.
    pub metadata_time: Duration,
    /// Time spent reading, analysing and writing the project (no compilation).
    pub discovery_time: Duration,
    /// Time spent in the compile check.
    pub compile_time: Duration,
}

/// Progress of a run, for a caller that prints one line per step.
#[derive(Debug, Clone)]
pub enum Progress {
    /// Packages selected.
    Selected(Vec<String>),
    /// One package analysed: name, Deserialize types, FFI items.
    Analysed(String, usize, usize),
    /// Project written: number of targets generated.
    Written(usize),
    /// Compile check starting.
    Compiling,
}

/// Runs discovery, emission and (optionally) the compile check.
pub fn generate(opts: &GenOptions) -> Result<GenSummary, GenError> {
    generate_with_progress(opts, &mut |_| {})
}

/// [`generate`], reporting each step to `progress`.
pub fn generate_with_progress(
    opts: &GenOptions,
    progress: &mut dyn FnMut(&Progress),
) -> Result<GenSummary, GenError> {
    let t0 = Instant::now();
    let selection = workspace::select(opts.manifest_path.as_deref(), &opts.packages)?;
    let metadata_time = t0.elapsed();
    progress(&Progress::Selected(
        selection
            .packages
            .iter()
            .map(|p| format!("{} {}", p.name, p.version))
            .collect(),
    ));
    let t1 = Instant::now();
    let mut warnings: Vec<String> = selection
        .passed_over
        .iter()
        .map(|(n, why)| format!("package `{n}` passed over: {why}"))
        .collect();
    let mut emitted = Vec::new();
    let mut crates = Vec::new();
    let mut formats: Vec<workspace::FormatDep> = Vec::new();
    let mut names: BTreeSet<String> = BTreeSet::new();
    let multi = selection.packages.len() > 1;
    let mut packages = Vec::new();
    for p in &selection.packages {
        let analysed = analyse(p)?;
        packages.push((p.name.clone(), p.version.clone(), analysed.lines));
        warnings.extend(
            analysed
                .warnings
                .iter()
                .map(|w| format!("{}: {}", w.path.display(), w.message)),
        );
        progress(&Progress::Analysed(
            p.name.clone(),
            analysed.deser.len(),
            analysed.ffi.len(),
        ));
        let crate_dir = p.manifest.parent().map(PathBuf::from).unwrap_or_default();
        let mut unique = |stem: String| -> String {
            let base = if multi {
                format!("{}_{stem}", p.code_name)
            } else {
                stem
            };
            let mut name = base.clone();
            let mut i = 2;
            while !names.insert(name.clone()) {
                name = format!("{base}_{i}");
                i += 1;
            }
            name
        };
        for item in &analysed.deser {
            let shown = item
                .public_path
                .clone()
                .unwrap_or_else(|| item.internal_path.clone());
            if item.instances.is_empty() {
                let name = unique(format!("de_{}", naming::target_stem(&shown)));
                emitted.push(emit::deser::deser_target(
                    name,
                    &p.name,
                    item,
                    None,
                    &p.formats,
                    &analysed.mined,
                    &crate_dir,
                ));
            }
            for inst in &item.instances {
                let stem = naming::target_stem(&inst.ty);
                let name = unique(format!("de_{stem}"));
                emitted.push(emit::deser::deser_target(
                    name,
                    &p.name,
                    item,
                    Some(inst),
                    &p.formats,
                    &analysed.mined,
                    &crate_dir,
                ));
                if item.skip.is_none() {
                    let name = unique(format!("de_{stem}_shaped"));
                    emitted.extend(emit::shaped::shaped_target(
                        name, &p.name, item, inst, &p.formats, &crate_dir,
                    ));
                }
            }
        }
        // The C/C++ behind the FFI wrappers: its literals are the FFI targets' dictionary.
        let c_dict = if analysed.ffi.is_empty() {
            vec![]
        } else {
            c_mining::mine_dir(&crate_dir)
        };
        for item in &analysed.ffi {
            let name = unique(format!("ffi_{}", naming::target_stem(&item.item)));
            emitted.push(emit::ffi::ffi_target(
                name, &p.name, item, &crate_dir, &c_dict,
            ));
        }
        if let Some(fc) = &analysed.format {
            for entry in &fc.entries {
                let name = unique(format!("fmt_{}", naming::target_stem(&entry.item)));
                emitted.push(emit::format::format_target(
                    name,
                    &p.name,
                    fc,
                    entry,
                    &analysed.mined,
                    &crate_dir,
                ));
            }
        }
        for item in &analysed.parsers {
            let name = unique(format!("parse_{}", item.stem));
            emitted.push(emit::parse::parse_target(
                name,
                &p.name,
                item,
                &analysed.mined,
                &crate_dir,
            ));
        }
        crates.push(emit::project::CrateDep {
            package: p.name.clone(),
            dir: crate_dir,
            features: p.features.clone(),
            registry_version: p.from_registry.then(|| p.version.clone()),
        });
        for f in &p.formats {
            if !formats.iter().any(|g| g.package == f.package) {
                formats.push(f.clone());
            }
        }
    }
    emit::project::write_project(&opts.out_dir, &crates, &formats, &emitted)?;
    // Start from the workspace's lock file so the crate builds with the dependency versions the
    // workspace uses; cargo adds what the fuzz project needs on top.
    let lock = selection.workspace_root.join("Cargo.lock");
    let fuzz_lock = opts.out_dir.join("Cargo.lock");
    if lock.is_file() && !fuzz_lock.exists() {
        std::fs::copy(&lock, &fuzz_lock).map_err(|source| GenError::Write {
            path: fuzz_lock.clone(),
            source,
        })?;
    }
    let mut records: Vec<TargetRecord> = emitted.into_iter().map(|e| e.record).collect();
    if !opts.compile_check {
        // Nothing compiled them: they are generated, not built.
        for r in records
            .iter_mut()
            .filter(|r| r.status == TargetStatus::Built)
        {
            r.status = TargetStatus::Generated;
        }
    }
    let mut manifest = TargetsManifest { records };
    let targets_json = manifest.write(&opts.out_dir)?;
    progress(&Progress::Written(Counts::of(&manifest.records).generated));
    let discovery_time = t1.elapsed();
    let t2 = Instant::now();
    if opts.compile_check {
        progress(&Progress::Compiling);
        compile::check(
            &opts.out_dir,
            opts.target_dir.as_deref(),
            &mut manifest.records,
        )?;
        manifest.write(&opts.out_dir)?;
    }
    let compile_time = if opts.compile_check {
        t2.elapsed()
    } else {
        Duration::ZERO
    };
    Ok(GenSummary {
        out_dir: opts.out_dir.clone(),
        targets_json,
        counts: Counts::of(&manifest.records),
        targets: manifest.records,
        packages,
        warnings,
        metadata_time,
        discovery_time,
        compile_time,
    })
}

/// The discoveries of one package.
#[derive(Debug)]
pub struct Analysis {
    /// Deserialize types.
    pub deser: Vec<deser::DeserItem>,
    /// FFI wrappers.
    pub ffi: Vec<ffi::FfiItem>,
    /// Entry points of a format crate, when the crate implements `serde::Deserializer`.
    pub format: Option<formats::FormatCrate>,
    /// Hand-written parse entry points.
    pub parsers: Vec<parsers::ParseItem>,
    /// Seeds and dictionary tokens for format and parse targets and hand-written Deserialize
    /// impls.
    pub mined: mining::Mined,
    /// Files skipped.
    pub warnings: Vec<source::SourceWarning>,
    /// Source lines read.
    pub lines: usize,
}

/// Reads and analyses one selected package (no I/O besides reading its sources).
pub fn analyse(p: &workspace::Selected) -> Result<Analysis, GenError> {
    let cfg = cfg::CfgEnv::with_features(p.features.iter().cloned());
    let tree = source::load(&p.root, &cfg)?;
    let model = model::CrateModel::build(&p.code_name, tree, p.edition_2015);
    let deser = deser::discover(&model);
    let graph = callgraph::call_graph(&model, &p.ffi_crates);
    let ffi = ffi::plan(&model, &graph);
    let format = formats::discover(&model, &graph, &deser);
    let covered = format
        .as_ref()
        .map(|f| f.covered.clone())
        .unwrap_or_default();
    let parsers = parsers::discover(&model, &graph, &covered);
    let mut names: BTreeSet<String> = parsers.iter().map(|p| p.fn_name.clone()).collect();
    if let Some(f) = &format {
        names.extend(f.entries.iter().map(|e| e.fn_name.clone()));
    }
    // Hand-written Deserialize impls often parse text with the crate's own lexer: they get its
    // tokens and nesting seeds too.
    let manual = deser.iter().any(|d| d.how == deser::How::Manual);
    let mined = if names.is_empty() && !manual {
        mining::Mined::default()
    } else {
        let sources: Vec<PathBuf> = model
            .tree
            .modules
            .iter()
            .map(|m| m.file.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let dir = p.manifest.parent().map(PathBuf::from).unwrap_or_default();
        mining::mine(&dir, &sources, &names)
    };
    Ok(Analysis {
        deser,
        ffi,
        format,
        parsers,
        mined,
        warnings: model.tree.warnings.clone(),
        lines: model.tree.lines,
    })
}
