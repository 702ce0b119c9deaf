//! A real PostgreSQL for tests, started by `scripts/pg.sh` (the same script `scripts/test.sh`
//! and `scripts/cluster.sh` use): its own data directory and port on 127.0.0.1, run as the
//! `postgres` user when the tests run as root, stopped by PID when dropped.
//!
//! Tests ask for a [`PgDatabase`]: a fresh, empty database of their own. When the suite runs
//! through `scripts/test.sh`, one server is started for the whole run and named in
//! `SELFPROV_TEST_PG` (its admin URL); each test then only creates a database on it. Without
//! that variable (one test run by hand) the database comes with a private server.

use crate::{free_tcp_port, TempDir};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The variable naming a server shared by the whole test run.
pub const SHARED_SERVER_VAR: &str = "SELFPROV_TEST_PG";

fn pg_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg.sh")
}

/// A running PostgreSQL server.
pub struct PgServer {
    dir: TempDir,
    pid: u32,
    pub port: u16,
}

impl PgServer {
    /// Start a server with test settings (`fsync=off`: test data need not survive a power cut).
    /// Panics (the test fails) with the server's log when it does not come up.
    pub fn start(tag: &str) -> PgServer {
        Self::start_with(tag, &["-c", "fsync=off"])
    }

    /// Start a server with extra `-c name=value` settings.
    pub fn start_with(tag: &str, settings: &[&str]) -> PgServer {
        let dir = TempDir::new(tag);
        let port = free_tcp_port();
        let pid = run_start(&dir, port, settings);
        PgServer { dir, pid, port }
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// URL of `database` on this server, as the superuser `selfprov`.
    pub fn url(&self, database: &str) -> String {
        format!("postgresql://selfprov@127.0.0.1:{}/{database}", self.port)
    }

    /// Fast shutdown (SIGINT) and wait until the process is gone.
    pub fn stop(&mut self) {
        if self.pid != 0 {
            stop_pid(self.pid);
            self.pid = 0;
        }
    }

    /// Start again on the same data directory and port (after [`PgServer::stop`] or a crash).
    pub fn restart(&mut self) {
        self.stop();
        self.pid = run_start(&self.dir, self.port, &["-c", "fsync=off"]);
    }

    /// Crash the server: immediate shutdown (SIGQUIT: every connection cut at once, no
    /// checkpoint, crash recovery at the next start), and wait for it to be gone. Unlike SIGKILL
    /// it leaves no orphaned backends behind.
    pub fn kill(&mut self) {
        if self.pid != 0 {
            let _ = Command::new("kill")
                .args(["-QUIT", &self.pid.to_string()])
                .status();
            wait_gone(self.pid, Duration::from_secs(10));
            self.pid = 0;
        }
    }
}

fn run_start(dir: &TempDir, port: u16, settings: &[&str]) -> u32 {
    let out = Command::new("bash")
        .arg(pg_script())
        .arg("start")
        .arg(dir.path())
        .arg(port.to_string())
        .args(settings)
        .output()
        .expect("running scripts/pg.sh");
    assert!(
        out.status.success(),
        "PostgreSQL did not start (scripts/install-deps.sh installs it): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("scripts/pg.sh start prints the server's PID")
}

fn alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| s.split_whitespace().nth(2) == Some("Z"))
            .unwrap_or(true)
}

fn wait_gone(pid: u32, timeout: Duration) -> bool {
    let end = Instant::now() + timeout;
    while Instant::now() < end {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn stop_pid(pid: u32) {
    let _ = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status();
    if !wait_gone(pid, Duration::from_secs(10)) {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status();
        wait_gone(pid, Duration::from_secs(5));
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A fresh database for one test, dropped with it.
pub struct PgDatabase {
    /// Connection URL of the database.
    pub url: String,
    admin_url: String,
    name: String,
    /// The private server, when there is no shared one.
    server: Option<PgServer>,
}

static SEQ: AtomicU32 = AtomicU32::new(0);

impl PgDatabase {
    /// A new empty database on the run's shared server, or on a private one.
    pub fn new(tag: &str) -> PgDatabase {
        let (server, admin_url) = match std::env::var(SHARED_SERVER_VAR) {
            Ok(url) if !url.is_empty() => (None, url),
            _ => {
                let s = PgServer::start(tag);
                let url = s.url("postgres");
                (Some(s), url)
            }
        };
        let name = format!(
            "t_{}_{}_{}",
            tag.chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .take(20)
                .collect::<String>()
                .to_ascii_lowercase(),
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        );
        admin(&admin_url, &format!("CREATE DATABASE {name}"));
        let url = match admin_url.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("{SHARED_SERVER_VAR} must be a URL ending in /database"),
        };
        PgDatabase {
            url,
            admin_url,
            name,
            server,
        }
    }

    /// The private server behind this database (`None` on the shared one).
    pub fn server(&mut self) -> Option<&mut PgServer> {
        self.server.as_mut()
    }

    /// The rows of a query whose columns are all text (cast them: `dn::text`), for checks on
    /// what a test made.
    pub fn text_rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let mut c = postgres::Client::connect(&self.url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", self.url));
        c.query(sql, &[])
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .iter()
            .map(|r| (0..r.len()).map(|i| r.get(i)).collect())
            .collect()
    }
}

fn admin(url: &str, sql: &str) {
    let mut c = postgres::Client::connect(url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("connecting to the test PostgreSQL {url}: {e}"));
    c.batch_execute(sql)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        if self.server.is_none() {
            if let Ok(mut c) = postgres::Client::connect(&self.admin_url, postgres::NoTls) {
                let _ = c.batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ));
            }
        }
    }
}
