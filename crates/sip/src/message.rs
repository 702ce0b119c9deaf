//! Parsing SIP messages with `rsipstack`'s maintained rsip-family parser, plus the checks a
//! server needs that it leaves out: the body must match `Content-Length` (a truncated body or a
//! wrong length is a `400`, with a reason phrase that says which), and headers are looked up by
//! full or compact name (`v`, `f`, `t`, `i`, `m`, `l`, `c`, `k`, `e`, `s`), with comma-joined
//! values split where the grammar allows it (Via).

use rsipstack::sip::SipMessage;

/// A refused message, with the reason phrase for the `400` answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("Bad Request - no end of headers")]
    NoHeaderEnd,
    #[error("Bad Request - body shorter than Content-Length ({got} of {want} bytes)")]
    Truncated { got: usize, want: usize },
    #[error("Bad Request - body longer than Content-Length ({got} > {want} bytes)")]
    TooLong { got: usize, want: usize },
    #[error("Bad Request - invalid Content-Length `{0}`")]
    BadContentLength(String),
    #[error("Bad Request - {0}")]
    Syntax(String),
}

const COMPACT: &[(&str, &str)] = &[
    ("v", "via"),
    ("f", "from"),
    ("t", "to"),
    ("i", "call-id"),
    ("m", "contact"),
    ("l", "content-length"),
    ("c", "content-type"),
    ("k", "supported"),
    ("e", "content-encoding"),
    ("s", "subject"),
    ("o", "event"),
    ("u", "allow-events"),
];

/// The full, lower-case name of a header name that may be compact.
pub fn canonical_name(name: &str) -> String {
    let n = name.trim().to_ascii_lowercase();
    COMPACT
        .iter()
        .find(|(c, _)| *c == n)
        .map(|(_, full)| (*full).to_owned())
        .unwrap_or(n)
}

/// Header section and body of a datagram, located without trusting the parser.
fn split(data: &[u8]) -> Result<(&[u8], &[u8]), ParseError> {
    let pos = data
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|p| (p, 4))
        .or_else(|| data.windows(2).position(|w| w == b"\n\n").map(|p| (p, 2)));
    let (p, n) = pos.ok_or(ParseError::NoHeaderEnd)?;
    Ok((&data[..p], &data[p + n..]))
}

/// Raw header lines (`name`, `value`), unfolded, names canonical.
pub fn raw_headers(head: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(head);
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.split('\n').skip(1) {
        let line = line.trim_end_matches('\r');
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some(last) = out.last_mut() {
                last.1.push(' ');
                last.1.push_str(line.trim());
            }
            continue;
        }
        if let Some((n, v)) = line.split_once(':') {
            out.push((canonical_name(n), v.trim().to_owned()));
        }
    }
    out
}

/// A datagram checked and parsed.
#[derive(Debug)]
pub struct Parsed {
    pub message: SipMessage,
    /// Headers as received, names canonical (compact forms expanded).
    pub headers: Vec<(String, String)>,
}

impl Parsed {
    /// The first value of a header (full or compact name).
    pub fn header(&self, name: &str) -> Option<&str> {
        let n = canonical_name(name);
        self.headers
            .iter()
            .find(|(k, _)| *k == n)
            .map(|(_, v)| v.as_str())
    }

    /// Every Via value, in order, splitting comma-joined Via headers.
    pub fn vias(&self) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(k, _)| k == "via")
            .flat_map(|(_, v)| split_commas(v))
            .collect()
    }
}

/// Split a header value at commas that are outside quotes and angle brackets.
pub fn split_commas(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut q, mut angle, mut cur) = (false, 0i32, String::new());
    for c in v.chars() {
        match c {
            '"' => q = !q,
            '<' if !q => angle += 1,
            '>' if !q => angle -= 1,
            ',' if !q && angle <= 0 => {
                out.push(cur.trim().to_owned());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_owned());
    }
    out
}

