//! The running media engine: one thread owns the shared RTP socket and the [`Pacer`]. Every
//! 10 ms tick it applies the service's commands, drains inbound packets (demultiplexing them to
//! calls, latching symmetric RTP, detecting DTMF), then sends the tick's packets with one
//! `sendmmsg`. No lock is shared with the rest of the service: commands come in and events go
//! out through channels.
//!
//! Demultiplexing on one port: a packet belongs to the call whose SDP (or latched) address it
//! comes from; in NAT mode ([`Latching::Nat`]) also to the one not-yet-latched call expecting its
//! IP address, or to the latched call whose SSRC it carries (the NAT rebound the port). Each
//! call's [`Latch`] has the last word. Anything else is a stray packet: dropped and counted, never
//! decoded for digits.
//!
//! A call added with `await_confirm` sends nothing until [`MediaCommand::Confirm`] (the ACK of
//! the 200 arrived): a spoofed INVITE, whose 200 goes to the real sender, cannot aim a stream at
//! anyone.

use crate::codec::{Codec, Decoder};
use crate::latch::{Latch, Latching, Verdict};
use crate::net::{grow_buffers, BatchReceiver, BatchSender};
use crate::pacer::{Batch, Frames, Pacer, PacerEvent, StreamId, TICK_MS};
use crate::rtp::{parse, OutboundStream};
use selfprov_dtmf::inband::InbandDetector;
use selfprov_dtmf::rfc4733::EventReceiver;
use selfprov_dtmf::Digit;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The service's name for a call's media.
pub type CallKey = u64;

/// What a call's media looks like (from the SDP negotiation).
#[derive(Debug, Clone)]
pub struct StreamSpec {
    pub codec: Codec,
    pub payload_type: u8,
    pub ptime_ms: u32,
    /// Where the caller said to send media (SDP `c=`/`m=`).
    pub remote: SocketAddr,
    /// Negotiated telephone-event payload type; `None`: detect DTMF in band (G.711 only).
    pub telephone_event_pt: Option<u8>,
    /// Payload sent every packet time while nothing plays (encoded silence); `None`: send
    /// nothing between prompts.
    pub idle: Option<std::sync::Arc<[u8]>>,
    /// Which packets are the caller's.
    pub latching: Latching,
    /// Send nothing until [`MediaCommand::Confirm`] (the ACK of the 200).
    pub await_confirm: bool,
}

/// Commands from the service.
pub enum MediaCommand {
    Add {
        call: CallKey,
        spec: StreamSpec,
    },
    Remove {
        call: CallKey,
    },
    /// Queue audio after what is queued; `tag` comes back in `PlaybackFinished`.
    Play {
        call: CallKey,
        audio: Arc<dyn Frames>,
        tag: u64,
    },
    /// Barge-in: stop what is playing and drop the queue.
    Stop {
        call: CallKey,
    },
    Hold {
        call: CallKey,
        held: bool,
    },
    /// The call is confirmed (ACK): media may flow.
    Confirm {
        call: CallKey,
    },
    /// A re-INVITE moved the caller's media.
    Remote {
        call: CallKey,
        remote: SocketAddr,
    },
    Shutdown,
}

/// Events to the service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    PlaybackFinished {
        call: CallKey,
        tag: u64,
    },
    Digit {
        call: CallKey,
        digit: Digit,
        method: selfprov_dtmf::Method,
    },
}

/// Counters readable from any thread (for metrics).
#[derive(Debug, Default)]
pub struct MediaCounters {
    pub sent: AtomicU64,
    pub received: AtomicU64,
    pub dropped: AtomicU64,
    pub late_ticks: AtomicU64,
}

struct Call {
    stream: StreamId,
    spec: StreamSpec,
    latch: Latch,
    awaiting_confirm: bool,
    held: bool,
    events: Option<EventReceiver>,
    inband: Option<(Decoder, InbandDetector)>,
}

