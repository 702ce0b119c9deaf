//! Benchmark: N RTP streams of pre-encoded 20 ms G.711 audio paced by one thread with absolute
//! deadlines, compared with a bare `sendmmsg` loop sending the same packets to the same addresses
//! on the same schedule (the kernel floor), in the same run.
//!
//! `cargo run --release -p selfprov-bench-media -- --streams 5000 --seconds 5`
//!
//! Prints lateness percentiles (how late each 10 ms tick was handled) and CPU per packet of the
//! sending thread for both modes, as Markdown table rows.

use selfprov_media::net::BatchSender;
use selfprov_media::pacer::{Batch, Frames, Pacer, PacerEvent};
use selfprov_media::rtp::OutboundStream;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.windows(2)
        .find(|w| w[0] == name)
        .map(|w| w[1].clone())
        .unwrap_or_else(|| default.to_owned())
}

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: plain syscall writing into ts.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

struct Result {
    packets: u64,
    cpu: Duration,
    lateness_us: Vec<u64>,
}

/// Run the absolute-deadline loop for `seconds`, calling `work(tick)` each 10 ms tick; `work`
/// returns how many packets it sent.
fn paced(seconds: u64, mut work: impl FnMut(u64) -> u64) -> Result {
    let start = Instant::now() + Duration::from_millis(20);
    let ticks = seconds * 100;
    let mut lateness_us = Vec::with_capacity(ticks as usize);
    let mut packets = 0;
    let cpu0 = thread_cpu();
    for tick in 0..ticks {
        let deadline = start + Duration::from_millis(tick * 10);
        let now = Instant::now();
        if deadline > now {
            std::thread::sleep(deadline - now);
        }
        lateness_us.push(
            Instant::now()
                .saturating_duration_since(deadline)
                .as_micros() as u64,
        );
        packets += work(tick);
    }
    Result {
        packets,
        cpu: thread_cpu() - cpu0,
        lateness_us,
    }
}

