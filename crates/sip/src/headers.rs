//! Small, total helpers over header values: name-addr parsing, tags, URI user parts, Via params.
//! They never panic and return `None` for what is not there.

/// The URI of a name-addr or addr-spec (`"Bob" <sip:bob@h>;tag=1` → `sip:bob@h`).
pub fn uri_of(v: &str) -> &str {
    if let (Some(a), Some(b)) = (v.find('<'), v.find('>')) {
        if a < b {
            return v[a + 1..b].trim();
        }
    }
    v.split(';').next().unwrap_or(v).trim()
}

/// A header parameter after the URI (`tag`, `expires`, `branch`, ...), case-insensitive name.
pub fn param<'a>(v: &'a str, name: &str) -> Option<&'a str> {
    let after = match v.find('>') {
        Some(i) => &v[i + 1..],
        None => v,
    };
    after
        .split(';')
        .skip(usize::from(v.find('>').is_none()))
        .find_map(|p| {
            let (k, val) = p.split_once('=').unwrap_or((p, ""));
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| val.trim().trim_matches('"'))
        })
}

/// Whether a parameter is present (even without a value, like `rport`).
pub fn has_param(v: &str, name: &str) -> bool {
    param(v, name).is_some()
}

/// The user part of a SIP URI (`sip:2000@h;user=phone` → `2000`).
pub fn uri_user(uri: &str) -> Option<&str> {
    let rest = uri.split_once(':').map(|(_, r)| r)?;
    let (user, _) = rest.split_once('@')?;
    let user = user.split(';').next().unwrap_or(user);
    (!user.is_empty()).then_some(user)
}

/// The host and port of a SIP URI (`sip:u@10.0.0.1:5070;lr` → (`10.0.0.1`, Some(5070));
/// `sip:[::1]:5070` → (`::1`, Some(5070))). `None` when the URI is not `sip:`/`sips:` or has no
/// host.
pub fn uri_host_port(uri: &str) -> Option<(&str, Option<u16>)> {
    let (scheme, rest) = uri.split_once(':')?;
    if !scheme.eq_ignore_ascii_case("sip") && !scheme.eq_ignore_ascii_case("sips") {
        return None;
    }
    let rest = rest.split('?').next().unwrap_or(rest);
    let rest = rest.split_once('@').map(|(_, h)| h).unwrap_or(rest);
    let hostport = rest.split(';').next().unwrap_or(rest);
    let (host, port) = match hostport.strip_prefix('[') {
        Some(v6) => {
            let (h, after) = v6.split_once(']')?;
            (h, after.strip_prefix(':'))
        }
        None => match hostport.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        },
    };
    if host.is_empty() {
        return None;
    }
    let port = match port {
        Some(p) => Some(p.parse().ok()?),
        None => None,
    };
    Some((host, port))
}

/// A parameter of a SIP URI itself (`sip:p.example.com;lr;transport=tcp`, `lr` → `Some("")`,
/// `transport` → `Some("tcp")`), case-insensitive name; header parameters after `>` are not
/// looked at.
pub fn uri_param<'a>(uri: &'a str, name: &str) -> Option<&'a str> {
    let uri = uri.split('?').next().unwrap_or(uri);
    let after_host = uri.split_once('@').map(|(_, h)| h).unwrap_or(uri);
    after_host.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=').unwrap_or((p, ""));
        k.trim().eq_ignore_ascii_case(name).then_some(v.trim())
    })
}

/// `CSeq: 12 INVITE` → (12, "INVITE").
pub fn cseq(v: &str) -> Option<(u32, &str)> {
    let mut it = v.split_whitespace();
    Some((it.next()?.parse().ok()?, it.next()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_addr_parts() {
        let v = "\"Phone\" <sip:SEP001122334455@10.0.0.1:5060;transport=udp>;tag=abc;x=1";
        assert_eq!(uri_of(v), "sip:SEP001122334455@10.0.0.1:5060;transport=udp");
        assert_eq!(param(v, "tag"), Some("abc"));
        assert_eq!(uri_user(uri_of(v)), Some("SEP001122334455"));
        assert_eq!(param("sip:a@b;tag=z", "tag"), Some("z"));
        assert_eq!(param("<sip:a@b;tag=inside>", "tag"), None);
        assert!(has_param(
            "SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx;rport",
            "rport"
        ));
        assert_eq!(
            param("SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx;rport", "branch"),
            Some("z9hG4bKx")
        );
        assert_eq!(uri_user("sip:2000@h"), Some("2000"));
        assert_eq!(uri_user("sip:h"), None);
        assert_eq!(cseq("7 INVITE"), Some((7, "INVITE")));
        assert_eq!(cseq("x INVITE"), None);
    }

    #[test]
    fn uri_hosts_ports_and_params() {
        assert_eq!(
            uri_host_port("sip:a@10.0.0.1:5070;lr"),
            Some(("10.0.0.1", Some(5070)))
        );
        assert_eq!(
            uri_host_port("sip:proxy.example.com;lr"),
            Some(("proxy.example.com", None))
        );
        assert_eq!(uri_host_port("sips:[::1]:5061"), Some(("::1", Some(5061))));
        assert_eq!(uri_host_port("sip:a@h:x"), None);
        assert_eq!(uri_host_port("tel:+123"), None);
        assert_eq!(uri_host_port("sip:"), None);
        let u = "sip:127.0.0.1:5070;transport=TCP;lr;ftag=a?Subject=x;y";
        assert_eq!(uri_param(u, "lr"), Some(""));
        assert_eq!(uri_param(u, "transport"), Some("TCP"));
        assert_eq!(uri_param(u, "y"), None);
        assert_eq!(uri_param("sip:u;x=1@h;lr", "x"), None);
        assert_eq!(uri_param("sip:h", "lr"), None);
    }
}
