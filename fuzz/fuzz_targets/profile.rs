//! Profiles come from users (`--profile PATH`): any text must give a profile or an error.
#![no_main]
use libfuzzer_sys::fuzz_target;
use runner::profile::{Placeholders, Profile};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let vars = Placeholders {
        home: "/home/fuzz".into(),
        cargo_home: "/home/fuzz/.cargo".into(),
        rustup_home: "/home/fuzz/.rustup".into(),
    };
    if let Err(err) = Profile::parse(text, "fuzz.toml", &vars) {
        let _ = err.to_string();
    }
});