fn pct(v: &mut [u64], p: f64) -> u64 {
    v.sort_unstable();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let streams: usize = arg(&args, "--streams", "5000")
        .parse()
        .expect("--streams N");
    let seconds: u64 = arg(&args, "--seconds", "5").parse().expect("--seconds S");

    // Sinks: a few receiving sockets drained by one thread, so the kernel does the full delivery
    // work (a socket nobody reads would drop early and flatter both modes).
    let sinks: Vec<UdpSocket> = (0..4)
        .map(|_| UdpSocket::bind("127.0.0.1:0").expect("bind sink"))
        .collect();
    let dests: Vec<SocketAddr> = sinks.iter().map(|s| s.local_addr().unwrap()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let received = Arc::new(AtomicU64::new(0));
    let drain = {
        let stop = stop.clone();
        let received = received.clone();
        std::thread::spawn(move || {
            for s in &sinks {
                s.set_nonblocking(true).unwrap();
            }
            let mut buf = [0u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                let mut any = false;
                for s in &sinks {
                    while s.recv(&mut buf).is_ok() {
                        received.fetch_add(1, Ordering::Relaxed);
                        any = true;
                    }
                }
                if !any {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
        })
    };

    let audio: Arc<dyn Frames> = Arc::new(
        (0..500)
            .map(|i| vec![(i % 251) as u8; 160].into_boxed_slice())
            .collect::<Vec<_>>(),
    );
    let tx = UdpSocket::bind("127.0.0.1:0").expect("bind tx");
    let mut sender = BatchSender::new();

    // 1. Floor: the same packets, prebuilt once, sent on the same schedule.
    let mut pre = Pacer::new();
    for i in 0..streams {
        let id = pre.add(
            OutboundStream::new(0, 160),
            dests[i % dests.len()],
            20,
            None,
        );
        pre.enqueue(id, audio.clone(), 0);
    }
    let mut prebuilt = [Batch::with_capacity(streams), Batch::with_capacity(streams)];
    let mut ev = Vec::new();
    pre.tick(0, &mut prebuilt[0], &mut ev);
    pre.tick(1, &mut prebuilt[1], &mut ev);
    let floor = paced(seconds, |tick| {
        sender
            .send(&tx, &prebuilt[(tick % 2) as usize])
            .unwrap_or(0) as u64
    });

    // 2. The pacer: builds every packet (header + payload copy) each tick, then sends.
    let mut pacer = Pacer::new();
    for i in 0..streams {
        let id = pacer.add(
            OutboundStream::new(0, 160),
            dests[i % dests.len()],
            20,
            None,
        );
        pacer.enqueue(id, audio.clone(), 0);
    }
    let mut batch = Batch::with_capacity(streams);
    let mut events: Vec<PacerEvent> = Vec::new();
    let mut build_ns = 0u128;
    let engine = paced(seconds, |tick| {
        batch.clear();
        events.clear();
        let t = Instant::now();
        pacer.tick(tick, &mut batch, &mut events);
        build_ns += t.elapsed().as_nanos();
        sender.send(&tx, &batch).unwrap_or(0) as u64
    });

    // 3. One socket per stream (a port per call), one sendto per packet: what per-call ports cost.
    let per_call: Vec<UdpSocket> = (0..streams)
        .filter_map(|_| UdpSocket::bind("127.0.0.1:0").ok())
        .collect();
    let per_socket = if per_call.len() == streams {
        let mut pacer = Pacer::new();
        for i in 0..streams {
            let id = pacer.add(
                OutboundStream::new(0, 160),
                dests[i % dests.len()],
                20,
                None,
            );
            pacer.enqueue(id, audio.clone(), 0);
        }
        let mut batch = Batch::with_capacity(streams);
        let mut events: Vec<PacerEvent> = Vec::new();
        let phase_streams: [Vec<usize>; 2] = [
            (0..streams).filter(|i| i % 2 == 0).collect(),
            (0..streams).filter(|i| i % 2 == 1).collect(),
        ];
        Some(paced(seconds, |tick| {
            batch.clear();
            events.clear();
            pacer.tick(tick, &mut batch, &mut events);
            let owners = &phase_streams[(tick % 2) as usize];
            let mut n = 0;
            for i in 0..batch.len() {
                let (pkt, to) = batch.packet(i);
                if per_call[owners[i]].send_to(pkt, to).is_ok() {
                    n += 1;
                }
            }
            n
        }))
    } else {
        eprintln!("could not open {streams} sockets (ulimit -n); skipping the per-socket mode");
        None
    };
    stop.store(true, Ordering::Relaxed);
    let _ = drain.join();

    println!(
        "streams={streams} seconds={seconds} received_by_sinks={}",
        received.load(Ordering::Relaxed)
    );
    println!("| mode | packets | packets/s | CPU µs/packet | lateness p50 | p99 | max |");
    println!("|---|---|---|---|---|---|---|");
    let mut rows = vec![
        ("bare sendmmsg, shared socket (floor)", floor),
        ("selfprov pacer, shared socket, sendmmsg", engine),
    ];
    if let Some(r) = per_socket {
        rows.push(("selfprov pacer, socket per call, sendto", r));
    }
    for (name, mut r) in rows {
        let per = r.cpu.as_secs_f64() * 1e6 / r.packets.max(1) as f64;
        let (p50, p99, max) = (
            pct(&mut r.lateness_us, 0.5),
            pct(&mut r.lateness_us, 0.99),
            pct(&mut r.lateness_us, 1.0),
        );
        println!(
            "| {name} | {} | {:.0} | {per:.2} | {:.2} ms | {:.2} ms | {:.2} ms |",
            r.packets,
            r.packets as f64 / seconds as f64,
            p50 as f64 / 1000.0,
            p99 as f64 / 1000.0,
            max as f64 / 1000.0
        );
    }
    println!(
        "pacer packet building alone: {:.3} µs/packet",
        build_ns as f64 / 1000.0 / (streams as f64 * 50.0 * seconds as f64)
    );
}
