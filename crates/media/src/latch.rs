//! Which packets are the caller's, and where the caller's media goes (docs/security.md, "Media
//! cannot be hijacked or aimed").
//!
//! - [`Latching::Strict`] (the default): only packets from the address the caller's SDP named
//!   count; media goes there. A stranger, even on the caller's own IP address, changes nothing.
//! - [`Latching::Nat`]: for a phone behind a NAT, whose packets come from a port (or an address)
//!   its SDP could not know. Until the call has latched, a packet from any port of the expected
//!   IP address latches the call: its address and SSRC. After that only the latched address
//!   counts, except that a packet with the latched SSRC from another port of the same IP moves the
//!   latch (the NAT rebound the port), and a packet from the SDP address itself always wins the
//!   latch back. Packets from any other IP address never count.

use std::net::{IpAddr, SocketAddr};

/// How a call's packets are recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Latching {
    /// Only the SDP address.
    Strict,
    /// The SDP address, or the first packet from any port of `ip` (see the module).
    Nat { ip: IpAddr },
}

/// What a packet from an address is to a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The caller's, and media keeps going where it went.
    Caller,
    /// The caller's, and from now on media goes to this address.
    CallerMoved(SocketAddr),
    /// Not the caller's: drop it.
    Stranger,
}

/// One call's latch.
#[derive(Debug, Clone)]
pub struct Latch {
    sdp: SocketAddr,
    mode: Latching,
    latched: Option<(SocketAddr, u32)>,
}

impl Latch {
    pub fn new(sdp: SocketAddr, mode: Latching) -> Latch {
        Latch {
            sdp,
            mode,
            latched: None,
        }
    }

    /// Where the caller's media goes now.
    pub fn remote(&self) -> SocketAddr {
        self.latched.map(|(a, _)| a).unwrap_or(self.sdp)
    }

    /// The SDP address.
    pub fn sdp(&self) -> SocketAddr {
        self.sdp
    }

    /// The latched address, if the call latched one.
    pub fn latched(&self) -> Option<SocketAddr> {
        self.latched.map(|(a, _)| a)
    }

    /// The IP address whose ports may latch the call (NAT mode, before the first packet or for
    /// a rebinding), if any.
    pub fn nat_ip(&self) -> Option<IpAddr> {
        match self.mode {
            Latching::Strict => None,
            Latching::Nat { ip } => Some(ip),
        }
    }

    /// Whether a packet from another port of [`Latch::nat_ip`] with this SSRC could be the caller's.
    pub fn open_to(&self, ssrc: u32) -> bool {
        match (self.mode, self.latched) {
            (Latching::Strict, _) => false,
            (Latching::Nat { .. }, None) => true,
            (Latching::Nat { .. }, Some((_, s))) => s == ssrc,
        }
    }

    /// A re-INVITE moved the caller's media: latch again. In NAT mode the expected IP follows
    /// the SDP when it was the SDP's.
    pub fn set_sdp(&mut self, sdp: SocketAddr) {
        if let Latching::Nat { ip } = &mut self.mode {
            if *ip == self.sdp.ip() {
                *ip = sdp.ip();
            }
        }
        self.sdp = sdp;
        self.latched = None;
    }

    /// Judge a packet from `src` carrying `ssrc`.
    pub fn judge(&mut self, src: SocketAddr, ssrc: u32) -> Verdict {
        let Latching::Nat { ip } = self.mode else {
            return if src == self.sdp {
                Verdict::Caller
            } else {
                Verdict::Stranger
            };
        };
        let before = self.remote();
        match self.latched {
            _ if src == self.sdp => self.latched = Some((src, ssrc)),
            _ if src.ip() != ip => return Verdict::Stranger,
            None => self.latched = Some((src, ssrc)),
            Some((a, _)) if a == src => return Verdict::Caller,
            Some((_, s)) if s == ssrc => self.latched = Some((src, ssrc)),
            Some(_) => return Verdict::Stranger,
        }
        if self.remote() == before {
            Verdict::Caller
        } else {
            Verdict::CallerMoved(self.remote())
        }
    }
}

/// The IP address a NAT-mode call latches on: the SDP's, unless the SDP names a private address
/// and the request came from a different, public one (the phone itself, behind a NAT; a proxy
/// in front of such a phone must fix the SDP, e.g. Kamailio's `fix_nated_sdp` or rtpengine).
pub fn nat_ip(sdp: IpAddr, signalling_source: IpAddr) -> IpAddr {
    if is_private(sdp) && !is_private(signalling_source) {
        signalling_source
    } else {
        sdp
    }
}

