//! The engine on loopback: playback, digits, strays, latching, nothing before the ACK.
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
        latching: Latching::Strict,
        await_confirm: false,
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
        latching: Latching::Nat {
            ip: "127.0.0.1".parse().unwrap(),
        },
        await_confirm: false,
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

fn spec(remote: SocketAddr, latching: Latching, await_confirm: bool) -> StreamSpec {
    StreamSpec {
        codec: Codec::Pcmu,
        payload_type: 0,
        ptime_ms: 20,
        remote,
        telephone_event_pt: Some(101),
        idle: None,
        latching,
        await_confirm,
    }
}

fn wait_for(what: impl Fn() -> bool) {
    let t0 = Instant::now();
    while !what() {
        assert!(t0.elapsed() < Duration::from_secs(3), "timed out");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn strict_a_stranger_on_the_callers_ip_changes_nothing() {
    let (etx, erx) = mpsc::channel();
    let engine = MediaEngine::start("127.0.0.1:0".parse().unwrap(), etx).unwrap();
    let rtp_port = engine.local_addr();
    let caller = UdpSocket::bind("127.0.0.1:0").unwrap();
    caller
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    stranger
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let remote = caller.local_addr().unwrap();
    engine.send(MediaCommand::Add {
        call: 3,
        spec: spec(remote, Latching::Strict, false),
    });
    // The caller is silent; the stranger presses 1 from the same IP.
    for (i, end) in [false, true, true, true].iter().enumerate() {
        stranger
            .send_to(&event_packet(i as u16, 800, 1, *end, 160), rtp_port)
            .unwrap();
    }
    wait_for(|| engine.counters.dropped.load(Ordering::Relaxed) == 4);
    engine.send(MediaCommand::Play {
        call: 3,
        audio: frames(5),
        tag: 1,
    });
    let mut buf = [0u8; 2048];
    assert!(
        caller.recv_from(&mut buf).is_ok(),
        "media still goes to the caller"
    );
    assert!(
        stranger.recv_from(&mut buf).is_err(),
        "none to the stranger"
    );
    assert_eq!(
        erx.recv_timeout(Duration::from_secs(3)).unwrap(),
        MediaEvent::PlaybackFinished { call: 3, tag: 1 },
        "and no digit came before"
    );
    // The caller's own digit counts.
    for (i, end) in [false, true, true, true].iter().enumerate() {
        caller
            .send_to(&event_packet(i as u16, 900, 7, *end, 160), rtp_port)
            .unwrap();
    }
    match erx.recv_timeout(Duration::from_secs(3)).unwrap() {
        MediaEvent::Digit { digit, .. } => assert_eq!(digit.as_char(), '7'),
        other => panic!("{other:?}"),
    }
}

#[test]
fn nothing_is_sent_before_the_call_is_confirmed() {
    let (etx, _erx) = mpsc::channel();
    let engine = MediaEngine::start("127.0.0.1:0".parse().unwrap(), etx).unwrap();
    let target = UdpSocket::bind("127.0.0.1:0").unwrap();
    target
        .set_read_timeout(Some(Duration::from_millis(400)))
        .unwrap();
    let mut s = spec(target.local_addr().unwrap(), Latching::Strict, true);
    s.idle = Some(Arc::from(vec![0xFFu8; 160]));
    engine.send(MediaCommand::Add { call: 5, spec: s });
    engine.send(MediaCommand::Play {
        call: 5,
        audio: frames(50),
        tag: 1,
    });
    let mut buf = [0u8; 2048];
    assert!(target.recv_from(&mut buf).is_err(), "no RTP before the ACK");
    assert_eq!(engine.counters.sent.load(Ordering::Relaxed), 0);
    // Held and confirmed: still nothing; resumed: media.
    engine.send(MediaCommand::Hold {
        call: 5,
        held: true,
    });
    engine.send(MediaCommand::Confirm { call: 5 });
    assert!(target.recv_from(&mut buf).is_err(), "held");
    engine.send(MediaCommand::Hold {
        call: 5,
        held: false,
    });
    target
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();
    assert!(target.recv_from(&mut buf).is_ok(), "media after the ACK");
}

#[test]
fn nat_mode_rebinding_with_the_same_ssrc_moves_media_a_new_ssrc_does_not() {
    let (etx, _erx) = mpsc::channel();
    let engine = MediaEngine::start("127.0.0.1:0".parse().unwrap(), etx).unwrap();
    let rtp_port = engine.local_addr();
    let first = UdpSocket::bind("127.0.0.1:0").unwrap();
    let rebound = UdpSocket::bind("127.0.0.1:0").unwrap();
    let stranger = UdpSocket::bind("127.0.0.1:0").unwrap();
    for s in [&first, &rebound, &stranger] {
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
    }
    let nat = Latching::Nat {
        ip: "127.0.0.1".parse().unwrap(),
    };
    engine.send(MediaCommand::Add {
        call: 1,
        spec: spec("127.0.0.1:9".parse().unwrap(), nat, false),
    });
    let pkt = |ssrc: u8| [0x80, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, ssrc, 0xFF, 0xFF];
    first.send_to(&pkt(9), rtp_port).unwrap();
    wait_for(|| engine.counters.received.load(Ordering::Relaxed) == 1);
    stranger.send_to(&pkt(4), rtp_port).unwrap();
    wait_for(|| engine.counters.dropped.load(Ordering::Relaxed) == 1);
    rebound.send_to(&pkt(9), rtp_port).unwrap();
    wait_for(|| engine.counters.received.load(Ordering::Relaxed) == 2);
    engine.send(MediaCommand::Play {
        call: 1,
        audio: frames(20),
        tag: 1,
    });
    let mut buf = [0u8; 2048];
    assert!(
        rebound.recv_from(&mut buf).is_ok(),
        "media follows the SSRC"
    );
    assert!(stranger.recv_from(&mut buf).is_err());
    assert!(first.recv_from(&mut buf).is_err());
}
