//! selfprov-loadgen: hold N concurrent calls on the route point, like N phones.
//!
//! One thread, one epoll set: a SIP socket shared by every call (calls are told apart by
//! Call-ID) and one RTP socket per call (the service ties a call's media to its address, as it
//! would for real phones). Calls start at `--rate` per second; each sends 20 ms of audio every
//! packet time (`--duplex`) or nothing but DTMF (a phone with silence suppression), receives the
//! IVR's prompts, and hangs up after `--hold`. Per call it measures INVITE → 200, INVITE → first
//! RTP, arrival deviation from the 20 ms grid, loss, reordering and — with `--dtmf-probe` — the
//! time from a `#` (end of the key press) to the prompt it triggers. At the end it prints a
//! summary and writes JSON (summary) and CSV (one line per call).

use clap::Parser;
use selfprov_media::{Codec, Encoder};
use selfprov_phone::call::{offer, rtp_packet, DtmfMode};
use selfprov_phone::recognize::Recognizer;
use selfprov_phone::sipmsg::{branch, token, Identity, Msg};
use selfprov_phone::stats::{percentile, RtpStats};
use selfprov_prompts::Catalog;
use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Parser, Debug)]
#[command(about = "Load generator for selfprov: N concurrent calls with RTP, measured")]
struct Args {
    /// selfprov's SIP address.
    #[arg(long, default_value = "127.0.0.1:5070")]
    server: SocketAddr,
    /// Route-point number to dial.
    #[arg(long, default_value = "2000")]
    dial: String,
    /// Local address for SIP and RTP.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// Concurrent calls to reach.
    #[arg(long, default_value_t = 100)]
    calls: usize,
    /// New calls per second while ramping up.
    #[arg(long, default_value_t = 200.0)]
    rate: f64,
    /// How long each call stays up once answered.
    #[arg(long, default_value = "30s")]
    hold: humantime::Duration,
    /// Send 20 ms of audio every packet time (else only DTMF: silence suppression).
    #[arg(long)]
    duplex: bool,
    /// Press `#` when the IVR asks for the self-service ID and time the reaction.
    #[arg(long)]
    dtmf_probe: bool,
    /// Prompts directory (to recognise prompts for the DTMF probe).
    #[arg(long, default_value = "prompts")]
    prompts: PathBuf,
    /// Summary as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// One line per call as CSV here.
    #[arg(long)]
    csv: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Inviting,
    Up,
    Byeing,
    Done,
}

/// One RFC 4733 key press, packet by packet.
struct Press {
    ts: u32,
    step: u8,
}

struct Call {
    call_id: String,
    tag: String,
    to_tag: String,
    state: State,
    failed: Option<String>,
    rtp: UdpSocket,
    remote: Option<SocketAddr>,
    pt: u8,
    te_pt: u8,
    seq: u16,
    ts: u32,
    ssrc: u32,
    phase: u64,
    t_invite: Instant,
    setup_ms: Option<f64>,
    first_rtp_ms: Option<f64>,
    answered: Option<Instant>,
    stats: RtpStats,
    rec: Option<Recognizer>,
    pending: Option<(Vec<u8>, Instant, Duration, u32)>,
    probe_at: Option<Instant>,
    press: Option<Press>,
    probe_end: Option<Instant>,
    reaction_ms: Option<f64>,
}

const SIP_TOKEN: u64 = u64::MAX;
const TICK: Duration = Duration::from_millis(10);

fn raise_fd_limit(need: u64) {
    let mut l = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit/setrlimit with a valid pointer to a local rlimit.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut l) == 0 && l.rlim_cur < need {
            l.rlim_cur = need.min(l.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &l);
        }
    }
}

struct Epoll(i32);

