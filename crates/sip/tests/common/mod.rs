//! Shared by the sip crate's tests against real peers: the stack started in-process on
//! OS-chosen ports with a small application (answers with a real SDP answer, and per DN: holds a
//! call unanswered, rings and holds it, or hangs up once the call is confirmed), SIPp run as a
//! child process against an address, and the stack's tables checked empty afterwards.
#![allow(dead_code)]

use selfprov_sip::endpoint::{EndpointConfig, Event};
use selfprov_sip::rate_limit::RequestLimits;
use selfprov_sip::sdp;
use selfprov_sip::stack::{Command, SipStack, TlsSetup};
use selfprov_sip::tcp_limits::TcpLimits;
use selfprov_sip::tls::{client_config, server_config, Certificate};
use selfprov_sip::transaction::TimerValues;
use selfprov_testkit::pki::Authority;
use selfprov_testkit::{sipp_command, spawn_watched, TempDir};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// Calls to this DN stay unanswered (no 180).
pub const UNANSWERED: &str = "2999";
/// Calls to this DN ring (180) and stay unanswered.
pub const RINGING: &str = "2997";
/// Calls to this DN are answered and hung up by us (BYE) once confirmed.
pub const WE_HANG_UP: &str = "2998";

/// A SIPp scenario of this crate's tests.
pub fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(name)
}

/// A scenario or configuration shared by the repository's tests (`tests/` at the root).
pub fn shared(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests")
        .join(path)
}

#[derive(Default)]
pub struct Seen {
    pub events: Vec<Event>,
}

impl Seen {
    /// A copy of what the app saw so far (no lock held while the test goes on).
    pub fn snapshot(shared: &Mutex<Seen>) -> Seen {
        Seen {
            events: shared.lock().unwrap().events.clone(),
        }
    }

    pub fn count(&self, f: impl Fn(&Event) -> bool) -> usize {
        self.events.iter().filter(|e| f(e)).count()
    }
}

/// SIP over TLS on any free port, with a certificate for 127.0.0.1 issued by a new test
/// authority in `dir`, trusting that authority for the peers we connect to.
pub fn tls_setup(dir: &std::path::Path) -> (TlsSetup, Authority) {
    let authority = Authority::new(dir, "sip");
    let ours = authority.issue("selfprov", "127.0.0.1");
    let config = server_config(&ours.certificate, &ours.key).unwrap();
    let setup = TlsSetup {
        listen: "127.0.0.1:0".parse().unwrap(),
        certificate: Certificate::new(Arc::new(config)),
        client: client_config(Some(&authority.certificate)).unwrap(),
    };
    (setup, authority)
}

/// Start the stack and the test application; returns the stack and what the app saw.
pub async fn start(max_calls: usize) -> (SipStack, Arc<Mutex<Seen>>) {
    start_with(max_calls, TcpLimits::default(), None).await
}

