//! Phones' credentials under load, as real phones get and use them: each phone fetches its
//! configuration file over HTTP (a new phone's first fetch, which auto-registers it) on a small
//! pool of threads, so the event loop keeps its 10 ms timing; then it answers the registrar's
//! digest challenges with the file's `authName`/`authPassword`.

use selfprov_phone::config_file::{cisco_line, fetch, ConfigServer, Line};
use selfprov_phone::sipmsg::Msg;
use selfprov_sip::digest::{Challenge, DigestClient};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// The User-Agent phones of the load fetch and register with (a known model: auto-registration
/// picks its template).
pub const USER_AGENT: &str = "Cisco-CP8845/14.2.1 selfprov-loadgen";

/// Fetches files on its threads; results come back by phone index.
pub struct Fetcher {
    jobs: mpsc::Sender<(usize, String)>,
    pub results: mpsc::Receiver<(usize, Result<Line, String>)>,
}

/// One phone's file, fetched and read.
pub fn fetch_line(
    server: &ConfigServer,
    device: &str,
    password: Option<&str>,
) -> Result<Line, String> {
    let f = fetch(
        server,
        &format!("{device}.cnf.xml"),
        USER_AGENT,
        password.map(|p| (device, p)),
    )
    .map_err(|e| e.to_string())?;
    cisco_line(&f.body).ok_or_else(|| format!("{}: no line with credentials", f.path))
}

impl Fetcher {
    pub fn start(server: ConfigServer, threads: usize) -> Fetcher {
        let (jobs, rx) = mpsc::channel::<(usize, String)>();
        let (tx, results) = mpsc::channel();
        let rx = Arc::new(Mutex::new(rx));
        for _ in 0..threads {
            let (rx, tx, server) = (rx.clone(), tx.clone(), server.clone());
            std::thread::spawn(move || loop {
                let job = rx
                    .lock()
                    .map_err(|_| ())
                    .and_then(|r| r.recv().map_err(|_| ()));
                let Ok((idx, device)) = job else { return };
                if tx.send((idx, fetch_line(&server, &device, None))).is_err() {
                    return;
                }
            });
        }
        Fetcher { jobs, results }
    }

    /// Fetch `device`'s file for phone `idx`.
    pub fn ask(&self, idx: usize, device: &str) {
        let _ = self.jobs.send((idx, device.to_owned()));
    }
}

/// A phone's digest state: its credentials and the last challenge of each kind it was given
/// (a registrar's 401 and a proxy's 407 — Kamailio challenges REGISTERs with the first and
/// INVITEs with the second, RFC 3261 §22.3).
#[derive(Clone)]
pub struct Auth {
    client: DigestClient,
    www: Option<Challenge>,
    proxy: Option<Challenge>,
}

impl Auth {
    pub fn new(line: &Line) -> Auth {
        Auth {
            client: DigestClient::new(&line.auth_user, &line.password),
            www: None,
            proxy: None,
        }
    }

    /// Learn the first challenge of a 401 or 407 this client can answer; false when there is
    /// none.
    pub fn challenged(&mut self, m: &Msg) -> bool {
        let (name, slot) = match m.status {
            Some(401) => ("www-authenticate", &mut self.www),
            Some(407) => ("proxy-authenticate", &mut self.proxy),
            _ => return false,
        };
        *slot = m
            .headers_named(name)
            .into_iter()
            .find_map(|c| Challenge::parse(c).ok());
        slot.is_some()
    }

    /// `Authorization: …` and `Proxy-Authorization: …` for `method uri` with the last
    /// challenges (their nonces stay good for minutes: later requests carry them at once, as
    /// phones do), for those there were.
    pub fn headers(&mut self, method: &str, uri: &str) -> Vec<String> {
        let mut out = Vec::new();
        for (ch, name) in [
            (&self.www, "Authorization"),
            (&self.proxy, "Proxy-Authorization"),
        ] {
            if let Some(a) = ch
                .as_ref()
                .and_then(|c| self.client.authorize(c, method, uri).ok())
            {
                out.push(format!("{name}: {a}"));
            }
        }
        out
    }
}