/// Handle to the engine thread.
pub struct MediaEngine {
    commands: Sender<MediaCommand>,
    local: SocketAddr,
    pub counters: Arc<MediaCounters>,
    /// The RTP socket's receive buffer, as granted by the kernel (bytes; see
    /// [`crate::net::SOCKET_BUFFER`]).
    pub receive_buffer: usize,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl MediaEngine {
    /// Bind the shared RTP socket on `bind` and start the engine thread. Events go to `events`.
    pub fn start(bind: SocketAddr, events: Sender<MediaEvent>) -> std::io::Result<MediaEngine> {
        let sock = UdpSocket::bind(bind)?;
        sock.set_nonblocking(true)?;
        let receive_buffer = grow_buffers(&sock);
        let local = sock.local_addr()?;
        let (tx, rx) = mpsc::channel();
        let counters = Arc::new(MediaCounters::default());
        let c2 = counters.clone();
        let thread = std::thread::Builder::new()
            .name("selfprov-media".into())
            .spawn(move || run(sock, rx, events, c2))?;
        Ok(MediaEngine {
            commands: tx,
            local,
            receive_buffer,
            counters,
            thread: Some(thread),
        })
    }

    /// The RTP address to advertise in SDP (with `bind`'s IP).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Send a command; false if the engine has stopped.
    pub fn send(&self, cmd: MediaCommand) -> bool {
        self.commands.send(cmd).is_ok()
    }
}

impl Drop for MediaEngine {
    fn drop(&mut self) {
        let _ = self.commands.send(MediaCommand::Shutdown);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct State {
    pacer: Pacer,
    calls: HashMap<CallKey, Call>,
    by_stream: HashMap<StreamId, CallKey>,
    /// SDP and latched addresses.
    by_addr: HashMap<SocketAddr, CallKey>,
    /// NAT-mode calls by the IP address they latch on.
    by_nat_ip: HashMap<IpAddr, Vec<CallKey>>,
}

impl State {
    fn apply(&mut self, cmd: MediaCommand) -> bool {
        match cmd {
            MediaCommand::Add { call, spec } => {
                self.remove(call);
                let rtp = OutboundStream::new(
                    spec.payload_type,
                    spec.codec.timestamp_step(spec.ptime_ms),
                );
                let stream = self
                    .pacer
                    .add(rtp, spec.remote, spec.ptime_ms, spec.idle.clone());
                let events = spec.telephone_event_pt.map(EventReceiver::new);
                let inband = match (spec.telephone_event_pt, spec.codec) {
                    (None, Codec::Pcmu | Codec::Pcma) => Decoder::new(spec.codec)
                        .ok()
                        .map(|d| (d, InbandDetector::default())),
                    _ => None,
                };
                self.by_stream.insert(stream, call);
                self.by_addr.insert(spec.remote, call);
                let latch = Latch::new(spec.remote, spec.latching);
                if let Some(ip) = latch.nat_ip() {
                    self.by_nat_ip.entry(ip).or_default().push(call);
                }
                let awaiting_confirm = spec.await_confirm;
                self.pacer.set_paused(stream, awaiting_confirm);
                self.calls.insert(
                    call,
                    Call {
                        stream,
                        spec,
                        latch,
                        awaiting_confirm,
                        held: false,
                        events,
                        inband,
                    },
                );
            }
            MediaCommand::Remove { call } => self.remove(call),
            MediaCommand::Play { call, audio, tag } => {
                if let Some(c) = self.calls.get(&call) {
                    self.pacer.enqueue(c.stream, audio, tag);
                }
            }
            MediaCommand::Stop { call } => {
                if let Some(c) = self.calls.get(&call) {
                    self.pacer.flush(c.stream);
                }
            }
            MediaCommand::Hold { call, held } => {
                if let Some(c) = self.calls.get_mut(&call) {
                    c.held = held;
                    self.pacer
                        .set_paused(c.stream, c.held || c.awaiting_confirm);
                }
            }
            MediaCommand::Confirm { call } => {
                if let Some(c) = self.calls.get_mut(&call) {
                    c.awaiting_confirm = false;
                    self.pacer.set_paused(c.stream, c.held);
                }
            }
            MediaCommand::Remote { call, remote } => {
                if self.calls.contains_key(&call) {
                    self.unindex(call);
                    if let Some(c) = self.calls.get_mut(&call) {
                        c.spec.remote = remote;
                        c.latch.set_sdp(remote);
                        self.pacer.set_remote(c.stream, remote);
                    }
                    self.index(call);
                }
            }
            MediaCommand::Shutdown => return false,
        }
        true
    }

    fn remove(&mut self, call: CallKey) {
        self.unindex(call);
        if let Some(c) = self.calls.remove(&call) {
            self.pacer.remove(c.stream);
            self.by_stream.remove(&c.stream);
        }
    }

    /// Forget a call's addresses (before they change or the call goes).
    fn unindex(&mut self, call: CallKey) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        for a in [Some(c.latch.sdp()), c.latch.latched()]
            .into_iter()
            .flatten()
        {
            if self.by_addr.get(&a) == Some(&call) {
                self.by_addr.remove(&a);
            }
        }
        if let Some(ip) = c.latch.nat_ip() {
            if let Some(v) = self.by_nat_ip.get_mut(&ip) {
                v.retain(|k| *k != call);
                if v.is_empty() {
                    self.by_nat_ip.remove(&ip);
                }
            }
        }
    }

    /// Record a call's addresses.
    fn index(&mut self, call: CallKey) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        self.by_addr.insert(c.latch.sdp(), call);
        if let Some(a) = c.latch.latched() {
            self.by_addr.insert(a, call);
        }
        if let Some(ip) = c.latch.nat_ip() {
            self.by_nat_ip.entry(ip).or_default().push(call);
        }
    }

