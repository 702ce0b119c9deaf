#![no_main]
//! Any datagram into the SIP endpoint: never a panic, never a hung transaction (timers drain).
use libfuzzer_sys::fuzz_target;
use selfprov_sip::endpoint::{Endpoint, EndpointConfig, Peer};
use std::time::{Duration, Instant};

fuzz_target!(|data: &[u8]| {
    let _ = selfprov_sip::message::parse(data);
    let mut ep = Endpoint::new(EndpointConfig {
        advertised: "127.0.0.1:5060".into(),
        listen: None,
        tls_listen: None,
        user_agent: "fuzz".into(),
        route_point_dns: vec!["2000".into()],
        max_calls: 4,
        timers: Default::default(),
    });
    let peer = Peer::udp("127.0.0.1:5070".parse().unwrap());
    let now = Instant::now();
    ep.handle(data, peer, now);
    while ep.poll_output().is_some() {}
    // Whatever arrived, transactions end by themselves (calls left unanswered stay as dialogs).
    ep.handle_timeout(now + Duration::from_secs(120));
    ep.handle_timeout(now + Duration::from_secs(240));
    while ep.poll_output().is_some() {}
});
