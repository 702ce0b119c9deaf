//! Helpers for tests that run real processes (selfprov, SIPp, Kamailio, baresip) on loopback.
//!
//! - [`ChildGuard`] owns a child process and kills + reaps it by PID on drop, also when the test
//!   panics, so nothing is left running after the suite.
//! - [`free_udp_port`] / [`free_tcp_port`] reserve ports below the kernel's ephemeral range, so
//!   parallel tests and the OS's own port picks never collide ([`ports`]).
//! - [`LineWatcher`] collects a child's output lines and waits for one that matches, instead of
//!   sleeping.
//! - [`require_tool`] finds a peer program or fails with the command that installs it;
//!   [`sipp_command`] starts a SIPp command line with the options every test uses.
//! - [`kamailio::Kamailio`] runs a real Kamailio from a configuration kept in the repository.
//! - [`postgres::PgDatabase`] gives a test a fresh database on a real PostgreSQL.
//! - [`pki::Authority`] issues certificates for TLS tests (openssl command line).

pub mod kamailio;
pub mod pki;
pub mod ports;
pub mod postgres;

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// A child process that is killed (SIGKILL) and waited for when dropped.
pub struct ChildGuard {
    child: Option<Child>,
    name: String,
}

impl ChildGuard {
    pub fn new(name: impl Into<String>, child: Child) -> Self {
        ChildGuard {
            child: Some(child),
            name: name.into(),
        }
    }

    /// Spawn `cmd` and guard it.
    pub fn spawn(name: impl Into<String>, cmd: &mut Command) -> std::io::Result<Self> {
        let name = name.into();
        let child = cmd
            .spawn()
            .map_err(|e| std::io::Error::new(e.kind(), format!("could not start {name}: {e}")))?;
        Ok(ChildGuard::new(name, child))
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    pub fn child_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("child already taken")
    }

    /// Send a signal (e.g. `libc::SIGTERM` = 15, SIGHUP = 1) to the child by PID.
    pub fn signal(&self, sig: i32) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .arg(format!("-{sig}"))
                .arg(c.id().to_string())
                .status();
        }
    }

    /// Wait for the child to exit by itself, up to `timeout`. Returns its exit status.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        let child = self.child.as_mut()?;
        loop {
            match child.try_wait() {
                Ok(Some(st)) => return Some(st),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                _ => return None,
            }
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            if let Ok(None) = c.try_wait() {
                let _ = c.kill();
            }
            let _ = c.wait();
        }
    }
}

/// A UDP port on 127.0.0.1, free and reserved for this test process (see [`ports`]).
pub fn free_udp_port() -> u16 {
    ports::reserve(ports::udp_free)
}

/// An even UDP port on 127.0.0.1 (an RTP range starts on one), free and reserved.
pub fn free_even_udp_port() -> u16 {
    ports::reserve(|p| p % 2 == 0 && ports::udp_free(p))
}

/// A TCP port on 127.0.0.1, free and reserved for this test process.
pub fn free_tcp_port() -> u16 {
    ports::reserve(ports::tcp_free)
}

/// A port free for both UDP and TCP on 127.0.0.1 (SIP listens on both), reserved.
pub fn free_udp_tcp_port() -> u16 {
    ports::reserve(|p| ports::udp_free(p) && ports::tcp_free(p))
}

/// Path of a peer program, or a panic that says how to install it.
pub fn require_tool(program: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in
        std::env::split_paths(&path).chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
    {
        let p = dir.join(program);
        if p.is_file() {
            return p;
        }
    }
    panic!("`{program}` is not installed: run scripts/install-deps.sh (the README's test command does)");
}

