//! One timing source for many RTP streams. The pacer is a sans-I/O scheduler: the driver calls
//! [`Pacer::tick`] once per tick (10 ms) with the tick number derived from an absolute clock;
//! the pacer writes the packets that are due into a reusable [`Batch`] (one `sendmmsg` later) and
//! reports finished playbacks. Per packet it copies the pre-encoded payload and writes a 12-byte
//! header: no allocation, no lock, no other copy.
//!
//! Timestamps come from the tick number, so a late tick never makes a stream drift: it sends
//! what was due, with the timestamps it should have had.

use crate::rtp::{OutboundStream, HEADER_LEN};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;

/// Tick length: every supported ptime is a multiple of it.
pub const TICK_MS: u32 = 10;
/// Largest packet the pacer writes (RTP header + the largest L16 payload at 60 ms would exceed a
/// datagram; L16 is limited to 20 ms packets by the codec layer's callers).
pub const MAX_PACKET: usize = 1500;

/// Pre-encoded audio to play: packet payloads in order.
pub trait Frames: Send + Sync {
    fn frame(&self, i: usize) -> Option<&[u8]>;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Frames for Vec<Box<[u8]>> {
    fn frame(&self, i: usize) -> Option<&[u8]> {
        self.get(i).map(|b| &b[..])
    }
    fn len(&self) -> usize {
        Vec::len(self)
    }
}

/// Identifies a stream in the pacer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamId(pub u32);

/// Something the driver should tell the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacerEvent {
    /// Every item queued with this tag has been sent.
    PlaybackFinished { stream: StreamId, tag: u64 },
}

struct Item {
    audio: Arc<dyn Frames>,
    tag: u64,
}

struct Stream {
    rtp: OutboundStream,
    remote: SocketAddr,
    /// Send every `every` ticks, on ticks ≡ `phase` (spreads streams over the ticks).
    every: u32,
    phase: u32,
    queue: VecDeque<Item>,
    pos: usize,
    /// Payload sent while nothing plays (comfort silence); `None`: send nothing (the next packet
    /// then carries the marker bit).
    idle: Option<Arc<[u8]>>,
    paused: bool,
}

/// Packets ready for one `sendmmsg`: contiguous buffers plus their destinations.
pub struct Batch {
    pub(crate) buf: Vec<u8>,
    pub(crate) lens: Vec<usize>,
    pub(crate) addrs: Vec<SocketAddr>,
}

impl Batch {
    pub fn with_capacity(packets: usize) -> Self {
        Batch {
            buf: vec![0; packets * MAX_PACKET],
            lens: Vec::with_capacity(packets),
            addrs: Vec::with_capacity(packets),
        }
    }
    pub fn len(&self) -> usize {
        self.lens.len()
    }
    pub fn is_empty(&self) -> bool {
        self.lens.is_empty()
    }
    pub fn clear(&mut self) {
        self.lens.clear();
        self.addrs.clear();
    }
    /// Add a ready-made packet (for tools that build their own, e.g. the load generator's
    /// kernel-floor sender).
    pub fn push(&mut self, pkt: &[u8], to: SocketAddr) {
        let n = pkt.len().min(MAX_PACKET);
        if let Some(slot) = self.slot() {
            slot[..n].copy_from_slice(&pkt[..n]);
            self.lens.push(n);
            self.addrs.push(to);
        }
    }
    /// The i-th packet and its destination.
    pub fn packet(&self, i: usize) -> (&[u8], SocketAddr) {
        (
            &self.buf[i * MAX_PACKET..i * MAX_PACKET + self.lens[i]],
            self.addrs[i],
        )
    }
    fn slot(&mut self) -> Option<&mut [u8]> {
        let i = self.lens.len();
        if (i + 1) * MAX_PACKET > self.buf.len() {
            // Grow rarely (more streams than planned); never in steady state.
            self.buf.resize((i + 1) * MAX_PACKET * 2, 0);
        }
        Some(&mut self.buf[i * MAX_PACKET..(i + 1) * MAX_PACKET])
    }
}

