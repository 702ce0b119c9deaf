//! RFC 3261 §17 transactions as sans-I/O state machines: they keep the last message, know their
//! timers (A–K) and say what to (re)send when the driver calls them with the current time. The
//! driver owns sockets and the clock; tests advance time by hand.
//!
//! Also [`Reliable2xx`]: a UAS retransmits its 2xx to INVITE until the ACK (§13.3.1.4), which is
//! dialog business, not the transaction's.

use std::time::{Duration, Instant};

/// Timer base values (RFC 3261 §17.1.1.1, table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerValues {
    pub t1: Duration,
    pub t2: Duration,
    pub t4: Duration,
}

impl Default for TimerValues {
    fn default() -> Self {
        TimerValues {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

/// What the driver must do after a call into a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxAction {
    Nothing,
    /// Send these bytes (again) to the transaction's peer.
    Send(Vec<u8>),
    /// The transaction ended normally; drop it.
    Terminated,
    /// The peer never answered (Timer B/F/H): tell the application, drop the transaction.
    TimedOut,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerState {
    Trying,
    Proceeding,
    Completed,
    Confirmed,
    Terminated,
}

/// A server transaction (INVITE or non-INVITE).
#[derive(Debug)]
pub struct ServerTransaction {
    invite: bool,
    reliable: bool,
    t: TimerValues,
    state: ServerState,
    last_response: Option<Vec<u8>>,
    /// Timer G (INVITE response retransmit) next firing and current interval.
    retransmit_at: Option<Instant>,
    interval: Duration,
    /// Timer H (wait for ACK), I (absorb ACKs) or J (absorb request retransmissions).
    end_at: Option<Instant>,
}

impl ServerTransaction {
    pub fn new(invite: bool, reliable: bool, t: TimerValues) -> Self {
        ServerTransaction {
            invite,
            reliable,
            t,
            state: if invite {
                ServerState::Proceeding
            } else {
                ServerState::Trying
            },
            last_response: None,
            retransmit_at: None,
            interval: t.t1,
            end_at: None,
        }
    }

    pub fn state(&self) -> ServerState {
        self.state
    }

    /// The request arrived again: resend the last response (if any), nothing else.
    pub fn on_retransmission(&self) -> TxAction {
        match (&self.last_response, self.state) {
            (Some(r), ServerState::Proceeding | ServerState::Completed) => {
                TxAction::Send(r.clone())
            }
            (Some(r), ServerState::Trying) => TxAction::Send(r.clone()),
            _ => TxAction::Nothing,
        }
    }

    /// The TU sends a response with `status`. Returns what to do with it.
    pub fn respond(&mut self, status: u16, bytes: Vec<u8>, now: Instant) -> TxAction {
        if matches!(
            self.state,
            ServerState::Completed | ServerState::Confirmed | ServerState::Terminated
        ) {
            return TxAction::Nothing;
        }
        self.last_response = Some(bytes.clone());
        if status < 200 {
            self.state = ServerState::Proceeding;
            return TxAction::Send(bytes);
        }
        if self.invite && status < 300 {
            // 2xx: the transaction ends; the dialog layer retransmits the 2xx (Reliable2xx).
            self.state = ServerState::Terminated;
            return TxAction::Send(bytes);
        }
        self.state = ServerState::Completed;
        if self.invite {
            if !self.reliable {
                self.retransmit_at = Some(now + self.t.t1); // Timer G
            }
            self.end_at = Some(now + 64 * self.t.t1); // Timer H
        } else {
            self.end_at = Some(
                now + if self.reliable {
                    Duration::ZERO
                } else {
                    64 * self.t.t1
                },
            ); // Timer J
        }
        TxAction::Send(bytes)
    }

    /// An ACK for a non-2xx final response arrived.
    pub fn on_ack(&mut self, now: Instant) {
        if self.invite && self.state == ServerState::Completed {
            self.state = ServerState::Confirmed;
            self.retransmit_at = None;
            self.end_at = Some(
                now + if self.reliable {
                    Duration::ZERO
                } else {
                    self.t.t4
                },
            ); // Timer I
        }
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        match (self.retransmit_at, self.end_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn on_timeout(&mut self, now: Instant) -> TxAction {
        if let Some(end) = self.end_at {
            if now >= end {
                let timed_out = self.state == ServerState::Completed && self.invite;
                self.state = ServerState::Terminated;
                self.retransmit_at = None;
                self.end_at = None;
                // Timer H: the ACK never came.
                return if timed_out {
                    TxAction::TimedOut
                } else {
                    TxAction::Terminated
                };
            }
        }
        if let Some(at) = self.retransmit_at {
            if now >= at {
                self.interval = (self.interval * 2).min(self.t.t2);
                self.retransmit_at = Some(now + self.interval);
                if let Some(r) = &self.last_response {
                    return TxAction::Send(r.clone());
                }
            }
        }
        TxAction::Nothing
    }

    pub fn is_terminated(&self) -> bool {
        self.state == ServerState::Terminated
    }
}

/// A client transaction (we send BYE, NOTIFY, REGISTER, OPTIONS, INFO; or INVITE as the test
/// phone). Timers A/B (INVITE) and E/F (others) retransmit and give up; D/K absorb late replies.
#[derive(Debug)]
pub struct ClientTransaction {
    invite: bool,
    reliable: bool,
    t: TimerValues,
    request: Vec<u8>,
    retransmit_at: Option<Instant>,
    interval: Duration,
    give_up_at: Option<Instant>,
    end_at: Option<Instant>,
    provisional: bool,
    done: bool,
}

impl ClientTransaction {
    /// Start: the caller sends `request` now (the returned action).
    pub fn start(
        invite: bool,
        reliable: bool,
        t: TimerValues,
        request: Vec<u8>,
        now: Instant,
    ) -> (Self, TxAction) {
        let tx = ClientTransaction {
            invite,
            reliable,
            t,
            retransmit_at: (!reliable).then_some(now + t.t1),
            interval: t.t1,
            give_up_at: Some(now + 64 * t.t1),
            end_at: None,
            provisional: false,
            done: false,
            request: request.clone(),
        };
        (tx, TxAction::Send(request))
    }

    /// A response with `status` arrived. Returns true when it is news for the TU (not a
    /// retransmission absorbed by the transaction).
    pub fn on_response(&mut self, status: u16, now: Instant) -> bool {
        if self.done || self.end_at.is_some() {
            return false;
        }
        if status < 200 {
            self.provisional = true;
            if self.invite {
                // Timer A stops on a provisional response (§17.1.1.2).
                self.retransmit_at = None;
                self.give_up_at = None;
            }
            return true;
        }
        self.retransmit_at = None;
        self.give_up_at = None;
        if self.invite && status < 300 {
            // 2xx to INVITE: the TU sends ACK (dialog level); the transaction ends.
            self.done = true;
        } else {
            // Timer D (INVITE, 32 s on UDP) or K (T4 on UDP).
            let wait = if self.reliable {
                Duration::ZERO
            } else if self.invite {
                Duration::from_secs(32)
            } else {
                self.t.t4
            };
            self.end_at = Some(now + wait);
        }
        true
    }

    pub fn next_timeout(&self) -> Option<Instant> {
        [self.retransmit_at, self.give_up_at, self.end_at]
            .into_iter()
            .flatten()
            .min()
    }

    pub fn on_timeout(&mut self, now: Instant) -> TxAction {
        if self.done {
            return TxAction::Terminated;
        }
        if let Some(e) = self.end_at {
            if now >= e {
                self.done = true;
                return TxAction::Terminated;
            }
            return TxAction::Nothing;
        }
        if let Some(g) = self.give_up_at {
            if now >= g {
                self.done = true;
                return TxAction::TimedOut;
            }
        }
        if let Some(r) = self.retransmit_at {
            if now >= r {
                // E doubles up to T2 (after a provisional: T2); A keeps doubling.
                self.interval = if self.invite {
                    self.interval * 2
                } else if self.provisional {
                    self.t.t2
                } else {
                    (self.interval * 2).min(self.t.t2)
                };
                self.retransmit_at = Some(now + self.interval);
                return TxAction::Send(self.request.clone());
            }
        }
        TxAction::Nothing
    }

    pub fn is_done(&self) -> bool {
        self.done
    }
}

/// The UAS side of a 2xx to INVITE: retransmit it (T1 doubling to T2) until the ACK; after
/// 64*T1 without one the dialog must be ended with BYE (§13.3.1.4).
#[derive(Debug)]
pub struct Reliable2xx {
    bytes: Vec<u8>,
    next: Option<Instant>,
    interval: Duration,
    give_up: Instant,
    t2: Duration,
}

impl Reliable2xx {
    pub fn new(bytes: Vec<u8>, reliable: bool, t: TimerValues, now: Instant) -> Self {
        Reliable2xx {
            bytes,
            next: (!reliable).then_some(now + t.t1),
            interval: t.t1,
            give_up: now + 64 * t.t1,
            t2: t.t2,
        }
    }
    pub fn next_timeout(&self) -> Instant {
        self.next
            .map(|n| n.min(self.give_up))
            .unwrap_or(self.give_up)
    }
    /// `Send` to retransmit, `TimedOut` when the ACK never came.
    pub fn on_timeout(&mut self, now: Instant) -> TxAction {
        if now >= self.give_up {
            return TxAction::TimedOut;
        }
        match self.next {
            Some(n) if now >= n => {
                self.interval = (self.interval * 2).min(self.t2);
                self.next = Some(now + self.interval);
                TxAction::Send(self.bytes.clone())
            }
            _ => TxAction::Nothing,
        }
    }
    /// The INVITE arrived again: send the 2xx again.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t() -> TimerValues {
        TimerValues::default()
    }

    /// Fire every timer up to `until`, collecting the instants at which something was sent.
    fn run_server(
        tx: &mut ServerTransaction,
        start: Instant,
        until: Duration,
    ) -> (Vec<u128>, TxAction) {
        let mut sends = vec![];
        let mut last = TxAction::Nothing;
        while let Some(at) = tx.next_timeout() {
            if at > start + until {
                break;
            }
            match tx.on_timeout(at) {
                TxAction::Send(_) => sends.push((at - start).as_millis()),
                a @ (TxAction::Terminated | TxAction::TimedOut) => {
                    last = a;
                    break;
                }
                TxAction::Nothing => {}
            }
        }
        (sends, last)
    }

    #[test]
    fn invite_server_error_retransmits_g_until_h() {
        let now = Instant::now();
        let mut tx = ServerTransaction::new(true, false, t());
        assert_eq!(
            tx.respond(100, b"100".to_vec(), now),
            TxAction::Send(b"100".to_vec())
        );
        // A retransmitted INVITE is absorbed by resending the last response.
        assert_eq!(tx.on_retransmission(), TxAction::Send(b"100".to_vec()));
        tx.respond(486, b"486".to_vec(), now);
        let (sends, last) = run_server(&mut tx, now, Duration::from_secs(40));
        // G: 0.5, 1.5, 3.5, 7.5, 11.5, ... (interval doubles to T2 = 4 s); H at 32 s.
        assert_eq!(&sends[..5], &[500, 1500, 3500, 7500, 11500]);
        assert_eq!(last, TxAction::TimedOut);
        assert!(tx.is_terminated());
    }

    #[test]
    fn invite_server_ack_then_timer_i() {
        let now = Instant::now();
        let mut tx = ServerTransaction::new(true, false, t());
        tx.respond(487, b"487".to_vec(), now);
        tx.on_ack(now + Duration::from_millis(100));
        assert_eq!(tx.state(), ServerState::Confirmed);
        let (sends, last) = run_server(&mut tx, now, Duration::from_secs(10));
        assert!(sends.is_empty(), "no retransmission after ACK");
        assert_eq!(last, TxAction::Terminated);
    }

    #[test]
    fn invite_2xx_ends_transaction_and_reliable_2xx_retransmits() {
        let now = Instant::now();
        let mut tx = ServerTransaction::new(true, false, t());
        tx.respond(200, b"200".to_vec(), now);
        assert!(tx.is_terminated());
        let mut r = Reliable2xx::new(b"200".to_vec(), false, t(), now);
        let mut sends = vec![];
        loop {
            let at = r.next_timeout();
            match r.on_timeout(at) {
                TxAction::Send(_) => sends.push((at - now).as_millis()),
                TxAction::TimedOut => {
                    assert_eq!((at - now).as_secs(), 32);
                    break;
                }
                _ => {}
            }
        }
        assert_eq!(&sends[..4], &[500, 1500, 3500, 7500]);
    }

    #[test]
    fn non_invite_server_absorbs_then_j() {
        let now = Instant::now();
        let mut tx = ServerTransaction::new(false, false, t());
        assert_eq!(tx.on_retransmission(), TxAction::Nothing);
        tx.respond(200, b"200".to_vec(), now);
        assert_eq!(tx.on_retransmission(), TxAction::Send(b"200".to_vec()));
        assert_eq!(tx.next_timeout(), Some(now + Duration::from_secs(32)));
        let (sends, last) = run_server(&mut tx, now, Duration::from_secs(40));
        assert!(sends.is_empty());
        assert_eq!(last, TxAction::Terminated);
        // Over TCP Timer J is zero.
        let mut tcp = ServerTransaction::new(false, true, t());
        tcp.respond(200, b"x".to_vec(), now);
        assert_eq!(tcp.on_timeout(now), TxAction::Terminated);
    }

    #[test]
    fn non_invite_client_e_then_f() {
        let now = Instant::now();
        let (mut tx, first) = ClientTransaction::start(false, false, t(), b"BYE".to_vec(), now);
        assert_eq!(first, TxAction::Send(b"BYE".to_vec()));
        let mut sends = vec![];
        loop {
            let at = tx.next_timeout().unwrap();
            match tx.on_timeout(at) {
                TxAction::Send(_) => sends.push((at - now).as_millis()),
                TxAction::TimedOut => {
                    assert_eq!((at - now).as_secs(), 32);
                    break;
                }
                a => panic!("{a:?}"),
            }
        }
        assert_eq!(&sends[..5], &[500, 1500, 3500, 7500, 11500]);
    }

    #[test]
    fn non_invite_client_final_response_then_k() {
        let now = Instant::now();
        let (mut tx, _) = ClientTransaction::start(false, false, t(), b"NOTIFY".to_vec(), now);
        assert!(tx.on_response(200, now + Duration::from_millis(10)));
        assert!(
            !tx.on_response(200, now + Duration::from_millis(20)),
            "retransmitted 200 absorbed"
        );
        assert_eq!(
            tx.on_timeout(now + Duration::from_secs(1)),
            TxAction::Nothing
        );
        assert_eq!(
            tx.on_timeout(now + Duration::from_secs(6)),
            TxAction::Terminated
        );
    }

    #[test]
    fn invite_client_a_stops_on_provisional() {
        let now = Instant::now();
        let (mut tx, _) = ClientTransaction::start(true, false, t(), b"INVITE".to_vec(), now);
        assert_eq!(
            tx.on_timeout(now + Duration::from_millis(500)),
            TxAction::Send(b"INVITE".to_vec())
        );
        assert!(tx.on_response(100, now + Duration::from_millis(600)));
        assert_eq!(tx.next_timeout(), None, "A and B stop after 1xx");
        assert!(tx.on_response(200, now + Duration::from_secs(1)));
        assert!(tx.is_done());
    }
}
