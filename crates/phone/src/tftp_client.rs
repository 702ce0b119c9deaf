//! A phone's TFTP read (RFC 1350 with the option extension, `blksize` asked as Cisco phones do):
//! the request, each block acknowledged in turn, lost packets sent again. Blocking (std
//! sockets), like the HTTP fetch. The packets are `selfprov-tftp`'s.

use selfprov_tftp::packet::{Packet, ReadRequest};
use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum TftpError {
    #[error("TFTP {0}: {1}")]
    Io(SocketAddr, std::io::Error),
    /// The server's error packet.
    #[error("TFTP error {code}: {message}")]
    Refused { code: u16, message: String },
    #[error("TFTP {0}: no answer")]
    Timeout(SocketAddr),
}

/// The block size asked for (a Cisco phone's: one Ethernet frame).
const BLKSIZE: usize = 1428;
const TRIES: u32 = 5;

/// Read `file` from the TFTP server at `server`.
pub fn get(server: SocketAddr, file: &str) -> Result<Vec<u8>, TftpError> {
    let io = |e| TftpError::Io(server, e);
    let local: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let sock = UdpSocket::bind(local).map_err(io)?;
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .map_err(io)?;
    let rrq = Packet::Read(ReadRequest {
        filename: file.to_owned(),
        mode: "octet".into(),
        options: BTreeMap::from([("blksize".to_owned(), BLKSIZE.to_string())]),
    });
    let mut last = rrq.to_bytes();
    // The server answers from the transfer's own port (its TID); all else goes there.
    let mut peer: Option<SocketAddr> = None;
    let (mut blksize, mut next, mut data, mut tries) = (512, 1u16, Vec::new(), 0);
    let mut buf = vec![0u8; 65_536];
    sock.send_to(&last, server).map_err(io)?;
    loop {
        let (n, from) = match sock.recv_from(&mut buf) {
            Ok(r) => r,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                tries += 1;
                if tries > TRIES {
                    return Err(TftpError::Timeout(server));
                }
                sock.send_to(&last, peer.unwrap_or(server)).map_err(io)?;
                continue;
            }
            Err(e) => return Err(io(e)),
        };
        if peer.is_some_and(|p| p != from) {
            continue;
        }
        let Ok(p) = Packet::parse(&buf[..n]) else {
            continue;
        };
        let ack = match p {
            Packet::OptionAck(o) if peer.is_none() => {
                blksize = o.get("blksize").and_then(|b| b.parse().ok()).unwrap_or(512);
                0
            }
            Packet::Data { block, data: d } if block == next => {
                data.extend_from_slice(&d);
                next = next.wrapping_add(1);
                if d.len() < blksize {
                    sock.send_to(&Packet::Ack { block }.to_bytes(), from)
                        .map_err(io)?;
                    return Ok(data);
                }
                block
            }
            // A block again: our acknowledgement was lost.
            Packet::Data { block, .. } => block,
            Packet::Error { code, message } => return Err(TftpError::Refused { code, message }),
            _ => continue,
        };
        peer = Some(from);
        tries = 0;
        last = Packet::Ack { block: ack }.to_bytes();
        sock.send_to(&last, from).map_err(io)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use selfprov_tftp::{ErrorCode, Step, Transfer};
    use std::time::Instant;

    /// A one-transfer server on loopback: `data` for any request, or an error packet.
    fn serve(data: Option<Vec<u8>>) -> SocketAddr {
        let listen = UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = listen.local_addr().unwrap();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65_536];
            let (n, client) = listen.recv_from(&mut buf).unwrap();
            let Ok(Packet::Read(req)) = Packet::parse(&buf[..n]) else {
                panic!("not a read request")
            };
            let tid = UdpSocket::bind("127.0.0.1:0").unwrap();
            let Some(data) = data else {
                let e = Packet::error(ErrorCode::FileNotFound, "no such file");
                tid.send_to(&e.to_bytes(), client).unwrap();
                return;
            };
            let (mut t, first) = Transfer::start(&req, data, Instant::now());
            tid.send_to(&first, client).unwrap();
            loop {
                let (n, _) = tid.recv_from(&mut buf).unwrap();
                match t.on_packet(&buf[..n], Instant::now()) {
                    Step::Send(b) => {
                        tid.send_to(&b, client).unwrap();
                    }
                    Step::Wait => {}
                    Step::Done | Step::Failed(_) => return,
                }
            }
        });
        addr
    }

    #[test]
    fn reads_a_file_of_several_blocks_and_an_exact_multiple() {
        for len in [3000, 2 * BLKSIZE, 0] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let got = get(serve(Some(data.clone())), "SEP001122334455.cnf.xml").unwrap();
            assert_eq!(got, data, "{len} bytes");
        }
    }

    #[test]
    fn an_error_packet_is_a_refusal_with_its_message() {
        match get(serve(None), "nothing") {
            Err(TftpError::Refused { code, message }) => {
                assert_eq!((code, message.as_str()), (1, "no such file"))
            }
            r => panic!("{r:?}"),
        }
    }
}
