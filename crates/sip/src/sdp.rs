//! SDP offer/answer (RFC 3264, RFC 4566) for the route point. Written by hand over a lenient
//! line parser because the SDP crates tried either drop unknown lines or reject ordinary phone
//! offers. Every m-line of the offer gets an answer line (unsupported ones with port 0); the
//! audio line gets the first codec of our preference that the caller offers, the caller's
//! telephone-event payload type, the caller's ptime and the mirrored direction.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

/// Codecs the route point can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SdpCodec {
    Pcmu,
    Pcma,
    G729,
    /// L16 at 16 kHz (the seed's "L16 256K").
    L16,
    /// Opus at 48 kHz.
    Opus,
}

impl SdpCodec {
    fn matches(self, name: &str, rate: u32, pt: u8, has_rtpmap: bool) -> bool {
        if !has_rtpmap {
            // Static payload types may come without a=rtpmap (RFC 3551).
            return match self {
                SdpCodec::Pcmu => pt == 0,
                SdpCodec::Pcma => pt == 8,
                SdpCodec::G729 => pt == 18,
                _ => false,
            };
        }
        let n = name.to_ascii_lowercase();
        match self {
            SdpCodec::Pcmu => n == "pcmu" && rate == 8000,
            SdpCodec::Pcma => n == "pcma" && rate == 8000,
            SdpCodec::G729 => n == "g729" && rate == 8000,
            SdpCodec::L16 => n == "l16" && rate == 16000,
            SdpCodec::Opus => n == "opus" && rate == 48000,
        }
    }
    fn rtpmap(self) -> &'static str {
        match self {
            SdpCodec::Pcmu => "PCMU/8000",
            SdpCodec::Pcma => "PCMA/8000",
            SdpCodec::G729 => "G729/8000",
            SdpCodec::L16 => "L16/16000",
            SdpCodec::Opus => "opus/48000/2",
        }
    }
    pub fn clock_rate(self) -> u32 {
        match self {
            SdpCodec::L16 => 16000,
            SdpCodec::Opus => 48000,
            _ => 8000,
        }
    }
}

/// Media direction attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    SendRecv,
    SendOnly,
    RecvOnly,
    Inactive,
}

impl Direction {
    fn attr(self) -> &'static str {
        match self {
            Direction::SendRecv => "sendrecv",
            Direction::SendOnly => "sendonly",
            Direction::RecvOnly => "recvonly",
            Direction::Inactive => "inactive",
        }
    }
    /// The direction to answer with (RFC 3264 §6.1).
    pub fn answer(self) -> Direction {
        match self {
            Direction::SendRecv => Direction::SendRecv,
            Direction::SendOnly => Direction::RecvOnly,
            Direction::RecvOnly => Direction::SendOnly,
            Direction::Inactive => Direction::Inactive,
        }
    }
    /// The caller put us on hold (we may not send).
    pub fn is_hold(self) -> bool {
        matches!(self, Direction::SendOnly | Direction::Inactive)
    }
}

/// One `m=` section of an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaSection {
    pub media: String,
    pub port: u16,
    pub proto: String,
    pub formats: Vec<String>,
    /// `a=rtpmap:<pt> <name>/<rate>[/<channels>]`
    pub rtpmaps: Vec<(u8, String, u32)>,
    pub fmtps: Vec<(u8, String)>,
    pub ptime: Option<u32>,
    pub direction: Option<Direction>,
    pub connection: Option<IpAddr>,
}

/// A parsed session description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionDescription {
    pub origin_session: String,
    pub connection: Option<IpAddr>,
    pub direction: Option<Direction>,
    pub media: Vec<MediaSection>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    #[error("SDP is not UTF-8 text")]
    NotText,
    #[error("SDP has no m= line")]
    NoMedia,
    #[error("SDP line {line}: {why}")]
    Line { line: usize, why: String },
    #[error("no connection address (c=) for the audio stream")]
    NoConnection,
}

fn parse_dir(v: &str) -> Option<Direction> {
    match v {
        "sendrecv" => Some(Direction::SendRecv),
        "sendonly" => Some(Direction::SendOnly),
        "recvonly" => Some(Direction::RecvOnly),
        "inactive" => Some(Direction::Inactive),
        _ => None,
    }
}