/// The scheduler for all streams of the process.
#[derive(Default)]
pub struct Pacer {
    streams: Vec<Option<Stream>>,
    free: Vec<u32>,
    active: usize,
}

impl Pacer {
    pub fn new() -> Self {
        Pacer::default()
    }

    pub fn len(&self) -> usize {
        self.active
    }

    pub fn is_empty(&self) -> bool {
        self.active == 0
    }

    /// Add a stream sending to `remote` with `ptime_ms` packets (a multiple of 10).
    pub fn add(
        &mut self,
        rtp: OutboundStream,
        remote: SocketAddr,
        ptime_ms: u32,
        idle: Option<Arc<[u8]>>,
    ) -> StreamId {
        let every = (ptime_ms / TICK_MS).max(1);
        let s = Stream {
            rtp,
            remote,
            every,
            phase: 0,
            queue: VecDeque::new(),
            pos: 0,
            idle,
            paused: false,
        };
        self.active += 1;
        let id = match self.free.pop() {
            Some(i) => {
                self.streams[i as usize] = Some(s);
                i
            }
            None => {
                self.streams.push(Some(s));
                (self.streams.len() - 1) as u32
            }
        };
        if let Some(Some(s)) = self.streams.get_mut(id as usize) {
            s.phase = id % every;
        }
        StreamId(id)
    }

    pub fn remove(&mut self, id: StreamId) {
        if let Some(slot) = self.streams.get_mut(id.0 as usize) {
            if slot.take().is_some() {
                self.free.push(id.0);
                self.active -= 1;
            }
        }
    }

    fn get(&mut self, id: StreamId) -> Option<&mut Stream> {
        self.streams.get_mut(id.0 as usize).and_then(Option::as_mut)
    }

    /// Queue audio to play after what is queued; `tag` comes back in `PlaybackFinished`.
    pub fn enqueue(&mut self, id: StreamId, audio: Arc<dyn Frames>, tag: u64) {
        if let Some(s) = self.get(id) {
            s.queue.push_back(Item { audio, tag });
        }
    }

    /// Stop playback now (barge-in): drop everything queued. No `PlaybackFinished` is reported.
    pub fn flush(&mut self, id: StreamId) {
        if let Some(s) = self.get(id) {
            s.queue.clear();
            s.pos = 0;
        }
    }

    /// Hold: send nothing until resumed.
    pub fn set_paused(&mut self, id: StreamId, paused: bool) {
        if let Some(s) = self.get(id) {
            if s.paused && !paused {
                s.rtp.start_talkspurt();
            }
            s.paused = paused;
        }
    }

    /// Send to a new address (symmetric RTP latched, or a re-INVITE moved the media).
    pub fn set_remote(&mut self, id: StreamId, remote: SocketAddr) {
        if let Some(s) = self.get(id) {
            s.remote = remote;
        }
    }

    pub fn packets_sent(&self, id: StreamId) -> u64 {
        self.streams
            .get(id.0 as usize)
            .and_then(Option::as_ref)
            .map(|s| s.rtp.packets_sent())
            .unwrap_or(0)
    }

    /// Produce the packets due at `tick` into `batch` (appending) and events into `events`.
    /// `tick` counts 10 ms ticks of the driver's absolute clock; each stream's packet index is
    /// derived from it, so timestamps are exact even when a tick is handled late.
    pub fn tick(&mut self, tick: u64, batch: &mut Batch, events: &mut Vec<PacerEvent>) {
        for (i, slot) in self.streams.iter_mut().enumerate() {
            let Some(s) = slot else { continue };
            if s.paused || (tick % u64::from(s.every)) as u32 != s.phase {
                continue;
            }
            let packet_index = tick / u64::from(s.every);
            let id = StreamId(i as u32);
            // Drop finished (or empty) items at the front.
            while let Some(item) = s.queue.front() {
                if s.pos < item.audio.len() {
                    break;
                }
                events.push(PacerEvent::PlaybackFinished {
                    stream: id,
                    tag: item.tag,
                });
                s.queue.pop_front();
                s.pos = 0;
            }
            let payload: Option<&[u8]> = match s.queue.front() {
                Some(item) => item.audio.frame(s.pos),
                None => s.idle.as_deref(),
            };
            let Some(payload) = payload else {
                // Nothing to send: the next packet starts a talk spurt.
                s.rtp.start_talkspurt();
                continue;
            };
            let Some(buf) = batch.slot() else { continue };
            if let Some(n) = s.rtp.write_packet(packet_index, payload, buf) {
                batch.lens.push(n);
                batch.addrs.push(s.remote);
            }
            if let Some(item) = s.queue.front() {
                s.pos += 1;
                // Report the end with the last packet, not one packet time later.
                if s.pos >= item.audio.len() {
                    events.push(PacerEvent::PlaybackFinished {
                        stream: id,
                        tag: item.tag,
                    });
                    s.queue.pop_front();
                    s.pos = 0;
                }
            }
        }
    }
}

