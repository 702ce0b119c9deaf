//! One phone, one call: register as a new device, dial the route point, listen, answer the IVR
//! with DTMF when it asks, and report what happened.

use crate::recognize::{Heard, Recognizer};
use crate::sipmsg::{branch, token, Identity, Msg};
use crate::stats::RtpStats;
use selfprov_media::{Codec, Decoder, Encoder};
use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

/// How the phone sends its digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DtmfMode {
    /// RTP telephone-events (RFC 4733).
    Rfc4733,
    /// SIP INFO, `application/dtmf-relay`.
    Info,
    /// Tones in the audio (G.711 only).
    Inband,
}

/// What the caller does during the call.
#[derive(Debug, Clone)]
pub struct Script {
    /// Digit groups; each is typed when the IVR next asks for input (a prompt such as
    /// `enter_pin` starts), after `typing_delay`.
    pub groups: Vec<String>,
    pub typing_delay: Duration,
    /// Put the call on hold when this prompt starts, for `hold_for`, then resume.
    pub hold_at: Option<String>,
    pub hold_for: Duration,
    /// Hang up once the last group is typed (e.g. in the middle of the PIN).
    pub hangup_after_digits: bool,
}

impl Script {
    /// Split `--digits` into groups: at commas when there are any, else after each `#`.
    /// `1004#12345#1` → `1004#`, `12345#`, `1`.
    pub fn groups_from(digits: &str) -> Vec<String> {
        let d: String = digits.chars().filter(|c| !c.is_whitespace()).collect();
        if d.contains(',') {
            return d.split(',').filter(|g| !g.is_empty()).map(str::to_owned).collect();
        }
        let mut out = Vec::new();
        let mut cur = String::new();
        for c in d.chars() {
            cur.push(c);
            if c == '#' {
                out.push(std::mem::take(&mut cur));
            }
        }
        if !cur.is_empty() {
            out.push(cur);
        }
        out
    }
}

