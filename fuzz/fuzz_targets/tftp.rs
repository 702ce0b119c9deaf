#![no_main]
//! Any datagram to the TFTP server: the packet parser never panics and our own encoding of what
//! it parsed parses to the same packet; a transfer fed any packets never panics, never sends more
//! than a block, and ends by its timeouts.
use libfuzzer_sys::fuzz_target;
use selfprov_tftp::packet::{Packet, ReadRequest};
use selfprov_tftp::transfer::{Step, Transfer};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = Packet::parse(data) {
        assert_eq!(Packet::parse(&p.to_bytes()).as_ref(), Ok(&p), "round trip");
    }
    // The first byte picks the options, the rest (split at 0xff) are the client's packets.
    let (pick, rest) = data.split_first().unwrap_or((&0, &[]));
    let mut options = BTreeMap::new();
    if pick & 1 == 1 {
        options.insert(
            "blksize".to_owned(),
            ((*pick as usize) * 37 % 9000).to_string(),
        );
    }
    if pick & 2 == 2 {
        options.insert("tsize".to_owned(), "0".to_owned());
    }
    if pick & 4 == 4 {
        options.insert("timeout".to_owned(), (pick / 8).to_string());
    }
    let req = ReadRequest {
        filename: "SEP001122334455.cnf.xml".into(),
        mode: "octet".into(),
        options,
    };
    let now = Instant::now();
    let (mut t, first) = Transfer::start(&req, vec![b'x'; 3000 + *pick as usize], now);
    let limit = t.options().blksize + 4;
    assert!(first.len() <= limit.max(512 + 4));
    for chunk in rest.split(|b| *b == 0xff) {
        if let Step::Send(b) = t.on_packet(chunk, now) {
            assert!(b.len() <= limit, "{} > {limit}", b.len());
        }
    }
    // Finished, or ended by its timeouts: then it waits for nothing more.
    let mut at = now;
    for _ in 0..20 {
        if t.deadline().is_none() {
            return;
        }
        at += Duration::from_secs(300);
        t.on_timeout(at);
    }
    panic!("the transfer did not end by its timeouts");
});
