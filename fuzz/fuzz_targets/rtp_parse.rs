#![no_main]
//! Inbound RTP parsing and symmetric latching must never panic, whatever arrives.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = selfprov_media::rtp::parse(data) {
        assert!(p.payload.len() <= data.len());
    }
});
