//! SDP offer/answer: phone offers, static and dynamic payload types, telephone-event rates,
//! ptime, hold directions, refusals, and no panic on any input.

use super::*;

const ALL: [SdpCodec; 7] = SdpCodec::ALL;

fn te(payload_type: u8, clock_rate: u32) -> Option<TelephoneEventFormat> {
    Some(TelephoneEventFormat {
        payload_type,
        clock_rate,
    })
}

fn local() -> SocketAddr {
    "127.0.0.1:20000".parse().unwrap()
}

/// A Cisco-style offer: G.722 first, unknown attributes, two m-lines.
const PHONE: &str = "v=0\r\no=Cisco-SIPUA 1234 0 IN IP4 10.0.0.5\r\ns=SIP Call\r\nb=AS:4064\r\nt=0 0\r\nm=audio 24580 RTP/AVP 9 0 8 18 101\r\nc=IN IP4 10.0.0.5\r\na=trafficclass:conversational.audio.aq:admitted\r\na=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=no\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:30\r\na=sendrecv\r\nm=video 24582 RTP/AVP 126\r\na=rtpmap:126 H264/90000\r\n";

#[test]
fn phone_offer_answered_with_preference_te_ptime_and_refused_video() {
    let offer = parse(PHONE.as_bytes()).unwrap();
    let (n, ans) = answer(&offer, &[SdpCodec::Pcma, SdpCodec::Pcmu], local(), 20, 1, 1).unwrap();
    assert_eq!(
        (n.codec, n.payload_type, n.telephone_event, n.ptime_ms),
        (SdpCodec::Pcma, 8, te(101, 8000), 30)
    );
    assert_eq!(n.remote, "10.0.0.5:24580".parse().unwrap());
    assert!(ans.contains("m=audio 20000 RTP/AVP 8 101\r\n"), "{ans}");
    assert!(ans.contains("a=rtpmap:101 telephone-event/8000"));
    assert!(ans.contains("a=ptime:30"));
    assert!(
        ans.contains("m=video 0 RTP/AVP 126\r\n"),
        "every m-line answered: {ans}"
    );
    assert!(ans.contains("a=sendrecv"));
    // The answer parses back.
    let back = parse(ans.as_bytes()).unwrap();
    assert_eq!(back.media.len(), 2);
}

#[test]
fn static_payloads_without_rtpmap_and_session_level_c() {
    let offer = parse(b"v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18 0\r\n").unwrap();
    let (n, _) = answer(&offer, &ALL, local(), 20, 1, 1).unwrap();
    assert_eq!(
        (n.codec, n.payload_type, n.telephone_event, n.ptime_ms),
        (SdpCodec::Pcmu, 0, None, 20)
    );
    assert_eq!(n.remote.ip().to_string(), "192.0.2.1");
}

#[test]
fn dynamic_l16_and_opus_with_their_telephone_event_rate() {
    let offer = parse(b"v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 5000 RTP/AVP 111 96 97 98\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:96 L16/16000\r\na=rtpmap:97 telephone-event/8000\r\na=rtpmap:98 telephone-event/48000\r\n").unwrap();
    let (n, ans) = answer(&offer, &[SdpCodec::Opus], local(), 20, 1, 1).unwrap();
    assert_eq!(
        (n.codec, n.payload_type, n.telephone_event),
        (SdpCodec::Opus, 111, te(98, 48000))
    );
    assert!(ans.contains("a=rtpmap:111 opus/48000/2"));
    assert!(ans.contains("a=rtpmap:98 telephone-event/48000"), "{ans}");
    // L16/16000 has no telephone-event at its own rate here: the one at 8000 is taken.
    let (n, _) = answer(&offer, &[SdpCodec::L16], local(), 20, 1, 1).unwrap();
    assert_eq!(
        (n.codec, n.payload_type, n.telephone_event),
        (SdpCodec::L16, 96, te(97, 8000))
    );
}

