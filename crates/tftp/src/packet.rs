//! TFTP packets (RFC 1350 §5, RFC 2347 §2 OACK).

use std::collections::BTreeMap;

pub const RRQ: u16 = 1;
pub const WRQ: u16 = 2;
pub const DATA: u16 = 3;
pub const ACK: u16 = 4;
pub const ERROR: u16 = 5;
pub const OACK: u16 = 6;

/// RFC 1350 error codes (and RFC 2347's 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    NotDefined = 0,
    FileNotFound = 1,
    AccessViolation = 2,
    IllegalOperation = 4,
    UnknownTid = 5,
    OptionRefused = 8,
}

/// A read request: file name, mode and options (names lower-cased).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadRequest {
    pub filename: String,
    /// `octet` or `netascii` (served the same: configuration files are text).
    pub mode: String,
    pub options: BTreeMap<String, String>,
}

/// A packet a server receives or sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    Read(ReadRequest),
    /// A write request: this server refuses them.
    Write,
    Data {
        block: u16,
        data: Vec<u8>,
    },
    Ack {
        block: u16,
    },
    Error {
        code: u16,
        message: String,
    },
    OptionAck(BTreeMap<String, String>),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("packet shorter than its opcode")]
    Short,
    #[error("unknown opcode {0}")]
    Opcode(u16),
    #[error("a string field is not NUL-terminated")]
    Unterminated,
    #[error("a string field is not ASCII")]
    NotAscii,
    #[error("an option has no value")]
    OptionWithoutValue,
}

fn strings(mut b: &[u8]) -> Result<Vec<String>, PacketError> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let end = b
            .iter()
            .position(|c| *c == 0)
            .ok_or(PacketError::Unterminated)?;
        let s = std::str::from_utf8(&b[..end]).map_err(|_| PacketError::NotAscii)?;
        if !s.is_ascii() {
            return Err(PacketError::NotAscii);
        }
        out.push(s.to_owned());
        b = &b[end + 1..];
    }
    Ok(out)
}

impl Packet {
    pub fn parse(b: &[u8]) -> Result<Packet, PacketError> {
        if b.len() < 2 {
            return Err(PacketError::Short);
        }
        let op = u16::from_be_bytes([b[0], b[1]]);
        let rest = &b[2..];
        let block = || {
            rest.get(..2)
                .map(|x| u16::from_be_bytes([x[0], x[1]]))
                .ok_or(PacketError::Short)
        };
        match op {
            RRQ => {
                let s = strings(rest)?;
                if s.len() < 2 {
                    return Err(PacketError::Unterminated);
                }
                if s.len() % 2 != 0 {
                    return Err(PacketError::OptionWithoutValue);
                }
                let options = s[2..]
                    .chunks(2)
                    .map(|kv| (kv[0].to_ascii_lowercase(), kv[1].clone()))
                    .collect();
                Ok(Packet::Read(ReadRequest {
                    filename: s[0].clone(),
                    mode: s[1].to_ascii_lowercase(),
                    options,
                }))
            }
            WRQ => Ok(Packet::Write),
            DATA => Ok(Packet::Data {
                block: block()?,
                data: rest[2..].to_vec(),
            }),
            ACK => Ok(Packet::Ack { block: block()? }),
            ERROR => {
                let code = block()?;
                let message = strings(&rest[2..])
                    .ok()
                    .and_then(|s| s.into_iter().next())
                    .unwrap_or_default();
                Ok(Packet::Error { code, message })
            }
            OACK => {
                let s = strings(rest)?;
                if s.len() % 2 != 0 {
                    return Err(PacketError::OptionWithoutValue);
                }
                Ok(Packet::OptionAck(
                    s.chunks(2)
                        .map(|kv| (kv[0].to_ascii_lowercase(), kv[1].clone()))
                        .collect(),
                ))
            }
            other => Err(PacketError::Opcode(other)),
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::new();
        let s = |v: &mut Vec<u8>, t: &str| {
            v.extend_from_slice(t.as_bytes());
            v.push(0);
        };
        match self {
            Packet::Read(r) => {
                v.extend_from_slice(&RRQ.to_be_bytes());
                s(&mut v, &r.filename);
                s(&mut v, &r.mode);
                for (k, val) in &r.options {
                    s(&mut v, k);
                    s(&mut v, val);
                }
            }
            Packet::Write => v.extend_from_slice(&WRQ.to_be_bytes()),
            Packet::Data { block, data } => {
                v.extend_from_slice(&DATA.to_be_bytes());
                v.extend_from_slice(&block.to_be_bytes());
                v.extend_from_slice(data);
            }
            Packet::Ack { block } => {
                v.extend_from_slice(&ACK.to_be_bytes());
                v.extend_from_slice(&block.to_be_bytes());
            }
            Packet::Error { code, message } => {
                v.extend_from_slice(&ERROR.to_be_bytes());
                v.extend_from_slice(&code.to_be_bytes());
                s(&mut v, message);
            }
            Packet::OptionAck(opts) => {
                v.extend_from_slice(&OACK.to_be_bytes());
                for (k, val) in opts {
                    s(&mut v, k);
                    s(&mut v, val);
                }
            }
        }
        v
    }

    pub fn error(code: ErrorCode, message: &str) -> Packet {
        Packet::Error {
            code: code as u16,
            message: message.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn read_request_with_options() {
        let raw = b"\x00\x01SEP001122AABBCC.cnf.xml\x00octet\x00BLKSIZE\x001428\x00tsize\x000\x00";
        let Packet::Read(r) = Packet::parse(raw).unwrap() else {
            panic!("not a read request")
        };
        assert_eq!(
            (r.filename.as_str(), r.mode.as_str()),
            ("SEP001122AABBCC.cnf.xml", "octet")
        );
        assert_eq!(r.options.get("blksize").map(String::as_str), Some("1428"));
        assert_eq!(
            Packet::parse(&Packet::Read(r.clone()).to_bytes()).unwrap(),
            Packet::Read(r)
        );
        assert_eq!(
            Packet::parse(b"\x00\x01name\x00octet"),
            Err(PacketError::Unterminated)
        );
        assert_eq!(
            Packet::parse(b"\x00\x01n\x00octet\x00blksize\x00"),
            Err(PacketError::OptionWithoutValue)
        );
        assert_eq!(Packet::parse(b"\x00\x09"), Err(PacketError::Opcode(9)));
        assert_eq!(Packet::parse(b"\x00"), Err(PacketError::Short));
    }

    proptest! {
        #[test]
        fn any_bytes_parse_or_fail_cleanly(b in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Packet::parse(&b);
        }

        #[test]
        fn data_and_acks_round_trip(block in any::<u16>(), data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let d = Packet::Data { block, data };
            prop_assert_eq!(Packet::parse(&d.to_bytes()).unwrap(), d);
            let a = Packet::Ack { block };
            prop_assert_eq!(Packet::parse(&a.to_bytes()).unwrap(), a);
        }
    }
}
