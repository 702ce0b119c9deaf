//! Ports for tests that must name a port before a process binds it (selfprov's listeners,
//! Kamailio, baresip, SIPp).
//!
//! Asking the OS for port 0 and handing the number on is racy: the port comes from the kernel's
//! ephemeral range, where every outgoing connection and every other `bind(0)` takes ports too, so
//! between the check and the real bind the port is often gone (two CI runs failed that way). Ports
//! here come from below that range, where the kernel never hands out ports on its own, and each
//! is reserved across the test processes running at the same time: a lock on a file named for the
//! port, held until this process exits (nextest runs each test in its own process).

use std::fs::File;
use std::net::{TcpListener, UdpSocket};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Where tests take ports: below the kernel's ephemeral range (32768–60999 on Linux). PostgreSQL
/// started by `scripts/pg.sh auto` also listens somewhere here: the bind check passes it over.
const FIRST: u16 = 10_000;
const LAST: u16 = 32_000;

/// The lock files this process holds (a port stays reserved while its file is locked).
static HELD: Mutex<Vec<File>> = Mutex::new(Vec::new());

/// Whether a UDP socket can bind `port` on 127.0.0.1 right now.
pub fn udp_free(port: u16) -> bool {
    UdpSocket::bind(("127.0.0.1", port)).is_ok()
}

/// Whether a TCP listener can bind `port` on 127.0.0.1 right now.
pub fn tcp_free(port: u16) -> bool {
    TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A port for which `usable` holds, reserved for this process: no other test process gets it
/// from here until this one exits.
pub fn reserve(usable: impl Fn(u16) -> bool) -> u16 {
    let dir = std::env::temp_dir().join("selfprov-test-ports");
    std::fs::create_dir_all(&dir).expect("create the test ports' lock directory");
    let span = u32::from(LAST - FIRST) + 1;
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
        ^ std::process::id().wrapping_mul(2_654_435_761);
    for i in 0..span {
        let port = FIRST + ((seed.wrapping_add(i.wrapping_mul(7_919))) % span) as u16;
        let Ok(file) = File::create(dir.join(port.to_string())) else {
            continue;
        };
        // Locked by another test process, or by this one already.
        if file.try_lock().is_err() {
            continue;
        }
        if usable(port) {
            HELD.lock().unwrap_or_else(|e| e.into_inner()).push(file);
            return port;
        }
    }
    panic!("no free port between {FIRST} and {LAST} on 127.0.0.1");
}
