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
}
