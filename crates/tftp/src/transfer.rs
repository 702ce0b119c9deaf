//! One file to one client: the blocks, the acknowledgements, retransmission on timeout, and the
//! negotiated options. Block numbers go on after 65535 from 0 again (what tftp-hpa and phones
//! do), so a file is not limited to 65535 blocks.

use crate::packet::{ErrorCode, Packet, ReadRequest};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// The largest block this server agrees to (RFC 2348 allows 65464; bigger blocks only fragment).
pub const MAX_BLKSIZE: usize = 8192;
/// Tries of one packet before the transfer is given up.
pub const MAX_TRIES: u32 = 5;

/// What was agreed for a transfer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub blksize: usize,
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            blksize: 512,
            timeout: Duration::from_secs(2),
        }
    }
}

/// What the driver does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send these bytes to the client (and wait for its answer until [`Transfer::deadline`]).
    Send(Vec<u8>),
    /// Nothing to send; keep waiting.
    Wait,
    /// The whole file was acknowledged.
    Done,
    /// The transfer ended without success (and why).
    Failed(String),
}

pub struct Transfer {
    data: Vec<u8>,
    opts: Options,
    /// The block last sent (0: the option acknowledgement), counted without wrapping.
    current: u64,
    /// How many blocks the file takes (the last one shorter than a block, maybe empty).
    blocks: u64,
    last: Vec<u8>,
    deadline: Instant,
    tries: u32,
    finished: bool,
}

