//! The sinkhole summarizes the first bytes a sandboxed process sends on a TCP connection it may
//! not make (HTTP request line and `Host`, TLS ClientHello server name, or a hex preview): bytes
//! the attacker chose.
#![no_main]
use libfuzzer_sys::fuzz_target;
use runner::sandbox::payload::{self, PayloadSummary, MAX_FIELD, PREVIEW_BYTES};

fuzz_target!(|data: &[u8]| {
    let summary = payload::summarize(data);
    match &summary {
        PayloadSummary::Empty => assert!(data.is_empty()),
        PayloadSummary::Http { method, path, host } => {
            assert!(data.starts_with(method.as_bytes()));
            assert!(!path.is_empty() && path.len() <= MAX_FIELD);
            assert!(host.as_ref().is_none_or(|h| !h.is_empty() && h.len() <= MAX_FIELD));
        }
        PayloadSummary::Tls { sni } => {
            assert_eq!(data.first(), Some(&22));
            assert!(sni.as_ref().is_none_or(|s| !s.is_empty() && s.len() <= MAX_FIELD));
        }
        PayloadSummary::Data { hex } => assert!(hex.len() <= 2 * PREVIEW_BYTES),
    }
    // The one-line form is bounded by its fields.
    assert!(summary.line().len() <= 3 * MAX_FIELD + 64);
    assert!(summary.line().bytes().all(|b| !b.is_ascii_control()));
});
