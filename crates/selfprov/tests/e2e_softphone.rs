//! A real softphone: baresip (Debian package), headless — no sound card: it plays a silent WAV
//! file as its microphone and its `sndfile` module records what it hears. It registers (the
//! built-in registrar auto-registers it), dials the route point, sends the ID, PIN and
//! confirmation as RFC 4733 events through its TCP control interface, and is provisioned; the
//! audio it recorded contains the IVR's prompts.

mod common;

use common::baresip;
use common::*;

#[test]
fn baresip_provisions_itself_and_hears_the_prompts() {
    let s = config("e2e-baresip");
    let (_svc, _err) = start_service(&s);

    let phone = baresip::start(
        &s.dir.path().join("baresip"),
        &format!(
            "<sip:SEP00000000BA01@127.0.0.1:{}>;regint=3600;audio_codecs=PCMU",
            s.sip_port
        ),
        "2000",
    );
    phone.provision_as_jsmith();

    let d = device(&s, "SEP00000000BA01").expect("auto-registered");
    assert_eq!(
        (d["owner"].as_str(), d["dn"].as_str()),
        (Some("jsmith"), Some("1004")),
        "{d}"
    );
    assert_eq!(cli(&s, &["audit", "--json"])[0]["code"], "SUCCESS");

    // What baresip heard, decoded. The typed digits cut the first prompts short (barge-in);
    // the success prompt plays whole.
    let found = phone.pieces_heard_at_the_end("success");
    assert!(
        found >= 4,
        "only {found} of 5 pieces of the success prompt are in baresip's audio"
    );
    // And the measure can fail: account_locked was never played.
    assert!(phone.pieces_heard_at_the_end("account_locked") <= 1);
}
