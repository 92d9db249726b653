//! Which public functions become probe entries and which are skipped, and why.

use super::*;

fn planned(src: &str) -> Plan {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("lib.rs");
    std::fs::write(&path, src).expect("write");
    let tree = crate::source::load(&path, &crate::cfg::CfgEnv::default()).expect("loads");
    let model = CrateModel::build("demo", tree, false);
    let graph = crate::callgraph::call_graph(&model, &BTreeSet::new());
    plan(&model, &graph)
}

fn entry<'a>(p: &'a Plan, name: &str) -> &'a PlannedEntry {
    p.entries
        .iter()
        .find(|e| e.name == name)
        .unwrap_or_else(|| panic!("no entry {name}: {:#?}", p.entries))
}

fn skip_reason<'a>(p: &'a Plan, item: &str) -> &'a str {
    &p.skipped
        .iter()
        .find(|s| s.item == item)
        .unwrap_or_else(|| panic!("{item} not skipped: {:#?}", p.skipped))
        .reason
}

#[test]
fn free_functions_with_buildable_arguments_are_entries() {
    let p = planned(
        r#"
        use std::path::Path;
        pub fn run() {}
        pub fn connect(host: &str, port: u16) -> bool { true }
        pub fn load(p: &Path) {}
        pub fn save(p: impl AsRef<std::path::Path>) {}
        pub fn each<F: Fn(u8) -> bool>(f: F, v: Vec<u32>) {}
        fn private() {}
        pub(crate) fn internal() {}
        mod hidden { pub fn unreachable() {} }
        "#,
    );
    let run = entry(&p, "demo::run");
    assert!(run.takes_no_input() && run.calls() == 1);
    let c = entry(&p, "demo::connect");
    assert_eq!(c.inputs, ["&str", "u16"]);
    assert_eq!(c.calls(), ARGUMENT_SETS);
    assert_eq!(
        entry(&p, "demo::load").args,
        [ProbeSlot::Path { owned: false }]
    );
    assert_eq!(
        entry(&p, "demo::save").args,
        [ProbeSlot::Path { owned: true }]
    );
    assert_eq!(
        entry(&p, "demo::each").args[0],
        ProbeSlot::Closure("|_| true".into())
    );
    let names: Vec<&str> = p.entries.iter().map(|e| e.name.as_str()).collect();
    assert!(!names
        .iter()
        .any(|n| n.contains("private") || n.contains("internal")));
    assert!(
        !names.iter().any(|n| n.contains("unreachable")),
        "{names:?}"
    );
    assert!(p.skipped.is_empty(), "{:#?}", p.skipped);
}

#[test]
fn methods_run_on_what_a_constructor_returns() {
    let p = planned(
        r#"
        pub struct Updater { n: u32 }
        impl Updater {
            pub fn new() -> Self { Updater { n: 0 } }
            pub fn run(&self) {}
            pub fn step(&mut self, by: u32) {}
            pub fn finish(self) -> u32 { self.n }
            fn private(&self) {}
        }
        #[derive(Default)]
        pub struct Config;
        impl Config { pub fn apply(&self, key: String) {} }
        pub struct Conn;
        impl Conn {
            pub fn open(addr: &str) -> std::io::Result<Conn> { Ok(Conn) }
            pub fn send(&self, data: &[u8]) {}
        }
        impl std::fmt::Display for Conn {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { Ok(()) }
        }
        "#,
    );
    let run = entry(&p, "demo::Updater::run");
    let r = run.receiver.as_ref().expect("a receiver");
    assert_eq!(r.ctor, "demo::Updater::new()");
    assert!(run.takes_no_input());
    assert!(entry(&p, "demo::Updater::new").receiver.is_none());
    assert_eq!(entry(&p, "demo::Updater::step").calls(), ARGUMENT_SETS);
    entry(&p, "demo::Updater::finish");
    assert_eq!(
        entry(&p, "demo::Config::apply")
            .receiver
            .as_ref()
            .unwrap()
            .ctor,
        "<demo::Config as Default>::default()"
    );
    let send = entry(&p, "demo::Conn::send");
    let r = send.receiver.as_ref().unwrap();
    assert_eq!(
        (r.ctor.as_str(), r.wrap),
        ("demo::Conn::open", Wrap::Result)
    );
    assert_eq!(r.inputs, ["&str"]);
    // Trait methods and private ones are neither entries nor skipped.
    assert!(!p
        .entries
        .iter()
        .any(|e| e.fn_name == "fmt" || e.fn_name == "private"));
    assert!(p.skipped.is_empty(), "{:#?}", p.skipped);
}

