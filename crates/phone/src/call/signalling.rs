//! The SIP requests the phone sends and retransmits (RFC 3261 timers A/E over UDP): the call's
//! dialog with its in-dialog requests (re-INVITE, INFO, BYE, ACK), and `transact` for a request
//! sent on its own (REGISTER, the first INVITE).

use super::media::{offer, AudioOffer};
use super::PhoneError;
use crate::sipmsg::{branch, in_dialog, with_header, Identity, Msg};
use selfprov_sip::digest::DigestClient;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

/// A request waiting for its final response, retransmitted on UDP (RFC 3261 timer A/E).
pub(super) struct Pending {
    pub(super) cseq: u32,
    pub(super) method: &'static str,
    pub(super) bytes: Vec<u8>,
    pub(super) next: Instant,
    pub(super) interval: Duration,
    pub(super) give_up: Instant,
}

impl Pending {
    fn new(cseq: u32, method: &'static str, bytes: Vec<u8>, now: Instant) -> Pending {
        Pending {
            cseq,
            method,
            bytes,
            next: now + Duration::from_millis(500),
            interval: Duration::from_millis(500),
            give_up: now + Duration::from_secs(32),
        }
    }
}

/// The call's dialog: what every in-dialog request repeats, and the next CSeq.
pub(super) struct Dialog<'a> {
    pub(super) id: &'a Identity,
    pub(super) target: &'a str,
    pub(super) call_id: String,
    pub(super) tag: String,
    pub(super) to_tag: String,
    pub(super) cseq: u32,
    pub(super) audio: AudioOffer,
    pub(super) rtp: SocketAddr,
    pub(super) session: u64,
    pub(super) sdp_version: u64,
    /// The 2xx's Record-Route values as received; requests carry them reversed (the UAC's route
    /// set, RFC 3261 §12.1.2).
    pub(super) routes: Vec<String>,
    /// The remote target: the 2xx's Contact URI (`None`: the request URI of the INVITE).
    pub(super) remote_target: Option<String>,
}

impl Dialog<'_> {
    /// A request of the dialog, to the remote target through the route set.
    fn in_dialog(&self, req: Vec<u8>) -> Vec<u8> {
        in_dialog(req, self.remote_target.as_deref(), &self.routes)
    }

    /// The next request in the dialog, ready to send and retransmit.
    pub(super) fn next(
        &mut self,
        method: &'static str,
        content_type: Option<&str>,
        body: &[u8],
        now: Instant,
    ) -> Pending {
        self.cseq += 1;
        let b = self.id.request(
            method,
            self.target,
            &self.call_id,
            self.cseq,
            &self.tag,
            Some(&self.to_tag),
            &branch(),
            content_type,
            body,
        );
        Pending::new(self.cseq, method, self.in_dialog(b), now)
    }

    /// A re-INVITE with a new offer in direction `dir` (hold: `sendonly`; resume: `sendrecv`).
    pub(super) fn reoffer(&mut self, dir: &str, now: Instant) -> Pending {
        self.sdp_version += 1;
        let body = offer(self.audio, self.rtp, self.session, self.sdp_version, dir);
        self.next("INVITE", Some("application/sdp"), body.as_bytes(), now)
    }

    /// ACK for the 2xx to INVITE number `cseq`.
    pub(super) fn ack(&self, cseq: u32) -> Vec<u8> {
        self.in_dialog(self.id.request(
            "ACK",
            self.target,
            &self.call_id,
            cseq,
            &self.tag,
            Some(&self.to_tag),
            &branch(),
            None,
            b"",
        ))
    }
}

/// Send a request and wait for its final response, answering whatever else arrives.
pub(super) async fn transact(
    sip: &UdpSocket,
    server: SocketAddr,
    bytes: Vec<u8>,
    call_id: &str,
    cseq: u32,
    method: &'static str,
    tag: &str,
) -> Result<Msg, PhoneError> {
    let start = Instant::now();
    let mut p = Pending::new(cseq, method, bytes, start);
    sip.send_to(&p.bytes, server).await?;
    let mut provisional = false;
    let mut buf = vec![0u8; 65_536];
    loop {
        let wait = p.next.saturating_duration_since(Instant::now());
        match tokio::time::timeout(wait, sip.recv_from(&mut buf)).await {
            Ok(Ok((n, from))) => {
                let Some(m) = Msg::parse(&buf[..n]) else {
                    continue;
                };
                if let Some(code) = m.status {
                    if m.call_id() == call_id && m.cseq() == (cseq, method.to_owned()) {
                        if code >= 200 {
                            return Ok(m);
                        }
                        provisional = true;
                    }
                } else if m.method != "ACK" {
                    sip.send_to(&m.response(200, "OK", tag), from).await?;
                }
            }
            Ok(Err(e)) => return Err(e.into()),
            Err(_) => {
                let now = Instant::now();
                if now >= p.give_up {
                    return Err(PhoneError::NoAnswer(method, server));
                }
                if !provisional {
                    sip.send_to(&p.bytes, server).await?;
                }
                p.interval = (p.interval * 2).min(Duration::from_secs(4));
                p.next = now + p.interval;
            }
        }
    }
}

/// REGISTER `id` at its server for an hour, answering one digest challenge with `digest`: the
/// final answer and whether it was answered with digest.
pub(crate) async fn register(
    sip: &UdpSocket,
    id: &Identity,
    digest: Option<&mut DigestClient>,
    tag: &str,
) -> Result<(Msg, bool), PhoneError> {
    let cid = format!("{}@selfprov-phone", crate::sipmsg::token());
    let r = transact(
        sip,
        id.server,
        id.register(&cid, 1, tag, 3600),
        &cid,
        1,
        "REGISTER",
        tag,
    )
    .await?;
    if let (Some(401), Some(client)) = (r.status, digest) {
        if let Some(auth) = r.answer_challenge(client, "REGISTER", &id.registrar_uri()) {
            let again = with_header(
                &id.register(&cid, 2, tag, 3600),
                &format!("Authorization: {auth}"),
            );
            return Ok((
                transact(sip, id.server, again, &cid, 2, "REGISTER", tag).await?,
                true,
            ));
        }
    }
    Ok((r, false))
}
