//! The running media engine: one thread owns the shared RTP socket and the [`Pacer`]. Every
//! 10 ms tick it applies the service's commands, drains inbound packets (demultiplexing them to
//! calls, latching symmetric RTP, detecting DTMF), then sends the tick's packets with one
//! `sendmmsg`. No lock is shared with the rest of the service: commands come in and events go
//! out through channels.
//!
//! Demultiplexing on one port: a packet belongs to the call whose latched address it comes from;
//! before a call latches, to the call whose SDP address it comes from, or — for a phone behind a
//! NAT that changed the port — to the one not-yet-latched call with that IP address. Anything else
//! is a stray packet: dropped and counted.

use crate::codec::{Codec, Decoder};
use crate::net::{grow_buffers, BatchReceiver, BatchSender};
use crate::pacer::{Batch, Frames, Pacer, PacerEvent, StreamId, TICK_MS};
use crate::rtp::{parse, OutboundStream};
use selfprov_dtmf::inband::InbandDetector;
use selfprov_dtmf::rfc4733::EventReceiver;
use selfprov_dtmf::Digit;
use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
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
    latched: Option<SocketAddr>,
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
    by_addr: HashMap<SocketAddr, CallKey>,
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
                self.calls.insert(
                    call,
                    Call {
                        stream,
                        spec,
                        latched: None,
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
                if let Some(c) = self.calls.get(&call) {
                    self.pacer.set_paused(c.stream, held);
                }
            }
            MediaCommand::Remote { call, remote } => {
                if let Some(c) = self.calls.get_mut(&call) {
                    self.by_addr.remove(&c.spec.remote);
                    if let Some(l) = c.latched.take() {
                        self.by_addr.remove(&l);
                    }
                    c.spec.remote = remote;
                    self.by_addr.insert(remote, call);
                    self.pacer.set_remote(c.stream, remote);
                }
            }
            MediaCommand::Shutdown => return false,
        }
        true
    }

    fn remove(&mut self, call: CallKey) {
        if let Some(c) = self.calls.remove(&call) {
            self.pacer.remove(c.stream);
            self.by_stream.remove(&c.stream);
            self.by_addr.remove(&c.spec.remote);
            if let Some(l) = c.latched {
                self.by_addr.remove(&l);
            }
        }
    }

    /// Which call a packet from `src` belongs to (latching it if needed).
    fn demux(&mut self, src: SocketAddr) -> Option<CallKey> {
        if let Some(k) = self.by_addr.get(&src) {
            let k = *k;
            if let Some(c) = self.calls.get_mut(&k) {
                if c.latched.is_none() {
                    c.latched = Some(src);
                }
            }
            return Some(k);
        }
        // NAT changed the port: the one unlatched call with that IP.
        let mut found = None;
        for (k, c) in &self.calls {
            if c.latched.is_none() && c.spec.remote.ip() == src.ip() {
                if found.is_some() {
                    return None; // ambiguous: refuse rather than guess
                }
                found = Some(*k);
            }
        }
        let k = found?;
        if let Some(c) = self.calls.get_mut(&k) {
            c.latched = Some(src);
            self.by_addr.insert(src, k);
            self.pacer.set_remote(c.stream, src);
        }
        Some(k)
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
                let Some(call) = st.demux(src) else {
                    counters.dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                let Ok(p) = parse(data) else {
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
mod tests {
    use super::*;

    fn frames(n: usize) -> Arc<dyn Frames> {
        Arc::new(
            (0..n)
                .map(|_| vec![0x55u8; 160].into_boxed_slice())
                .collect::<Vec<_>>(),
        )
    }

    fn event_packet(seq: u16, ts: u32, event: u8, end: bool, dur: u16) -> Vec<u8> {
        let mut p = vec![0x80, 101, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p[4..8].copy_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&[event, if end { 0x8A } else { 0x0A }]);
        p.extend_from_slice(&dur.to_be_bytes());
        p
    }

    #[test]
    fn plays_to_the_caller_detects_digits_latches_and_drops_strays() {
        let (etx, erx) = mpsc::channel();
        let engine = MediaEngine::start("127.0.0.1:0".parse().unwrap(), etx).unwrap();
        let rtp_port = engine.local_addr();
        let phone = UdpSocket::bind("127.0.0.1:0").unwrap();
        phone
            .set_read_timeout(Some(Duration::from_secs(3)))
            .unwrap();
        let spec = StreamSpec {
            codec: Codec::Pcma,
            payload_type: 8,
            ptime_ms: 20,
            remote: phone.local_addr().unwrap(),
            telephone_event_pt: Some(101),
            idle: None,
        };
        assert!(engine.send(MediaCommand::Add { call: 7, spec }));
        assert!(engine.send(MediaCommand::Play {
            call: 7,
            audio: frames(5),
            tag: 42
        }));
        let mut buf = [0u8; 2048];
        let mut got = 0;
        while got < 5 {
            let (n, from) = phone.recv_from(&mut buf).unwrap();
            assert_eq!(from, rtp_port);
            let p = parse(&buf[..n]).unwrap();
            assert_eq!(p.payload_type, 8);
            got += 1;
        }
        assert_eq!(
            erx.recv_timeout(Duration::from_secs(3)).unwrap(),
            MediaEvent::PlaybackFinished { call: 7, tag: 42 }
        );
        // The phone presses 5: updates and three end packets.
        for (i, end) in [false, false, true, true, true].iter().enumerate() {
            phone
                .send_to(
                    &event_packet(i as u16, 8000, 5, *end, 160 * (i as u16 + 1)),
                    rtp_port,
                )
                .unwrap();
        }
        match erx.recv_timeout(Duration::from_secs(3)).unwrap() {
            MediaEvent::Digit { call, digit, .. } => assert_eq!((call, digit.as_char()), (7, '5')),
            other => panic!("{other:?}"),
        }
        // A stray source is dropped and counted, not reported.
        let stray = UdpSocket::bind("127.0.0.2:0").unwrap();
        stray
            .send_to(&event_packet(9, 9000, 1, true, 160), rtp_port)
            .unwrap();
        let t0 = Instant::now();
        while engine.counters.dropped.load(Ordering::Relaxed) == 0
            && t0.elapsed() < Duration::from_secs(3)
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(engine.counters.dropped.load(Ordering::Relaxed), 1);
        assert!(erx.recv_timeout(Duration::from_millis(100)).is_err());
        assert!(engine.send(MediaCommand::Remove { call: 7 }));
    }

    #[test]
    fn nat_changed_port_latches_by_ip_and_media_follows() {
        let (etx, _erx) = mpsc::channel();
        let engine = MediaEngine::start("127.0.0.1:0".parse().unwrap(), etx).unwrap();
        let rtp_port = engine.local_addr();
        let nat = UdpSocket::bind("127.0.0.1:0").unwrap();
        nat.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        // SDP says port 9 (what the phone thinks), packets come from the NAT's port.
        let spec = StreamSpec {
            codec: Codec::Pcmu,
            payload_type: 0,
            ptime_ms: 20,
            remote: "127.0.0.1:9".parse().unwrap(),
            telephone_event_pt: None,
            idle: None,
        };
        engine.send(MediaCommand::Add { call: 1, spec });
        nat.send_to(
            &[0x80, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 9, 0xFF, 0xFF],
            rtp_port,
        )
        .unwrap();
        engine.send(MediaCommand::Play {
            call: 1,
            audio: frames(50),
            tag: 1,
        });
        let mut buf = [0u8; 2048];
        let (_, from) = nat
            .recv_from(&mut buf)
            .expect("media sent to the latched NAT address");
        assert_eq!(from, rtp_port);
    }
}
