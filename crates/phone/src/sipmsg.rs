//! The SIP messages a phone sends, as text, and the little it needs to read from what it gets.

use rand::Rng;
use selfprov_sip::digest::{Challenge, DigestClient};
use std::fmt::Write as _;
use std::net::SocketAddr;

pub fn token() -> String {
    let n: u64 = rand::thread_rng().gen();
    format!("{n:016x}")
}

pub fn branch() -> String {
    format!("z9hG4bK{}", token())
}

/// A received SIP message: start line, headers (canonical lower-case names), body.
#[derive(Debug, Clone)]
pub struct Msg {
    /// `Some(code)` for a response.
    pub status: Option<u16>,
    pub reason: String,
    /// Request method (for requests).
    pub method: String,
    /// Request-URI (for requests).
    pub uri: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Msg {
    pub fn parse(data: &[u8]) -> Option<Msg> {
        let parsed = selfprov_sip::message::parse(data).ok()?;
        let end = data.windows(4).position(|w| w == b"\r\n\r\n")?;
        let first = std::str::from_utf8(&data[..data.iter().position(|&b| b == b'\r')?]).ok()?;
        let body = data[end + 4..].to_vec();
        let mut it = first.splitn(3, ' ');
        let a = it.next()?;
        let b = it.next()?;
        let c = it.next().unwrap_or("");
        let (status, reason, method, uri) = if a.starts_with("SIP/") {
            (
                Some(b.parse().ok()?),
                c.to_owned(),
                String::new(),
                String::new(),
            )
        } else {
            (None, String::new(), a.to_owned(), b.to_owned())
        };
        Some(Msg {
            status,
            reason,
            method,
            uri,
            headers: parsed.headers,
            body,
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        let n = selfprov_sip::message::canonical_name(name);
        self.headers
            .iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header that may repeat (e.g. `WWW-Authenticate`).
    pub fn headers_named(&self, name: &str) -> Vec<&str> {
        let n = selfprov_sip::message::canonical_name(name);
        self.headers
            .iter()
            .filter(|(k, _)| *k == n)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The `Authorization` value answering this 401's first challenge `client` can answer, for
    /// `method` and `uri`.
    pub fn answer_challenge(
        &self,
        client: &mut DigestClient,
        method: &str,
        uri: &str,
    ) -> Option<String> {
        self.headers_named("www-authenticate")
            .into_iter()
            .filter_map(|c| Challenge::parse(c).ok())
            .find_map(|ch| client.authorize(&ch, method, uri).ok())
    }

    /// The header answering this 401 (`Authorization`) or 407 (a proxy's challenge:
    /// `Proxy-Authorization`, RFC 3261 §22.3), as `Name: value`; `None` for other answers or a
    /// challenge `client` cannot answer.
    pub fn answer_any_challenge(
        &self,
        client: &mut DigestClient,
        method: &str,
        uri: &str,
    ) -> Option<String> {
        let (challenge, answer) = match self.status {
            Some(401) => ("www-authenticate", "Authorization"),
            Some(407) => ("proxy-authenticate", "Proxy-Authorization"),
            _ => return None,
        };
        self.headers_named(challenge)
            .into_iter()
            .filter_map(|c| Challenge::parse(c).ok())
            .find_map(|ch| client.authorize(&ch, method, uri).ok())
            .map(|v| format!("{answer}: {v}"))
    }

    pub fn call_id(&self) -> &str {
        self.header("call-id").unwrap_or("")
    }

    /// (number, method) of CSeq.
    pub fn cseq(&self) -> (u32, String) {
        let v = self.header("cseq").unwrap_or("");
        let mut it = v.split_whitespace();
        let n = it.next().and_then(|n| n.parse().ok()).unwrap_or(0);
        (n, it.next().unwrap_or("").to_ascii_uppercase())
    }

    /// The `tag` parameter of the To header.
    pub fn to_tag(&self) -> Option<String> {
        tag_of(self.header("to")?)
    }

    /// A response to this request with our To tag added when it has none.
    pub fn response(&self, code: u16, reason: &str, our_tag: &str) -> Vec<u8> {
        let mut s = format!("SIP/2.0 {code} {reason}\r\n");
        for (k, v) in &self.headers {
            match k.as_str() {
                "via" | "from" | "call-id" | "cseq" => {
                    let _ = write!(s, "{}: {v}\r\n", display_name(k));
                }
                "to" => {
                    if tag_of(v).is_some() {
                        let _ = write!(s, "To: {v}\r\n");
                    } else {
                        let _ = write!(s, "To: {v};tag={our_tag}\r\n");
                    }
                }
                _ => {}
            }
        }
        s.push_str("Content-Length: 0\r\n\r\n");
        s.into_bytes()
    }
}

fn display_name(k: &str) -> &str {
    match k {
        "via" => "Via",
        "from" => "From",
        "call-id" => "Call-ID",
        "cseq" => "CSeq",
        _ => k,
    }
}

fn tag_of(v: &str) -> Option<String> {
    let after = v.rsplit_once('>').map(|(_, p)| p).unwrap_or(v);
    after.split(';').find_map(|p| {
        let (k, val) = p.trim().split_once('=')?;
        k.eq_ignore_ascii_case("tag").then(|| val.trim().to_owned())
    })
}

/// The dialog-independent identity of one phone towards one server.
#[derive(Debug, Clone)]
pub struct Identity {
    /// User part of From and Contact: the device name (`SEP001122334455`) or its line's number.
    pub user: String,
    /// The device's MAC (12 hex digits), sent as `+sip.instance` when registering.
    pub instance: Option<String>,
    pub user_agent: String,
    /// Our SIP address (Via, Contact).
    pub local: SocketAddr,
    /// The server: registrar and route point.
    pub server: SocketAddr,
}

impl Identity {
    fn common(&self, out: &mut String, branch: &str, from_tag: &str, to: &str, call_id: &str) {
        let _ = write!(
            out,
            "Via: SIP/2.0/UDP {};branch={branch};rport\r\nMax-Forwards: 70\r\nFrom: <sip:{}@{}>;tag={from_tag}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nUser-Agent: {}\r\n",
            self.local, self.user, self.server.ip(), self.user_agent
        );
    }

    /// REGISTER with a Contact carrying the device's MAC as SIP instance when it has one.
    pub fn register(&self, call_id: &str, cseq: u32, from_tag: &str, expires: u32) -> Vec<u8> {
        let mut s = format!("REGISTER {} SIP/2.0\r\n", self.registrar_uri());
        let aor = format!("<sip:{}@{}>", self.user, self.server.ip());
        self.common(&mut s, &branch(), from_tag, &aor, call_id);
        let instance = self
            .instance
            .as_deref()
            .map(|m| format!(";+sip.instance=\"<urn:uuid:00000000-0000-0000-0000-{m}>\""))
            .unwrap_or_default();
        let _ = write!(
            s,
            "CSeq: {cseq} REGISTER\r\nContact: <sip:{}@{}>{instance}\r\nExpires: {expires}\r\nContent-Length: 0\r\n\r\n",
            self.user, self.local
        );
        s.into_bytes()
    }

    /// The Request-URI of a REGISTER.
    pub fn registrar_uri(&self) -> String {
        format!("sip:{}", self.server)
    }

    /// The Request-URI of a request to `target` (the route point).
    pub fn target_uri(&self, target: &str) -> String {
        format!("sip:{target}@{}", self.server)
    }

    /// A request in (or opening) a dialog with the route point `target`.
    #[allow(clippy::too_many_arguments)]
    pub fn request(
        &self,
        method: &str,
        target: &str,
        call_id: &str,
        cseq: u32,
        from_tag: &str,
        to_tag: Option<&str>,
        branch: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Vec<u8> {
        let uri = self.target_uri(target);
        let mut s = format!("{method} {uri} SIP/2.0\r\n");
        let to = match to_tag {
            Some(t) => format!("<{uri}>;tag={t}"),
            None => format!("<{uri}>"),
        };
        self.common(&mut s, branch, from_tag, &to, call_id);
        let _ = write!(
            s,
            "CSeq: {cseq} {method}\r\nContact: <sip:{}@{}>\r\n",
            self.user, self.local
        );
        if let Some(ct) = content_type {
            let _ = write!(s, "Content-Type: {ct}\r\n");
        }
        let _ = write!(s, "Content-Length: {}\r\n\r\n", body.len());
        let mut v = s.into_bytes();
        v.extend_from_slice(body);
        v
    }
}

/// `msg` with one more header line (`Name: value`, no CRLF) right after its start line.
pub fn with_header(msg: &[u8], line: &str) -> Vec<u8> {
    let at = msg
        .windows(2)
        .position(|w| w == b"\r\n")
        .map_or(msg.len(), |i| i + 2);
    let mut out = Vec::with_capacity(msg.len() + line.len() + 2);
    out.extend_from_slice(&msg[..at]);
    out.extend_from_slice(line.as_bytes());
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(&msg[at..]);
    out
}

/// Every URI of the Record-Route headers of `m` (a header may list several, comma-separated),
/// as received: a UAC's route set is their reverse (RFC 3261 §12.1.2), which `in_dialog` makes.
pub fn record_routes(m: &Msg) -> Vec<String> {
    m.headers_named("record-route")
        .into_iter()
        .flat_map(|v| {
            v.split(">,")
                .map(|r| r.trim().trim_end_matches('>').to_owned() + ">")
        })
        .collect()
}

/// The URI of the Contact header of `m`.
pub fn contact_uri(m: &Msg) -> Option<String> {
    let c = m.header("contact")?;
    let inner = c
        .split_once('<')
        .and_then(|(_, r)| r.split_once('>'))
        .map(|(u, _)| u);
    Some(
        inner
            .unwrap_or(c.split(';').next().unwrap_or(c))
            .trim()
            .to_owned(),
    )
}

/// `req` as an in-dialog request of a UAC (RFC 3261 §12.2.1.1): its Request-URI replaced by
/// the remote target (when known), and a `Route` for each of the 2xx's Record-Route values
/// `routes` (as received) — loose routing through each `;lr` proxy.
pub fn in_dialog(req: Vec<u8>, remote_target: Option<&str>, routes: &[String]) -> Vec<u8> {
    let mut out = req;
    if let Some(target) = remote_target {
        let line_end = out
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap_or(out.len());
        let line = String::from_utf8_lossy(&out[..line_end]).into_owned();
        let method = line.split(' ').next().unwrap_or("");
        let mut v = format!("{method} {target} SIP/2.0").into_bytes();
        v.extend_from_slice(&out[line_end..]);
        out = v;
    }
    // Each header goes on top of the previous ones: the last Record-Route ends up first.
    for r in routes {
        out = with_header(&out, &format!("Route: {r}"));
    }
    out
}

/// `SEP` + 12 hex digits → the 12 hex digits.
pub fn mac_of(device: &str) -> Option<&str> {
    let m = device.strip_prefix("SEP")?;
    (m.len() == 12 && m.bytes().all(|b| b.is_ascii_hexdigit())).then_some(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_messages_the_sip_parser_accepts_and_answers_requests() {
        let id = Identity {
            user: "SEP0011223344AA".into(),
            instance: mac_of("SEP0011223344AA").map(str::to_owned),
            user_agent: "selfprov-phone".into(),
            local: "127.0.0.1:5070".parse().unwrap(),
            server: "127.0.0.1:5060".parse().unwrap(),
        };
        let reg = id.register("c1", 1, "t1", 3600);
        let m = Msg::parse(&reg).unwrap();
        assert_eq!(m.method, "REGISTER");
        assert!(m.header("contact").unwrap().contains("0011223344AA"));
        let inv = id.request(
            "INVITE",
            "2000",
            "c2",
            1,
            "t2",
            None,
            &branch(),
            Some("application/sdp"),
            b"v=0\r\n",
        );
        let m = Msg::parse(&inv).unwrap();
        assert_eq!(
            (m.method.as_str(), m.cseq()),
            ("INVITE", (1, "INVITE".to_owned()))
        );
        assert_eq!(m.body, b"v=0\r\n");
        let ok = m.response(200, "OK", "mytag");
        let r = Msg::parse(&ok).unwrap();
        assert_eq!(r.status, Some(200));
        assert_eq!(r.to_tag().as_deref(), Some("mytag"));
        assert_eq!(r.call_id(), "c2");
        assert_eq!(mac_of("SEP0011223344AA"), Some("0011223344AA"));
        let with = with_header(&reg, "Authorization: Digest x");
        let m = Msg::parse(&with).unwrap();
        assert_eq!(m.header("authorization"), Some("Digest x"));
        assert_eq!(m.method, "REGISTER");
        assert_eq!(mac_of("1004"), None);
    }
}