/// Check framing, then parse. For UDP, `data` is one datagram.
pub fn parse(data: &[u8]) -> Result<Parsed, ParseError> {
    let (head, body) = split(data)?;
    let headers = raw_headers(head);
    if let Some((_, cl)) = headers.iter().find(|(k, _)| k == "content-length") {
        let want: usize = cl
            .trim()
            .parse()
            .map_err(|_| ParseError::BadContentLength(cl.clone()))?;
        if body.len() < want {
            return Err(ParseError::Truncated {
                got: body.len(),
                want,
            });
        }
        if body.len() > want {
            // RFC 3261 §18.3: extra bytes after the body in a datagram are discarded only when
            // they are padding; anything else means the length is wrong.
            if body[want..]
                .iter()
                .any(|b| !b.is_ascii_whitespace() && *b != 0)
            {
                return Err(ParseError::TooLong {
                    got: body.len(),
                    want,
                });
            }
        }
    }
    let message = SipMessage::try_from(data)
        .map_err(|e| ParseError::Syntax(e.to_string().chars().take(120).collect()))?;
    Ok(Parsed { message, headers })
}

#[cfg(test)]
mod tests {
    use super::*;

    const COMPACT_INVITE: &str = "INVITE sip:2000@127.0.0.1 SIP/2.0\r\nv: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK2\r\nf: <sip:SEP001122334455@10.0.0.1>;tag=a\r\nt: <sip:2000@127.0.0.1>\r\ni: abc@10.0.0.1\r\nCSeq: 1 INVITE\r\nm: <sip:SEP001122334455@10.0.0.1:5060>\r\nc: application/sdp\r\nl: 4\r\n\r\nv=0\n";

    #[test]
    fn compact_headers_are_understood() {
        let p = parse(COMPACT_INVITE.as_bytes()).unwrap();
        assert_eq!(p.header("Call-ID"), Some("abc@10.0.0.1"));
        assert_eq!(
            p.header("from").unwrap(),
            "<sip:SEP001122334455@10.0.0.1>;tag=a"
        );
        assert_eq!(p.header("Content-Type"), Some("application/sdp"));
        assert_eq!(
            p.header("contact").unwrap(),
            "<sip:SEP001122334455@10.0.0.1:5060>"
        );
    }

    #[test]
    fn comma_joined_via_keeps_every_value() {
        let p = parse(COMPACT_INVITE.as_bytes()).unwrap();
        let v = p.vias();
        assert_eq!(v.len(), 2);
        assert!(v[1].contains("10.0.0.2"));
    }

    #[test]
    fn truncated_body_and_wrong_length_are_400_with_reason() {
        let t = COMPACT_INVITE.replace("l: 4", "l: 40");
        let e = parse(t.as_bytes()).unwrap_err();
        assert_eq!(e, ParseError::Truncated { got: 4, want: 40 });
        assert!(e
            .to_string()
            .starts_with("Bad Request - body shorter than Content-Length"));
        let long = COMPACT_INVITE.replace("l: 4", "l: 2");
        assert!(matches!(
            parse(long.as_bytes()).unwrap_err(),
            ParseError::TooLong { .. }
        ));
        let bad = COMPACT_INVITE.replace("l: 4", "l: four");
        assert!(matches!(
            parse(bad.as_bytes()).unwrap_err(),
            ParseError::BadContentLength(_)
        ));
        assert_eq!(
            parse(b"INVITE sip:x SIP/2.0\r\nVia: x").unwrap_err(),
            ParseError::NoHeaderEnd
        );
    }

    #[test]
    fn garbage_is_an_error_never_a_panic() {
        assert!(parse(b"\r\n\r\n").is_err());
        assert!(parse(b"HELLO\r\n\r\n").is_err());
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..800)) {
            let _ = parse(&data);
        }

        #[test]
        fn mutated_messages_never_panic(pos in 0usize..300, byte in proptest::prelude::any::<u8>()) {
            let mut m = COMPACT_INVITE.as_bytes().to_vec();
            let i = pos % m.len();
            m[i] = byte;
            let _ = parse(&m);
        }
    }
}
