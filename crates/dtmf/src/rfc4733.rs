//! RFC 4733 telephone-events. An event is identified by its RTP timestamp (all packets of one key
//! press share it). A digit is reported once per event: on the first end packet, or — when every
//! end packet was lost — once no update has come for `end_timeout`. Redundant end packets,
//! retransmissions, reordering and senders that never set the marker bit are all handled by the
//! timestamp key.

use crate::Digit;
use std::time::{Duration, Instant};

/// How long packets of a reported event are recognised as such (end packets are repeated within
/// tens of milliseconds; reordering stays well within this).
const REPORTED_MEMORY: Duration = Duration::from_millis(1000);

fn event_code(d: Digit) -> u8 {
    b"0123456789*#ABCD"
        .iter()
        .position(|&b| b as char == d.as_char())
        .unwrap_or(0) as u8
}

/// A parsed telephone-event payload (RFC 4733 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    pub event: u8,
    pub end: bool,
    pub volume: u8,
    pub duration: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("telephone-event payload of {0} bytes (needs at least 4)")]
    TooShort(usize),
}

/// Parse the first event of a payload (further, redundant events per RFC 4733 §2.5 are ignored).
pub fn parse_event(payload: &[u8]) -> Result<TelephoneEvent, EventError> {
    if payload.len() < 4 {
        return Err(EventError::TooShort(payload.len()));
    }
    Ok(TelephoneEvent {
        event: payload[0],
        end: payload[1] & 0x80 != 0,
        volume: payload[1] & 0x3F,
        duration: u16::from_be_bytes([payload[2], payload[3]]),
    })
}

/// Per-call receiver of telephone-events with the negotiated payload type.
#[derive(Debug)]
pub struct EventReceiver {
    payload_type: u8,
    end_timeout: Duration,
    /// The event in progress: (timestamp, digit, last update).
    current: Option<(u32, Digit, Instant)>,
    /// The last events already reported (timestamp, event, when), to drop their late and
    /// redundant packets. An entry older than `REPORTED_MEMORY` no longer matches: some senders
    /// (SIPp's play_dtmf among them) reuse timestamps for later key presses.
    reported: [Option<(u32, u8, Instant)>; 8],
    next_slot: usize,
}

impl EventReceiver {
    pub fn new(payload_type: u8) -> Self {
        EventReceiver {
            payload_type,
            end_timeout: Duration::from_millis(250),
            current: None,
            reported: [None; 8],
            next_slot: 0,
        }
    }

    pub fn payload_type(&self) -> u8 {
        self.payload_type
    }

    fn was_reported(&self, ts: u32, event: u8, now: Instant) -> bool {
        self.reported.iter().flatten().any(|(t, e, at)| {
            *t == ts && *e == event && now.saturating_duration_since(*at) < REPORTED_MEMORY
        })
    }

    fn report(&mut self, ts: u32, d: Digit, now: Instant, out: &mut Vec<Digit>) {
        let event = event_code(d);
        self.reported[self.next_slot] = Some((ts, event, now));
        self.next_slot = (self.next_slot + 1) % self.reported.len();
        out.push(d);
    }

    /// Feed one RTP packet; digits completed by it are pushed to `out`. Packets of another
    /// payload type or with a bad payload are ignored.
    pub fn on_packet(
        &mut self,
        payload_type: u8,
        timestamp: u32,
        payload: &[u8],
        now: Instant,
        out: &mut Vec<Digit>,
    ) {
        if payload_type != self.payload_type {
            return;
        }
        let Ok(ev) = parse_event(payload) else { return };
        let Some(digit) = Digit::from_event(ev.event) else {
            return;
        };
        if self.was_reported(timestamp, ev.event, now) {
            return;
        }
        match self.current {
            Some((ts, d, _)) if ts == timestamp => {
                if ev.end {
                    self.current = None;
                    self.report(ts, d, now, out);
                } else {
                    self.current = Some((ts, d, now));
                }
            }
            other => {
                // A new event: an unfinished previous one (its end packets lost) is complete now.
                if let Some((ts, d, _)) = other {
                    self.report(ts, d, now, out);
                }
                if ev.end {
                    self.current = None;
                    self.report(timestamp, digit, now, out);
                } else {
                    self.current = Some((timestamp, digit, now));
                }
            }
        }
    }

    /// When the next call to [`poll`](Self::poll) may report a digit.
    pub fn next_timeout(&self) -> Option<Instant> {
        self.current.map(|(_, _, t)| t + self.end_timeout)
    }

