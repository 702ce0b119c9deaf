//! The per-source request rate limits at the door ([`crate::rate_limit`]): which requests count,
//! and the stateless `503` for those over the limit.
//!
//! Never counted, so that no limit can break a call in progress: an ACK (never answered; the one
//! for our 2xx confirms the call); any request whose Call-ID names a call we hold (BYE, INFO
//! digits, re-INVITE, the CANCEL of a ringing call); a retransmission of a request whose
//! transaction we hold (absorbed at no cost, and counting it would charge a phone for our slow
//! answer). A stranger cannot use this to escape the limits without knowing a live Call-ID, which
//! only the caller and the proxies on the path see. A BYE or CANCEL naming no call counts as
//! "other".

use super::uas::transaction_key;
use super::{hval, Endpoint, Peer};
use crate::rate_limit::{MethodClass, Verdict};
use std::time::Instant;

impl Endpoint {
    /// Count a request against its source's limit; true when it was answered (`503`) or dropped
    /// here and needs nothing more.
    pub(super) fn rate_limited(
        &mut self,
        method: &str,
        headers: &[(String, String)],
        source: Peer,
        now: Instant,
    ) -> bool {
        if method == "ACK"
            || hval(headers, "call-id").is_some_and(|c| self.dialogs.contains_key(c))
            || self
                .servers
                .contains_key(&transaction_key(headers, method).1)
        {
            return false;
        }
        let class = MethodClass::of(method);
        let d = self.limiter.check(source.addr.ip(), class, now);
        if d.log {
            // One line per source, class and minute, for fail2ban: `rate limit exceeded source=<HOST>`.
            let per_second = self.limiter.limits().per_second[class as usize];
            tracing::warn!(
                source = %source.addr.ip(), method = %class, per_second,
                answer = %if d.verdict == Verdict::Drop { "none" } else { "503" },
                "rate limit exceeded"
            );
        }
        match d.verdict {
            Verdict::Pass => false,
            Verdict::Drop => true,
            Verdict::Refuse { retry_after } => {
                let r = self.build_response(
                    headers,
                    source,
                    503,
                    "Service Unavailable",
                    None,
                    &format!("Retry-After: {retry_after}\r\n"),
                    b"",
                );
                self.send(source, r);
                true
            }
        }
    }
}
