//! Times the inventory of an unpacked package against plain `syn::parse_file` of the same `.rs`
//! files, measured in the same run (`inventory_speed DIR [RUNS]`). Prints one JSON object with
//! medians in milliseconds. Used by `bench/inventory-speed`.

use std::path::{Path, PathBuf};
use std::time::Instant;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// CPU time of this process (all threads), in milliseconds, from `/proc/self/stat`.
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = after
        .split_whitespace()
        .map(|x| x.parse().unwrap_or(0.0))
        .collect();
    // Fields 14 and 15 (utime, stime) are at 11 and 12 after the command name; ticks of 10 ms.
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) * 10.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let dir = PathBuf::from(args.next().expect("usage: inventory_speed DIR [RUNS]"));
    let runs: usize = args
        .next()
        .map_or(5, |r| r.parse().expect("RUNS is a number"));
    let mut files = Vec::new();
    rust_files(&dir, &mut files);
    let lines: usize = files
        .iter()
        .map(|f| std::fs::read_to_string(f).map_or(0, |t| t.lines().count()))
        .sum();
    let (mut parse, mut scan) = (Vec::new(), Vec::new());
    let (mut parse_cpu, mut scan_cpu) = (Vec::new(), Vec::new());
    let mut signals = 0;
    for _ in 0..runs {
        let (t, c) = (Instant::now(), cpu_ms());
        for f in &files {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            let _ = std::hint::black_box(syn::parse_file(&text));
        }
        parse.push(t.elapsed().as_secs_f64() * 1000.0);
        parse_cpu.push(cpu_ms() - c);
        let (t, c) = (Instant::now(), cpu_ms());
        let inv = inventory::scan_package(&dir, "bench", "0").expect("scan");
        scan.push(t.elapsed().as_secs_f64() * 1000.0);
        scan_cpu.push(cpu_ms() - c);
        signals = inv.signals.len();
    }
    let (parse, scan) = (median(parse), median(scan));
    println!(
        "{{\"dir\":{:?},\"rs_files\":{},\"rs_lines\":{},\"runs\":{},\"syn_parse_ms\":{:.1},\"inventory_ms\":{:.1},\"ratio\":{:.2},\"syn_parse_cpu_ms\":{:.0},\"inventory_cpu_ms\":{:.0},\"signals\":{}}}",
        dir.display().to_string(),
        files.len(),
        lines,
        runs,
        parse,
        scan,
        scan / parse,
        median(parse_cpu),
        median(scan_cpu),
        signals
    );
}
