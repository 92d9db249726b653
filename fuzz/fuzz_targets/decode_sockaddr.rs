//! The supervisor decodes `struct sockaddr` bytes read out of an untrusted process.
#![no_main]
use libfuzzer_sys::fuzz_target;
use runner::sandbox::decode;

fuzz_target!(|data: &[u8]| {
    if let Some(addr) = decode::sockaddr(data) {
        // Rendering must never panic either.
        let _ = addr.to_string();
    }
});