impl Epoll {
    fn new() -> std::io::Result<Epoll> {
        // SAFETY: plain syscall.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(Epoll(fd))
    }
    fn add(&self, fd: i32, token: u64) -> std::io::Result<()> {
        let mut ev = libc::epoll_event { events: libc::EPOLLIN as u32, u64: token };
        // SAFETY: `ev` is a valid epoll_event; fd is an open socket.
        if unsafe { libc::epoll_ctl(self.0, libc::EPOLL_CTL_ADD, fd, &mut ev) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
    fn del(&self, fd: i32) {
        // SAFETY: removing an fd; a null event is allowed since Linux 2.6.9.
        unsafe { libc::epoll_ctl(self.0, libc::EPOLL_CTL_DEL, fd, std::ptr::null_mut()) };
    }
    fn wait(&self, evs: &mut [libc::epoll_event], timeout: Duration) -> usize {
        let ms = timeout.as_millis().min(1000) as i32;
        // SAFETY: `evs` is a valid buffer of `evs.len()` events.
        let n = unsafe { libc::epoll_wait(self.0, evs.as_mut_ptr(), evs.len() as i32, ms) };
        n.max(0) as usize
    }
}

impl Drop for Epoll {
    fn drop(&mut self) {
        // SAFETY: closing our own fd.
        unsafe { libc::close(self.0) };
    }
}

fn main() -> std::io::Result<()> {
    let a = Args::parse();
    raise_fd_limit(a.calls as u64 + 256);
    let recognizer = if a.dtmf_probe {
        let cat = Catalog::load(&a.prompts, &["en_US"], &[Codec::Pcmu], 20)
            .map_err(|e| std::io::Error::other(format!("prompts: {e}")))?;
        Some(Recognizer::new(&cat, Codec::Pcmu))
    } else {
        None
    };
    let sip = UdpSocket::bind((a.bind, 0))?;
    sip.set_nonblocking(true)?;
    let ep = Epoll::new()?;
    ep.add(sip.as_raw_fd(), SIP_TOKEN)?;
    let id = Identity {
        user: "loadgen".into(),
        user_agent: "selfprov-loadgen".into(),
        local: sip.local_addr()?,
        server: a.server,
    };
    // 20 ms of quiet noise, so the payload is audio, not digital silence.
    let mut audio = Vec::new();
    let noise: Vec<i16> = (0..160).map(|i| ((i * 7919) % 61) as i16 - 30).collect();
    Encoder::new(Codec::Pcmu)
        .and_then(|mut e| e.encode(&noise, &mut audio))
        .map_err(|e| std::io::Error::other(e.to_string()))?;

    let hold: Duration = a.hold.into();
    let mut calls: Vec<Call> = Vec::with_capacity(a.calls);
    let mut by_id: HashMap<String, usize> = HashMap::with_capacity(a.calls);
    let start = Instant::now();
    let mut tick: u64 = 0;
    let mut evs = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    let mut buf = vec![0u8; 65_536];
    let mut pkt = Vec::with_capacity(256);
    let mut active_peak = 0usize;
    let mut last_report = start;
    let mut done = 0usize;

    loop {
        let now = Instant::now();
        // Ramp: launch the calls due by now.
        while calls.len() < a.calls
            && now >= start + Duration::from_secs_f64(calls.len() as f64 / a.rate)
        {
            let rtp = UdpSocket::bind((a.bind, 0))?;
            rtp.set_nonblocking(true)?;
            let idx = calls.len();
            ep.add(rtp.as_raw_fd(), idx as u64)?;
            let call_id = format!("{}-{idx}@loadgen", token());
            let tag = token();
            let body = offer(Codec::Pcmu, DtmfMode::Rfc4733, rtp.local_addr()?, idx as u64, 1, "sendrecv");
            let invite = id.request("INVITE", &a.dial, &call_id, 1, &tag, None, &branch(), Some("application/sdp"), body.as_bytes());
            let _ = sip.send_to(&invite, a.server);
            by_id.insert(call_id.clone(), idx);
            calls.push(Call {
                call_id,
                tag,
                to_tag: String::new(),
                state: State::Inviting,
                failed: None,
                rtp,
                remote: None,
                pt: 0,
                te_pt: 101,
                seq: rand::random(),
                ts: rand::random(),
                ssrc: rand::random(),
                phase: (idx % 2) as u64,
                t_invite: Instant::now(),
                setup_ms: None,
                first_rtp_ms: None,
                answered: None,
                stats: RtpStats::default(),
                rec: recognizer.as_ref().map(Recognizer::fork),
                pending: Some((invite, now + Duration::from_millis(500), Duration::from_millis(500), 0)),
                probe_at: None,
                press: None,
                probe_end: None,
                reaction_ms: None,
            });
        }

        // This tick's packets, retransmissions and hang-ups.
        for c in calls.iter_mut() {
            if c.state == State::Done {
                continue;
            }
            if let Some((bytes, at, iv, tries)) = &mut c.pending {
                if now >= *at {
                    if *tries >= 6 {
                        c.failed.get_or_insert_with(|| format!("no answer ({:?})", c.state));
                        c.state = State::Done;
                        done += 1;
                        ep.del(c.rtp.as_raw_fd());
                        continue;
                    }
                    let _ = sip.send_to(bytes, a.server);
                    *tries += 1;
                    *iv = (*iv * 2).min(Duration::from_secs(4));
                    *at = now + *iv;
                }
            }
            if c.state != State::Up || tick % 2 != c.phase {
                continue;
            }
            let Some(remote) = c.remote else { continue };
            if c.answered.is_some_and(|t| now >= t + hold) {
                let b = id.request("BYE", &a.dial, &c.call_id, 2, &c.tag, Some(&c.to_tag), &branch(), None, b"");
                let _ = sip.send_to(&b, a.server);
                c.pending = Some((b, now + Duration::from_millis(500), Duration::from_millis(500), 0));
                c.state = State::Byeing;
                continue;
            }
            let ts = c.ts;
            c.ts = c.ts.wrapping_add(160);
            if c.probe_at.is_some_and(|t| now >= t) {
                c.probe_at = None;
                c.press = Some(Press { ts, step: 0 });
            }
            if let Some(p) = &mut c.press {
                // '#' = event 11: 5 packets of a 100 ms press, then 3 end packets.
                let end = p.step >= 5;
                let dur: u16 = 160 * u16::from(p.step.min(4) + 1);
                let payload = [11u8, if end { 0x80 | 10 } else { 10 }, (dur >> 8) as u8, dur as u8];
                rtp_packet(c.te_pt, p.step == 0, c.seq, p.ts, c.ssrc, &payload, &mut pkt);
                if p.step == 5 {
                    c.probe_end = Some(now);
                }
                p.step += 1;
                if p.step >= 8 {
                    c.press = None;
                }
            } else if a.duplex {
                rtp_packet(c.pt, false, c.seq, ts, c.ssrc, &audio, &mut pkt);
            } else {
                continue;
            }
            c.seq = c.seq.wrapping_add(1);
            let _ = c.rtp.send_to(&pkt, remote);
        }

        // Wait for packets until the next tick.
        tick += 1;
        let deadline = start + TICK * tick as u32;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let n = ep.wait(&mut evs, left);
            for e in &evs[..n] {
                let token = e.u64;
                if token == SIP_TOKEN {
                    while let Ok((len, from)) = sip.recv_from(&mut buf) {
                        let Some(m) = Msg::parse(&buf[..len]) else { continue };
                        let Some(&idx) = by_id.get(m.call_id()) else { continue };
                        let c = &mut calls[idx];
                        match m.status {
                            None => {
                                if m.method == "ACK" {
                                    continue;
                                }
                                let _ = sip.send_to(&m.response(200, "OK", &c.tag), from);
                                if m.method == "BYE" && c.state != State::Done {
                                    c.failed.get_or_insert_with(|| "the IVR hung up".into());
                                    c.state = State::Done;
                                    done += 1;
                                    ep.del(c.rtp.as_raw_fd());
                                }
                            }
                            Some(code) if code < 200 => {
                                // Provisional: stop retransmitting the INVITE.
                                if c.state == State::Inviting {
                                    if let Some(p) = &mut c.pending {
                                        p.1 = Instant::now() + Duration::from_secs(30);
                                    }
                                }
                            }
                            Some(code) => {
                                let (n, method) = m.cseq();
                                if method == "INVITE" && c.state == State::Inviting {
                                    c.pending = None;
                                    c.to_tag = m.to_tag().unwrap_or_default();
                                    let ack = id.request("ACK", &a.dial, &c.call_id, n, &c.tag, Some(&c.to_tag), &branch(), None, b"");
                                    let _ = sip.send_to(&ack, a.server);
                                    if code >= 300 {
                                        c.failed = Some(format!("{code} {}", m.reason));
                                        c.state = State::Done;
                                        done += 1;
                                        ep.del(c.rtp.as_raw_fd());
                                        continue;
                                    }
                                    let t = Instant::now();
                                    c.setup_ms = Some(t.duration_since(c.t_invite).as_secs_f64() * 1e3);
                                    c.answered = Some(t);
                                    c.state = State::Up;
                                    if let Ok(sd) = selfprov_sip::sdp::parse(&m.body) {
                                        if let Some(md) = sd.media.iter().find(|x| x.media == "audio" && x.port != 0) {
                                            if let Some(ip) = md.connection.or(sd.connection) {
                                                c.remote = Some(SocketAddr::new(ip, md.port));
                                            }
                                            if let Some(pt) = md.formats.first().and_then(|f| f.parse().ok()) {
                                                c.pt = pt;
                                            }
                                            if let Some((te, _, _)) = md.rtpmaps.iter().find(|(_, n, _)| n.eq_ignore_ascii_case("telephone-event")) {
                                                c.te_pt = *te;
                                            }
                                        }
                                    }
                                } else if method == "BYE" && c.state == State::Byeing {
                                    c.pending = None;
                                    c.state = State::Done;
                                    done += 1;
                                    ep.del(c.rtp.as_raw_fd());
                                }
                            }
                        }
                    }
                    continue;
                }
                let c = &mut calls[token as usize];
                while let Ok((len, _)) = c.rtp.recv_from(&mut buf) {
                    let t = Instant::now();
                    let Ok(p) = selfprov_media::rtp::parse(&buf[..len]) else { continue };
                    if p.payload_type != c.pt {
                        continue;
                    }
                    c.first_rtp_ms.get_or_insert(t.duration_since(c.t_invite).as_secs_f64() * 1e3);
                    c.stats.on_packet(p.sequence, p.timestamp, p.marker, t.duration_since(start).as_micros() as u64, 8000);
                    if let Some(r) = &mut c.rec {
                        if let Some(h) = r.feed(p.payload) {
                            let began = t - Duration::from_millis(20 * h.first_frame as u64);
                            if h.name == "enter_self_service_id" && c.probe_end.is_none() && c.press.is_none() && c.probe_at.is_none() {
                                c.probe_at = Some(t + Duration::from_millis(200));
                            } else if let Some(e) = c.probe_end {
                                if began > e - Duration::from_millis(100) {
                                    c.reaction_ms = Some(began.saturating_duration_since(e).as_secs_f64() * 1e3);
                                    // Measured: stop hashing this call's packets.
                                    c.rec = None;
                                }
                            }
                        }
                    }
                }
            }
            if Instant::now() >= deadline {
                break;
            }
        }

        let active = calls.iter().filter(|c| c.state == State::Up).count();
        active_peak = active_peak.max(active);
        if now.duration_since(last_report) >= Duration::from_secs(5) {
            last_report = now;
            eprintln!(
                "[{:>5.1}s] launched {} up {} done {} failed {}",
                now.duration_since(start).as_secs_f64(),
                calls.len(),
                active,
                done,
                calls.iter().filter(|c| c.failed.is_some()).count()
            );
        }
        if calls.len() == a.calls && done == a.calls {
            break;
        }
    }

    // Summary.
    let failed: Vec<&Call> = calls.iter().filter(|c| c.failed.is_some()).collect();
    let setup: Vec<u32> = calls.iter().filter_map(|c| c.setup_ms).map(|v| (v * 1000.0) as u32).collect();
    let first: Vec<u32> = calls.iter().filter_map(|c| c.first_rtp_ms).map(|v| (v * 1000.0) as u32).collect();
    let reaction: Vec<u32> = calls.iter().filter_map(|c| c.reaction_ms).map(|v| (v * 1000.0) as u32).collect();
    let mut devs: Vec<u32> = Vec::new();
    for c in &calls {
        devs.extend_from_slice(&c.stats.deviations_us);
    }
    let received: u64 = calls.iter().map(|c| c.stats.received).sum();
    let lost: u64 = calls.iter().map(|c| c.stats.lost()).sum();
    let ooo: u64 = calls.iter().map(|c| c.stats.out_of_order).sum();
    let ms = |v: &[u32], q: f64| percentile(v, q) / 1000.0;
    let summary = serde_json::json!({
        "calls": a.calls,
        "rate": a.rate,
        "hold_s": hold.as_secs_f64(),
        "duplex": a.duplex,
        "peak_concurrent": active_peak,
        "failed": failed.len(),
        "failures": failed.iter().take(10).map(|c| c.failed.clone()).collect::<Vec<_>>(),
        "rtp_received": received,
        "rtp_lost": lost,
        "rtp_out_of_order": ooo,
        "deviation_ms": {"p50": ms(&devs, 0.5), "p99": ms(&devs, 0.99), "p999": ms(&devs, 0.999), "max": ms(&devs, 1.0)},
        "invite_to_200_ms": {"p50": ms(&setup, 0.5), "p99": ms(&setup, 0.99), "max": ms(&setup, 1.0)},
        "invite_to_first_rtp_ms": {"p50": ms(&first, 0.5), "p99": ms(&first, 0.99), "max": ms(&first, 1.0)},
        "dtmf_to_prompt_ms": {"n": reaction.len(), "p50": ms(&reaction, 0.5), "p99": ms(&reaction, 0.99), "max": ms(&reaction, 1.0)},
        "seconds": start.elapsed().as_secs_f64(),
    });
    println!("{}", serde_json::to_string_pretty(&summary).unwrap_or_default());
    if let Some(p) = &a.json {
        std::fs::write(p, serde_json::to_vec_pretty(&summary).unwrap_or_default())?;
    }
    if let Some(p) = &a.csv {
        let mut f = std::io::BufWriter::new(std::fs::File::create(p)?);
        writeln!(f, "call,setup_ms,first_rtp_ms,received,lost,out_of_order,dev_p99_ms,dev_max_ms,dtmf_to_prompt_ms,failure")?;
        for (i, c) in calls.iter().enumerate() {
            writeln!(
                f,
                "{i},{},{},{},{},{},{:.3},{:.3},{},{}",
                c.setup_ms.map(|v| format!("{v:.3}")).unwrap_or_default(),
                c.first_rtp_ms.map(|v| format!("{v:.3}")).unwrap_or_default(),
                c.stats.received,
                c.stats.lost(),
                c.stats.out_of_order,
                c.stats.deviation_ms(0.99),
                c.stats.deviation_ms(1.0),
                c.reaction_ms.map(|v| format!("{v:.3}")).unwrap_or_default(),
                c.failed.clone().unwrap_or_default().replace(',', ";"),
            )?;
        }
    }
    let ok = failed.is_empty() && lost == 0;
    std::process::exit(if ok { 0 } else { 1 });
}
