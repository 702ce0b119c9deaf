//! Unit tests of the call's pure parts: digit groups, the report's conclusions, the SDP offer.

use super::*;

#[test]
fn digit_groups_split_at_hash_or_commas() {
    assert_eq!(
        Script::groups_from("1004#12345#1"),
        ["1004#", "12345#", "1"]
    );
    assert_eq!(Script::groups_from("1004#,12"), ["1004#", "12"]);
    assert_eq!(Script::groups_from(" 1 "), ["1"]);
    assert!(Script::groups_from("").is_empty());
}

#[test]
fn report_names_outcome_and_extension() {
    let h = |n: &str| HeardAt {
        name: n.into(),
        language: "en_US".into(),
        at_ms: 0,
    };
    let mut r = Report {
        prompts: [
            "welcome",
            "confirm_extension",
            "digit_1",
            "digit_0",
            "digit_0",
            "digit_4",
            "confirm_press",
            "success",
        ]
        .map(h)
        .to_vec(),
        ..Report::default()
    };
    r.conclude();
    assert_eq!(
        (r.outcome.as_str(), r.new_dn.as_deref()),
        ("provisioned", Some("1004"))
    );
    let mut r = Report {
        prompts: [
            "enter_pin",
            "invalid_credentials",
            "account_locked",
            "goodbye",
        ]
        .map(h)
        .to_vec(),
        ..Report::default()
    };
    r.conclude();
    assert_eq!((r.outcome.as_str(), r.new_dn), ("account_locked", None));
}

#[test]
fn offers_each_codec_with_or_without_telephone_events() {
    let a: SocketAddr = "127.0.0.1:4000".parse().unwrap();
    for c in Codec::ALL {
        let o = offer(AudioOffer::new(c, DtmfMode::Rfc4733), a, 1, 1, "sendrecv");
        let sd = selfprov_sip::sdp::parse(o.as_bytes()).unwrap();
        assert_eq!(sd.media[0].port, 4000);
        assert!(
            o.contains(&format!("telephone-event/{}", c.rtp_clock_rate())),
            "{o}"
        );
        // The payload type, name and clock rate the route point knows this codec by.
        let m = &sd.media[0];
        assert_eq!(m.formats[0], payload_type(c).to_string(), "{o}");
        let mapped = (
            payload_type(c),
            c.encoding_name().to_owned(),
            c.rtp_clock_rate(),
        );
        assert!(m.rtpmaps.contains(&mapped), "{o}");
    }
    let g722 = offer(
        AudioOffer::new(Codec::G722, DtmfMode::Rfc4733),
        a,
        1,
        1,
        "sendrecv",
    );
    assert!(
        g722.contains("m=audio 4000 RTP/AVP 9 101\r\na=rtpmap:9 G722/8000\r\n"),
        "{g722}"
    );
    let narrow = offer(
        AudioOffer::new(Codec::L16Narrowband, DtmfMode::Rfc4733),
        a,
        1,
        1,
        "sendrecv",
    );
    assert!(narrow.contains("a=rtpmap:97 L16/8000\r\n"), "{narrow}");
    // Telephone-events at another rate than the codec's (L16/16000 with telephone-event/8000).
    let paired = AudioOffer {
        event_rate: 8000,
        ..AudioOffer::new(Codec::L16, DtmfMode::Rfc4733)
    };
    let o = offer(paired, a, 1, 1, "sendrecv");
    assert!(
        o.contains("a=rtpmap:98 L16/16000\r\n")
            && o.contains("a=rtpmap:101 telephone-event/8000\r\n"),
        "{o}"
    );
    assert!(!offer(
        AudioOffer::new(Codec::Pcmu, DtmfMode::Inband),
        a,
        1,
        1,
        "sendonly"
    )
    .contains("telephone-event"));
}