/// Size of the per-stream state the pacer keeps (for the memory-per-call budget).
pub const STREAM_STATE_BYTES: usize = std::mem::size_of::<Stream>() + HEADER_LEN;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtp::parse;

    fn audio(n: usize, byte: u8) -> Arc<dyn Frames> {
        Arc::new(
            (0..n)
                .map(|i| vec![byte.wrapping_add(i as u8); 160].into_boxed_slice())
                .collect::<Vec<_>>(),
        )
    }

    fn addr(p: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], p))
    }

    #[test]
    fn plays_queue_back_to_back_with_continuous_rtp_and_reports_ends() {
        let mut p = Pacer::new();
        let id = p.add(
            OutboundStream::with_origin(0, 160, 7, 65535, 1000),
            addr(4000),
            20,
            None,
        );
        p.enqueue(id, audio(3, 10), 1);
        p.enqueue(id, audio(2, 50), 2);
        let mut batch = Batch::with_capacity(4);
        let mut ev = Vec::new();
        let mut got = Vec::new();
        for tick in 0..20u64 {
            batch.clear();
            p.tick(tick, &mut batch, &mut ev);
            for i in 0..batch.len() {
                let (bytes, to) = batch.packet(i);
                assert_eq!(to, addr(4000));
                let pk = parse(bytes).unwrap();
                got.push((tick, pk.sequence, pk.timestamp, pk.marker, pk.payload[0]));
            }
        }
        // 5 packets on even ticks (20 ms = 2 ticks), no gap between the two prompts.
        let payloads: Vec<u8> = got.iter().map(|g| g.4).collect();
        assert_eq!(payloads, [10, 11, 12, 50, 51]);
        let ticks: Vec<u64> = got.iter().map(|g| g.0).collect();
        assert_eq!(ticks, [0, 2, 4, 6, 8]);
        for w in got.windows(2) {
            assert_eq!(w[1].1, w[0].1.wrapping_add(1));
            assert_eq!(w[1].2, w[0].2.wrapping_add(160));
        }
        assert!(got[0].3 && !got[1].3);
        assert_eq!(
            ev,
            [
                PacerEvent::PlaybackFinished { stream: id, tag: 1 },
                PacerEvent::PlaybackFinished { stream: id, tag: 2 }
            ]
        );
        // After silence (nothing sent), the next prompt starts a talk spurt with the clock's timestamp.
        p.enqueue(id, audio(1, 90), 3);
        batch.clear();
        p.tick(40, &mut batch, &mut ev);
        let pk = parse(batch.packet(0).0).unwrap();
        assert!(pk.marker);
        assert_eq!(pk.timestamp, 1000 + 20 * 160);
        assert_eq!(pk.sequence, got[4].1.wrapping_add(1));
    }

    /// G.722 samples at 16 kHz but its RTP clock runs at 8 kHz: 320 samples, 160 octets and a
    /// timestamp step of 160 per 20 ms packet, as the engine sets the stream up.
    #[test]
    fn g722_timestamps_advance_160_per_20_ms() {
        use crate::codec::{Codec, Encoder};
        let codec = Codec::G722;
        let mut enc = Encoder::new(codec).unwrap();
        let frames: Vec<Box<[u8]>> = (0..4)
            .map(|_| {
                let mut f = Vec::new();
                enc.encode(&[100; 320], &mut f).unwrap();
                f.into_boxed_slice()
            })
            .collect();
        let mut p = Pacer::new();
        let rtp = OutboundStream::with_origin(9, codec.timestamp_step(20), 1, 0, u32::MAX - 200);
        let id = p.add(rtp, addr(4004), 20, None);
        let frames: Arc<dyn Frames> = Arc::new(frames);
        p.enqueue(id, frames, 1);
        let (mut batch, mut ev, mut got) = (Batch::with_capacity(1), Vec::new(), Vec::new());
        for tick in 0..8u64 {
            batch.clear();
            p.tick(tick, &mut batch, &mut ev);
            for i in 0..batch.len() {
                let pk = parse(batch.packet(i).0).unwrap();
                got.push((pk.payload_type, pk.timestamp, pk.payload.len()));
            }
        }
        let expect: Vec<_> = (0..4u32)
            .map(|k| (9, (u32::MAX - 200).wrapping_add(160 * k), 160))
            .collect();
        assert_eq!(got, expect);
    }

    #[test]
    fn ptime_idle_pause_flush_and_remove() {
        let mut p = Pacer::new();
        let silence: Arc<[u8]> = vec![0xFF; 240].into();
        let id = p.add(OutboundStream::new(0, 240), addr(4002), 30, Some(silence));
        let mut batch = Batch::with_capacity(1);
        let mut ev = Vec::new();
        let mut count = |p: &mut Pacer, from: u64, to: u64, batch: &mut Batch| {
            let mut n = 0;
            for t in from..to {
                batch.clear();
                p.tick(t, batch, &mut ev);
                n += batch.len();
            }
            n
        };
        assert_eq!(
            count(&mut p, 0, 30, &mut batch),
            10,
            "30 ms packets of comfort silence"
        );
        p.set_paused(id, true);
        assert_eq!(count(&mut p, 30, 60, &mut batch), 0, "nothing while held");
        p.set_paused(id, false);
        p.enqueue(id, audio(100, 1), 9);
        assert_eq!(count(&mut p, 60, 66, &mut batch), 2);
        p.flush(id);
        assert_eq!(
            count(&mut p, 66, 72, &mut batch),
            2,
            "back to silence after barge-in"
        );
        p.remove(id);
        assert!(p.is_empty());
        assert_eq!(count(&mut p, 72, 90, &mut batch), 0);
        // The slot is reused.
        let id2 = p.add(OutboundStream::new(0, 160), addr(4004), 20, None);
        assert_eq!(id2, id);
    }

    #[test]
    fn batch_goes_out_in_one_sendmmsg_on_loopback() {
        use std::net::UdpSocket;
        let rx = UdpSocket::bind("127.0.0.1:0").unwrap();
        rx.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        let tx = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut p = Pacer::new();
        for _ in 0..50 {
            let id = p.add(
                OutboundStream::new(8, 160),
                rx.local_addr().unwrap(),
                20,
                None,
            );
            p.enqueue(id, audio(1, 3), 0);
        }
        let mut batch = Batch::with_capacity(64);
        let mut ev = Vec::new();
        p.tick(0, &mut batch, &mut ev);
        p.tick(1, &mut batch, &mut ev);
        assert_eq!(batch.len(), 50);
        let mut sender = crate::net::BatchSender::new();
        assert_eq!(sender.send(&tx, &batch).unwrap(), 50);
        let mut buf = [0u8; 2048];
        let mut ssrcs = std::collections::HashSet::new();
        for _ in 0..50 {
            let n = rx.recv(&mut buf).unwrap();
            let pk = parse(&buf[..n]).unwrap();
            assert_eq!(pk.payload_type, 8);
            assert_eq!(pk.payload.len(), 160);
            ssrcs.insert(pk.ssrc);
        }
        assert_eq!(ssrcs.len(), 50, "one SSRC per stream");
        assert_eq!(ev.len(), 50);
    }
}
