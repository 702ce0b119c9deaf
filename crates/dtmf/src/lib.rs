//! DTMF for selfprov, without I/O: every detector takes input and `now` and returns digits.
//!
//! - [`rfc4733`]: telephone-events carried in RTP, one digit per event.
//! - [`info`]: SIP INFO bodies (`application/dtmf-relay`, `application/dtmf`).
//! - [`inband`]: a Goertzel detector for G.711 calls without telephone-event.
//! - [`DigitStream`]: merges the three sources into one digit stream per call, reporting a key
//!   press once even when it arrives by two methods.

pub mod inband;
pub mod info;
pub mod rfc4733;

use std::time::{Duration, Instant};

/// RFC 4733 event codes 0-15, in order.
const EVENT_KEYS: &[u8; 16] = b"0123456789*#ABCD";

/// A DTMF key: `0`-`9`, `*`, `#`, `A`-`D`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Digit(char);

impl Digit {
    /// The digit for an RFC 4733 event code (0-15).
    pub fn from_event(code: u8) -> Option<Digit> {
        EVENT_KEYS.get(code as usize).map(|&b| Digit(b as char))
    }
    /// The RFC 4733 event code (0-15) of this digit.
    pub fn event_code(self) -> u8 {
        EVENT_KEYS.iter().position(|&b| b as char == self.0).unwrap_or(0) as u8
    }
    pub fn from_char(c: char) -> Option<Digit> {
        let c = c.to_ascii_uppercase();
        matches!(c, '0'..='9' | '*' | '#' | 'A'..='D').then_some(Digit(c))
    }
    pub fn as_char(self) -> char {
        self.0
    }
}

impl std::fmt::Display for Digit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// How a digit arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    Rfc4733,
    SipInfo,
    InBand,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Rfc4733 => "rfc4733",
            Method::SipInfo => "sip_info",
            Method::InBand => "inband",
        }
    }
}

/// One call's digits, whatever their source. A key press reported by a second method within
/// `window` of the first (e.g. a phone that sends both RFC 4733 and INFO) is dropped; the same
/// key pressed twice by the same method is two digits.
#[derive(Debug)]
pub struct DigitStream {
    window: Duration,
    last: Option<(Digit, Method, Instant)>,
}

impl Default for DigitStream {
    fn default() -> Self {
        DigitStream {
            window: Duration::from_millis(300),
            last: None,
        }
    }
}

impl DigitStream {
    pub fn new(window: Duration) -> Self {
        DigitStream { window, last: None }
    }

    /// Offer a digit; returns it if it is a new key press.
    pub fn offer(&mut self, d: Digit, m: Method, now: Instant) -> Option<Digit> {
        if let Some((ld, lm, lt)) = self.last {
            if ld == d && lm != m && now.saturating_duration_since(lt) < self.window {
                return None;
            }
        }
        self.last = Some((d, m, now));
        Some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_codes_round_trip() {
        for code in 0..16u8 {
            assert_eq!(Digit::from_event(code).unwrap().event_code(), code);
        }
        assert_eq!(Digit::from_char('#').unwrap().event_code(), 11);
        assert_eq!(Digit::from_char('d').unwrap().event_code(), 15);
    }

    #[test]
    fn same_press_by_two_methods_once() {
        let t0 = Instant::now();
        let mut s = DigitStream::default();
        let five = Digit::from_char('5').unwrap();
        assert_eq!(s.offer(five, Method::Rfc4733, t0), Some(five));
        assert_eq!(
            s.offer(five, Method::SipInfo, t0 + Duration::from_millis(40)),
            None
        );
        // Same method again: a second press.
        assert_eq!(
            s.offer(five, Method::Rfc4733, t0 + Duration::from_millis(200)),
            Some(five)
        );
        // Other method, long after: a new press.
        assert_eq!(
            s.offer(five, Method::SipInfo, t0 + Duration::from_secs(2)),
            Some(five)
        );
    }

    #[test]
    fn digits() {
        assert_eq!(Digit::from_event(11).unwrap().as_char(), '#');
        assert_eq!(Digit::from_event(10).unwrap().as_char(), '*');
        assert!(Digit::from_event(16).is_none());
        assert!(Digit::from_char('x').is_none());
        assert_eq!(Digit::from_char('a').unwrap().as_char(), 'A');
    }
}