#[test]
fn desk_phone_offering_g722_first_gets_g722_with_its_telephone_events() {
    let offer = parse(PHONE.as_bytes()).unwrap();
    let (n, ans) = answer(&offer, &[SdpCodec::G722, SdpCodec::Pcmu], local(), 20, 1, 1).unwrap();
    assert_eq!(
        (n.codec, n.payload_type, n.telephone_event),
        (SdpCodec::G722, 9, te(101, 8000))
    );
    assert!(ans.contains("m=audio 20000 RTP/AVP 9 101\r\n"), "{ans}");
    assert!(ans.contains("a=rtpmap:9 G722/8000\r\n"), "{ans}");
    assert!(
        ans.contains("a=rtpmap:101 telephone-event/8000\r\n"),
        "{ans}"
    );
    // Static payload type 9 without a=rtpmap (RFC 3551) is G.722 too.
    let bare = parse(b"v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 4000 RTP/AVP 9 0\r\n").unwrap();
    let (n, _) = answer(&bare, &[SdpCodec::G722, SdpCodec::Pcmu], local(), 20, 1, 1).unwrap();
    assert_eq!((n.codec, n.payload_type), (SdpCodec::G722, 9));
}

#[test]
fn l16_at_8000_and_16000_are_told_apart() {
    let offer = parse(b"v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 5000 RTP/AVP 96 97 101\r\na=rtpmap:96 L16/16000\r\na=rtpmap:97 L16/8000\r\na=rtpmap:101 telephone-event/8000\r\n").unwrap();
    let (n, ans) = answer(&offer, &[SdpCodec::L16Narrowband], local(), 20, 1, 1).unwrap();
    assert_eq!(
        (n.codec, n.payload_type, n.telephone_event),
        (SdpCodec::L16Narrowband, 97, te(101, 8000))
    );
    assert!(
        ans.contains("m=audio 20000 RTP/AVP 97 101\r\na=rtpmap:97 L16/8000\r\n"),
        "{ans}"
    );
    let (n, ans) = answer(&offer, &[SdpCodec::L16], local(), 20, 1, 1).unwrap();
    assert_eq!((n.codec, n.payload_type), (SdpCodec::L16, 96));
    assert!(ans.contains("a=rtpmap:96 L16/16000\r\n"), "{ans}");
    // Only L16/8000 offered and only 16 kHz L16 wanted: no common codec (was: always refused).
    let narrow =
        parse(b"v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 5000 RTP/AVP 97\r\na=rtpmap:97 L16/8000\r\n")
            .unwrap();
    assert!(answer(&narrow, &[SdpCodec::L16], local(), 20, 1, 1).is_err());
    assert!(answer(&narrow, &ALL, local(), 20, 1, 1).is_ok());
}

/// Whatever rate the caller pairs telephone-event with, the answer carries it at a rate the
/// caller offered: the codec's own if offered, else 8000, else the caller's only one.
#[test]
fn telephone_event_at_the_rate_the_caller_offered() {
    for (codec_map, events, want_rate) in [
        ("L16/16000", &[8000][..], 8000),
        ("L16/16000", &[16000][..], 16000),
        ("L16/16000", &[48000][..], 48000),
        ("L16/16000", &[8000, 16000][..], 16000),
        ("L16/8000", &[8000][..], 8000),
        ("L16/8000", &[48000, 16000][..], 48000),
        ("G722/8000", &[16000, 8000][..], 8000),
        ("opus/48000/2", &[8000][..], 8000),
        ("opus/48000/2", &[16000, 48000][..], 48000),
    ] {
        let mut o = String::from("v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 5000 RTP/AVP 96");
        for i in 0..events.len() {
            o.push_str(&format!(" {}", 100 + i));
        }
        o.push_str(&format!("\r\na=rtpmap:96 {codec_map}\r\n"));
        for (i, rate) in events.iter().enumerate() {
            o.push_str(&format!(
                "a=rtpmap:{} telephone-event/{rate}\r\na=fmtp:{} 0-16\r\n",
                100 + i,
                100 + i
            ));
        }
        let offer = parse(o.as_bytes()).unwrap();
        let (n, ans) = answer(&offer, &ALL, local(), 20, 1, 1).unwrap();
        let pt = 100 + events.iter().position(|r| *r == want_rate).unwrap() as u8;
        assert_eq!(
            n.telephone_event,
            te(pt, want_rate),
            "{codec_map} with {events:?}"
        );
        let back = parse(ans.as_bytes()).unwrap();
        let m = &back.media[0];
        assert_eq!(m.formats, ["96".to_string(), pt.to_string()], "{ans}");
        assert!(
            m.rtpmaps
                .contains(&(pt, "telephone-event".into(), want_rate)),
            "{codec_map} with {events:?}: {ans}"
        );
    }
}