fn parse_conn(v: &str, line: usize) -> Result<IpAddr, SdpError> {
    // c=IN IP4 192.0.2.1[/ttl]
    let mut it = v.split_whitespace();
    let (_net, _ty, addr) = (it.next(), it.next(), it.next());
    let addr = addr.ok_or_else(|| SdpError::Line {
        line,
        why: "c= needs `IN IP4 <address>`".into(),
    })?;
    let addr = addr.split('/').next().unwrap_or(addr);
    addr.parse().map_err(|_| SdpError::Line {
        line,
        why: format!("`{addr}` is not an IP address"),
    })
}

/// Parse leniently: unknown lines and attributes are kept out of the way, not errors.
pub fn parse(body: &[u8]) -> Result<SessionDescription, SdpError> {
    let text = std::str::from_utf8(body).map_err(|_| SdpError::NotText)?;
    let mut sd = SessionDescription {
        origin_session: String::new(),
        connection: None,
        direction: None,
        media: Vec::new(),
    };
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim_end_matches('\r');
        let Some((k, v)) = l.split_once('=') else {
            continue;
        };
        let v = v.trim();
        match (k.trim(), sd.media.last_mut()) {
            ("o", None) => sd.origin_session = v.split_whitespace().nth(1).unwrap_or("").to_owned(),
            ("c", None) => sd.connection = Some(parse_conn(v, line)?),
            ("c", Some(m)) => m.connection = Some(parse_conn(v, line)?),
            ("m", _) => {
                let mut it = v.split_whitespace();
                let media = it.next().unwrap_or("").to_owned();
                let port_s = it.next().unwrap_or("");
                let port: u16 = port_s
                    .split('/')
                    .next()
                    .unwrap_or("")
                    .parse()
                    .map_err(|_| SdpError::Line {
                        line,
                        why: format!("m= port `{port_s}` is not a number"),
                    })?;
                let proto = it.next().unwrap_or("").to_owned();
                let formats = it.map(str::to_owned).collect();
                sd.media.push(MediaSection {
                    media,
                    port,
                    proto,
                    formats,
                    rtpmaps: vec![],
                    fmtps: vec![],
                    ptime: None,
                    direction: None,
                    connection: None,
                });
            }
            ("a", m) => {
                let (name, val) = v.split_once(':').unwrap_or((v, ""));
                match (name, m) {
                    (d, None) if parse_dir(d).is_some() => sd.direction = parse_dir(d),
                    (d, Some(m)) if parse_dir(d).is_some() => m.direction = parse_dir(d),
                    ("rtpmap", Some(m)) => {
                        let mut it = val.split_whitespace();
                        if let (Some(pt), Some(enc)) =
                            (it.next().and_then(|p| p.parse().ok()), it.next())
                        {
                            let mut parts = enc.split('/');
                            let name = parts.next().unwrap_or("").to_owned();
                            let rate = parts.next().and_then(|r| r.parse().ok()).unwrap_or(0);
                            m.rtpmaps.push((pt, name, rate));
                        }
                    }
                    ("fmtp", Some(m)) => {
                        if let Some((pt, params)) = val.split_once(' ') {
                            if let Ok(pt) = pt.parse() {
                                m.fmtps.push((pt, params.trim().to_owned()));
                            }
                        }
                    }
                    ("ptime", Some(m)) => m.ptime = val.trim().parse().ok(),
                    _ => {}
                }
            }
            _ => {}
        }
    }
    if sd.media.is_empty() {
        return Err(SdpError::NoMedia);
    }
    Ok(sd)
}

/// What we send and receive on the audio stream, once negotiated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedAudio {
    pub codec: SdpCodec,
    pub payload_type: u8,
    pub telephone_event_pt: Option<u8>,
    pub ptime_ms: u32,
    /// Where the caller wants media (port 0 / 0.0.0.0: none now).
    pub remote: SocketAddr,
    /// The caller's direction (ours is its answer).
    pub direction: Direction,
}

