//! What a phone does first: fetch its configuration file from the configuration server over HTTP
//! — a new phone without credentials (the server serves a new phone's first fetch), a known one
//! answering the digest challenge with the credentials it has — and read its line from it: the
//! digest user name and secret (`authName`, `authPassword`) and the line's number (`name`).
//! Blocking (std sockets): a phone does this once, before its calls.

use selfprov_sip::digest::{Challenge, DigestClient};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error("configuration server `{0}`: not an http:// URL")]
    Url(String),
    #[error("configuration server {0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0}: malformed HTTP answer")]
    Http(String),
    #[error("{path}: {status} {reason}")]
    Status {
        path: String,
        status: u16,
        reason: String,
    },
    #[error("{0}: no line with credentials in the file")]
    NoLine(String),
}

/// Where the configuration server is: its address and the path its files are under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigServer {
    pub addr: SocketAddr,
    pub host: String,
    /// Prefix of every file's path (`""`, or `/prov` for `http://host/prov`).
    pub base: String,
}

impl ConfigServer {
    /// `http://host[:port][/base]` (the configuration's `phone_config.public_url`, or
    /// `http://<http_listen>`).
    pub fn from_url(url: &str) -> Result<ConfigServer, FetchError> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| FetchError::Url(url.to_owned()))?;
        let (authority, base) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
            None => (rest, ""),
        };
        let with_port = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        let addr = with_port
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| FetchError::Url(url.to_owned()))?;
        Ok(ConfigServer {
            addr,
            host: authority.to_owned(),
            base: base.to_owned(),
        })
    }
}

/// A file as served.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The path asked for.
    pub path: String,
    pub body: String,
    /// Whether the server asked for (and got) the device's digest credentials.
    pub with_digest: bool,
}

struct Response {
    status: u16,
    reason: String,
    challenges: Vec<String>,
    body: String,
}

fn get(
    server: &ConfigServer,
    path: &str,
    user_agent: &str,
    authorization: Option<&str>,
) -> Result<Response, FetchError> {
    let io = |e| FetchError::Io(server.addr.to_string(), e);
    let mut c = TcpStream::connect_timeout(&server.addr, Duration::from_secs(5)).map_err(io)?;
    c.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(io)?;
    let auth = authorization
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    write!(
        c,
        "GET {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: {user_agent}\r\n{auth}Connection: close\r\n\r\n",
        server.host
    )
    .map_err(io)?;
    let mut raw = Vec::new();
    c.read_to_end(&mut raw).map_err(io)?;
    let raw = String::from_utf8_lossy(&raw);
    let bad = || FetchError::Http(path.to_owned());
    let (head, body) = raw.split_once("\r\n\r\n").ok_or_else(bad)?;
    let mut lines = head.lines();
    let mut status_line = lines.next().ok_or_else(bad)?.splitn(3, ' ');
    let status = status_line
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let reason = status_line.next().unwrap_or("").to_owned();
    let challenges = lines
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case("www-authenticate"))
        .map(|(_, v)| v.trim().to_owned())
        .collect();
    Ok(Response {
        status,
        reason,
        challenges,
        body: body.to_owned(),
    })
}

/// Fetch `file` (e.g. `SEP001122334455.cnf.xml`) as a phone does: without credentials first;
/// when challenged and `credentials` (user, secret) are known, once more with digest.
pub fn fetch(
    server: &ConfigServer,
    file: &str,
    user_agent: &str,
    credentials: Option<(&str, &str)>,
) -> Result<Fetched, FetchError> {
    let path = format!("{}/{}", server.base, file.trim_start_matches('/'));
    let r = get(server, &path, user_agent, None)?;
    let r = match (r.status, credentials) {
        (401, Some((user, secret))) => {
            // The first challenge this client can answer (the server offers SHA-256 and MD5).
            let ch = r
                .challenges
                .iter()
                .find_map(|c| Challenge::parse(c).ok())
                .ok_or_else(|| FetchError::Http(path.clone()))?;
            let auth = DigestClient::new(user, secret)
                .authorize(&ch, "GET", &path)
                .map_err(|_| FetchError::Http(path.clone()))?;
            let r = get(server, &path, user_agent, Some(&auth))?;
            return finish(path, r, true);
        }
        _ => r,
    };
    finish(path, r, false)
}

/// GET an absolute `http://` URL as a phone's XML browser does (no credentials); its body when
/// the answer is 200.
pub fn get_url(url: &str, user_agent: &str) -> Result<String, FetchError> {
    let server = ConfigServer::from_url(url)?;
    let path = if server.base.is_empty() {
        "/".to_owned()
    } else {
        server.base.clone()
    };
    let r = get(&server, &path, user_agent, None)?;
    finish(path, r, false).map(|f| f.body)
}

fn finish(path: String, r: Response, with_digest: bool) -> Result<Fetched, FetchError> {
    if r.status != 200 {
        return Err(FetchError::Status {
            path,
            status: r.status,
            reason: r.reason,
        });
    }
    Ok(Fetched {
        path,
        body: r.body,
        with_digest,
    })
}

/// A phone's line as its file gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The line's number (the temporary DN while auto-registered).
    pub number: String,
    /// Digest user name (the device's name) and secret.
    pub auth_user: String,
    pub password: String,
}

pub(crate) fn xml_unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// The text of the first `<tag>` element in `xml`.
pub(crate) fn element<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{tag}>"))? + start;
    Some(&xml[start..end])
}

/// The first line of a Cisco `SEP<MAC>.cnf.xml`: `<name>`, `<authName>`, `<authPassword>` of
/// `<line button="1">`.
pub fn cisco_line(xml: &str) -> Option<Line> {
    let line = &xml[xml.find("<line button=\"1\"")?..];
    let line = &line[..line.find("</line>")?];
    Some(Line {
        number: xml_unescape(element(line, "name")?),
        auth_user: xml_unescape(element(line, "authName")?),
        password: xml_unescape(element(line, "authPassword")?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_line_of_a_cisco_file_and_config_urls() {
        let xml = "<device><sipLines><line button=\"1\" lineIndex=\"1\"><featureID>9</featureID>\
                   <name>1000</name><displayName>Auto 1000</displayName><authName>SEP001122334455</authName>\
                   <authPassword>a&amp;b</authPassword></line><line button=\"2\"><name>x</name></line></sipLines></device>";
        assert_eq!(
            cisco_line(xml),
            Some(Line {
                number: "1000".into(),
                auth_user: "SEP001122334455".into(),
                password: "a&b".into()
            })
        );
        assert_eq!(cisco_line("<device/>"), None);
        let s = ConfigServer::from_url("http://127.0.0.1:6970").unwrap();
        assert_eq!((s.addr.port(), s.base.as_str()), (6970, ""));
        let s = ConfigServer::from_url("http://127.0.0.1/prov/").unwrap();
        assert_eq!((s.addr.port(), s.base.as_str()), (80, "/prov"));
        assert!(ConfigServer::from_url("https://127.0.0.1").is_err());
    }
}