#[derive(Debug, Clone)]
pub struct PhoneOptions {
    /// The selfprov SIP address (registrar and route point).
    pub server: SocketAddr,
    /// Local address to bind SIP and RTP to.
    pub bind: IpAddr,
    /// Device name (`SEP` + MAC) the phone registers as.
    pub device: String,
    pub user_agent: String,
    /// Number to dial.
    pub route_point: String,
    pub codec: Codec,
    pub dtmf: DtmfMode,
    /// REGISTER before calling (a brand-new phone does).
    pub register: bool,
    /// Send 20 ms of (silent) audio every packet time, as a phone without VAD does.
    pub send_audio: bool,
    pub script: Script,
    /// Give up (BYE) after this long in the call.
    pub call_limit: Duration,
    /// After a successful call, wait this long for NOTIFY check-sync.
    pub notify_wait: Duration,
    /// Write the received audio, decoded, to this WAV file.
    pub record: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum PhoneError {
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
    #[error("no answer to {0} from {1} (is selfprov running there?)")]
    NoAnswer(&'static str, SocketAddr),
    #[error("registration refused: {0}")]
    Register(String),
    #[error("the 200 OK carries no usable SDP answer: {0}")]
    Sdp(String),
    #[error("{0:?} is not supported here: {1}")]
    Codec(Codec, String),
    #[error("in-band DTMF needs PCMU or PCMA, not {0:?}")]
    InbandCodec(Codec),
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct HeardAt {
    pub name: String,
    pub language: String,
    /// When the prompt began, ms after the call was answered.
    pub at_ms: u64,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct RtpSummary {
    pub received: u64,
    pub lost: u64,
    pub out_of_order: u64,
    pub duplicates: u64,
    pub deviation_p50_ms: f64,
    pub deviation_p99_ms: f64,
    pub deviation_max_ms: f64,
}

/// What happened, for people (`Display`) and scripts (JSON).
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    pub device: String,
    /// REGISTER's final status.
    pub registered: Option<u16>,
    /// INVITE's final status.
    pub call_status: Option<u16>,
    pub codec: String,
    pub prompts: Vec<HeardAt>,
    pub digits_sent: Vec<String>,
    /// `server BYE`, `phone BYE`, `refused`, `time limit`.
    pub ended_by: String,
    /// `provisioned`, the failure prompt heard (`account_locked`, `no_input`, ...), `refused`,
    /// or `unknown`.
    pub outcome: String,
    /// The extension the IVR read out before asking to confirm.
    pub new_dn: Option<String>,
    pub check_sync: bool,
    /// INVITE → 200 OK.
    pub setup_ms: Option<f64>,
    /// INVITE → first RTP packet.
    pub first_rtp_ms: Option<f64>,
    /// Last digit of each group → the next prompt.
    pub reaction_ms: Vec<f64>,
    pub rtp: RtpSummary,
}

/// Prompts after which the IVR waits for digits.
const ASKING: &[&str] = &[
    "language_select",
    "enter_self_service_id",
    "enter_pin",
    "enter_pin_or_auth_code",
    "confirm_press",
];

/// Prompts that end a call without provisioning.
const FAILURES: &[&str] = &[
    "account_locked",
    "cancelled",
    "device_limit",
    "internal_error",
    "invalid_model",
    "no_device_template",
    "no_input",
    "no_primary_extension",
    "not_allowed",
    "not_autoregistered",
    "secure_device_not_supported",
    "service_unavailable",
    "too_many_attempts",
];

impl Report {
    fn conclude(&mut self) {
        let names: Vec<&str> = self.prompts.iter().map(|p| p.name.as_str()).collect();
        self.outcome = if names.contains(&"success") {
            "provisioned".into()
        } else if let Some(f) = names.iter().rev().find(|n| FAILURES.contains(n)) {
            (*f).to_owned()
        } else if self.call_status.is_some_and(|s| s >= 300) {
            "refused".into()
        } else {
            "unknown".into()
        };
        if let Some(start) = names.iter().rposition(|n| *n == "confirm_extension") {
            let dn: String = names[start + 1..]
                .iter()
                .take_while(|n| n.starts_with("digit_"))
                .filter_map(|n| n.strip_prefix("digit_"))
                .collect();
            if !dn.is_empty() {
                self.new_dn = Some(dn);
            }
        }
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.registered {
            Some(s) => writeln!(f, "registered {}: {s}", self.device)?,
            None => writeln!(f, "device {} (not registering)", self.device)?,
        }
        match (self.call_status, self.setup_ms) {
            (Some(s), Some(ms)) => writeln!(f, "call: {s} after {ms:.1} ms, codec {}", self.codec)?,
            (Some(s), None) => writeln!(f, "call: {s}")?,
            _ => writeln!(f, "call: no final answer")?,
        }
        let heard: Vec<&str> = self.prompts.iter().map(|p| p.name.as_str()).collect();
        writeln!(f, "heard: {}", if heard.is_empty() { "(nothing recognised)".to_owned() } else { heard.join(", ") })?;
        writeln!(f, "typed: {}", self.digits_sent.join(" "))?;
        writeln!(f, "ended by: {}", self.ended_by)?;
        writeln!(
            f,
            "rtp: {} received, {} lost, {} out of order, p99 deviation {:.2} ms",
            self.rtp.received, self.rtp.lost, self.rtp.out_of_order, self.rtp.deviation_p99_ms
        )?;
        writeln!(f, "result: {}", self.outcome)?;
        if let Some(dn) = &self.new_dn {
            writeln!(f, "new extension: {dn}")?;
        }
        write!(f, "check-sync NOTIFY: {}", if self.check_sync { "received" } else { "not received" })
    }
}

/// Payload types the phone offers.
pub fn payload_type(codec: Codec) -> u8 {
    codec.static_payload_type().unwrap_or(match codec {
        Codec::L16 => 98,
        _ => 111,
    })
}
const TE_PT: u8 = 101;

/// The SDP offer (or re-offer, with a new version and direction).
pub fn offer(codec: Codec, dtmf: DtmfMode, rtp: SocketAddr, session: u64, version: u64, dir: &str) -> String {
    let pt = payload_type(codec);
    let rate = codec.rtp_clock_rate();
    let te = dtmf == DtmfMode::Rfc4733;
    let mut s = format!(
        "v=0\r\no=selfprov-phone {session} {version} IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {port} RTP/AVP {pt}{te_fmt}\r\na=rtpmap:{pt} {name}/{rate}{ch}\r\n",
        ip = rtp.ip(),
        port = rtp.port(),
        te_fmt = if te { format!(" {TE_PT}") } else { String::new() },
        name = codec.encoding_name(),
        ch = if codec == Codec::Opus { "/2" } else { "" },
    );
    if codec == Codec::G729 {
        s.push_str("a=fmtp:18 annexb=no\r\n");
    }
    if te {
        s.push_str(&format!("a=rtpmap:{TE_PT} telephone-event/{rate}\r\na=fmtp:{TE_PT} 0-15\r\n"));
    }
    s.push_str(&format!("a=ptime:20\r\na={dir}\r\n"));
    s
}

/// What goes out at the next packet time.
enum Tx {
    Audio(Vec<u8>),
    /// RFC 4733 event: code, duration so far, end bit, first packet of the event.
    Event { code: u8, duration: u16, end: bool, first: bool },
    Info(char),
    Gap,
    /// Markers, no packet: the server can now see a digit / the digit is complete.
    DigitStart,
    DigitEnd,
}

struct Media {
    sock: UdpSocket,
    remote: SocketAddr,
    pt: u8,
    te_pt: Option<u8>,
    ssrc: u32,
    seq: u16,
    ts: u32,
    step: u32,
    event_ts: u32,
    silence: Vec<u8>,
    queue: VecDeque<Tx>,
}

impl Media {
    async fn send(&mut self, pt: u8, marker: bool, ts: u32, payload: &[u8]) {
        let mut p = Vec::with_capacity(12 + payload.len());
        rtp_packet(pt, marker, self.seq, ts, self.ssrc, payload, &mut p);
        self.seq = self.seq.wrapping_add(1);
        let _ = self.sock.send_to(&p, self.remote).await;
    }
}

/// One RTP packet (version 2, no CSRC or extension) into `out`, replacing its contents.
pub fn rtp_packet(pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&[0x80, pt | if marker { 0x80 } else { 0 }]);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&ts.to_be_bytes());
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(payload);
}

/// A request waiting for its final response, retransmitted on UDP (RFC 3261 timer A/E).
struct Pending {
    cseq: u32,
    method: &'static str,
    bytes: Vec<u8>,
    next: Instant,
    interval: Duration,
    give_up: Instant,
}

impl Pending {
    fn new(cseq: u32, method: &'static str, bytes: Vec<u8>, now: Instant) -> Pending {
        Pending { cseq, method, bytes, next: now + Duration::from_millis(500), interval: Duration::from_millis(500), give_up: now + Duration::from_secs(32) }
    }
}

/// The call's dialog: what every in-dialog request repeats, and the next CSeq.
struct Dialog<'a> {
    id: &'a Identity,
    target: &'a str,
    call_id: String,
    tag: String,
    to_tag: String,
    cseq: u32,
    codec: Codec,
    dtmf: DtmfMode,
    rtp: SocketAddr,
    session: u64,
    sdp_version: u64,
}