impl Transfer {
    /// Answer `req` with `data`: the transfer and its first packet (an option acknowledgement
    /// when the client asked for options this server knows, else the first block).
    pub fn start(req: &ReadRequest, data: Vec<u8>, now: Instant) -> (Transfer, Vec<u8>) {
        let mut opts = Options::default();
        let mut acked = BTreeMap::new();
        if let Some(b) = req
            .options
            .get("blksize")
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|b| *b >= 8)
        {
            opts.blksize = b.min(MAX_BLKSIZE);
            acked.insert("blksize".to_owned(), opts.blksize.to_string());
        }
        if let Some(t) = req
            .options
            .get("timeout")
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|t| (1..=255).contains(t))
        {
            opts.timeout = Duration::from_secs(t);
            acked.insert("timeout".to_owned(), t.to_string());
        }
        if req.options.contains_key("tsize") {
            acked.insert("tsize".to_owned(), data.len().to_string());
        }
        let blocks = data.len() as u64 / opts.blksize as u64 + 1;
        let mut t = Transfer {
            data,
            opts,
            current: 0,
            blocks,
            last: Vec::new(),
            deadline: now,
            tries: 0,
            finished: false,
        };
        let first = if acked.is_empty() {
            t.block(1)
        } else {
            Packet::OptionAck(acked).to_bytes()
        };
        t.sent(first.clone(), now);
        (t, first)
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }

    /// When the last packet is to be sent again if unanswered.
    pub fn deadline(&self) -> Option<Instant> {
        (!self.finished).then_some(self.deadline)
    }

    fn block(&mut self, n: u64) -> Vec<u8> {
        let start = ((n - 1) as usize)
            .saturating_mul(self.opts.blksize)
            .min(self.data.len());
        let end = start.saturating_add(self.opts.blksize).min(self.data.len());
        self.current = n;
        Packet::Data {
            block: (n % 65536) as u16,
            data: self.data[start..end].to_vec(),
        }
        .to_bytes()
    }

    fn sent(&mut self, bytes: Vec<u8>, now: Instant) {
        self.last = bytes;
        self.tries = 1;
        self.deadline = now + self.opts.timeout;
    }

    /// A packet from the client.
    pub fn on_packet(&mut self, bytes: &[u8], now: Instant) -> Step {
        if self.finished {
            return Step::Wait;
        }
        match Packet::parse(bytes) {
            Ok(Packet::Ack { block }) if u64::from(block) == self.current % 65536 => {
                if self.current == self.blocks {
                    self.finished = true;
                    return Step::Done;
                }
                let next = self.block(self.current + 1);
                self.sent(next.clone(), now);
                Step::Send(next)
            }
            // A duplicate or late acknowledgement: answering it would double every block from
            // then on (the "Sorcerer's Apprentice" bug, RFC 1123 §4.2.3.1). The timer resends.
            Ok(Packet::Ack { .. }) => Step::Wait,
            Ok(Packet::Error { code, message }) => {
                self.finished = true;
                Step::Failed(format!(
                    "the client ended the transfer: error {code} {message}"
                ))
            }
            Ok(_) => {
                self.finished = true;
                Step::Send(
                    Packet::error(ErrorCode::IllegalOperation, "only acknowledgements here")
                        .to_bytes(),
                )
            }
            Err(_) => Step::Wait,
        }
    }

    /// The deadline passed: send the last packet again, or give up.
    pub fn on_timeout(&mut self, now: Instant) -> Step {
        if self.finished || now < self.deadline {
            return Step::Wait;
        }
        if self.tries >= MAX_TRIES {
            self.finished = true;
            return Step::Failed(format!(
                "no acknowledgement of block {} after {MAX_TRIES} tries",
                self.current
            ));
        }
        self.tries += 1;
        self.deadline = now + self.opts.timeout;
        Step::Send(self.last.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rrq(opts: &[(&str, &str)]) -> ReadRequest {
        ReadRequest {
            filename: "f".into(),
            mode: "octet".into(),
            options: opts
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// Play a perfect client: acknowledge everything; return the file as received.
    fn receive(req: &ReadRequest, data: Vec<u8>) -> (Vec<u8>, usize) {
        let t0 = Instant::now();
        let (mut t, mut pkt) = Transfer::start(req, data, t0);
        let (mut got, mut packets) = (Vec::new(), 0);
        loop {
            packets += 1;
            let ack = match Packet::parse(&pkt).unwrap() {
                Packet::OptionAck(_) => Packet::Ack { block: 0 },
                Packet::Data { block, data } => {
                    got.extend_from_slice(&data);
                    Packet::Ack { block }
                }
                p => panic!("unexpected {p:?}"),
            };
            match t.on_packet(&ack.to_bytes(), t0) {
                Step::Send(next) => pkt = next,
                Step::Done => return (got, packets),
                s => panic!("{s:?}"),
            }
        }
    }

    #[test]
    fn whole_files_arrive_with_and_without_options() {
        let data: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        assert_eq!(
            receive(&rrq(&[]), data.clone()),
            (data.clone(), 10),
            "9 full blocks of 512 and a short one"
        );
        let (got, packets) = receive(&rrq(&[("blksize", "1428"), ("tsize", "0")]), data.clone());
        assert_eq!(
            (got, packets),
            (data.clone(), 1 + 4),
            "the OACK, then 4 blocks"
        );
        // A file of whole blocks ends with an empty block.
        assert_eq!(receive(&rrq(&[]), vec![7; 1024]).1, 3);
        assert_eq!(receive(&rrq(&[]), Vec::new()), (Vec::new(), 1));
    }

    #[test]
    fn options_are_acknowledged_as_agreed() {
        let (t, first) = Transfer::start(
            &rrq(&[
                ("blksize", "100000"),
                ("tsize", "0"),
                ("timeout", "3"),
                ("windowsize", "4"),
            ]),
            vec![0; 1234],
            Instant::now(),
        );
        let Packet::OptionAck(o) = Packet::parse(&first).unwrap() else {
            panic!()
        };
        assert_eq!(o.get("blksize").map(String::as_str), Some("8192"));
        assert_eq!(o.get("tsize").map(String::as_str), Some("1234"));
        assert_eq!(o.get("timeout").map(String::as_str), Some("3"));
        assert!(
            !o.contains_key("windowsize"),
            "unknown options are left out"
        );
        assert_eq!(t.options().timeout, Duration::from_secs(3));
        let (_, first) = Transfer::start(&rrq(&[("blksize", "4")]), vec![0; 10], Instant::now());
        assert!(
            matches!(
                Packet::parse(&first).unwrap(),
                Packet::Data { block: 1, .. }
            ),
            "a block size below 8 is ignored"
        );
    }

    #[test]
    fn block_numbers_roll_over_past_65535() {
        let data = vec![1u8; 8 * 70_000 + 3];
        let (got, packets) = receive(&rrq(&[("blksize", "8")]), data.clone());
        assert_eq!((got.len(), packets), (data.len(), 1 + 70_001));
    }

    #[test]
    fn lost_packets_are_sent_again_then_the_transfer_is_given_up() {
        let t0 = Instant::now();
        let (mut t, first) = Transfer::start(&rrq(&[]), vec![0; 600], t0);
        assert_eq!(t.on_timeout(t0), Step::Wait, "not yet");
        let d = t.deadline().unwrap();
        assert_eq!(t.on_timeout(d), Step::Send(first.clone()));
        // A duplicate of an old acknowledgement is not answered.
        assert_eq!(
            t.on_packet(&Packet::Ack { block: 0 }.to_bytes(), d),
            Step::Wait
        );
        for _ in 0..MAX_TRIES - 2 {
            let d = t.deadline().unwrap();
            assert_eq!(t.on_timeout(d), Step::Send(first.clone()));
        }
        let d = t.deadline().unwrap();
        assert!(matches!(t.on_timeout(d), Step::Failed(_)));
        assert_eq!(t.deadline(), None);
    }

    #[test]
    fn an_error_from_the_client_ends_it() {
        let (mut t, _) = Transfer::start(&rrq(&[("tsize", "0")]), vec![0; 10], Instant::now());
        let e = Packet::error(ErrorCode::OptionRefused, "no").to_bytes();
        assert!(matches!(t.on_packet(&e, Instant::now()), Step::Failed(_)));
    }
}
