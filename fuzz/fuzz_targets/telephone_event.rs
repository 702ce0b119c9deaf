#![no_main]
//! RFC 4733 payloads and SIP INFO bodies: never panic; digits only from valid events.
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let _ = selfprov_dtmf::rfc4733::parse_event(data);
    let _ = selfprov_dtmf::info::parse_info("application/dtmf-relay", data);
    let _ = selfprov_dtmf::info::parse_info("application/dtmf", data);
    // Feed the bytes as a stream of (timestamp, payload) packets to one receiver.
    let t0 = Instant::now();
    let mut rx = selfprov_dtmf::rfc4733::EventReceiver::new(101);
    let mut out = Vec::new();
    for (i, chunk) in data.chunks(6).enumerate() {
        if chunk.len() < 2 {
            break;
        }
        let ts = u32::from(chunk[0]);
        rx.on_packet(
            101,
            ts,
            &chunk[1..],
            t0 + Duration::from_millis(i as u64 * 20),
            &mut out,
        );
    }
    rx.poll(t0 + Duration::from_secs(60), &mut out);
    assert!(out.len() <= data.len());
});
