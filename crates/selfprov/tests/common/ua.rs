//! A bare SIP phone on its own UDP socket, for tests that need exactly the requests they send
//! (a REGISTER with a chosen From and digest user name, a call from the same socket with another
//! Contact, an un-REGISTER from elsewhere), which the test phone and SIPp scenarios do not give.

use selfprov_media::Codec;
use selfprov_phone::call::{offer, AudioOffer};
use selfprov_phone::sipmsg::{branch, token, with_header, Identity, Msg};
use selfprov_phone::DtmfMode;
use selfprov_sip::digest::DigestClient;
use std::net::UdpSocket;
use std::time::Duration;

/// A bare SIP phone on its own socket, to send exactly the requests a test needs.
pub struct Ua {
    sock: UdpSocket,
    pub id: Identity,
    call_id: String,
    tag: String,
    cseq: u32,
}

impl Ua {
    pub fn new(s: &super::Service, user: &str) -> Ua {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let id = Identity {
            user: user.into(),
            instance: None,
            user_agent: super::CISCO_UA.into(),
            local: sock.local_addr().unwrap(),
            server: format!("127.0.0.1:{}", s.sip_port).parse().unwrap(),
        };
        Ua {
            sock,
            id,
            call_id: format!("{}@test", token()),
            tag: token(),
            cseq: 0,
        }
    }

    /// Send `req` and wait for the final answer to its `method` (other messages are skipped).
    fn final_answer(&self, req: &[u8], method: &str) -> Msg {
        self.sock.send_to(req, self.id.server).unwrap();
        let mut buf = [0u8; 8192];
        loop {
            let (n, _) = self
                .sock
                .recv_from(&mut buf)
                .unwrap_or_else(|e| panic!("no answer to {method}: {e}"));
            let m = Msg::parse(&buf[..n]).expect("a SIP message");
            if m.status.is_some_and(|c| c >= 200) && m.cseq().1 == method {
                return m;
            }
        }
    }

    /// A request sent by `send` (given the `Authorization` header line, if any); when it is
    /// challenged and credentials (user name, secret) are given, once more with digest for
    /// `method` and `uri`. The first answer's status and the final answer.
    fn with_digest(
        &mut self,
        method: &str,
        uri: &str,
        credentials: Option<(&str, &str)>,
        send: impl Fn(&mut Ua, Option<&str>) -> Msg,
    ) -> (u16, Msg) {
        let first = send(self, None);
        let status = first.status.unwrap_or(0);
        let Some((user, secret)) = credentials.filter(|_| status == 401) else {
            return (status, first);
        };
        let auth = first
            .answer_challenge(&mut DigestClient::new(user, secret), method, uri)
            .expect("a challenge we can answer");
        (status, send(self, Some(&format!("Authorization: {auth}"))))
    }

    /// REGISTER (expires 0: un-REGISTER), with digest when challenged and given credentials.
    pub fn register(&mut self, expires: u32, credentials: Option<(&str, &str)>) -> (u16, Msg) {
        let uri = self.id.registrar_uri();
        self.with_digest("REGISTER", &uri, credentials, |ua, auth| {
            ua.cseq += 1;
            let req = ua.id.register(&ua.call_id, ua.cseq, &ua.tag, expires);
            let req = match auth {
                Some(a) => with_header(&req, a),
                None => req,
            };
            ua.final_answer(&req, "REGISTER")
        })
    }

    /// Call the route point (a new dialog, PCMU offered), with digest when challenged and given
    /// credentials. Every final answer is acknowledged; an answered call is hung up at once. The
    /// first answer's status and the final status.
    pub fn call(&mut self, credentials: Option<(&str, &str)>) -> (u16, u16) {
        let rtp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let sdp = offer(
            AudioOffer::new(Codec::Pcmu, DtmfMode::Rfc4733),
            rtp.local_addr().unwrap(),
            1,
            1,
            "sendrecv",
        );
        let (call_id, tag) = (format!("{}@test", token()), token());
        let uri = self.id.target_uri("2000");
        let (first, last) = self.with_digest("INVITE", &uri, credentials, |ua, auth| {
            ua.cseq += 1;
            let invite_branch = branch();
            let req = ua.id.request(
                "INVITE",
                "2000",
                &call_id,
                ua.cseq,
                &tag,
                None,
                &invite_branch,
                Some("application/sdp"),
                sdp.as_bytes(),
            );
            let req = match auth {
                Some(a) => with_header(&req, a),
                None => req,
            };
            let answer = ua.final_answer(&req, "INVITE");
            // RFC 3261: a non-2xx answer is acknowledged in its transaction (same branch), a 2xx
            // in a transaction of its own.
            let ack_branch = if answer.status == Some(200) {
                branch()
            } else {
                invite_branch
            };
            let to_tag = answer.to_tag();
            let ack = ua.id.request(
                "ACK",
                "2000",
                &call_id,
                ua.cseq,
                &tag,
                to_tag.as_deref(),
                &ack_branch,
                None,
                b"",
            );
            ua.sock.send_to(&ack, ua.id.server).unwrap();
            answer
        });
        if last.status == Some(200) {
            self.cseq += 1;
            let bye = self.id.request(
                "BYE",
                "2000",
                &call_id,
                self.cseq,
                &tag,
                last.to_tag().as_deref(),
                &branch(),
                None,
                b"",
            );
            assert_eq!(self.final_answer(&bye, "BYE").status, Some(200));
        }
        (first, last.status.unwrap_or(0))
    }
}
