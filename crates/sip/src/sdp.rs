//! SDP offer/answer (RFC 3264, RFC 4566) for the route point. Written by hand over a lenient
//! line parser because the SDP crates tried either drop unknown lines or reject ordinary phone
//! offers. Every m-line of the offer gets an answer line (unsupported ones with port 0); the
//! audio line gets the first codec of our preference that the caller offers, the caller's
//! telephone-event payload type and rate, the caller's ptime and the mirrored direction.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

/// Codecs the route point can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SdpCodec {
    Pcmu,
    Pcma,
    /// G.722: `G722/8000` (an 8 kHz RTP clock for 16 kHz audio, RFC 3551 §4.5.2).
    G722,
    G729,
    /// L16 at 16 kHz (the seed's "L16 256K").
    L16,
    /// L16 at 8 kHz.
    L16Narrowband,
    /// Opus at 48 kHz.
    Opus,
}

impl SdpCodec {
    /// Every codec the route point can answer with.
    pub const ALL: [SdpCodec; 7] = [
        SdpCodec::Pcmu,
        SdpCodec::Pcma,
        SdpCodec::G722,
        SdpCodec::G729,
        SdpCodec::L16,
        SdpCodec::L16Narrowband,
        SdpCodec::Opus,
    ];

    fn matches(self, name: &str, rate: u32, pt: u8, has_rtpmap: bool) -> bool {
        if !has_rtpmap {
            // Static payload types may come without a=rtpmap (RFC 3551).
            return match self {
                SdpCodec::Pcmu => pt == 0,
                SdpCodec::Pcma => pt == 8,
                SdpCodec::G722 => pt == 9,
                SdpCodec::G729 => pt == 18,
                _ => false,
            };
        }
        let n = name.to_ascii_lowercase();
        match self {
            SdpCodec::Pcmu => n == "pcmu" && rate == 8000,
            SdpCodec::Pcma => n == "pcma" && rate == 8000,
            SdpCodec::G722 => n == "g722" && rate == 8000,
            SdpCodec::G729 => n == "g729" && rate == 8000,
            SdpCodec::L16 => n == "l16" && rate == 16000,
            SdpCodec::L16Narrowband => n == "l16" && rate == 8000,
            SdpCodec::Opus => n == "opus" && rate == 48000,
        }
    }
    fn rtpmap(self) -> &'static str {
        match self {
            SdpCodec::Pcmu => "PCMU/8000",
            SdpCodec::Pcma => "PCMA/8000",
            SdpCodec::G722 => "G722/8000",
            SdpCodec::G729 => "G729/8000",
            SdpCodec::L16 => "L16/16000",
            SdpCodec::L16Narrowband => "L16/8000",
            SdpCodec::Opus => "opus/48000/2",
        }
    }
    /// The RTP clock rate (what `a=rtpmap` says, not always the audio's sample rate).
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

/// The caller's RFC 4733 telephone-event format: its payload type and RTP clock rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEventFormat {
    pub payload_type: u8,
    pub clock_rate: u32,
}

/// What we send and receive on the audio stream, once negotiated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NegotiatedAudio {
    pub codec: SdpCodec,
    pub payload_type: u8,
    pub telephone_event: Option<TelephoneEventFormat>,
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

/// Which of the offered telephone-event formats to answer with. RFC 4733 §7.1.1 wants the audio
/// codec's clock rate, but phones pair telephone-event/8000 with wideband codecs too, and a caller
/// that offers only another rate still sends its digits at that rate: take the codec's rate, else
/// 8000, else the first one offered, and answer with the rate the caller offered.
fn pick_telephone_event(
    offered: &[TelephoneEventFormat],
    codec_rate: u32,
) -> Option<TelephoneEventFormat> {
    offered
        .iter()
        .find(|t| t.clock_rate == codec_rate)
        .or_else(|| offered.iter().find(|t| t.clock_rate == 8000))
        .or(offered.first())
        .copied()
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
        let events: Vec<TelephoneEventFormat> = pts
            .iter()
            .filter_map(|&pt| {
                let (name, rate) = name_of(pt)?;
                (name.eq_ignore_ascii_case("telephone-event") && rate > 0).then_some(
                    TelephoneEventFormat {
                        payload_type: pt,
                        clock_rate: rate,
                    },
                )
            })
            .collect();
        let te = pick_telephone_event(&events, codec.clock_rate());
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
                telephone_event: te,
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
        if let Some(te) = neg.telephone_event {
            let _ = write!(s, " {}", te.payload_type);
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
        if let Some(TelephoneEventFormat {
            payload_type: te,
            clock_rate,
        }) = neg.telephone_event
        {
            let _ = write!(
                s,
                "a=rtpmap:{te} telephone-event/{clock_rate}\r\na=fmtp:{te} 0-15\r\n"
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
mod tests;
