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
//!
//! Every phone authenticates as real phones do (`credentials`): with `--provision` each phone
//! fetches its own configuration file first; otherwise the calls come from one device whose file
//! is fetched at the start. INVITEs (and REGISTERs) answer the registrar's digest challenge; a
//! phone that was challenged once sends its credentials with its next requests at once.
//!
//! With `--provision FILE` each call is a whole provisioning flow instead: the phone fetches its
//! file (and is auto-registered), REGISTERs, calls, and types its self-service ID, PIN and `1` as RFC 4733
//! events when it hears the prompt asking for each (half a second into it, barging in), as a
//! user who knows the system would; it answers the IVR's BYE and the NOTIFY check-sync. A phone
//! is provisioned when its NOTIFY arrives. Unlike `benches/sipp/provision.xml`, which types at
//! fixed times, it waits for the confirmation prompt, so a slow PIN check cannot make it press
//! `1` before the IVR asks (keys pressed while the IVR is checking are ignored).

mod credentials;

use clap::Parser;
use credentials::{fetch_line, Auth, Fetcher, USER_AGENT};
use selfprov_media::{Codec, Encoder};
use selfprov_phone::call::{offer, rtp_packet, AudioOffer, DtmfMode};
use selfprov_phone::config_file::ConfigServer;
use selfprov_phone::recognize::Recognizer;
use selfprov_phone::sipmsg::{
    branch, contact_uri, in_dialog, mac_of, record_routes, token, with_header, Identity, Msg,
};
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
    /// Whole provisioning flows, one per line of this file: `device;self_service_id;pin` (more
    /// fields are ignored; a first line SEQUENTIAL or RANDOM, SIPp's -inf header, is skipped).
    /// Sets --calls to the number of phones; --hold is not used.
    #[arg(long)]
    provision: Option<PathBuf>,
    /// The configuration server phones fetch their files (credentials) from.
    #[arg(long, default_value = "http://127.0.0.1:6970")]
    config_url: String,
    /// Without --provision: the device every call comes from (default: a new random SEP + MAC,
    /// whose first fetch auto-registers it).
    #[arg(long)]
    device: Option<String>,
    /// Measure the loopback kernel floor instead (no SIP, no selfprov): a second thread sends a
    /// 20 ms PCMU packet to each of --calls sockets every packet time, from one socket with
    /// sendmmsg (the least any media engine can do for silent callers), for --hold. Prints that
    /// thread's CPU time per stream and the arrival statistics measured as in a load run.
    #[arg(long)]
    floor: bool,
}

/// The prompts that ask for each digit group, and how long into them the user starts typing.
const ASKS: [&[&str]; 3] = [
    &["enter_self_service_id"],
    &["enter_pin", "enter_pin_or_auth_code"],
    &["confirm_extension"],
];
const THINK: Duration = Duration::from_millis(500);
/// A provisioning flow the IVR has not ended by then is hung up and counted as failed.
const FLOW_TIMEOUT: Duration = Duration::from_secs(60);
/// A call whose media stopped this long is hung up, as a phone's media-inactivity timer does
/// (the IVR sends RTP all the time, also while it waits for digits: a silent call is a dead one,
/// e.g. its node was killed).
const MEDIA_TIMEOUT: Duration = Duration::from_secs(8);

/// One phone of a provisioning run.
struct Phone {
    device: String,
    /// Digit groups (self-service ID + `#`, PIN + `#`, `1`) as RFC 4733 event codes.
    groups: [Vec<u8>; 3],
}

fn read_phones(path: &std::path::Path) -> std::io::Result<Vec<Phone>> {
    let text = std::fs::read_to_string(path)?;
    let mut phones = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || (n == 0 && matches!(line, "SEQUENTIAL" | "RANDOM" | "USER")) {
            continue;
        }
        let f: Vec<&str> = line.split(';').collect();
        let bad = |why: &str| {
            std::io::Error::other(format!("{}:{}: {why}: `{line}`", path.display(), n + 1))
        };
        if f.len() < 3 {
            return Err(bad("expected device;self_service_id;pin"));
        }
        let events = |s: &str| -> std::io::Result<Vec<u8>> {
            s.chars()
                .map(|c| {
                    selfprov_dtmf::Digit::from_char(c)
                        .map(|d| d.event_code())
                        .ok_or_else(|| bad("not a DTMF digit"))
                })
                .collect()
        };
        phones.push(Phone {
            device: f[0].to_owned(),
            groups: [
                events(&format!("{}#", f[1]))?,
                events(&format!("{}#", f[2]))?,
                events("1")?,
            ],
        });
    }
    Ok(phones)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Fetching,
    Registering,
    Inviting,
    Up,
    Byeing,
    Done,
}

