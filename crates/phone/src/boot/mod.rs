//! `selfprov phone --boot VENDOR`: the test phone boots as that vendor's phone does — fetches its
//! files in the vendor's order (`vendor`; Cisco over TFTP first, `tftp_client`), digest once it has credentials, reads where to
//! register and its line from them, registers, optionally claims through the route point (the
//! call is `crate::call::run`'s) or on screen through the idle URL its file gives (`screen`),
//! then follows NOTIFY check-sync: fetches again and registers on the line the files now give,
//! reporting each step (`report`).

mod answer;
mod report;
mod screen;
pub mod vendor;

pub use report::{BootReport, Step};
pub use screen::ScreenLogin;
pub use vendor::Vendor;

use crate::call::{register, PhoneError, PhoneOptions};
use crate::config_file::{fetch, ConfigServer, FetchError};
use crate::recognize::Recognizer;
use crate::sipmsg::{mac_of, token, Identity, Msg};
use selfprov_sip::digest::DigestClient;
use std::collections::{HashSet, VecDeque};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use vendor::{Learned, Registrar};

/// A boot: the phone (`phone.device` is `SEP<MAC>`; `phone.config_server` where its files are;
/// `phone.script` the digits of a claim, none: no claim) and how many check-syncs to follow.
pub struct BootOptions {
    pub vendor: Vendor,
    pub phone: PhoneOptions,
    /// Check-syncs to follow (the claim's counts) before stopping.
    pub syncs: u32,
    /// The longest wait for each of them.
    pub sync_wait: Duration,
    /// The TFTP server, for vendors whose phones fetch over TFTP first (Cisco).
    pub tftp: Option<SocketAddr>,
    /// Once registered (claim and check-syncs done), wait this long for a call on the line and
    /// answer it (`None`: stop at once).
    pub answer: Option<Duration>,
    /// Claim on screen with this user ID and PIN (the idle URL of the phone's file) instead of
    /// calling the route point.
    pub screen: Option<ScreenLogin>,
}

