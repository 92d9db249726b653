//! Event lines are read back by reports and by users' scripts: parsing any line must not panic,
//! and a parsed event must serialize back to an equal event.
#![no_main]
use libfuzzer_sys::fuzz_target;
use runner::events::Event;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = serde_json::from_slice::<Event>(data) {
        let text = serde_json::to_string(&event).expect("events serialize");
        let back: Event = serde_json::from_str(&text).expect("serialized events parse");
        assert_eq!(back.kind, event.kind);
        assert_eq!(back.action, event.action);
    }
});
