//! RTP (RFC 3550) for the route point: one outbound stream per call with a random SSRC,
//! sequence number and timestamp origin; defensive parsing of inbound packets; symmetric RTP.
//!
//! Timestamps come from the packet tick count (`origin + tick * step`), never from elapsed wall
//! time, so a late send never makes the clock drift, and sequence numbers and timestamps wrap at
//! 2^16 / 2^32 as RFC 3550 says.

use rtp_rs::{RtpPacketBuilder, RtpReader, Seq};

/// Size of an RTP header without CSRCs or extensions.
pub const HEADER_LEN: usize = 12;

/// One outbound RTP stream.
#[derive(Debug, Clone)]
pub struct OutboundStream {
    ssrc: u32,
    payload_type: u8,
    seq: u16,
    ts_origin: u32,
    ts_step: u32,
    marker_next: bool,
    sent: u64,
}

impl OutboundStream {
    /// A stream with a random SSRC, sequence and timestamp origin (RFC 3550 §5.1).
    pub fn new(payload_type: u8, ts_step: u32) -> Self {
        Self::with_origin(
            payload_type,
            ts_step,
            rand::random(),
            rand::random(),
            rand::random(),
        )
    }

    /// A stream with given origins (tests, reproducible benchmarks).
    pub fn with_origin(
        payload_type: u8,
        ts_step: u32,
        ssrc: u32,
        seq: u16,
        ts_origin: u32,
    ) -> Self {
        OutboundStream {
            ssrc,
            payload_type,
            seq,
            ts_origin,
            ts_step,
            marker_next: true,
            sent: 0,
        }
    }

    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    pub fn packets_sent(&self) -> u64 {
        self.sent
    }

    /// The next packet starts a talk spurt (marker bit), e.g. after silence was not sent.
    pub fn start_talkspurt(&mut self) {
        self.marker_next = true;
    }

    /// The RTP timestamp of packet tick `tick` (ticks count packet times since the stream began).
    pub fn timestamp_at(&self, tick: u64) -> u32 {
        self.ts_origin
            .wrapping_add((tick as u32).wrapping_mul(self.ts_step))
    }

    /// Write the packet for `tick` carrying `payload` into `buf`; returns its length, or `None`
    /// when `buf` is too small. No allocation.
    pub fn write_packet(&mut self, tick: u64, payload: &[u8], buf: &mut [u8]) -> Option<usize> {
        let n = RtpPacketBuilder::new()
            .payload_type(self.payload_type)
            .ssrc(self.ssrc)
            .sequence(Seq::from(self.seq))
            .timestamp(self.timestamp_at(tick))
            .marked(self.marker_next)
            .payload(payload)
            .build_into(buf)
            .ok()?;
        self.marker_next = false;
        self.seq = self.seq.wrapping_add(1);
        self.sent += 1;
        Some(n)
    }
}

/// Why an inbound packet was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    #[error("packet too short ({0} bytes)")]
    TooShort(usize),
    #[error("RTP version {0} (expected 2)")]
    Version(u8),
    #[error("headers (CSRCs/extension) run past the end of the packet")]
    Truncated,
    #[error("invalid padding length")]
    Padding,
    #[error("RTCP packet on the RTP port")]
    Rtcp,
}

/// A parsed inbound packet (borrowing the receive buffer).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboundPacket<'a> {
    pub payload_type: u8,
    pub marker: bool,
    pub sequence: u16,
    pub timestamp: u32,
    pub ssrc: u32,
    pub payload: &'a [u8],
}