    /// Which call a packet from `src` with `ssrc` belongs to, if any (latching it if needed).
    fn demux(&mut self, src: SocketAddr, ssrc: u32) -> Option<CallKey> {
        let k = match self.by_addr.get(&src) {
            Some(k) => *k,
            None => self.nat_candidate(src.ip(), ssrc)?,
        };
        let c = self.calls.get_mut(&k)?;
        let old = c.latch.latched();
        match c.latch.judge(src, ssrc) {
            Verdict::Stranger => None,
            Verdict::Caller => {
                if c.latch.latched() != old {
                    self.relatched(k, old);
                }
                Some(k)
            }
            Verdict::CallerMoved(to) => {
                let stream = c.stream;
                self.pacer.set_remote(stream, to);
                self.relatched(k, old);
                Some(k)
            }
        }
    }

    /// The NAT-mode call a packet from another port of `ip` may belong to: the one unlatched
    /// call expecting that IP, else the latched one whose SSRC it carries. Two unlatched calls
    /// behind the same IP: refuse rather than guess.
    fn nat_candidate(&self, ip: IpAddr, ssrc: u32) -> Option<CallKey> {
        let keys = self.by_nat_ip.get(&ip)?;
        let mut unlatched = keys.iter().filter(|k| {
            self.calls
                .get(k)
                .is_some_and(|c| c.latch.latched().is_none())
        });
        match (unlatched.next(), unlatched.next()) {
            (Some(k), None) => Some(*k),
            (Some(_), Some(_)) => None,
            (None, _) => keys
                .iter()
                .find(|k| self.calls.get(k).is_some_and(|c| c.latch.open_to(ssrc)))
                .copied(),
        }
    }

