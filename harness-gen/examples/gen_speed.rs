//! Benchmark driver for `bench/gen-speed`: discovery + emission (no compile check) for one
//! package, against baselines measured in the same run: `syn::parse_file` of every `.rs` file
//! under the package's `src/` (reading included), and copying the generated tree with plain
//! `std::fs` calls (the filesystem's own cost of creating that many files). Prints medians of
//! `--runs` runs as JSON: fresh generation into a new directory, discovery alone, and a re-run
//! over an existing project (only changed files are rewritten).
//!
//! `gen_speed --manifest-path M -p PKG --out DIR [--runs N]`

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn rs_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rs_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn all_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            all_files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let mut opts = harness_gen::GenOptions::default();
    let mut runs = 5usize;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let v = args.next().expect("every flag takes a value");
        match a.as_str() {
            "--manifest-path" => opts.manifest_path = Some(v.into()),
            "-p" => opts.packages.push(v),
            "--out" => opts.out_dir = v.into(),
            "--runs" => runs = v.parse().expect("--runs N"),
            other => panic!("unknown flag {other}"),
        }
    }
    let mut gen_times = Vec::new();
    let mut meta_times = Vec::new();
    let mut summary = None;
    // Discovery alone (no emission), to tell the two apart.
    let selection = harness_gen::workspace::select(opts.manifest_path.as_deref(), &opts.packages)
        .expect("select");
    let mut analysis_times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        for p in &selection.packages {
            harness_gen::analyse(p).expect("analyse");
        }
        analysis_times.push(t.elapsed());
    }
    // Fresh directories under a temporary base, removed only at the end: deleting thousands of
    // files between runs would slow the next run's file creation (ext4 inode allocation), which
    // measures the benchmark rather than the generator.
    let _ = std::fs::remove_dir_all(&opts.out_dir);
    std::fs::create_dir_all(&opts.out_dir).expect("create --out");
    let base = tempfile::tempdir_in(&opts.out_dir).expect("tempdir");
    let base_out = base.path().to_path_buf();
    for i in 0..runs {
        // Every run writes a fresh project into a new directory: the first-write cost is the one
        // users pay.
        opts.out_dir = base_out.join(format!("run-{i}"));
        let s = harness_gen::generate(&opts).expect("generate");
        gen_times.push(s.discovery_time);
        meta_times.push(s.metadata_time);
        summary = Some(s);
    }
    let s = summary.expect("at least one run");
    let pkg_dir = selection.packages[0]
        .manifest
        .parent()
        .expect("manifest has a directory")
        .to_path_buf();
    let mut files = Vec::new();
    rs_files(&pkg_dir.join("src"), &mut files);
    let mut base_times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        for f in &files {
            let text = std::fs::read_to_string(f).expect("read");
            let _ = syn::parse_file(&text);
        }
        base_times.push(t.elapsed());
    }
    // The raw filesystem cost of the same tree: copy run-0's files with plain std::fs calls.
    let fs_copy = {
        let from = base_out.join("run-0");
        let to = base_out.join("fs-copy");
        let mut tree = Vec::new();
        all_files(&from, &mut tree);
        let t = Instant::now();
        for f in &tree {
            let text = std::fs::read(f).expect("read generated file");
            let dest = to.join(f.strip_prefix(&from).expect("inside"));
            std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
            std::fs::write(&dest, text).expect("write");
        }
        (tree.len(), t.elapsed())
    };
    // A re-run over an existing project rewrites only what changed.
    let mut rerun_times = Vec::new();
    for _ in 0..runs {
        let s = harness_gen::generate(&opts).expect("generate");
        rerun_times.push(s.discovery_time);
    }
    let gen = median(gen_times);
    let base = median(base_times);
    let lines: usize = s.packages.iter().map(|p| p.2).sum();
    println!(
        "{}",
        serde_json::json!({
            "package": s.packages.iter().map(|p| format!("{} {}", p.0, p.1)).collect::<Vec<_>>(),
            "lines_analysed": lines,
            "files_in_src": files.len(),
            "targets": s.counts,
            "discovery_emission_ms": gen.as_secs_f64() * 1e3,
            "discovery_only_ms": median(analysis_times).as_secs_f64() * 1e3,
            "rerun_discovery_emission_ms": median(rerun_times).as_secs_f64() * 1e3,
            "files_written": fs_copy.0,
            "fs_copy_same_files_ms": fs_copy.1.as_secs_f64() * 1e3,
            "baseline_parse_all_ms": base.as_secs_f64() * 1e3,
            "ratio_vs_baseline": gen.as_secs_f64() / base.as_secs_f64(),
            "cargo_metadata_ms": median(meta_times).as_secs_f64() * 1e3,
            "runs": runs,
        })
    );
}
