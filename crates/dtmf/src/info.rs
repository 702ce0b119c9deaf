//! DTMF in SIP INFO bodies: `application/dtmf-relay` (`Signal=5\r\nDuration=160`) and
//! `application/dtmf` (`5`).

use crate::Digit;

/// The digit (and duration in ms, when given) of an INFO body, or `None` when the body carries
/// no valid digit or the content type is not a DTMF one.
pub fn parse_info(content_type: &str, body: &[u8]) -> Option<(Digit, Option<u32>)> {
    let ct = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let text = std::str::from_utf8(body).ok()?;
    match ct.as_str() {
        "application/dtmf-relay" => {
            let mut digit = None;
            let mut duration = None;
            for line in text.lines() {
                let Some((k, v)) = line.split_once('=') else {
                    continue;
                };
                let v = v.trim();
                match k.trim().to_ascii_lowercase().as_str() {
                    "signal" => {
                        digit =
                            single(v).or_else(|| v.parse::<u8>().ok().and_then(Digit::from_event))
                    }
                    "duration" => duration = v.parse().ok(),
                    _ => {}
                }
            }
            digit.map(|d| (d, duration))
        }
        "application/dtmf" => {
            let t = text.trim();
            single(t)
                .or_else(|| t.parse::<u8>().ok().and_then(Digit::from_event))
                .map(|d| (d, None))
        }
        _ => None,
    }
}

fn single(s: &str) -> Option<Digit> {
    let mut it = s.chars();
    match (it.next(), it.next()) {
        (Some(c), None) => Digit::from_char(c),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relay_and_plain() {
        let (d, dur) =
            parse_info("application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n").unwrap();
        assert_eq!((d.as_char(), dur), ('5', Some(160)));
        assert_eq!(
            parse_info(
                "Application/DTMF-Relay; charset=x",
                b"Signal= #\nDuration=100"
            )
            .unwrap()
            .0
            .as_char(),
            '#'
        );
        assert_eq!(
            parse_info("application/dtmf-relay", b"Signal=11\r\n")
                .unwrap()
                .0
                .as_char(),
            '#'
        );
        assert_eq!(
            parse_info("application/dtmf", b"7\r\n")
                .unwrap()
                .0
                .as_char(),
            '7'
        );
        assert_eq!(
            parse_info("application/dtmf", b"*").unwrap().0.as_char(),
            '*'
        );
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_info("application/dtmf-relay", b"Duration=160").is_none());
        assert!(parse_info("application/dtmf-relay", b"Signal=x").is_none());
        assert!(parse_info("application/dtmf", b"55").is_none());
        assert!(parse_info("text/plain", b"5").is_none());
        assert!(parse_info("application/dtmf", &[0xFF, 0xFE]).is_none());
    }
}