    /// Report an event whose end packets never came.
    pub fn poll(&mut self, now: Instant, out: &mut Vec<Digit>) {
        if let Some((ts, d, t)) = self.current {
            if now >= t + self.end_timeout {
                self.current = None;
                self.report(ts, d, now, out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn pkt(event: u8, end: bool, duration: u16) -> [u8; 4] {
        let d = duration.to_be_bytes();
        [event, if end { 0x80 | 10 } else { 10 }, d[0], d[1]]
    }

    /// The packets a phone sends for one key press: updates every 20 ms, then 3 end packets.
    fn press(event: u8, updates: u16) -> Vec<[u8; 4]> {
        let mut v: Vec<_> = (1..=updates).map(|i| pkt(event, false, i * 160)).collect();
        for _ in 0..3 {
            v.push(pkt(event, true, updates * 160 + 160));
        }
        v
    }

    fn run(rx: &mut EventReceiver, packets: &[(u32, [u8; 4])], t0: Instant) -> String {
        let mut out = Vec::new();
        for (i, (ts, p)) in packets.iter().enumerate() {
            rx.on_packet(
                101,
                *ts,
                p,
                t0 + Duration::from_millis(20 * i as u64),
                &mut out,
            );
        }
        rx.poll(t0 + Duration::from_secs(10), &mut out);
        out.iter().map(|d| d.as_char()).collect()
    }

    #[test]
    fn one_digit_per_press_with_redundant_ends() {
        let t0 = Instant::now();
        let mut rx = EventReceiver::new(101);
        let mut pk: Vec<(u32, [u8; 4])> = press(1, 4).into_iter().map(|p| (1000, p)).collect();
        pk.extend(press(11, 3).into_iter().map(|p| (3000, p)));
        assert_eq!(run(&mut rx, &pk, t0), "1#");
    }

    #[test]
    fn timestamp_reused_later_is_a_new_press() {
        // SIPp's play_dtmf restarts its timestamps for each action.
        let t0 = Instant::now();
        let mut rx = EventReceiver::new(101);
        let mut out = Vec::new();
        for (i, p) in press(1, 2).iter().enumerate() {
            rx.on_packet(
                101,
                400,
                p,
                t0 + Duration::from_millis(20 * i as u64),
                &mut out,
            );
        }
        for (i, p) in press(1, 2).iter().enumerate() {
            rx.on_packet(
                101,
                400,
                p,
                t0 + Duration::from_millis(2500 + 20 * i as u64),
                &mut out,
            );
        }
        assert_eq!(out.len(), 2);
    }

    #[test]
    fn long_press_is_one_digit() {
        let t0 = Instant::now();
        let mut rx = EventReceiver::new(101);
        let pk: Vec<_> = press(5, 200).into_iter().map(|p| (7, p)).collect();
        assert_eq!(run(&mut rx, &pk, t0), "5");
    }

    #[test]
    fn lost_end_packets_reported_on_timeout() {
        let t0 = Instant::now();
        let mut rx = EventReceiver::new(101);
        let mut out = Vec::new();
        rx.on_packet(101, 500, &pkt(7, false, 160), t0, &mut out);
        rx.on_packet(
            101,
            500,
            &pkt(7, false, 320),
            t0 + Duration::from_millis(20),
            &mut out,
        );
        assert!(out.is_empty());
        assert_eq!(rx.next_timeout(), Some(t0 + Duration::from_millis(270)));
        rx.poll(t0 + Duration::from_millis(100), &mut out);
        assert!(out.is_empty());
        rx.poll(t0 + Duration::from_millis(300), &mut out);
        assert_eq!(out.len(), 1);
        // A late end packet after the timeout does not report it again.
        rx.on_packet(
            101,
            500,
            &pkt(7, true, 480),
            t0 + Duration::from_millis(310),
            &mut out,
        );
        assert_eq!(out.len(), 1);
    }

    #[test]
    fn lost_ends_then_next_digit_reports_both_in_order() {
        let t0 = Instant::now();
        let mut rx = EventReceiver::new(101);
        let pk = vec![
            (100, pkt(1, false, 160)),
            (100, pkt(1, false, 320)),
            (900, pkt(2, false, 160)),
            (900, pkt(2, true, 320)),
        ];
        assert_eq!(run(&mut rx, &pk, t0), "12");
    }

    #[test]
    fn other_payload_types_and_garbage_ignored() {
        let t0 = Instant::now();
        let mut rx = EventReceiver::new(96);
        let mut out = Vec::new();
        rx.on_packet(97, 1, &pkt(1, true, 160), t0, &mut out); // SIPp's stray PT 97
        rx.on_packet(0, 1, &[0xFF; 160], t0, &mut out);
        rx.on_packet(96, 1, &[1, 2], t0, &mut out);
        rx.on_packet(96, 1, &[200, 0x80, 0, 0], t0, &mut out);
        assert!(out.is_empty());
        assert_eq!(parse_event(&[1]), Err(EventError::TooShort(1)));
    }

    proptest! {
        /// Any duplication/reordering of the packets of distinct key presses yields each digit
        /// exactly once.
        #[test]
        fn never_duplicated(events in proptest::collection::vec(0u8..16, 1..8), seed in any::<u64>()) {
            let mut pk: Vec<(u32, [u8; 4])> = Vec::new();
            for (i, e) in events.iter().enumerate() {
                for p in press(*e, 3) {
                    pk.push(((i as u32 + 1) * 10_000, p));
                }
            }
            // Duplicate some packets and swap neighbours within an event.
            let mut rng = seed;
            let mut mangled = Vec::new();
            for p in pk {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                mangled.push(p);
                if rng >> 62 == 0 { mangled.push(p); }
            }
            for i in 1..mangled.len() {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                if rng >> 61 == 0 && mangled[i].0 == mangled[i - 1].0 { mangled.swap(i, i - 1); }
            }
            let t0 = Instant::now();
            let mut rx = EventReceiver::new(101);
            let got = run(&mut rx, &mangled, t0);
            let want: String = events.iter().map(|e| Digit::from_event(*e).unwrap().as_char()).collect();
            prop_assert_eq!(got, want);
        }
    }
}
