//! Benchmark driver for `bench/gen-speed`: discovery + emission (no compile check) for one
//! package, against a baseline measured in the same run: `syn::parse_file` of every `.rs` file
//! under the package's `src/` (reading included). Prints medians of `--runs` runs as JSON.
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
    for _ in 0..runs {
        let s = harness_gen::generate(&opts).expect("generate");
        gen_times.push(s.discovery_time);
        meta_times.push(s.metadata_time);
        summary = Some(s);
    }
    let s = summary.expect("at least one run");
    let pkg_dir = {
        let t = std::fs::read_to_string(&s.targets_json).expect("targets.json");
        let _ = t;
        let cargo = std::fs::read_to_string(s.out_dir.join("Cargo.toml")).expect("Cargo.toml");
        let line = cargo
            .lines()
            .find(|l| l.contains("{ path = "))
            .expect("path dependency");
        let start = line.find("path = \"").expect("path") + 8;
        let end = start + line[start..].find('"').expect("closing quote");
        let p = PathBuf::from(&line[start..end]);
        if p.is_absolute() {
            p
        } else {
            s.out_dir.join(p)
        }
    };
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
            "baseline_parse_all_ms": base.as_secs_f64() * 1e3,
            "ratio_vs_baseline": gen.as_secs_f64() / base.as_secs_f64(),
            "cargo_metadata_ms": median(meta_times).as_secs_f64() * 1e3,
            "runs": runs,
        })
    );
}