/// One RFC 4733 key press, packet by packet.
struct Press {
    ts: u32,
    step: u8,
    event: u8,
}

struct Call {
    id: Identity,
    /// Digest credentials (once fetched), the INVITE's CSeq (2 after a challenge) and branch.
    auth: Option<Auth>,
    invite_cseq: u32,
    invite_branch: String,
    call_id: String,
    tag: String,
    to_tag: String,
    state: State,
    failed: Option<String>,
    /// The dialog's route set (the 2xx's Record-Route values as received) and remote target.
    routes: Vec<String>,
    remote_target: Option<String>,
    /// The ACK of the 2xx (sent again for each retransmission of the 2xx).
    ack: Vec<u8>,
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
    /// When the last RTP packet of the call arrived (or the answer, before the first).
    last_rtp: Instant,
    stats: RtpStats,
    rec: Option<Recognizer>,
    pending: Option<(Vec<u8>, Instant, Duration, u32)>,
    probe_at: Option<Instant>,
    press: Option<Press>,
    probe_end: Option<Instant>,
    reaction_ms: Option<f64>,
    /// Provisioning flows: the phone, the next group to type, keys still to press, packet slots
    /// to wait before the next key, REGISTER → 200, and when the flow started and ended.
    phone: Option<usize>,
    typed: usize,
    type_at: Option<Instant>,
    keys: std::collections::VecDeque<u8>,
    gap: u8,
    register_ms: Option<f64>,
    fetch_ms: Option<f64>,
    t_register: Instant,
    t_start: Instant,
    flow_s: Option<f64>,
    notified: Option<Instant>,
}

impl Call {
    /// The call is over: stop listening on its socket and count it.
    fn end(&mut self, ep: &Epoll, done: &mut usize) {
        self.state = State::Done;
        *done += 1;
        ep.del(self.rtp.as_raw_fd());
    }
}

const SIP_TOKEN: u64 = u64::MAX;

/// The INVITE of call `idx` (CSeq `cseq`, on branch `br`): PCMU with RFC 4733 events, media on
/// the call's own socket; with the caller's credentials when it has been challenged before.
#[allow(clippy::too_many_arguments)]
fn invite(
    id: &Identity,
    auth: Option<&mut Auth>,
    dial: &str,
    call_id: &str,
    cseq: u32,
    br: &str,
    tag: &str,
    rtp: &UdpSocket,
    idx: usize,
) -> std::io::Result<Vec<u8>> {
    let body = offer(
        AudioOffer::new(Codec::Pcmu, DtmfMode::Rfc4733),
        rtp.local_addr()?,
        idx as u64,
        1,
        "sendrecv",
    );
    let req = id.request(
        "INVITE",
        dial,
        call_id,
        cseq,
        tag,
        None,
        br,
        Some("application/sdp"),
        body.as_bytes(),
    );
    Ok(with_auth(req, auth, "INVITE", &id.target_uri(dial)))
}

/// `req` with the credentials answering the challenges `auth` was given, if any.
fn with_auth(req: Vec<u8>, auth: Option<&mut Auth>, method: &str, uri: &str) -> Vec<u8> {
    let headers = auth.map(|a| a.headers(method, uri)).unwrap_or_default();
    headers.iter().fold(req, |r, h| with_header(&r, h))
}
const TICK: Duration = Duration::from_millis(10);

