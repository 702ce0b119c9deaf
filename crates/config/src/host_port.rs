//! `host:port` values (`sip.outbound_proxy`): a host name, an IPv4 address or a bracketed IPv6
//! address, and a port, checked when the file loads so a typo is an error with the key's name
//! rather than a NOTIFY that never arrives.

use std::fmt;
use std::net::Ipv6Addr;
use std::str::FromStr;

/// A host and a port, as written (`proxy.example.com:5060`, `192.0.2.10:5060`, `[2001:db8::1]:5060`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPort {
    /// The host as written (IPv6 with its brackets).
    pub host: String,
    pub port: u16,
}

impl FromStr for HostPort {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (host, port) = s
            .rsplit_once(':')
            .filter(|(h, _)| !h.is_empty())
            .ok_or_else(|| format!("`{s}` is not host:port (e.g. \"192.0.2.10:5060\")"))?;
        let port = match port.parse::<u16>() {
            Ok(p) if p > 0 => p,
            _ => return Err(format!("`{port}` is not a port (1 to 65535)")),
        };
        let ok = match host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            Some(v6) => v6.parse::<Ipv6Addr>().is_ok(),
            None => {
                host.len() <= 253
                    && host.split('.').all(|label| {
                        !label.is_empty()
                            && label.len() <= 63
                            && !label.starts_with('-')
                            && !label.ends_with('-')
                            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    })
            }
        };
        if !ok {
            return Err(format!(
                "`{host}` is not a host name or IP address (IPv6 in brackets: \"[2001:db8::1]:5060\")"
            ));
        }
        Ok(HostPort {
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_and_bad_host_ports() {
        for good in [
            "127.0.0.1:5070",
            "proxy.example.com:5060",
            "[::1]:5060",
            "kamailio:5060",
        ] {
            assert_eq!(good.parse::<HostPort>().unwrap().to_string(), good);
        }
        for (bad, says) in [
            ("127.0.0.1", "not host:port"),
            (":5060", "not host:port"),
            ("proxy:0", "not a port"),
            ("proxy:65536", "not a port"),
            ("proxy:sip", "not a port"),
            ("::1:5060", "not a host name"),
            ("sip:proxy:5060", "not a host name"),
            ("prox y:5060", "not a host name"),
            ("-proxy:5060", "not a host name"),
        ] {
            let e = bad.parse::<HostPort>().unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }
}
