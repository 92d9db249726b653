//! The supervisor parses UDP payloads of untrusted processes as DNS queries, and searches
//! them for decoy values.
#![no_main]
use libfuzzer_sys::fuzz_target;
use runner::sandbox::decode;

fuzz_target!(|data: &[u8]| {
    if let Some(name) = decode::dns_query(data) {
        assert!(name.len() <= 256, "query names are bounded");
        assert!(!name.is_empty());
    }
    let needles = decode::encodings("AIRLOCKfuzzdecoy0123");
    let _ = decode::contains_encoded(data, &needles);
});