/// Boot, claim if asked, follow check-syncs; `on_step` sees each step as it happens.
pub async fn boot(
    opts: &BootOptions,
    recognizer: &mut Recognizer,
    on_step: &mut dyn FnMut(&Step),
) -> Result<BootReport, PhoneError> {
    let p = &opts.phone;
    let server = p
        .config_server
        .clone()
        .ok_or_else(|| FetchError::Url("no configuration server".into()))?;
    let mac = mac_of(&p.device)
        .ok_or_else(|| PhoneError::Register(format!("{}: not SEP<MAC>", p.device)))?
        .to_owned();
    let ua = opts.vendor.user_agent(&mac);
    let sip = UdpSocket::bind((p.bind, 0)).await?;
    let tag = token();
    let mut report = BootReport {
        vendor: opts.vendor,
        device: p.device.clone(),
        steps: Vec::new(),
        dn: None,
        check_syncs: 0,
        outcome: String::new(),
    };
    let mut step = |report: &mut BootReport, s: Step| {
        on_step(&s);
        report.steps.push(s);
    };
    let mut credentials = p.password.clone().map(|pw| (p.device.clone(), pw));
    let mut claim = !p.script.groups.is_empty() || opts.screen.is_some();
    let mut seen = HashSet::new();
    let mut syncs_left = opts.syncs;
    report.outcome = loop {
        let files = Files {
            vendor: opts.vendor,
            server: &server,
            mac: &mac,
            user_agent: &ua,
            tftp: opts.tftp,
        };
        let learned = files
            .fetch_all(credentials.clone(), &mut |s| step(&mut report, s))
            .await?;
        let Some(line) = learned.line else {
            break if report.dn.is_some() {
                "file_gone"
            } else {
                "no_line"
            }
            .into();
        };
        let registrar = learned
            .registrar
            .as_ref()
            .and_then(resolve)
            .unwrap_or(p.server);
        let id = Identity {
            user: line.number.clone(),
            instance: Some(mac.clone()),
            user_agent: ua.clone(),
            local: sip.local_addr()?,
            server: registrar,
        };
        let mut digest = DigestClient::new(&line.auth_user, &line.password);
        let (answer, with_digest) = register(&sip, &id, Some(&mut digest), &tag).await?;
        let status = answer.status.unwrap_or(0);
        let dn_before = report.dn.clone();
        step(
            &mut report,
            Step::Register {
                registrar: learned
                    .registrar
                    .map_or_else(|| registrar.to_string(), |r| r.to_string()),
                auth_user: line.auth_user.clone(),
                dn: line.number.clone(),
                dn_before,
                status,
                digest: with_digest,
            },
        );
        if status != 200 {
            break "register_refused".into();
        }
        report.dn = Some(line.number);
        if let (true, Some(login)) = (claim, &opts.screen) {
            claim = false;
            let Some(idle_url) = learned.idle_url.clone() else {
                break "no_idle_url".into();
            };
            let (ua, login) = (ua.clone(), login.clone());
            let r = tokio::task::spawn_blocking(move || screen::claim(&idle_url, &ua, &login))
                .await
                .map_err(|e| PhoneError::Io(std::io::Error::other(e)))??;
            let outcome = r.outcome.clone();
            step(
                &mut report,
                Step::ScreenClaim {
                    outcome: r.outcome,
                    new_dn: r.new_dn,
                    screens: r.screens,
                },
            );
            if outcome != "provisioned" {
                break format!("claim_{outcome}");
            }
        }
        if std::mem::take(&mut claim) {
            let call = PhoneOptions {
                server: registrar,
                user_agent: ua.clone(),
                register: false,
                config_server: None,
                password: Some(line.password.clone()),
                // Check-sync comes to the registered contact, here, not to the call's socket.
                notify_wait: Duration::ZERO,
                ..p.clone()
            };
            let r = crate::call::run(&call, recognizer).await?;
            let outcome = r.outcome.clone();
            step(
                &mut report,
                Step::Claim {
                    outcome: r.outcome,
                    new_dn: r.new_dn,
                },
            );
            if outcome != "provisioned" {
                break format!("claim_{outcome}");
            }
        }
        credentials = Some((line.auth_user, line.password));
        if syncs_left == 0 {
            break "registered".into();
        }
        syncs_left -= 1;
        let until = Instant::now() + opts.sync_wait;
        if !wait_check_sync(&sip, &tag, &mut seen, until).await? {
            break "no_check_sync".into();
        }
        report.check_syncs += 1;
        step(&mut report, Step::CheckSync);
    };
    if let (Some(wait), "registered") = (opts.answer, report.outcome.as_str()) {
        match answer::answer_one(&sip, &tag, Instant::now() + wait).await? {
            Some(caller) => {
                let dn = report.dn.clone().unwrap_or_default();
                step(&mut report, Step::Answered { dn, caller });
                report.outcome = "answered".into();
            }
            None => report.outcome = "no_call".into(),
        }
    }
    Ok(report)
}

/// The files of one phone of one vendor, on one server.
struct Files<'a> {
    vendor: Vendor,
    server: &'a ConfigServer,
    mac: &'a str,
    user_agent: &'a str,
    tftp: Option<SocketAddr>,
}