impl Dialog<'_> {
    /// The next request in the dialog, ready to send and retransmit.
    fn next(&mut self, method: &'static str, content_type: Option<&str>, body: &[u8], now: Instant) -> Pending {
        self.cseq += 1;
        let b = self.id.request(method, self.target, &self.call_id, self.cseq, &self.tag, Some(&self.to_tag), &branch(), content_type, body);
        Pending::new(self.cseq, method, b, now)
    }

    /// A re-INVITE with a new offer in direction `dir` (hold: `sendonly`; resume: `sendrecv`).
    fn reoffer(&mut self, dir: &str, now: Instant) -> Pending {
        self.sdp_version += 1;
        let body = offer(self.codec, self.dtmf, self.rtp, self.session, self.sdp_version, dir);
        self.next("INVITE", Some("application/sdp"), body.as_bytes(), now)
    }

    /// ACK for the 2xx to INVITE number `cseq`.
    fn ack(&self, cseq: u32) -> Vec<u8> {
        self.id.request("ACK", self.target, &self.call_id, cseq, &self.tag, Some(&self.to_tag), &branch(), None, b"")
    }
}

/// Send a request and wait for its final response, answering whatever else arrives.
async fn transact(
    sip: &UdpSocket,
    server: SocketAddr,
    bytes: Vec<u8>,
    call_id: &str,
    cseq: u32,
    method: &'static str,
    tag: &str,
) -> Result<Msg, PhoneError> {
    let start = Instant::now();
    let mut p = Pending::new(cseq, method, bytes, start);
    sip.send_to(&p.bytes, server).await?;
    let mut provisional = false;
    let mut buf = vec![0u8; 65_536];
    loop {
        let wait = p.next.saturating_duration_since(Instant::now());
        match tokio::time::timeout(wait, sip.recv_from(&mut buf)).await {
            Ok(Ok((n, from))) => {
                let Some(m) = Msg::parse(&buf[..n]) else { continue };
                if let Some(code) = m.status {
                    if m.call_id() == call_id && m.cseq() == (cseq, method.to_owned()) {
                        if code >= 200 {
                            return Ok(m);
                        }
                        provisional = true;
                    }
                } else if m.method != "ACK" {
                    sip.send_to(&m.response(200, "OK", tag), from).await?;
                }
            }
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => {
                let now = Instant::now();
                if now >= p.give_up {
                    return Err(PhoneError::NoAnswer(method, server));
                }
                if !provisional {
                    sip.send_to(&p.bytes, server).await?;
                }
                p.interval = (p.interval * 2).min(Duration::from_secs(4));
                p.next = now + p.interval;
            }
        }
    }
}