#[test]
fn what_cannot_be_called_is_skipped_with_the_reason() {
    let p = planned(
        r#"
        pub unsafe fn raw(p: *const u8) {}
        pub async fn fetch() {}
        pub fn parse<T: std::str::FromStr>(s: &str) -> Option<T> { None }
        pub fn takes_ptr(p: *const u8) {}
        pub struct Hidden { x: std::sync::Mutex<u8> }
        impl Hidden { pub fn poke(&self) {} }
        pub struct Wrapper<T>(T);
        impl<T> Wrapper<T> { pub fn get(&self) {} }
        pub struct Boxed;
        impl Boxed { pub fn new() -> Self { Boxed } pub fn boxed(self: Box<Self>) {} }
        "#,
    );
    assert!(skip_reason(&p, "demo::raw").starts_with("unsafe"));
    // An async function is an entry: the probe polls the future it returns.
    entry(&p, "demo::fetch");
    assert!(skip_reason(&p, "demo::parse").contains("generic `T`"));
    assert!(skip_reason(&p, "demo::takes_ptr").contains("raw pointer"));
    assert!(skip_reason(&p, "demo::Hidden::poke").contains("no constructor"));
    assert!(skip_reason(&p, "demo::Wrapper::get").contains("generic type"));
    assert!(skip_reason(&p, "demo::Boxed::boxed").contains("self: Box<Self>"));
    entry(&p, "demo::Boxed::new");
}

#[test]
fn text_entries_get_the_crates_example_inputs_as_seeds() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("tests")).unwrap();
    std::fs::write(
        dir.path().join("tests/parse.rs"),
        "#[test]\nfn t() { demo::parse_line(\"key = value\"); }\n",
    )
    .unwrap();
    let lib = dir.path().join("lib.rs");
    std::fs::write(
        &lib,
        "pub fn parse_line(s: &str) -> usize { s.len() }\npub fn add(a: u8, b: u8) {}\n",
    )
    .unwrap();
    let tree = crate::source::load(&lib, &crate::cfg::CfgEnv::default()).expect("loads");
    let model = CrateModel::build("demo", tree, false);
    let graph = crate::callgraph::call_graph(&model, &BTreeSet::new());
    let mut p = plan(&model, &graph);
    add_seeds(&mut p.entries, dir.path(), std::slice::from_ref(&lib));
    let parse = entry(&p, "demo::parse_line");
    assert_eq!(parse.seeds, [b"key = value".to_vec()]);
    assert_eq!(parse.calls(), ARGUMENT_SETS + 1);
    assert!(entry(&p, "demo::add").seeds.is_empty());
}

#[test]
fn the_crates_own_types_are_passed_by_reference_too() {
    let p = planned(
        r#"
        pub struct Version { major: u64 }
        impl Version { pub fn new(major: u64) -> Self { Version { major } } }
        pub enum Level { Low, High }
        pub fn matches(v: &Version, l: &Level, by_value: Version) -> bool { true }
        "#,
    );
    let m = entry(&p, "demo::matches");
    assert!(
        matches!(&m.args[0], ProbeSlot::Ref(ArgKind::Ctor(path, _)) if path == "demo::Version")
    );
    assert!(matches!(&m.args[1], ProbeSlot::Ref(ArgKind::UnitEnum(_))));
    assert!(matches!(&m.args[2], ProbeSlot::Kind(ArgKind::Ctor(..))));
}
