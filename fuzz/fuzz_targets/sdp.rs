#![no_main]
//! Any SDP offer: parse and answer without panicking.
use libfuzzer_sys::fuzz_target;
use selfprov_sip::sdp::{answer, parse, SdpCodec};

fuzz_target!(|data: &[u8]| {
    if let Ok(offer) = parse(data) {
        if let Ok((_, text)) = answer(
            &offer,
            &SdpCodec::ALL,
            "127.0.0.1:20000".parse().unwrap(),
            20,
            1,
            1,
        ) {
            assert!(parse(text.as_bytes()).is_ok(), "our answer must parse");
        }
    }
});