    /// A call's latched address changed from `old`: keep the address index right.
    fn relatched(&mut self, call: CallKey, old: Option<SocketAddr>) {
        let Some(c) = self.calls.get(&call) else {
            return;
        };
        if let Some(o) = old {
            if o != c.latch.sdp() && self.by_addr.get(&o) == Some(&call) {
                self.by_addr.remove(&o);
            }
        }
        if let Some(n) = c.latch.latched() {
            self.by_addr.insert(n, call);
        }
    }
}

fn run(
    sock: UdpSocket,
    commands: Receiver<MediaCommand>,
    events: Sender<MediaEvent>,
    counters: Arc<MediaCounters>,
) {
    let mut st = State {
        pacer: Pacer::new(),
        calls: HashMap::new(),
        by_stream: HashMap::new(),
        by_addr: HashMap::new(),
        by_nat_ip: HashMap::new(),
    };
    let mut batch = Batch::with_capacity(256);
    let mut sender = BatchSender::new();
    let mut pacer_events = Vec::new();
    let mut digits = Vec::new();
    let mut pcm = Vec::with_capacity(960);
    let mut receiver = BatchReceiver::new(64);
    let start = Instant::now();
    let mut tick: u64 = 0;
    loop {
        if st.calls.is_empty() {
            // Idle: no stream to pace, so no tick either (0 % CPU) until a command arrives.
            match commands.recv() {
                Ok(cmd) => {
                    if !st.apply(cmd) {
                        return;
                    }
                }
                Err(_) => return,
            }
            // Packets that came meanwhile are read below like any others (no call: dropped).
            tick = (Instant::now() - start).as_millis() as u64 / u64::from(TICK_MS);
        }
        // Commands.
        loop {
            match commands.try_recv() {
                Ok(cmd) => {
                    if !st.apply(cmd) {
                        return;
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        // Inbound.
        let now = Instant::now();
        let mut more = true;
        while more {
            let n = receiver.recv(&sock).unwrap_or(0);
            more = n == receiver.capacity();
            for i in 0..n {
                let Some((data, src)) = receiver.get(i) else {
                    counters.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let Ok(p) = parse(data) else {
                    counters.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let Some(call) = st.demux(src, p.ssrc) else {
                    counters.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                counters.received.fetch_add(1, Ordering::Relaxed);
                let Some(c) = st.calls.get_mut(&call) else {
                    continue;
                };
                digits.clear();
                let mut method = selfprov_dtmf::Method::Rfc4733;
                if let Some(rx) = &mut c.events {
                    rx.on_packet(p.payload_type, p.timestamp, p.payload, now, &mut digits);
                }
                if let Some((dec, det)) = &mut c.inband {
                    if p.payload_type == c.spec.payload_type {
                        pcm.clear();
                        if dec.decode(p.payload, &mut pcm).is_ok() {
                            det.feed(&pcm, &mut digits);
                            method = selfprov_dtmf::Method::InBand;
                        }
                    }
                }
                for d in &digits {
                    let _ = events.send(MediaEvent::Digit {
                        call,
                        digit: *d,
                        method,
                    });
                }
            }
        }
        // Telephone-events whose end packets were lost.
        for (k, c) in st.calls.iter_mut() {
            if let Some(rx) = &mut c.events {
                digits.clear();
                rx.poll(now, &mut digits);
                for d in &digits {
                    let _ = events.send(MediaEvent::Digit {
                        call: *k,
                        digit: *d,
                        method: selfprov_dtmf::Method::Rfc4733,
                    });
                }
            }
        }
        // Outbound.
        batch.clear();
        pacer_events.clear();
        st.pacer.tick(tick, &mut batch, &mut pacer_events);
        if let Ok(n) = sender.send(&sock, &batch) {
            counters.sent.fetch_add(n as u64, Ordering::Relaxed);
        }
        for e in &pacer_events {
            let PacerEvent::PlaybackFinished { stream, tag } = *e;
            if let Some(call) = st.by_stream.get(&stream) {
                let _ = events.send(MediaEvent::PlaybackFinished { call: *call, tag });
            }
        }
        // Next tick at its absolute deadline; if we are more than a tick late, catch up without
        // sending a burst (the missed ticks' timestamps are skipped, as a late phone would do).
        tick += 1;
        let deadline = start + Duration::from_millis(tick * u64::from(TICK_MS));
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        } else if now - deadline > Duration::from_millis(u64::from(TICK_MS)) {
            counters.late_ticks.fetch_add(1, Ordering::Relaxed);
            tick = (now - start).as_millis() as u64 / u64::from(TICK_MS);
        }
    }
}

#[cfg(test)]
#[path = "engine_tests.rs"]
mod tests;