/// Why no answer could be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NegotiationError {
    #[error("{0}")]
    Sdp(#[from] SdpError),
    #[error("no common codec: offer has {offered}, we support {supported}")]
    NoCommonCodec { offered: String, supported: String },
    #[error("no audio stream in the offer")]
    NoAudio,
}

/// Pick the audio codec and build the answer. `local` is our RTP address; `session_version`
/// grows with each new answer of the dialog (re-INVITE).
pub fn answer(
    offer: &SessionDescription,
    preference: &[SdpCodec],
    local: SocketAddr,
    default_ptime: u32,
    session_id: u64,
    session_version: u64,
) -> Result<(NegotiatedAudio, String), NegotiationError> {
    let mut chosen: Option<(usize, NegotiatedAudio)> = None;
    let mut offered_names = Vec::new();
    for (idx, m) in offer.media.iter().enumerate() {
        if m.media != "audio" || m.port == 0 || !m.proto.starts_with("RTP/") || chosen.is_some() {
            continue;
        }
        let pts: Vec<u8> = m.formats.iter().filter_map(|f| f.parse().ok()).collect();
        let name_of = |pt: u8| {
            m.rtpmaps
                .iter()
                .find(|r| r.0 == pt)
                .map(|r| (r.1.clone(), r.2))
        };
        for &pt in &pts {
            offered_names.push(
                name_of(pt)
                    .map(|(n, r)| format!("{n}/{r}"))
                    .unwrap_or_else(|| pt.to_string()),
            );
        }
        let pick = preference.iter().find_map(|c| {
            pts.iter().find_map(|&pt| {
                let (name, rate) = name_of(pt).unwrap_or_default();
                c.matches(&name, rate, pt, name_of(pt).is_some())
                    .then_some((*c, pt))
            })
        });
        let Some((codec, pt)) = pick else { continue };
        let te = pts.iter().copied().find(|&pt| {
            name_of(pt).is_some_and(|(n, r)| {
                n.eq_ignore_ascii_case("telephone-event") && r == codec.clock_rate()
            })
        });
        let ip = m
            .connection
            .or(offer.connection)
            .ok_or(SdpError::NoConnection)?;
        let direction = m
            .direction
            .or(offer.direction)
            .unwrap_or(Direction::SendRecv);
        let ptime = m
            .ptime
            .filter(|p| (10..=60).contains(p) && p % 10 == 0)
            .unwrap_or(default_ptime);
        chosen = Some((
            idx,
            NegotiatedAudio {
                codec,
                payload_type: pt,
                telephone_event_pt: te,
                ptime_ms: ptime,
                remote: SocketAddr::new(ip, m.port),
                direction,
            },
        ));
    }
    let Some((audio_idx, neg)) = chosen else {
        if !offer.media.iter().any(|m| m.media == "audio") {
            return Err(NegotiationError::NoAudio);
        }
        let supported = preference
            .iter()
            .map(|c| c.rtpmap())
            .collect::<Vec<_>>()
            .join(", ");
        return Err(NegotiationError::NoCommonCodec {
            offered: offered_names.join(", "),
            supported,
        });
    };
    let ipv = if local.is_ipv4() { "IP4" } else { "IP6" };
    let mut s = String::with_capacity(300);
    let _ = write!(s, "v=0\r\no=selfprov {session_id} {session_version} IN {ipv} {}\r\ns=selfprov\r\nc=IN {ipv} {}\r\nt=0 0\r\n", local.ip(), local.ip());
    for (idx, m) in offer.media.iter().enumerate() {
        if idx != audio_idx {
            // Refuse the stream, keep the line (RFC 3264 §6).
            let fmt = m.formats.first().map(String::as_str).unwrap_or("0");
            let _ = write!(s, "m={} 0 {} {fmt}\r\n", m.media, m.proto);
            continue;
        }
        let _ = write!(
            s,
            "m=audio {} {} {}",
            local.port(),
            m.proto,
            neg.payload_type
        );
        if let Some(te) = neg.telephone_event_pt {
            let _ = write!(s, " {te}");
        }
        let _ = write!(
            s,
            "\r\na=rtpmap:{} {}\r\n",
            neg.payload_type,
            neg.codec.rtpmap()
        );
        if neg.codec == SdpCodec::G729 {
            s.push_str("a=fmtp:18 annexb=no\r\n");
        }
        if let Some(te) = neg.telephone_event_pt {
            let _ = write!(
                s,
                "a=rtpmap:{te} telephone-event/{}\r\na=fmtp:{te} 0-15\r\n",
                neg.codec.clock_rate()
            );
        }
        let _ = write!(
            s,
            "a=ptime:{}\r\na={}\r\n",
            neg.ptime_ms,
            neg.direction.answer().attr()
        );
    }
    Ok((neg, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [SdpCodec; 5] = [
        SdpCodec::Pcmu,
        SdpCodec::Pcma,
        SdpCodec::G729,
        SdpCodec::L16,
        SdpCodec::Opus,
    ];

    fn local() -> SocketAddr {
        "127.0.0.1:20000".parse().unwrap()
    }

    /// A Cisco-style offer: G.722 first, unknown attributes, two m-lines.
    const PHONE: &str = "v=0\r\no=Cisco-SIPUA 1234 0 IN IP4 10.0.0.5\r\ns=SIP Call\r\nb=AS:4064\r\nt=0 0\r\nm=audio 24580 RTP/AVP 9 0 8 18 101\r\nc=IN IP4 10.0.0.5\r\na=trafficclass:conversational.audio.aq:admitted\r\na=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=no\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:30\r\na=sendrecv\r\nm=video 24582 RTP/AVP 126\r\na=rtpmap:126 H264/90000\r\n";

    #[test]
    fn phone_offer_answered_with_preference_te_ptime_and_refused_video() {
        let offer = parse(PHONE.as_bytes()).unwrap();
        let (n, ans) =
            answer(&offer, &[SdpCodec::Pcma, SdpCodec::Pcmu], local(), 20, 1, 1).unwrap();
        assert_eq!(
            (n.codec, n.payload_type, n.telephone_event_pt, n.ptime_ms),
            (SdpCodec::Pcma, 8, Some(101), 30)
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
            (n.codec, n.payload_type, n.telephone_event_pt, n.ptime_ms),
            (SdpCodec::Pcmu, 0, None, 20)
        );
        assert_eq!(n.remote.ip().to_string(), "192.0.2.1");
    }

    #[test]
    fn dynamic_l16_and_opus_with_their_telephone_event_rate() {
        let offer = parse(b"v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 5000 RTP/AVP 111 96 97 98\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:96 L16/16000\r\na=rtpmap:97 telephone-event/8000\r\na=rtpmap:98 telephone-event/48000\r\n").unwrap();
        let (n, ans) = answer(&offer, &[SdpCodec::Opus], local(), 20, 1, 1).unwrap();
        assert_eq!(
            (n.codec, n.payload_type, n.telephone_event_pt),
            (SdpCodec::Opus, 111, Some(98))
        );
        assert!(ans.contains("a=rtpmap:111 opus/48000/2"));
        let (n, _) = answer(&offer, &[SdpCodec::L16], local(), 20, 1, 1).unwrap();
        assert_eq!(
            (n.codec, n.payload_type, n.telephone_event_pt),
            (SdpCodec::L16, 96, None)
        );
    }

    #[test]
    fn hold_directions_are_mirrored() {
        for (offer_dir, ans_dir, hold) in [
            ("sendonly", "recvonly", true),
            ("inactive", "inactive", true),
            ("recvonly", "sendonly", false),
            ("sendrecv", "sendrecv", false),
        ] {
            let o =
                format!("v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 5000 RTP/AVP 0\r\na={offer_dir}\r\n");
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
        let o = parse(
            b"v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 5000 RTP/AVP 9\r\na=rtpmap:9 G722/8000\r\n",
        )
        .unwrap();
        let e = answer(&o, &ALL, local(), 20, 1, 1).unwrap_err();
        assert!(
            e.to_string().contains("G722/8000") && e.to_string().contains("PCMU/8000"),
            "{e}"
        );
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
}