fn raise_fd_limit(need: u64) {
    let mut l = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
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
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: token,
        };
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

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: plain syscall writing into a local timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// `--floor`: a bare sender to `a.calls` sockets of this process, received and measured here.
fn floor(a: &Args) -> std::io::Result<()> {
    use selfprov_media::net::BatchSender;
    use selfprov_media::pacer::Batch;
    let n = a.calls;
    raise_fd_limit(n as u64 + 256);
    let hold: Duration = a.hold.into();
    let ep = Epoll::new()?;
    let mut socks = Vec::with_capacity(n);
    let mut dests = Vec::with_capacity(n);
    for i in 0..n {
        let s = UdpSocket::bind((a.bind, 0))?;
        s.set_nonblocking(true)?;
        ep.add(s.as_raw_fd(), i as u64)?;
        dests.push(s.local_addr()?);
        socks.push(s);
    }
    let tx = UdpSocket::bind((a.bind, 0))?;
    let start = Instant::now() + Duration::from_millis(50);
    let sender = std::thread::spawn(move || {
        let mut out = BatchSender::new();
        let mut batch = Batch::with_capacity(n / 2 + 1);
        let mut pkt = Vec::with_capacity(256);
        let payload = [0xFFu8; 160];
        let ssrc: Vec<u32> = (0..n).map(|_| rand::random()).collect();
        let (mut sent, mut refused, mut late) = (0u64, 0u64, 0u64);
        let ticks = hold.as_millis() as u64 / 10;
        let cpu0 = thread_cpu();
        for tick in 0..ticks {
            let deadline = start + TICK * tick as u32;
            match deadline.checked_duration_since(Instant::now()) {
                Some(wait) => std::thread::sleep(wait),
                None if Instant::now() > deadline + TICK => late += 1,
                None => {}
            }
            // Like the media engine: streams spread over the two 10 ms ticks of a packet time.
            batch.clear();
            let k = tick / 2;
            for i in ((tick % 2) as usize..n).step_by(2) {
                rtp_packet(
                    0,
                    k == 0,
                    k as u16,
                    (k as u32).wrapping_mul(160),
                    ssrc[i],
                    &payload,
                    &mut pkt,
                );
                batch.push(&pkt, dests[i]);
            }
            let ok = out.send(&tx, &batch).unwrap_or(0);
            sent += ok as u64;
            refused += (batch.len() - ok) as u64;
        }
        (thread_cpu() - cpu0, sent, refused, late, start.elapsed())
    });
    let mut stats: Vec<RtpStats> = (0..n).map(|_| RtpStats::default()).collect();
    let mut evs = vec![libc::epoll_event { events: 0, u64: 0 }; 1024];
    let mut buf = vec![0u8; 2048];
    let cpu0 = thread_cpu();
    while !sender.is_finished() || Instant::now() < start + hold + Duration::from_millis(100) {
        let k = ep.wait(&mut evs, TICK);
        for e in &evs[..k] {
            let i = e.u64 as usize;
            while let Ok((len, _)) = socks[i].recv_from(&mut buf) {
                let t = Instant::now();
                if let Ok(p) = selfprov_media::rtp::parse(&buf[..len]) {
                    stats[i].on_packet(
                        p.sequence,
                        p.timestamp,
                        p.marker,
                        t.saturating_duration_since(start).as_micros() as u64,
                        8000,
                    );
                }
            }
        }
    }
    let recv_cpu = thread_cpu() - cpu0;
    let (cpu, sent, refused, late, elapsed) = sender
        .join()
        .map_err(|_| std::io::Error::other("sender thread panicked"))?;
    let mut devs: Vec<u32> = Vec::new();
    for s in &stats {
        devs.extend_from_slice(&s.deviations_us);
    }
    let ms = |v: &[u32], q: f64| percentile(v, q) / 1000.0;
    // Over the time the sender really took (longer than --hold when it cannot keep up).
    let secs = elapsed.as_secs_f64();
    let pct = 100.0 * cpu.as_secs_f64() / secs;
    let summary = serde_json::json!({
        "floor": true,
        "streams": n,
        "seconds": secs,
        "packets_sent": sent,
        "packets_refused": refused,
        "ticks_late": late,
        "kept_up": late == 0,
        "sender_cpu_pct": pct,
        "sender_cpu_pct_per_stream": pct / n.max(1) as f64,
        "sender_us_per_packet": cpu.as_secs_f64() * 1e6 / sent.max(1) as f64,
        "receiver_cpu_pct": 100.0 * recv_cpu.as_secs_f64() / secs,
        "rtp_received": stats.iter().map(|s| s.received).sum::<u64>(),
        "rtp_lost": stats.iter().map(|s| s.lost()).sum::<u64>(),
        "deviation_ms": {"p50": ms(&devs, 0.5), "p99": ms(&devs, 0.99), "p999": ms(&devs, 0.999), "max": ms(&devs, 1.0)},
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&summary).unwrap_or_default()
    );
    if let Some(p) = &a.json {
        std::fs::write(p, serde_json::to_vec_pretty(&summary).unwrap_or_default())?;
    }
    Ok(())
}

