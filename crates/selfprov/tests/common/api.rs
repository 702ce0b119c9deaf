//! Talking to a running service's HTTP API in tests: a small HTTP/1.1 client (any method,
//! headers, body), administrator accounts and tokens made with the CLI, one token per role.

use super::{cli_stdin, Service};
use std::io::{Read, Write};

/// The password every test account gets.
pub const PASSWORD: &str = "correct horse battery";

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }
    /// A problem's `field`.
    pub fn field(&self) -> Option<String> {
        self.json()["field"].as_str().map(str::to_owned)
    }
}

/// One request on its own connection.
pub fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<(&str, &[u8])>,
) -> Answer {
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n");
    for (k, v) in headers {
        req += &format!("{k}: {v}\r\n");
    }
    match body {
        Some((ct, b)) => {
            req += &format!("Content-Type: {ct}\r\nContent-Length: {}\r\n\r\n", b.len())
        }
        None => req += "Content-Length: 0\r\n\r\n",
    }
    c.write_all(req.as_bytes()).unwrap();
    if let Some((_, b)) = body {
        c.write_all(b).unwrap();
    }
    let mut raw = Vec::new();
    c.read_to_end(&mut raw).unwrap();
    parse(&raw)
}

fn parse(raw: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(raw);
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n.min(rest.len())]);
        s = rest.get(n + 2..).unwrap_or("");
    }
    out
}

/// A client acting with one set of credentials.
#[derive(Clone)]
pub struct Client {
    pub port: u16,
    pub headers: Vec<(String, String)>,
}

impl Client {
    pub fn token(port: u16, token: &str) -> Client {
        Client {
            port,
            headers: vec![("Authorization".into(), format!("Bearer {token}"))],
        }
    }
    pub fn anonymous(port: u16) -> Client {
        Client {
            port,
            headers: vec![],
        }
    }
    pub fn with(&self, k: &str, v: &str) -> Client {
        let mut c = self.clone();
        c.headers.push((k.into(), v.into()));
        c
    }
    fn send(&self, method: &str, path: &str, body: Option<(&str, &[u8])>) -> Answer {
        let h: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        request(self.port, method, &format!("/api/v1{path}"), &h, body)
    }
    pub fn get(&self, path: &str) -> Answer {
        self.send("GET", path, None)
    }
    pub fn delete(&self, path: &str) -> Answer {
        self.send("DELETE", path, None)
    }
    /// POST, PATCH, … with a JSON body.
    pub fn json(&self, method: &str, path: &str, body: &serde_json::Value) -> Answer {
        self.send(
            method,
            path,
            Some(("application/json", body.to_string().as_bytes())),
        )
    }
    pub fn csv(&self, path: &str, csv: &str) -> Answer {
        self.send("POST", path, Some(("text/csv", csv.as_bytes())))
    }
    pub fn raw(&self, method: &str, path: &str, body: Option<(&str, &[u8])>) -> Answer {
        self.send(method, path, body)
    }
}

/// An administrator account made with the CLI, and a token for it.
pub fn account(s: &Service, name: &str, role: &str) -> String {
    cli_stdin(s, &["admin", "create", name, "--role", role], PASSWORD);
    cli_stdin(s, &["token", "create", "--owner", name], "")
        .trim()
        .to_owned()
}

/// A client per role: administrator, helpdesk, read-only.
pub struct Roles {
    pub admin: Client,
    pub helpdesk: Client,
    pub read_only: Client,
}

pub fn roles(s: &Service) -> Roles {
    let p = s.admin_port;
    Roles {
        admin: Client::token(p, &account(s, "alice", "administrator")),
        helpdesk: Client::token(p, &account(s, "harry", "helpdesk")),
        read_only: Client::token(p, &account(s, "rita", "read-only")),
    }
}

/// Log in; the session cookie and the anti-CSRF token.
pub fn login(port: u16, name: &str, password: &str) -> (Answer, Option<(String, String)>) {
    let a = Client::anonymous(port).json(
        "POST",
        "/session",
        &serde_json::json!({"name": name, "password": password}),
    );
    let session = a.header("set-cookie").map(|c| {
        let value = c
            .split(';')
            .next()
            .and_then(|kv| kv.split_once('='))
            .map(|(_, v)| v.to_owned())
            .unwrap_or_default();
        (
            value,
            a.json()["csrf_token"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    });
    (a, session)
}
