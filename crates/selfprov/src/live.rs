//! `status` and `registrations`: what a running service says of itself — the local one (at
//! `admin.listen`, over HTTPS when `admin.tls_certificate` is set, trusting exactly that
//! certificate) or one elsewhere (`--url`, with a token).

use crate::client::{Client, Payload, Remote};
use crate::client_tls::Trust;
use anyhow::Result;
use axum::http::Method;
use selfprov_config::Config;
use serde_json::Value;
use std::net::SocketAddr;

/// `GET path` from the service this configuration runs; `None` when nothing answers there.
pub fn local(cfg: &Config, path: &str) -> Option<Value> {
    let mut addr = cfg.raw.admin.listen;
    if addr.ip().is_unspecified() {
        let lo: std::net::IpAddr = if addr.is_ipv4() {
            std::net::Ipv4Addr::LOCALHOST.into()
        } else {
            std::net::Ipv6Addr::LOCALHOST.into()
        };
        addr.set_ip(lo);
    }
    match &cfg.admin_tls {
        None => plain_get(addr, path),
        Some(files) => {
            let remote = Remote {
                url: format!("https://{addr}"),
                token: String::new(),
            };
            let c = Client::http(remote, &Trust::Pinned(files.certificate.clone())).ok()?;
            let a = c.send(Method::GET, path, Payload::Empty).ok()?;
            serde_json::from_slice(&a.body).ok()
        }
    }
}

/// The service's `/status` at `--url`.
pub fn remote_status(c: &Client) -> Result<Value> {
    c.get("/status")
}

/// The registrations at `--url` (the API's `/live/registrations`), in the form `/registrations`
/// answers locally.
pub fn remote_registrations(c: &Client) -> Result<Value> {
    let status: Value = c.get("/status")?;
    let regs: Vec<Value> = c.get("/api/v1/live/registrations")?;
    let registrations: Vec<Value> = regs
        .into_iter()
        .map(|mut r| {
            r["expires_in"] = r["expires_in_s"].clone();
            r
        })
        .collect();
    Ok(serde_json::json!({
        "phone_auth": status["phone_auth"],
        "registrations": registrations,
    }))
}

/// A plain HTTP/1.0 GET (the local listener without TLS), with short timeouts.
fn plain_get(addr: SocketAddr, path: &str) -> Option<Value> {
    use std::io::{Read, Write};
    let timeout = std::time::Duration::from_millis(500);
    let mut s = std::net::TcpStream::connect_timeout(&addr, timeout).ok()?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(6)))
        .ok()?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: selfprov\r\n\r\n").as_bytes())
        .ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let body = resp.split_once("\r\n\r\n")?.1;
    serde_json::from_str(body).ok()
}