/// [`start`] with these connection limits and SIP over TLS.
pub async fn start_with(
    max_calls: usize,
    limits: TcpLimits,
    tls: Option<TlsSetup>,
) -> (SipStack, Arc<Mutex<Seen>>) {
    let cfg = EndpointConfig {
        advertised: String::new(),
        listen: None,
        tls_listen: None,
        user_agent: "selfprov-test".into(),
        route_point_dns: ["2000", UNANSWERED, RINGING, WE_HANG_UP]
            .map(String::from)
            .to_vec(),
        max_calls,
        // Short timers so transactions drain within the test.
        timers: TimerValues {
            t1: Duration::from_millis(50),
            t2: Duration::from_millis(400),
            t4: Duration::from_millis(500),
        },
    };
    let (etx, mut erx) = mpsc::unbounded_channel();
    let stack = SipStack::start_with(
        "127.0.0.1:0".parse().unwrap(),
        cfg,
        etx,
        limits,
        RequestLimits::off(),
        tls,
    )
    .await
    .unwrap();
    let seen = Arc::new(Mutex::new(Seen::default()));
    let cmds = stack.commands.clone();
    let s2 = seen.clone();
    tokio::spawn(async move {
        let codecs = [sdp::SdpCodec::Pcmu, sdp::SdpCodec::Pcma];
        let local: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let mut version = 1;
        let mut hang_up = HashSet::new();
        let answer = |offer: &[u8], version: u64| {
            sdp::parse(offer)
                .ok()
                .and_then(|o| sdp::answer(&o, &codecs, local, 20, 1, version).ok())
        };
        while let Some(ev) = erx.recv().await {
            match &ev {
                Event::IncomingCall {
                    call_id, to_user, ..
                } if to_user == UNANSWERED => {
                    let _ = call_id;
                }
                Event::IncomingCall {
                    call_id, to_user, ..
                } if to_user == RINGING => {
                    cmds.send(Command::Ring {
                        call_id: call_id.clone(),
                    })
                    .unwrap();
                }
                Event::IncomingCall {
                    call_id,
                    to_user,
                    sdp: offer,
                    ..
                } => {
                    if to_user == WE_HANG_UP {
                        hang_up.insert(call_id.clone());
                    }
                    version += 1;
                    match answer(offer, version) {
                        Some((_, a)) => cmds
                            .send(Command::Answer {
                                call_id: call_id.clone(),
                                sdp: a.into_bytes(),
                            })
                            .unwrap(),
                        None => cmds
                            .send(Command::Reject {
                                call_id: call_id.clone(),
                                status: 488,
                                reason: "Not Acceptable Here".into(),
                                extra_headers: "Warning: 305 selfprov \"no common codec\"\r\n"
                                    .into(),
                            })
                            .unwrap(),
                    }
                }
                Event::CallConfirmed { call_id } if hang_up.remove(call_id) => {
                    cmds.send(Command::Hangup {
                        call_id: call_id.clone(),
                    })
                    .unwrap();
                }
                Event::Reinvite {
                    call_id,
                    sdp: offer,
                } => {
                    version += 1;
                    if let Some((_, a)) = answer(offer, version) {
                        cmds.send(Command::Answer {
                            call_id: call_id.clone(),
                            sdp: a.into_bytes(),
                        })
                        .unwrap();
                    }
                }
                _ => {}
            }
            s2.lock().unwrap().events.push(ev);
        }
    });
    (stack, seen)
}

/// How SIPp is run: where it sends, which scenario, over which transport, how many calls to
/// which service (Request-URI user).
pub struct Sipp<'a> {
    pub to: SocketAddr,
    pub scenario: &'a [&'a str],
    pub tcp: bool,
    pub calls: u32,
    pub service: &'a str,
}

impl Sipp<'_> {
    /// Run SIPp to the end; true when every call succeeded (its error trace printed if not).
    pub fn run(&self) -> bool {
        let dir = TempDir::new("sipp");
        let mut cmd = sipp_command(dir.path(), &self.to.to_string(), Duration::from_secs(15));
        cmd.args(self.scenario).args([
            "-s",
            self.service,
            "-m",
            &self.calls.to_string(),
            "-r",
            "50",
        ]);
        if self.tcp {
            cmd.args(["-t", "t1"]);
        }
        let (mut child, _out, _err) = spawn_watched("sipp", &mut cmd).unwrap();
        let status = child
            .wait_timeout(Duration::from_secs(30))
            .expect("sipp did not finish in 30 s");
        if !status.success() {
            for f in std::fs::read_dir(dir.path()).unwrap().flatten() {
                eprintln!(
                    "--- {}:\n{}",
                    f.path().display(),
                    std::fs::read_to_string(f.path()).unwrap_or_default()
                );
            }
        }
        status.success()
    }
}

/// Run SIPp against the stack itself, calling `service`; true when every call succeeded.
pub fn sipp_to(
    stack: &SipStack,
    scenario_args: &[&str],
    transport_tcp: bool,
    calls: u32,
    service: &str,
) -> bool {
    Sipp {
        to: stack.local,
        scenario: scenario_args,
        tcp: transport_tcp,
        calls,
        service,
    }
    .run()
}

/// Run SIPp against the stack, calling 2000.
pub fn sipp(stack: &SipStack, scenario_args: &[&str], transport_tcp: bool, calls: u32) -> bool {
    sipp_to(stack, scenario_args, transport_tcp, calls, "2000")
}

pub async fn tables(stack: &SipStack) -> (usize, usize, usize) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    stack.commands.send(Command::Tables(tx)).unwrap();
    rx.await.unwrap()
}

/// Wait (bounded) until every transaction and dialog is gone.
pub async fn drained(stack: &SipStack) -> (usize, usize, usize) {
    for _ in 0..100 {
        let t = tables(stack).await;
        if t == (0, 0, 0) {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tables(stack).await
}

/// A second handle on a running stack (to move into a blocking task).
pub fn handle(stack: &SipStack) -> SipStack {
    SipStack {
        local: stack.local,
        tls_local: stack.tls_local,
        commands: stack.commands.clone(),
    }
}