/// SIPp against `target` (host:port), run in `dir` (where it writes its logs), with what every
/// test passes: 127.0.0.1, free signalling and media ports, no keyboard, a call that lasts longer
/// than `call_timeout` counts as failed, and errors traced (`<scenario>_errors.log`). Add the
/// scenario, `-s`, `-m`... and spawn it.
pub fn sipp_command(dir: &std::path::Path, target: &str, call_timeout: Duration) -> Command {
    let mut c = Command::new(require_tool("sipp"));
    c.current_dir(dir)
        .arg(target)
        .args([
            "-i",
            "127.0.0.1",
            "-nostdin",
            "-timeout_error",
            "-trace_err",
        ])
        .args(["-timeout", &format!("{}s", call_timeout.as_secs())])
        .args(["-p", &free_udp_port().to_string()])
        .args(["-mp", &free_udp_port().to_string()]);
    c
}

/// Collects the lines a reader produces (on a thread) and lets a test wait for a matching line.
/// Once the reader is closed (the process exited), a wait for a line that has not come returns
/// at once instead of running out its time.
#[derive(Clone)]
pub struct LineWatcher {
    inner: Arc<(Mutex<Lines>, Condvar)>,
}

#[derive(Default)]
struct Lines {
    lines: Vec<String>,
    closed: bool,
}

impl LineWatcher {
    /// Start reading `r` line by line on a background thread. Lines are also echoed to stderr
    /// with `prefix` so a failing test shows what the process said.
    pub fn start(prefix: &str, r: impl Read + Send + 'static) -> Self {
        let w = LineWatcher {
            inner: Arc::new((Mutex::new(Lines::default()), Condvar::new())),
        };
        let w2 = w.clone();
        let prefix = prefix.to_owned();
        std::thread::spawn(move || {
            let (m, cv) = &*w2.inner;
            for line in BufReader::new(r).lines() {
                let Ok(line) = line else { break };
                eprintln!("[{prefix}] {line}");
                m.lock().unwrap().lines.push(line);
                cv.notify_all();
            }
            m.lock().unwrap().closed = true;
            cv.notify_all();
        });
        w
    }

    /// Wait until a line containing `needle` appears; returns it, or None on timeout.
    pub fn wait_for(&self, needle: &str, timeout: Duration) -> Option<String> {
        self.wait_for_match(|l| l.contains(needle), timeout)
    }

    pub fn wait_for_match(&self, f: impl Fn(&str) -> bool, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let (m, cv) = &*self.inner;
        let mut state = m.lock().unwrap();
        let mut seen = 0;
        loop {
            if let Some(l) = state.lines[seen..].iter().find(|l| f(l)) {
                return Some(l.clone());
            }
            seen = state.lines.len();
            let now = Instant::now();
            if now >= deadline || state.closed {
                return None;
            }
            state = cv.wait_timeout(state, deadline - now).unwrap().0;
        }
    }

    /// Wait until `n` lines containing `needle` have appeared; false on timeout.
    pub fn wait_for_count(&self, needle: &str, n: usize, timeout: Duration) -> bool {
        let seen = std::cell::Cell::new(0);
        self.wait_for_match(
            |l| {
                if l.contains(needle) {
                    seen.set(seen.get() + 1);
                }
                seen.get() >= n
            },
            timeout,
        )
        .is_some()
    }

    /// All lines so far.
    pub fn lines(&self) -> Vec<String> {
        self.inner.0.lock().unwrap().lines.clone()
    }
}

/// Spawn `cmd` with piped stdout/stderr, both watched.
pub fn spawn_watched(
    name: &str,
    cmd: &mut Command,
) -> std::io::Result<(ChildGuard, LineWatcher, LineWatcher)> {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    let mut g = ChildGuard::spawn(name, cmd)?;
    let out = g.child_mut().stdout.take().expect("piped stdout");
    let err = g.child_mut().stderr.take().expect("piped stderr");
    let wo = LineWatcher::start(&format!("{name}:out"), out);
    let we = LineWatcher::start(&format!("{name}:err"), err);
    Ok((g, wo, we))
}

/// A fresh temporary directory removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> Self {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("selfprov-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
    pub fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