/// Addresses a NAT hides: RFC 1918, shared address space (RFC 6598), link-local, unique local.
fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            a.is_private() || a.is_link_local() || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(a) => {
            let s = a.segments()[0];
            (s & 0xfe00) == 0xfc00 || (s & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn strict_accepts_only_the_sdp_address() {
        let mut l = Latch::new(a("198.51.100.7:4000"), Latching::Strict);
        assert_eq!(l.judge(a("198.51.100.7:4000"), 1), Verdict::Caller);
        // A stranger on the caller's own IP, before or after the caller spoke: nothing changes.
        assert_eq!(l.judge(a("198.51.100.7:4001"), 1), Verdict::Stranger);
        assert_eq!(l.judge(a("203.0.113.9:4000"), 1), Verdict::Stranger);
        assert_eq!(l.remote(), a("198.51.100.7:4000"));
        assert!(!l.open_to(1));
    }

    #[test]
    fn nat_latches_the_first_packet_of_the_expected_ip_then_pins_its_ssrc() {
        let mut l = Latch::new(
            a("192.168.1.20:4000"),
            Latching::Nat {
                ip: "203.0.113.5".parse().unwrap(),
            },
        );
        assert_eq!(
            l.judge(a("198.51.100.1:9"), 7),
            Verdict::Stranger,
            "other IP"
        );
        assert_eq!(
            l.judge(a("203.0.113.5:61000"), 7),
            Verdict::CallerMoved(a("203.0.113.5:61000"))
        );
        assert_eq!(l.judge(a("203.0.113.5:61000"), 8), Verdict::Caller);
        // Another port of the same IP: a stranger behind the same NAT, unless it carries the
        // latched SSRC (the NAT rebound the phone's port).
        assert_eq!(l.judge(a("203.0.113.5:62000"), 8), Verdict::Stranger);
        assert!(!l.open_to(8) && l.open_to(7));
        assert_eq!(
            l.judge(a("203.0.113.5:62000"), 7),
            Verdict::CallerMoved(a("203.0.113.5:62000"))
        );
        assert_eq!(l.remote(), a("203.0.113.5:62000"));
    }

    #[test]
    fn nat_the_sdp_address_always_wins_the_latch_back() {
        let sdp = a("198.51.100.7:4000");
        let mut l = Latch::new(sdp, Latching::Nat { ip: sdp.ip() });
        // A stranger on the same IP got there first...
        assert_eq!(
            l.judge(a("198.51.100.7:5000"), 99),
            Verdict::CallerMoved(a("198.51.100.7:5000"))
        );
        // ...until the caller's first packet from its own SDP address.
        assert_eq!(l.judge(sdp, 1), Verdict::CallerMoved(sdp));
        assert_eq!(l.judge(a("198.51.100.7:5000"), 99), Verdict::Stranger);
        assert_eq!(l.remote(), sdp);
    }

    #[test]
    fn a_reinvite_relatches_and_the_expected_ip_follows_the_sdp() {
        let sdp = a("198.51.100.7:4000");
        let mut l = Latch::new(sdp, Latching::Nat { ip: sdp.ip() });
        l.judge(a("198.51.100.7:5000"), 1);
        l.set_sdp(a("198.51.100.8:4002"));
        assert_eq!(l.latched(), None);
        assert_eq!(l.nat_ip(), Some("198.51.100.8".parse().unwrap()));
        assert_eq!(l.judge(a("198.51.100.7:5000"), 1), Verdict::Stranger);
    }

    #[test]
    fn the_nat_ip_is_the_signalling_source_only_for_a_private_sdp_address() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            nat_ip(ip("192.168.1.20"), ip("203.0.113.5")),
            ip("203.0.113.5")
        );
        assert_eq!(
            nat_ip(ip("100.64.3.4"), ip("203.0.113.5")),
            ip("203.0.113.5")
        );
        assert_eq!(nat_ip(ip("fd00::1"), ip("2001:db8::1")), ip("2001:db8::1"));
        // A public SDP address (the proxy fixed it, or no NAT): the SDP's.
        assert_eq!(
            nat_ip(ip("198.51.100.7"), ip("203.0.113.5")),
            ip("198.51.100.7")
        );
        // Through a proxy on the LAN: the SDP's.
        assert_eq!(
            nat_ip(ip("192.168.1.20"), ip("10.0.0.1")),
            ip("192.168.1.20")
        );
    }
}
