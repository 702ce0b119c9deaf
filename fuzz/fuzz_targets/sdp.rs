#![no_main]
//! Any SDP offer: parse and answer without panicking.
use libfuzzer_sys::fuzz_target;
use selfprov_sip::sdp::{answer, parse, SdpCodec};

fuzz_target!(|data: &[u8]| {
    if let Ok(offer) = parse(data) {
        let all = [SdpCodec::Pcmu, SdpCodec::Pcma, SdpCodec::G729, SdpCodec::L16, SdpCodec::Opus];
        if let Ok((_, text)) = answer(&offer, &all, "127.0.0.1:20000".parse().unwrap(), 20, 1, 1) {
            assert!(parse(text.as_bytes()).is_ok(), "our answer must parse");
        }
    }
});