fn main() -> std::io::Result<()> {
    let a = Args::parse();
    if a.floor {
        return floor(&a);
    }
    let phones = match &a.provision {
        Some(p) => read_phones(p)?,
        None => Vec::new(),
    };
    let provisioning = a.provision.is_some();
    let n_calls = if provisioning { phones.len() } else { a.calls };
    raise_fd_limit(n_calls as u64 + 256);
    let recognizer = if a.dtmf_probe || a.provision.is_some() {
        let cat = Catalog::load(&a.prompts, &["en_US"], &[Codec::Pcmu], 20)
            .map_err(|e| std::io::Error::other(format!("prompts: {e}")))?;
        Some(Recognizer::new(&cat, Codec::Pcmu))
    } else {
        None
    };
    let config_server = ConfigServer::from_url(&a.config_url).map_err(std::io::Error::other)?;
    // Provisioning: each phone fetches its own file. Otherwise one device makes every call.
    let fetcher = provisioning.then(|| Fetcher::start(config_server.clone(), 4));
    let plain_device = a
        .device
        .clone()
        .unwrap_or_else(|| format!("SEP02{:010X}", rand::random::<u64>() & 0xff_ffff_ffff));
    let mut plain_auth = if provisioning {
        None
    } else {
        let line = fetch_line(&config_server, &plain_device, None).map_err(|e| {
            std::io::Error::other(format!("{plain_device}'s configuration file: {e}"))
        })?;
        Some(Auth::new(&line))
    };
    let sip = UdpSocket::bind((a.bind, 0))?;
    sip.set_nonblocking(true)?;
    // Every call's SIP goes through this one socket.
    selfprov_media::net::grow_buffers(&sip);
    let ep = Epoll::new()?;
    ep.add(sip.as_raw_fd(), SIP_TOKEN)?;
    let id = Identity {
        user: plain_device.clone(),
        instance: None,
        user_agent: USER_AGENT.into(),
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
    let mut calls: Vec<Call> = Vec::with_capacity(n_calls);
    let mut by_id: HashMap<String, usize> = HashMap::with_capacity(2 * n_calls);
    // A check-sync NOTIFY names the phone by its device name or by its line's number (its
    // registration's address of record, or the contact a proxy's location lookup put in).
    let mut by_user: HashMap<String, usize> = phones
        .iter()
        .enumerate()
        .map(|(i, p)| (p.device.clone(), i))
        .collect();
    let mut all_done_at: Option<Instant> = None;
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
        while calls.len() < n_calls
            && now >= start + Duration::from_secs_f64(calls.len() as f64 / a.rate)
        {
            let rtp = UdpSocket::bind((a.bind, 0))?;
            rtp.set_nonblocking(true)?;
            let idx = calls.len();
            ep.add(rtp.as_raw_fd(), idx as u64)?;
            let call_id = format!("{}-{idx}@loadgen", token());
            let tag = token();
            let phone = provisioning.then_some(idx);
            let cid = match phone {
                // A brand-new phone of a known model (auto-registration picks its template).
                Some(i) => Identity {
                    user: phones[i].device.clone(),
                    instance: mac_of(&phones[i].device).map(str::to_owned),
                    ..id.clone()
                },
                None => id.clone(),
            };
            let invite_branch = branch();
            let mut auth = plain_auth.clone();
            let (first, state) = match (phone, &fetcher) {
                (Some(i), Some(f)) => {
                    // Its configuration file first; the REGISTER follows when it is here.
                    f.ask(idx, &phones[i].device);
                    by_id.insert(format!("reg-{call_id}"), idx);
                    (None, State::Fetching)
                }
                _ => (
                    Some(invite(
                        &cid,
                        auth.as_mut(),
                        &a.dial,
                        &call_id,
                        1,
                        &invite_branch,
                        &tag,
                        &rtp,
                        idx,
                    )?),
                    State::Inviting,
                ),
            };
            if let Some(first) = &first {
                let _ = sip.send_to(first, a.server);
            }
            by_id.insert(call_id.clone(), idx);
            calls.push(Call {
                id: cid,
                auth,
                invite_cseq: 1,
                invite_branch,
                call_id,
                tag,
                to_tag: String::new(),
                state,
                failed: None,
                routes: Vec::new(),
                remote_target: None,
                ack: Vec::new(),
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
                last_rtp: now,
                stats: RtpStats::default(),
                rec: recognizer.as_ref().map(Recognizer::fork),
                pending: first.map(|f| {
                    (
                        f,
                        now + Duration::from_millis(500),
                        Duration::from_millis(500),
                        0,
                    )
                }),
                probe_at: None,
                press: None,
                probe_end: None,
                reaction_ms: None,
                phone,
                typed: 0,
                type_at: None,
                keys: Default::default(),
                gap: 0,
                register_ms: None,
                fetch_ms: None,
                t_register: now,
                t_start: now,
                flow_s: None,
                notified: None,
            });
        }

        // Configuration files fetched: register, answering the challenge when it comes.
        if let Some(f) = &fetcher {
            while let Ok((idx, line)) = f.results.try_recv() {
                let c = &mut calls[idx];
                match line {
                    Ok(line) => {
                        let t = Instant::now();
                        c.fetch_ms = Some(t.duration_since(c.t_start).as_secs_f64() * 1e3);
                        c.auth = Some(Auth::new(&line));
                        // It registers and calls on its line's number (the temporary DN), as a
                        // phone does; a registrar like Kamailio's refuses another user.
                        c.id.user = line.number.clone();
                        by_user.insert(line.number.clone(), idx);
                        let reg =
                            c.id.register(&format!("reg-{}", c.call_id), 1, &c.tag, 3600);
                        let _ = sip.send_to(&reg, a.server);
                        c.pending = Some((
                            reg,
                            t + Duration::from_millis(500),
                            Duration::from_millis(500),
                            0,
                        ));
                        c.t_register = t;
                        c.state = State::Registering;
                    }
                    Err(e) => {
                        c.failed = Some(format!("configuration file: {e}"));
                        c.end(&ep, &mut done);
                    }
                }
            }
        }

        // This tick's packets, retransmissions and hang-ups.
        for c in calls.iter_mut() {
            if c.state == State::Done {
                continue;
            }
            if let Some((bytes, at, iv, tries)) = &mut c.pending {
                if now >= *at {
                    if *tries >= 6 {
                        c.failed
                            .get_or_insert_with(|| format!("no answer ({:?})", c.state));
                        c.end(&ep, &mut done);
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
            let limit = if c.phone.is_some() {
                FLOW_TIMEOUT
            } else {
                hold
            };
            let silent = now.saturating_duration_since(c.last_rtp) >= MEDIA_TIMEOUT;
            if silent || c.answered.is_some_and(|t| now >= t + limit) {
                if silent {
                    c.failed.get_or_insert_with(|| {
                        format!("no RTP from the IVR for {}s", MEDIA_TIMEOUT.as_secs())
                    });
                } else if c.phone.is_some() {
                    c.failed.get_or_insert_with(|| {
                        format!("the IVR did not end the call within {}s", limit.as_secs())
                    });
                }
                let b = c.id.request(
                    "BYE",
                    &a.dial,
                    &c.call_id,
                    c.invite_cseq + 1,
                    &c.tag,
                    Some(&c.to_tag),
                    &branch(),
                    None,
                    b"",
                );
                let b = in_dialog(b, c.remote_target.as_deref(), &c.routes);
                let _ = sip.send_to(&b, a.server);
                c.pending = Some((
                    b,
                    now + Duration::from_millis(500),
                    Duration::from_millis(500),
                    0,
                ));
                c.state = State::Byeing;
                continue;
            }
            let ts = c.ts;
            c.ts = c.ts.wrapping_add(160);
            if c.probe_at.is_some_and(|t| now >= t) {
                c.probe_at = None;
                c.press = Some(Press {
                    ts,
                    step: 0,
                    event: 11,
                });
            }
            if let Some(i) = c.phone {
                if c.type_at.is_some_and(|t| now >= t) {
                    c.type_at = None;
                    c.keys.extend(phones[i].groups[c.typed].iter().copied());
                    c.typed += 1;
                }
                if c.gap > 0 {
                    c.gap -= 1;
                } else if c.press.is_none() {
                    if let Some(event) = c.keys.pop_front() {
                        c.press = Some(Press { ts, step: 0, event });
                    }
                }
            }
            if let Some(p) = &mut c.press {
                // 5 packets of a 100 ms press, then 3 end packets.
                let end = p.step >= 5;
                let dur: u16 = 160 * u16::from(p.step.min(4) + 1);
                let payload = [
                    p.event,
                    if end { 0x80 | 10 } else { 10 },
                    (dur >> 8) as u8,
                    dur as u8,
                ];
                rtp_packet(
                    c.te_pt,
                    p.step == 0,
                    c.seq,
                    p.ts,
                    c.ssrc,
                    &payload,
                    &mut pkt,
                );
                if p.step == 5 {
                    c.probe_end = Some(now);
                }
                p.step += 1;
                if p.step >= 8 {
                    c.press = None;
                    // 40 ms between keys.
                    c.gap = 2;
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
                        let Some(m) = Msg::parse(&buf[..len]) else {
                            continue;
                        };
                        if m.status.is_none() && m.method == "NOTIFY" {
                            // check-sync, outside any call: the phone is provisioned.
                            let _ = sip.send_to(
                                &m.response(200, "OK", &selfprov_phone::sipmsg::token()),
                                from,
                            );
                            let to = m
                                .header("to")
                                .map(selfprov_sip::headers::uri_of)
                                .and_then(selfprov_sip::headers::uri_user);
                            let target = m
                                .uri
                                .split_once(':')
                                .and_then(|(_, r)| r.split_once('@'))
                                .map(|(u, _)| u);
                            if let Some(&i) =
                                to.into_iter().chain(target).find_map(|u| by_user.get(u))
                            {
                                calls[i].notified.get_or_insert_with(Instant::now);
                            }
                            continue;
                        }
                        let Some(&idx) = by_id.get(m.call_id()) else {
                            continue;
                        };
                        let c = &mut calls[idx];
                        match m.status {
                            None => {
                                if m.method == "ACK" {
                                    continue;
                                }
                                let _ = sip.send_to(&m.response(200, "OK", &c.tag), from);
                                if m.method == "BYE" && c.state != State::Done {
                                    if c.phone.is_some() {
                                        c.flow_s = Some(c.t_start.elapsed().as_secs_f64());
                                    } else {
                                        c.failed.get_or_insert_with(|| "the IVR hung up".into());
                                    }
                                    c.end(&ep, &mut done);
                                }
                            }
                            Some(code)
                                if c.state == State::Registering && m.cseq().1 == "REGISTER" =>
                            {
                                if code < 200 {
                                    continue;
                                }
                                let (n, _) = m.cseq();
                                let auth = c
                                    .auth
                                    .as_mut()
                                    .filter(|_| matches!(code, 401 | 407) && n == 1);
                                if let Some(auth) =
                                    auth.and_then(|au| au.challenged(&m).then_some(au))
                                {
                                    // Challenged: again with the phone's credentials.
                                    let reg = c.id.register(
                                        &format!("reg-{}", c.call_id),
                                        2,
                                        &c.tag,
                                        3600,
                                    );
                                    let reg = with_auth(
                                        reg,
                                        Some(auth),
                                        "REGISTER",
                                        &c.id.registrar_uri(),
                                    );
                                    let _ = sip.send_to(&reg, a.server);
                                    c.pending = Some((
                                        reg,
                                        Instant::now() + Duration::from_millis(500),
                                        Duration::from_millis(500),
                                        0,
                                    ));
                                    continue;
                                }
                                if code >= 300 {
                                    c.pending = None;
                                    c.failed = Some(format!("REGISTER: {code} {}", m.reason));
                                    c.end(&ep, &mut done);
                                    continue;
                                }
                                let t = Instant::now();
                                c.register_ms =
                                    Some(t.duration_since(c.t_register).as_secs_f64() * 1e3);
                                let inv = invite(
                                    &c.id,
                                    c.auth.as_mut(),
                                    &a.dial,
                                    &c.call_id,
                                    1,
                                    &c.invite_branch,
                                    &c.tag,
                                    &c.rtp,
                                    idx,
                                )?;
                                let _ = sip.send_to(&inv, a.server);
                                c.pending = Some((
                                    inv,
                                    t + Duration::from_millis(500),
                                    Duration::from_millis(500),
                                    0,
                                ));
                                c.t_invite = t;
                                c.state = State::Inviting;
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
                                if method == "INVITE"
                                    && c.state == State::Inviting
                                    && n == c.invite_cseq
                                {
                                    c.pending = None;
                                    c.to_tag = m.to_tag().unwrap_or_default();
                                    // A failure's ACK belongs to the INVITE's transaction (its
                                    // branch, hop by hop); a 2xx's ACK is the dialog's first
                                    // request: to the remote target, through the proxies that
                                    // record-routed.
                                    let ack = if code >= 300 {
                                        c.id.request(
                                            "ACK",
                                            &a.dial,
                                            &c.call_id,
                                            n,
                                            &c.tag,
                                            Some(&c.to_tag),
                                            &c.invite_branch,
                                            None,
                                            b"",
                                        )
                                    } else {
                                        c.routes = record_routes(&m);
                                        c.remote_target = contact_uri(&m);
                                        let ack = c.id.request(
                                            "ACK",
                                            &a.dial,
                                            &c.call_id,
                                            n,
                                            &c.tag,
                                            Some(&c.to_tag),
                                            &branch(),
                                            None,
                                            b"",
                                        );
                                        in_dialog(ack, c.remote_target.as_deref(), &c.routes)
                                    };
                                    let _ = sip.send_to(&ack, a.server);
                                    if code < 300 {
                                        c.ack = ack;
                                    }
                                    let challenged = matches!(code, 401 | 407)
                                        && n == 1
                                        && c.auth.as_mut().is_some_and(|au| au.challenged(&m));
                                    if challenged {
                                        // Again with the credentials (and the next calls carry them at once).
                                        if let (Some(p), Some(au)) =
                                            (plain_auth.as_mut(), c.auth.as_ref())
                                        {
                                            *p = au.clone();
                                        }
                                        c.invite_cseq = 2;
                                        c.invite_branch = branch();
                                        let inv = invite(
                                            &c.id,
                                            c.auth.as_mut(),
                                            &a.dial,
                                            &c.call_id,
                                            2,
                                            &c.invite_branch,
                                            &c.tag,
                                            &c.rtp,
                                            idx,
                                        )?;
                                        let _ = sip.send_to(&inv, a.server);
                                        c.pending = Some((
                                            inv,
                                            Instant::now() + Duration::from_millis(500),
                                            Duration::from_millis(500),
                                            0,
                                        ));
                                        continue;
                                    }
                                    if code >= 300 {
                                        c.failed = Some(format!("{code} {}", m.reason));
                                        c.end(&ep, &mut done);
                                        continue;
                                    }
                                    let t = Instant::now();
                                    c.setup_ms =
                                        Some(t.duration_since(c.t_invite).as_secs_f64() * 1e3);
                                    c.answered = Some(t);
                                    c.last_rtp = t;
                                    c.state = State::Up;
                                    if let Ok(sd) = selfprov_sip::sdp::parse(&m.body) {
                                        if let Some(md) = sd
                                            .media
                                            .iter()
                                            .find(|x| x.media == "audio" && x.port != 0)
                                        {
                                            if let Some(ip) = md.connection.or(sd.connection) {
                                                c.remote = Some(SocketAddr::new(ip, md.port));
                                            }
                                            if let Some(pt) =
                                                md.formats.first().and_then(|f| f.parse().ok())
                                            {
                                                c.pt = pt;
                                            }
                                            if let Some((te, _, _)) =
                                                md.rtpmaps.iter().find(|(_, n, _)| {
                                                    n.eq_ignore_ascii_case("telephone-event")
                                                })
                                            {
                                                c.te_pt = *te;
                                            }
                                        }
                                    }
                                } else if method == "BYE" && c.state == State::Byeing {
                                    c.pending = None;
                                    c.end(&ep, &mut done);
                                } else if method == "INVITE"
                                    && code < 300
                                    && n == c.invite_cseq
                                    && !c.ack.is_empty()
                                {
                                    // The 2xx again: our ACK was lost (RFC 3261 §13.2.2.4: each
                                    // retransmission of the 2xx is acknowledged).
                                    let _ = sip.send_to(&c.ack, a.server);
                                }
                            }
                        }
                    }
                    continue;
                }
                let c = &mut calls[token as usize];
                while let Ok((len, _)) = c.rtp.recv_from(&mut buf) {
                    let t = Instant::now();
                    let Ok(p) = selfprov_media::rtp::parse(&buf[..len]) else {
                        continue;
                    };
                    if p.payload_type != c.pt {
                        continue;
                    }
                    c.first_rtp_ms
                        .get_or_insert(t.duration_since(c.t_invite).as_secs_f64() * 1e3);
                    c.last_rtp = t;
                    c.stats.on_packet(
                        p.sequence,
                        p.timestamp,
                        p.marker,
                        t.duration_since(start).as_micros() as u64,
                        8000,
                    );
                    if let Some(r) = &mut c.rec {
                        if let Some(h) = r.feed(p.payload) {
                            let began = t - Duration::from_millis(20 * h.first_frame as u64);
                            if c.phone.is_some() {
                                if ASKS
                                    .get(c.typed)
                                    .is_some_and(|names| names.contains(&h.name.as_str()))
                                    && c.type_at.is_none()
                                {
                                    c.type_at = Some(t + THINK);
                                }
                            } else if h.name == "enter_self_service_id"
                                && c.probe_end.is_none()
                                && c.press.is_none()
                                && c.probe_at.is_none()
                            {
                                c.probe_at = Some(t + Duration::from_millis(200));
                            } else if let Some(e) = c.probe_end {
                                if began > e - Duration::from_millis(100) {
                                    c.reaction_ms = Some(
                                        began.saturating_duration_since(e).as_secs_f64() * 1e3,
                                    );
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
                "[{:>5.1}s] launched {} up {} done {} failed {}{}",
                now.duration_since(start).as_secs_f64(),
                calls.len(),
                active,
                done,
                calls.iter().filter(|c| c.failed.is_some()).count(),
                if provisioning {
                    format!(
                        " provisioned {}",
                        calls.iter().filter(|c| c.notified.is_some()).count()
                    )
                } else {
                    String::new()
                }
            );
        }
        if calls.len() == n_calls && done == n_calls {
            // A check-sync NOTIFY may trail the BYE: wait for it a little.
            let since = *all_done_at.get_or_insert(now);
            if !provisioning
                || calls
                    .iter()
                    .all(|c| c.notified.is_some() || c.failed.is_some())
                || now >= since + Duration::from_secs(2)
            {
                break;
            }
        }
    }

    // Summary.
    for c in calls
        .iter_mut()
        .filter(|c| c.phone.is_some() && c.failed.is_none() && c.notified.is_none())
    {
        c.failed = Some("no NOTIFY check-sync: not provisioned".into());
    }
    let failed: Vec<&Call> = calls.iter().filter(|c| c.failed.is_some()).collect();
    let mut notified: Vec<Instant> = calls.iter().filter_map(|c| c.notified).collect();
    notified.sort();
    let per_s = match (notified.first(), notified.last()) {
        (Some(f), Some(l)) if notified.len() > 1 && l > f => {
            Some((notified.len() - 1) as f64 / l.duration_since(*f).as_secs_f64())
        }
        _ => None,
    };
    // One per-call measure, scaled to integers for the percentiles.
    let scaled = |f: fn(&Call) -> Option<f64>, scale: f64| -> Vec<u32> {
        calls
            .iter()
            .filter_map(f)
            .map(|v| (v * scale) as u32)
            .collect()
    };
    let registered = scaled(|c| c.register_ms, 1000.0);
    let fetched = scaled(|c| c.fetch_ms, 1000.0);
    let flows = scaled(|c| c.flow_s, 1e6);
    let setup = scaled(|c| c.setup_ms, 1000.0);
    let first = scaled(|c| c.first_rtp_ms, 1000.0);
    let reaction = scaled(|c| c.reaction_ms, 1000.0);
    let mut devs: Vec<u32> = Vec::new();
    for c in &calls {
        devs.extend_from_slice(&c.stats.deviations_us);
    }
    let received: u64 = calls.iter().map(|c| c.stats.received).sum();
    let lost: u64 = calls.iter().map(|c| c.stats.lost()).sum();
    let ooo: u64 = calls.iter().map(|c| c.stats.out_of_order).sum();
    let ms = |v: &[u32], q: f64| percentile(v, q) / 1000.0;
    let summary = serde_json::json!({
        "calls": n_calls,
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
    let mut summary = summary;
    if provisioning {
        summary["provisioning"] = serde_json::json!({
            "phones": n_calls,
            "provisioned": notified.len(),
            "provisionings_per_s": per_s.map(|v| (v * 10.0).round() / 10.0),
            "fetch_ms": {"p50": ms(&fetched, 0.5), "p99": ms(&fetched, 0.99), "max": ms(&fetched, 1.0)},
            "register_to_200_ms": {"p50": ms(&registered, 0.5), "p99": ms(&registered, 0.99), "max": ms(&registered, 1.0)},
            "flow_s": {"p50": ms(&flows, 0.5) / 1000.0, "p99": ms(&flows, 0.99) / 1000.0, "max": ms(&flows, 1.0) / 1000.0},
        });
    }
    println!(
        "{}",
        serde_json::to_string_pretty(&summary).unwrap_or_default()
    );
    if let Some(p) = &a.json {
        std::fs::write(p, serde_json::to_vec_pretty(&summary).unwrap_or_default())?;
    }
    if let Some(p) = &a.csv {
        let mut f = std::io::BufWriter::new(std::fs::File::create(p)?);
        writeln!(f, "call,device,register_ms,setup_ms,first_rtp_ms,received,lost,out_of_order,dev_p99_ms,dev_max_ms,dtmf_to_prompt_ms,flow_s,failure")?;
        for (i, c) in calls.iter().enumerate() {
            writeln!(
                f,
                "{i},{},{},{},{},{},{},{},{:.3},{:.3},{},{},{}",
                c.phone.map(|p| phones[p].device.as_str()).unwrap_or(""),
                c.register_ms.map(|v| format!("{v:.3}")).unwrap_or_default(),
                c.setup_ms.map(|v| format!("{v:.3}")).unwrap_or_default(),
                c.first_rtp_ms
                    .map(|v| format!("{v:.3}"))
                    .unwrap_or_default(),
                c.stats.received,
                c.stats.lost(),
                c.stats.out_of_order,
                c.stats.deviation_ms(0.99),
                c.stats.deviation_ms(1.0),
                c.reaction_ms.map(|v| format!("{v:.3}")).unwrap_or_default(),
                c.flow_s.map(|v| format!("{v:.3}")).unwrap_or_default(),
                c.failed.clone().unwrap_or_default().replace(',', ";"),
            )?;
        }
    }
    let ok = failed.is_empty() && lost == 0;
    std::process::exit(if ok { 0 } else { 1 });
}