/// Place one call as described by `opts`; `recognizer` must be built for `opts.codec`.
pub async fn run(opts: &PhoneOptions, recognizer: &mut Recognizer) -> Result<Report, PhoneError> {
    if opts.dtmf == DtmfMode::Inband && !matches!(opts.codec, Codec::Pcmu | Codec::Pcma) {
        return Err(PhoneError::InbandCodec(opts.codec));
    }
    let mut encoder = Encoder::new(opts.codec).map_err(|e| PhoneError::Codec(opts.codec, e.to_string()))?;
    let mut decoder = Decoder::new(opts.codec).map_err(|e| PhoneError::Codec(opts.codec, e.to_string()))?;
    let sip = UdpSocket::bind((opts.bind, 0)).await?;
    let rtp = UdpSocket::bind((opts.bind, 0)).await?;
    let id = Identity {
        user: opts.device.clone(),
        user_agent: opts.user_agent.clone(),
        local: sip.local_addr()?,
        server: opts.server,
    };
    let mut report = Report { device: opts.device.clone(), codec: format!("{:?}", opts.codec), ..Report::default() };
    let tag = token();

    if opts.register {
        let cid = format!("{}@selfprov-phone", token());
        let r = transact(&sip, opts.server, id.register(&cid, 1, &tag, 3600), &cid, 1, "REGISTER", &tag).await?;
        report.registered = r.status;
        if r.status != Some(200) {
            return Err(PhoneError::Register(format!("{} {}", r.status.unwrap_or(0), r.reason)));
        }
    }

    // INVITE.
    let call_id = format!("{}@selfprov-phone", token());
    let session = rand::random::<u32>() as u64;
    let rtp_local = rtp.local_addr()?;
    let body = offer(opts.codec, opts.dtmf, rtp_local, session, 1, "sendrecv");
    let inv_branch = branch();
    let invite = id.request("INVITE", &opts.route_point, &call_id, 1, &tag, None, &inv_branch, Some("application/sdp"), body.as_bytes());
    let t_invite = Instant::now();
    let answer = transact(&sip, opts.server, invite, &call_id, 1, "INVITE", &tag).await?;
    let status = answer.status.unwrap_or(0);
    report.call_status = Some(status);
    let to_tag = answer.to_tag().unwrap_or_default();
    if status >= 300 {
        // ACK for a failure: same branch as the INVITE.
        let ack = id.request("ACK", &opts.route_point, &call_id, 1, &tag, Some(&to_tag), &inv_branch, None, b"");
        sip.send_to(&ack, opts.server).await?;
        report.ended_by = format!("refused ({status} {})", answer.reason);
        report.conclude();
        return Ok(report);
    }
    report.setup_ms = Some(t_invite.elapsed().as_secs_f64() * 1000.0);
    let mut dlg = Dialog {
        id: &id,
        target: &opts.route_point,
        call_id,
        tag: tag.clone(),
        to_tag,
        cseq: 1,
        codec: opts.codec,
        dtmf: opts.dtmf,
        rtp: rtp_local,
        session,
        sdp_version: 1,
    };
    sip.send_to(&dlg.ack(1), opts.server).await?;
    let answered = Instant::now();

    let sd = selfprov_sip::sdp::parse(&answer.body).map_err(|e| PhoneError::Sdp(e.to_string()))?;
    let m = sd.media.iter().find(|m| m.media == "audio" && m.port != 0).ok_or_else(|| PhoneError::Sdp("no audio stream".into()))?;
    let ip = m.connection.or(sd.connection).ok_or_else(|| PhoneError::Sdp("no c= line".into()))?;
    let pt = m.formats.first().and_then(|f| f.parse().ok()).unwrap_or(payload_type(opts.codec));
    let te_pt = m.rtpmaps.iter().find(|(_, n, _)| n.eq_ignore_ascii_case("telephone-event")).map(|(p, _, _)| *p);
    let step = opts.codec.timestamp_step(20);
    let mut silence = Vec::new();
    encoder
        .encode(&vec![0i16; opts.codec.samples_per_frame(20)], &mut silence)
        .map_err(|e| PhoneError::Codec(opts.codec, e.to_string()))?;
    let mut media = Media {
        sock: rtp,
        remote: SocketAddr::new(ip, m.port),
        pt,
        te_pt,
        ssrc: rand::random(),
        seq: rand::random(),
        ts: rand::random(),
        step,
        event_ts: 0,
        silence,
        queue: VecDeque::new(),
    };

    let mut stats = RtpStats::default();
    let mut recorded: Vec<i16> = Vec::new();
    let mut pcm = Vec::new();
    let mut pending: Vec<Pending> = Vec::new();
    let mut next_group = 0usize;
    // When the server could first see the last digit typed, and when it was complete.
    let mut last_digit_start: Option<Instant> = None;
    let mut last_digit_end: Option<Instant> = None;
    let mut awaiting_reaction = false;
    let mut typing_at: Option<Instant> = None;
    let mut hold_done = false;
    let mut held_until: Option<Instant> = None;
    let mut hangup_at: Option<Instant> = None;
    let mut bye_sent = false;
    let mut ended: Option<String> = None;
    let mut notify_deadline: Option<Instant> = None;
    let limit = answered + opts.call_limit;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sbuf = vec![0u8; 65_536];
    let mut rbuf = vec![0u8; 2048];

    loop {
        tokio::select! {
            r = media.sock.recv_from(&mut rbuf), if ended.is_none() => {
                let Ok((n, _)) = r else { continue };
                let Ok(p) = selfprov_media::rtp::parse(&rbuf[..n]) else { continue };
                if p.payload_type != media.pt { continue; }
                let now = Instant::now();
                report.first_rtp_ms.get_or_insert(now.duration_since(t_invite).as_secs_f64() * 1000.0);
                stats.on_packet(p.sequence, p.timestamp, p.marker, now.duration_since(t_invite).as_micros() as u64, opts.codec.rtp_clock_rate());
                if opts.record.is_some() {
                    pcm.clear();
                    if decoder.decode(p.payload, &mut pcm).is_ok() {
                        recorded.extend_from_slice(&pcm);
                    }
                }
                if let Some(Heard { name, language, first_frame }) = recognizer.feed(p.payload) {
                    let began = now - Duration::from_millis(20 * first_frame as u64);
                    if awaiting_reaction {
                        if let Some(t) = last_digit_end {
                            report.reaction_ms.push(began.saturating_duration_since(t).as_secs_f64() * 1000.0);
                        }
                        awaiting_reaction = false;
                    }
                    // A prompt that began before our last digit could be seen was queued before it.
                    let fresh = last_digit_start.is_none_or(|t| began > t);
                    if held_until.is_none() && !hold_done && opts.script.hold_at.as_deref() == Some(name.as_str()) {
                        hold_done = true;
                        let p = dlg.reoffer("sendonly", now);
                        sip.send_to(&p.bytes, opts.server).await?;
                        pending.push(p);
                        held_until = Some(now + opts.script.hold_for);
                    } else if ASKING.contains(&name.as_str()) && fresh && typing_at.is_none() && held_until.is_none() && next_group < opts.script.groups.len() {
                        typing_at = Some(now + opts.script.typing_delay);
                    }
                    report.prompts.push(HeardAt { name, language, at_ms: began.saturating_duration_since(answered).as_millis() as u64 });
                }
            }
            r = sip.recv_from(&mut sbuf) => {
                let Ok((n, from)) = r else { continue };
                let Some(msg) = Msg::parse(&sbuf[..n]) else { continue };
                match msg.status {
                    None => {
                        if msg.method == "ACK" { continue; }
                        sip.send_to(&msg.response(200, "OK", &tag), from).await?;
                        match msg.method.as_str() {
                            "BYE" if msg.call_id() == dlg.call_id => {
                                ended.get_or_insert_with(|| "server BYE".into());
                                pending.clear();
                            }
                            "NOTIFY" if msg.header("event").is_some_and(|e| e.trim().eq_ignore_ascii_case("check-sync")) => {
                                report.check_sync = true;
                            }
                            _ => {}
                        }
                    }
                    Some(code) if code >= 200 && msg.call_id() == dlg.call_id => {
                        let (n, method) = msg.cseq();
                        pending.retain(|p| !(p.cseq == n && p.method == method));
                        if method == "INVITE" {
                            let ack = dlg.ack(n);
                            sip.send_to(&ack, opts.server).await?;
                        } else if method == "BYE" {
                            ended.get_or_insert_with(|| "phone BYE".into());
                        }
                    }
                    _ => {}
                }
            }
            _ = tick.tick() => {
                let now = Instant::now();
                for p in pending.iter_mut().filter(|p| now >= p.next) {
                    let _ = sip.send_to(&p.bytes, opts.server).await;
                    p.interval = (p.interval * 2).min(Duration::from_secs(4));
                    p.next = now + p.interval;
                }
                if let Some(p) = pending.iter().find(|p| now >= p.give_up) {
                    let why = format!("no answer to {}; gave up", p.method);
                    pending.clear();
                    ended.get_or_insert(why);
                }
                if let Some(ended_by) = &ended {
                    // After the call: wait for check-sync if provisioning succeeded.
                    if report.check_sync || !report.prompts.iter().any(|p| p.name == "success") {
                        report.ended_by = ended_by.clone();
                        break;
                    }
                    let d = *notify_deadline.get_or_insert(now + opts.notify_wait);
                    if now >= d {
                        report.ended_by = ended_by.clone();
                        break;
                    }
                    continue;
                }
                if let Some(t) = held_until {
                    if now >= t {
                        held_until = None;
                        let p = dlg.reoffer("sendrecv", now);
                        sip.send_to(&p.bytes, opts.server).await?;
                        pending.push(p);
                    } else {
                        media.ts = media.ts.wrapping_add(media.step);
                        continue;
                    }
                }
                if typing_at.is_some_and(|t| now >= t) {
                    typing_at = None;
                    let group = opts.script.groups[next_group].clone();
                    next_group += 1;
                    queue_digits(&mut media, opts.dtmf, &group, &mut encoder);
                    report.digits_sent.push(group);
                    if opts.script.hangup_after_digits && next_group == opts.script.groups.len() {
                        let packets = media.queue.iter().filter(|t| !matches!(t, Tx::DigitStart | Tx::DigitEnd)).count();
                        hangup_at = Some(now + Duration::from_millis(300 + 20 * packets as u64));
                    }
                }
                if !bye_sent && (hangup_at.is_some_and(|t| now >= t) || now >= limit) {
                    bye_sent = true;
                    if now >= limit { ended = Some("time limit".into()); }
                    let mut p = dlg.next("BYE", None, b"", now);
                    sip.send_to(&p.bytes, opts.server).await?;
                    // A phone hanging up does not wait long for the 200.
                    p.give_up = now + Duration::from_secs(4);
                    pending.push(p);
                }
                // Digit markers take no packet time.
                while let Some(Tx::DigitStart | Tx::DigitEnd) = media.queue.front() {
                    if let Some(Tx::DigitStart) = media.queue.pop_front() {
                        last_digit_start = Some(now);
                    } else {
                        last_digit_end = Some(now);
                        awaiting_reaction = true;
                    }
                }
                // One packet time of media.
                let ts = media.ts;
                media.ts = media.ts.wrapping_add(media.step);
                match media.queue.pop_front() {
                    Some(Tx::Audio(a)) => media.send(media.pt, false, ts, &a).await,
                    Some(Tx::Event { code, duration, end, first }) => {
                        if first { media.event_ts = ts; }
                        let te = media.te_pt.unwrap_or(TE_PT);
                        let d = (u32::from(duration) * media.step / 160) as u16;
                        let payload = [code, if end { 0x80 | 10 } else { 10 }, (d >> 8) as u8, d as u8];
                        let ets = media.event_ts;
                        media.send(te, first, ets, &payload).await;
                    }
                    Some(Tx::Info(c)) => {
                        let body = format!("Signal={c}\r\nDuration=160\r\n");
                        let p = dlg.next("INFO", Some("application/dtmf-relay"), body.as_bytes(), now);
                        sip.send_to(&p.bytes, opts.server).await?;
                        pending.push(p);
                    }
                    Some(Tx::Gap | Tx::DigitStart | Tx::DigitEnd) | None => {
                        if opts.send_audio {
                            let s = media.silence.clone();
                            media.send(media.pt, false, ts, &s).await;
                        }
                    }
                }
            }
        }
    }
    let dev = |q| stats.deviation_ms(q);
    report.rtp = RtpSummary {
        received: stats.received,
        lost: stats.lost(),
        out_of_order: stats.out_of_order,
        duplicates: stats.duplicates,
        deviation_p50_ms: dev(0.5),
        deviation_p99_ms: dev(0.99),
        deviation_max_ms: dev(1.0),
    };
    if let Some(path) = &opts.record {
        let spec = hound::WavSpec { channels: 1, sample_rate: opts.codec.sample_rate(), bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
        let mut w = hound::WavWriter::create(path, spec).map_err(|e| std::io::Error::other(e.to_string()))?;
        for s in &recorded {
            w.write_sample(*s).map_err(|e| std::io::Error::other(e.to_string()))?;
        }
        w.finalize().map_err(|e| std::io::Error::other(e.to_string()))?;
    }
    report.conclude();
    Ok(report)
}

/// Queue a group of digits for sending: 100 ms per digit, 60 ms between digits.
fn queue_digits(media: &mut Media, mode: DtmfMode, group: &str, encoder: &mut Encoder) {
    for c in group.chars() {
        let Some(code) = selfprov_dtmf::Digit::from_char(c).map(selfprov_dtmf::Digit::event_code) else {
            continue;
        };
        media.queue.push_back(Tx::DigitStart);
        match mode {
            DtmfMode::Rfc4733 => {
                for i in 1..=5u16 {
                    media.queue.push_back(Tx::Event { code, duration: 160 * i, end: false, first: i == 1 });
                }
                media.queue.push_back(Tx::DigitEnd);
                for _ in 0..3 {
                    media.queue.push_back(Tx::Event { code, duration: 800, end: true, first: false });
                }
            }
            DtmfMode::Info => {
                media.queue.push_back(Tx::Info(c));
                media.queue.push_back(Tx::DigitEnd);
                for _ in 0..7 {
                    media.queue.push_back(Tx::Gap);
                }
            }
            DtmfMode::Inband => {
                let mut pcm = Vec::new();
                selfprov_dtmf::inband::generate(c, 100, 6000.0, 0.0, 0.0, &mut pcm);
                pcm.resize(pcm.len() + 480, 0);
                for (i, chunk) in pcm.chunks(160).enumerate() {
                    if i == 5 {
                        // 100 ms of tone sent.
                        media.queue.push_back(Tx::DigitEnd);
                    }
                    let mut frame = chunk.to_vec();
                    frame.resize(160, 0);
                    let mut out = Vec::new();
                    if encoder.encode(&frame, &mut out).is_ok() {
                        media.queue.push_back(Tx::Audio(out));
                    }
                }
                continue;
            }
        }
        for _ in 0..2 {
            media.queue.push_back(Tx::Gap);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_groups_split_at_hash_or_commas() {
        assert_eq!(Script::groups_from("1004#12345#1"), ["1004#", "12345#", "1"]);
        assert_eq!(Script::groups_from("1004#,12"), ["1004#", "12"]);
        assert_eq!(Script::groups_from(" 1 "), ["1"]);
        assert!(Script::groups_from("").is_empty());
    }

    #[test]
    fn report_names_outcome_and_extension() {
        let h = |n: &str| HeardAt { name: n.into(), language: "en_US".into(), at_ms: 0 };
        let mut r = Report { prompts: ["welcome", "confirm_extension", "digit_1", "digit_0", "digit_0", "digit_4", "confirm_press", "success"].map(h).to_vec(), ..Report::default() };
        r.conclude();
        assert_eq!((r.outcome.as_str(), r.new_dn.as_deref()), ("provisioned", Some("1004")));
        let mut r = Report { prompts: ["enter_pin", "invalid_credentials", "account_locked", "goodbye"].map(h).to_vec(), ..Report::default() };
        r.conclude();
        assert_eq!((r.outcome.as_str(), r.new_dn), ("account_locked", None));
    }

    #[test]
    fn offers_each_codec_with_or_without_telephone_events() {
        let a: SocketAddr = "127.0.0.1:4000".parse().unwrap();
        for c in Codec::ALL {
            let o = offer(c, DtmfMode::Rfc4733, a, 1, 1, "sendrecv");
            let sd = selfprov_sip::sdp::parse(o.as_bytes()).unwrap();
            assert_eq!(sd.media[0].port, 4000);
            assert!(o.contains(&format!("telephone-event/{}", c.rtp_clock_rate())), "{o}");
        }
        assert!(!offer(Codec::Pcmu, DtmfMode::Inband, a, 1, 1, "sendonly").contains("telephone-event"));
    }
}

