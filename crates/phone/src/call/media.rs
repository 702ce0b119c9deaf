//! The phone's media: the SDP offer, RTP packets out, digits queued as RFC 4733 events, SIP INFO
//! or in-band tones at packet times, and the recording of what it received as a WAV file.

use super::DtmfMode;
use selfprov_media::{Codec, Encoder};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use tokio::net::UdpSocket;

/// Payload types the phone offers.
pub fn payload_type(codec: Codec) -> u8 {
    codec.static_payload_type().unwrap_or(match codec {
        Codec::L16 => 98,
        Codec::L16Narrowband => 97,
        _ => 111,
    })
}
pub(super) const TE_PT: u8 = 101;

/// What the phone offers: one codec, how it sends digits, and the clock rate of its RFC 4733
/// telephone-events (RFC 4733 wants the codec's; phones also pair 8000 with wideband codecs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioOffer {
    pub codec: Codec,
    pub dtmf: DtmfMode,
    pub event_rate: u32,
}

impl AudioOffer {
    /// Telephone-events at the codec's RTP clock rate.
    pub fn new(codec: Codec, dtmf: DtmfMode) -> AudioOffer {
        AudioOffer {
            codec,
            dtmf,
            event_rate: codec.rtp_clock_rate(),
        }
    }
}

/// The SDP offer (or re-offer, with a new version and direction).
pub fn offer(audio: AudioOffer, rtp: SocketAddr, session: u64, version: u64, dir: &str) -> String {
    let AudioOffer {
        codec,
        dtmf,
        event_rate,
    } = audio;
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
        s.push_str(&format!(
            "a=rtpmap:{TE_PT} telephone-event/{event_rate}\r\na=fmtp:{TE_PT} 0-15\r\n"
        ));
    }
    s.push_str(&format!("a=ptime:20\r\na={dir}\r\n"));
    s
}

/// What goes out at the next packet time.
pub(super) enum Tx {
    Audio(Vec<u8>),
    /// RFC 4733 event: code, duration so far, end bit, first packet of the event.
    Event {
        code: u8,
        duration: u16,
        end: bool,
        first: bool,
    },
    Info(char),
    Gap,
    /// Markers, no packet: the server can now see a digit / the digit is complete.
    DigitStart,
    DigitEnd,
}

/// The RTP stream the phone sends, with the queue of what goes out at the next packet times.
pub(super) struct Media {
    pub(super) sock: UdpSocket,
    pub(super) remote: SocketAddr,
    pub(super) pt: u8,
    pub(super) te_pt: Option<u8>,
    /// The telephone-event clock rate of the answer: event durations count in it.
    pub(super) te_rate: u32,
    pub(super) ssrc: u32,
    pub(super) seq: u16,
    pub(super) ts: u32,
    pub(super) step: u32,
    pub(super) event_ts: u32,
    pub(super) silence: Vec<u8>,
    pub(super) queue: VecDeque<Tx>,
}

impl Media {
    pub(super) async fn send(&mut self, pt: u8, marker: bool, ts: u32, payload: &[u8]) {
        let mut p = Vec::with_capacity(12 + payload.len());
        rtp_packet(pt, marker, self.seq, ts, self.ssrc, payload, &mut p);
        self.seq = self.seq.wrapping_add(1);
        let _ = self.sock.send_to(&p, self.remote).await;
    }
}

/// One RTP packet (version 2, no CSRC or extension) into `out`, replacing its contents.
pub fn rtp_packet(
    pt: u8,
    marker: bool,
    seq: u16,
    ts: u32,
    ssrc: u32,
    payload: &[u8],
    out: &mut Vec<u8>,
) {
    out.clear();
    out.extend_from_slice(&[0x80, pt | if marker { 0x80 } else { 0 }]);
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(&ts.to_be_bytes());
    out.extend_from_slice(&ssrc.to_be_bytes());
    out.extend_from_slice(payload);
}

/// Queue a group of digits for sending: 100 ms per digit, 60 ms between digits. Event durations
/// are queued in 8 kHz units and scaled to the negotiated rate when sent.
pub(super) fn queue_digits(media: &mut Media, mode: DtmfMode, group: &str, encoder: &mut Encoder) {
    for c in group.chars() {
        let Some(code) = selfprov_dtmf::Digit::from_char(c).map(selfprov_dtmf::Digit::event_code)
        else {
            continue;
        };
        media.queue.push_back(Tx::DigitStart);
        match mode {
            DtmfMode::Rfc4733 => {
                for i in 1..=5u16 {
                    media.queue.push_back(Tx::Event {
                        code,
                        duration: 160 * i,
                        end: false,
                        first: i == 1,
                    });
                }
                media.queue.push_back(Tx::DigitEnd);
                for _ in 0..3 {
                    media.queue.push_back(Tx::Event {
                        code,
                        duration: 800,
                        end: true,
                        first: false,
                    });
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

/// Write the received audio, decoded, as a 16-bit mono WAV file.
pub(super) fn write_wav(path: &Path, sample_rate: u32, samples: &[i16]) -> std::io::Result<()> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w =
        hound::WavWriter::create(path, spec).map_err(|e| std::io::Error::other(e.to_string()))?;
    for s in samples {
        w.write_sample(*s)
            .map_err(|e| std::io::Error::other(e.to_string()))?;
    }
    w.finalize()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(())
}