#[test]
fn hold_directions_are_mirrored() {
    for (offer_dir, ans_dir, hold) in [
        ("sendonly", "recvonly", true),
        ("inactive", "inactive", true),
        ("recvonly", "sendonly", false),
        ("sendrecv", "sendrecv", false),
    ] {
        let o = format!("v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 5000 RTP/AVP 0\r\na={offer_dir}\r\n");
        let (n, ans) = answer(&parse(o.as_bytes()).unwrap(), &ALL, local(), 20, 1, 2).unwrap();
        assert!(ans.contains(&format!("a={ans_dir}")), "{offer_dir}: {ans}");
        assert_eq!(n.direction.is_hold(), hold);
    }
    // Old-style hold: c=0.0.0.0 at session level, direction at session level.
    let o = "v=0\r\nc=IN IP4 0.0.0.0\r\na=sendonly\r\nm=audio 5000 RTP/AVP 0\r\n";
    let (n, _) = answer(&parse(o.as_bytes()).unwrap(), &ALL, local(), 20, 1, 2).unwrap();
    assert!(n.remote.ip().is_unspecified());
    assert!(n.direction.is_hold());
}

#[test]
fn no_common_codec_names_both_sides() {
    let o =
        parse(b"v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 5000 RTP/AVP 97\r\na=rtpmap:97 iLBC/8000\r\n")
            .unwrap();
    let e = answer(&o, &ALL, local(), 20, 1, 1).unwrap_err();
    assert!(
        e.to_string().contains("iLBC/8000") && e.to_string().contains("G722/8000"),
        "{e}"
    );
    // G.722 offered, but not in our preference: refused, naming both sides.
    let g722 =
        parse(b"v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 5000 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n")
            .unwrap();
    let e = answer(&g722, &[SdpCodec::Pcmu], local(), 20, 1, 1).unwrap_err();
    assert!(e.to_string().contains("offer has G722/8000"), "{e}");
    let v = parse(b"v=0\r\nc=IN IP4 127.0.0.1\r\nm=video 5000 RTP/AVP 96\r\n").unwrap();
    assert_eq!(
        answer(&v, &ALL, local(), 20, 1, 1).unwrap_err(),
        NegotiationError::NoAudio
    );
}

#[test]
fn bad_sdp_is_an_error_not_a_panic() {
    assert_eq!(parse(b"v=0\r\n"), Err(SdpError::NoMedia));
    assert!(matches!(
        parse(b"m=audio x RTP/AVP 0\r\n"),
        Err(SdpError::Line { line: 1, .. })
    ));
    assert!(matches!(
        parse(b"c=IN IP4 nonsense\r\nm=audio 1 RTP/AVP 0"),
        Err(SdpError::Line { .. })
    ));
    let o = parse(b"m=audio 5000 RTP/AVP 0\r\n").unwrap();
    assert!(matches!(
        answer(&o, &ALL, local(), 20, 1, 1),
        Err(NegotiationError::Sdp(SdpError::NoConnection))
    ));
}

proptest::proptest! {
    #[test]
    fn never_panics(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..600)) {
        if let Ok(o) = parse(&body) {
            let _ = answer(&o, &ALL, local(), 20, 1, 1);
        }
    }
}