/// Parse an inbound packet; never panics, whatever the bytes.
pub fn parse(buf: &[u8]) -> Result<InboundPacket<'_>, RtpError> {
    if buf.len() >= 2 && (200..=204).contains(&buf[1]) {
        // RTCP multiplexed on the RTP port (RFC 5761): PT 72-76 with the marker set.
        return Err(RtpError::Rtcp);
    }
    let r = RtpReader::new(buf).map_err(|e| match e {
        rtp_rs::RtpReaderError::BufferTooShort(n) => RtpError::TooShort(n),
        rtp_rs::RtpReaderError::UnsupportedVersion(v) => RtpError::Version(v),
        rtp_rs::RtpReaderError::HeadersTruncated { .. } => RtpError::Truncated,
        rtp_rs::RtpReaderError::PaddingLengthInvalid(_) => RtpError::Padding,
    })?;
    Ok(InboundPacket {
        payload_type: r.payload_type(),
        marker: r.mark(),
        sequence: u16::from(r.sequence_number()),
        timestamp: r.timestamp(),
        ssrc: r.ssrc(),
        payload: r.payload(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn header_fields_marker_and_continuity() {
        let mut s = OutboundStream::with_origin(0, 160, 0xDEADBEEF, 65534, u32::MAX - 200);
        let mut buf = [0u8; 200];
        let payload = [0xFFu8; 160];
        let mut prev: Option<(u16, u32)> = None;
        for tick in 0..5u64 {
            let n = s.write_packet(tick, &payload, &mut buf).unwrap();
            assert_eq!(n, HEADER_LEN + 160);
            let p = parse(&buf[..n]).unwrap();
            assert_eq!(p.ssrc, 0xDEADBEEF);
            assert_eq!(p.payload_type, 0);
            assert_eq!(p.marker, tick == 0, "marker only on the first packet");
            if let Some((seq, ts)) = prev {
                assert_eq!(p.sequence, seq.wrapping_add(1), "sequence wraps at 2^16");
                assert_eq!(p.timestamp, ts.wrapping_add(160), "timestamp wraps at 2^32");
            }
            prev = Some((p.sequence, p.timestamp));
        }
        assert_eq!(prev.unwrap().0, 2); // 65534, 65535, 0, 1, 2
        s.start_talkspurt();
        let n = s.write_packet(10, &payload, &mut buf).unwrap();
        let p = parse(&buf[..n]).unwrap();
        assert!(p.marker);
        // Ticks skipped (silence not sent): the timestamp follows the clock, sequence does not jump.
        assert_eq!(p.timestamp, (u32::MAX - 200).wrapping_add(1600));
        assert_eq!(p.sequence, 3);
    }

    #[test]
    fn too_small_buffer_is_none() {
        let mut s = OutboundStream::new(8, 160);
        assert!(s.write_packet(0, &[0; 160], &mut [0u8; 100]).is_none());
    }

    #[test]
    fn defensive_parsing() {
        assert_eq!(parse(&[0x80, 0]), Err(RtpError::TooShort(2)));
        let mut p = vec![0x80u8, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 9, 9];
        assert!(parse(&p).is_ok());
        p[0] = 0x40; // version 1
        assert_eq!(parse(&p), Err(RtpError::Version(1)));
        p[0] = 0x8F; // 15 CSRCs that are not there
        assert_eq!(parse(&p), Err(RtpError::Truncated));
        p[0] = 0x90; // extension flag, no extension header
        assert_eq!(parse(&p), Err(RtpError::Truncated));
        p[0] = 0xA0; // padding: last byte says 9 bytes of padding, only 2 payload bytes
        assert_eq!(parse(&p), Err(RtpError::Padding));
        let mut ok_pad = vec![0xA0u8, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 7, 0, 2];
        assert_eq!(parse(&ok_pad).unwrap().payload, &[7]);
        ok_pad[0] = 0x81; // one CSRC
        let with_csrc = [&ok_pad[..12], &[1, 2, 3, 4], &[5, 6]].concat();
        let mut with_csrc = with_csrc;
        with_csrc[0] = 0x81;
        assert_eq!(parse(&with_csrc).unwrap().payload, &[5, 6]);
        let rtcp = [0x80u8, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0];
        assert_eq!(parse(&rtcp), Err(RtpError::Rtcp));
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = parse(&bytes);
        }

        #[test]
        fn timestamps_monotonic_modulo_wrap(origin in any::<u32>(), seq in any::<u16>(), n in 1u64..500) {
            let mut s = OutboundStream::with_origin(0, 160, 1, seq, origin);
            let mut buf = [0u8; 64];
            let mut last: Option<InboundPacketOwned> = None;
            for tick in 0..n {
                let len = s.write_packet(tick, &[0; 8], &mut buf).unwrap();
                let p = parse(&buf[..len]).unwrap();
                if let Some(l) = last {
                    prop_assert_eq!(p.timestamp.wrapping_sub(l.ts), 160);
                    prop_assert_eq!(p.sequence.wrapping_sub(l.seq), 1);
                }
                last = Some(InboundPacketOwned { ts: p.timestamp, seq: p.sequence });
            }
        }
    }

    #[derive(Clone, Copy)]
    struct InboundPacketOwned {
        ts: u32,
        seq: u16,
    }
}
