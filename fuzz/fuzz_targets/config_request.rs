#![no_main]
//! What a phone (or a scanner) sends the configuration server: any path and User-Agent are
//! recognised or refused without a panic, a recognised MAC always names a valid device, and any
//! Authorization header or nonce is parsed and checked without a panic.
use libfuzzer_sys::fuzz_target;
use selfprov_phoneconfig::{read_user_agent, recognise, Family, Mac};
use selfprov_sip::digest_server::{Authorization, NonceKey};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\n');
    let (path, ua, auth) = (
        parts.next().unwrap_or(""),
        parts.next(),
        parts.next().unwrap_or(""),
    );
    let agent = read_user_agent(ua);
    if let Some(mac) = agent.mac {
        assert_eq!(mac.upper().len(), 12);
    }
    if let Some(req) = recognise(path, &agent, |_: Mac| Some(Family::Polycom)) {
        assert!(req
            .family
            .templates()
            .iter()
            .any(|(t, _)| *t == req.template));
        if let Some(mac) = req.mac {
            assert_eq!(Mac::of_device_name(&mac.device_name()), Some(mac));
        }
    }
    if let Ok(a) = Authorization::parse(auth) {
        let _ = a.verify("GET", "secret");
    }
    let key = NonceKey::new(b"fuzz key, 32 bytes long at least");
    let _ = key.check(auth, 1_700_000_000, 300);
});