impl Files<'_> {
    /// Fetch the vendor's files in order, and those they name, each once; what they told.
    async fn fetch_all(
        &self,
        credentials: Option<(String, String)>,
        step: &mut dyn FnMut(Step),
    ) -> Result<Learned, PhoneError> {
        let mut queue: VecDeque<String> = self.vendor.boot_files(self.mac).into();
        let mut done = HashSet::new();
        let mut learned = Learned::default();
        while let Some(file) = queue.pop_front() {
            if !done.insert(file.clone()) {
                continue;
            }
            let body = match self.over_tftp(&file, step).await? {
                Some(b) => Some(b),
                None => self.over_http(&file, credentials.clone(), step).await?,
            };
            if let Some(body) = body {
                let l = self.vendor.read(&body, self.mac);
                learned.registrar = l.registrar.or(learned.registrar);
                learned.line = l.line.or(learned.line);
                learned.idle_url = l.idle_url.or(learned.idle_url);
                queue.extend(l.more_files);
            }
        }
        Ok(learned)
    }

    /// Over TFTP when this vendor's phone fetches so and a server is known; `None` when not
    /// served (TFTP carries no credentials: a file with a secret is refused once the phone has
    /// one, and the phone asks over HTTP).
    async fn over_tftp(
        &self,
        file: &str,
        step: &mut dyn FnMut(Step),
    ) -> Result<Option<String>, PhoneError> {
        let Some(server) = self.tftp.filter(|_| self.vendor.fetches_over_tftp()) else {
            return Ok(None);
        };
        let name = file.to_owned();
        let got = tokio::task::spawn_blocking(move || crate::tftp_client::get(server, &name))
            .await
            .map_err(|e| PhoneError::Io(std::io::Error::other(e)))?;
        let (body, error) = match got {
            Ok(b) => (Some(String::from_utf8_lossy(&b).into_owned()), None),
            Err(e) => (None, Some(e.to_string())),
        };
        step(Step::Fetch {
            file: file.to_owned(),
            over: "tftp",
            served: body.is_some(),
            status: None,
            bytes: body.as_ref().map(String::len),
            digest: false,
            error,
        });
        Ok(body)
    }

    /// Over HTTP, answering the digest challenge with `credentials`; `None` when not served.
    async fn over_http(
        &self,
        file: &str,
        credentials: Option<(String, String)>,
        step: &mut dyn FnMut(Step),
    ) -> Result<Option<String>, PhoneError> {
        let (server, name, ua, creds) = (
            self.server.clone(),
            file.to_owned(),
            self.user_agent.to_owned(),
            credentials.clone(),
        );
        let got = tokio::task::spawn_blocking(move || {
            let c = creds.as_ref().map(|(u, p)| (u.as_str(), p.as_str()));
            fetch(&server, &name, &ua, c)
        })
        .await
        .map_err(|e| PhoneError::Io(std::io::Error::other(e)))?;
        let (status, body, digest) = match got {
            Ok(f) => (200, Some(f.body), f.with_digest),
            Err(FetchError::Status { status, .. }) => {
                (status, None, credentials.is_some() && status != 404)
            }
            Err(e) => return Err(e.into()),
        };
        step(Step::Fetch {
            file: file.to_owned(),
            over: "http",
            served: body.is_some(),
            status: Some(status),
            bytes: body.as_ref().map(String::len),
            digest,
            error: None,
        });
        Ok(body)
    }
}

fn resolve(r: &Registrar) -> Option<SocketAddr> {
    let host = r.host.trim_start_matches('[').trim_end_matches(']');
    (host, r.port).to_socket_addrs().ok()?.next()
}

/// Answer requests until a NOTIFY check-sync not seen before arrives (true) or `until` (false).
async fn wait_check_sync(
    sip: &UdpSocket,
    tag: &str,
    seen: &mut HashSet<(String, u32)>,
    until: Instant,
) -> Result<bool, PhoneError> {
    let mut buf = vec![0u8; 65_536];
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let Ok(r) = tokio::time::timeout(left, sip.recv_from(&mut buf)).await else {
            return Ok(false);
        };
        let (n, from) = r?;
        let Some(m) = Msg::parse(&buf[..n]) else {
            continue;
        };
        if m.status.is_some() || m.method == "ACK" {
            continue;
        }
        sip.send_to(&m.response(200, "OK", tag), from).await?;
        let check_sync = m.method == "NOTIFY"
            && m.header("event")
                .is_some_and(|e| e.trim().eq_ignore_ascii_case("check-sync"));
        // A retransmission is the same request again.
        if check_sync && seen.insert((m.call_id().to_owned(), m.cseq().0)) {
            return Ok(true);
        }
    }
}
