//! `--answer`: once registered, the phone waits for a call on its line and answers it — what
//! shows that a claimed phone really rings on its new extension. It answers 200 with an SDP
//! (PCMU on a socket of its own; it sends no audio), copies the Record-Route set as a UAS does
//! (RFC 3261 §12.1.1), takes the ACK and answers the caller's BYE.

use crate::call::PhoneError;
use crate::sipmsg::Msg;
use std::fmt::Write as _;
use std::time::Instant;
use tokio::net::UdpSocket;

/// The 200 to `invite`, with our To tag, Contact and SDP.
fn ok_with_sdp(invite: &Msg, tag: &str, contact: &str, sdp: &str) -> Vec<u8> {
    let mut s = String::from("SIP/2.0 200 OK\r\n");
    for (k, v) in &invite.headers {
        let name = match k.as_str() {
            "via" => "Via",
            "record-route" => "Record-Route",
            "from" => "From",
            "call-id" => "Call-ID",
            "cseq" => "CSeq",
            "to" if v.contains(";tag=") => "To",
            "to" => {
                let _ = write!(s, "To: {v};tag={tag}\r\n");
                continue;
            }
            _ => continue,
        };
        let _ = write!(s, "{name}: {v}\r\n");
    }
    let _ = write!(
        s,
        "Contact: <sip:{contact}>\r\nContent-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    s.into_bytes()
}

/// Wait until `until` for a call, answer it and stay in it until the caller hangs up: the
/// caller (its From) when a call was answered and ended, `None` when none came.
pub(super) async fn answer_one(
    sip: &UdpSocket,
    tag: &str,
    until: Instant,
) -> Result<Option<String>, PhoneError> {
    let local = sip.local_addr()?;
    let rtp = UdpSocket::bind((local.ip(), 0)).await?;
    let rtp_port = rtp.local_addr()?.port();
    let sdp = format!(
        "v=0\r\no=- 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\nm=audio {rtp_port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n",
        ip = local.ip()
    );
    let mut buf = vec![0u8; 65_536];
    let mut answered: Option<(String, Vec<u8>)> = None;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        let Ok(r) = tokio::time::timeout(left, sip.recv_from(&mut buf)).await else {
            return Ok(None);
        };
        let (n, from) = r?;
        let Some(m) = Msg::parse(&buf[..n]) else {
            continue;
        };
        if m.status.is_some() || m.method == "ACK" {
            continue;
        }
        match m.method.as_str() {
            "INVITE" => {
                // The first INVITE is answered; a retransmission gets the same 200 again.
                let ok = match &answered {
                    Some((call_id, ok)) if call_id == m.call_id() => ok.clone(),
                    _ => {
                        let ok = ok_with_sdp(&m, tag, &local.to_string(), &sdp);
                        answered = Some((m.call_id().to_owned(), ok.clone()));
                        ok
                    }
                };
                sip.send_to(&ok, from).await?;
            }
            "BYE" => {
                sip.send_to(&m.response(200, "OK", tag), from).await?;
                if answered
                    .as_ref()
                    .is_some_and(|(call_id, _)| call_id == m.call_id())
                {
                    return Ok(Some(m.header("from").unwrap_or("").to_owned()));
                }
            }
            _ => {
                sip.send_to(&m.response(200, "OK", tag), from).await?;
            }
        }
    }
}
