//! Time for the whole endpoint: when it next has work, and what is due then — server and client
//! transaction retransmissions and timeouts, 2xx retransmission until the ACK (BYE when it never
//! comes), and registration refreshes and retries.

use super::dialog::DialogState;
use super::{EndReason, Endpoint, Event, Output};
use crate::transaction::TxAction;
use std::time::Instant;

impl Endpoint {
    /// The earliest time [`handle_timeout`](Self::handle_timeout) has work.
    pub fn next_timeout(&self) -> Option<Instant> {
        let s = self.servers.values().filter_map(|e| e.tx.next_timeout());
        let c = self
            .clients
            .values()
            .filter_map(|(t, _, _)| t.next_timeout());
        let d = self
            .dialogs
            .values()
            .filter_map(|d| d.reliable_2xx.as_ref().map(|r| r.next_timeout()));
        let r = self
            .registrations
            .values()
            .filter_map(|(r, _)| r.next_timeout());
        s.chain(c).chain(d).chain(r).min()
    }

    pub fn handle_timeout(&mut self, now: Instant) {
        let mut sends = Vec::new();
        let mut done = Vec::new();
        for (k, e) in self.servers.iter_mut() {
            if e.tx.next_timeout().is_some_and(|t| t <= now) {
                match e.tx.on_timeout(now) {
                    TxAction::Send(d) => sends.push((e.peer, d)),
                    TxAction::Terminated | TxAction::TimedOut => done.push(k.clone()),
                    TxAction::Nothing => {}
                }
            }
            if e.tx.is_terminated() && e.tx.next_timeout().is_none() && !done.contains(k) {
                // 2xx-terminated INVITE transactions: keep them only while the dialog retransmits.
                let dialog_waits = self
                    .dialogs
                    .get(&e.call_id)
                    .is_some_and(|d| d.pending_invite.as_deref() == Some(k.as_str()));
                if !dialog_waits {
                    done.push(k.clone());
                }
            }
        }
        for k in done {
            self.servers.remove(&k);
        }
        let mut ack_timeouts = Vec::new();
        for (cid, d) in self.dialogs.iter_mut() {
            if let Some(r) = &mut d.reliable_2xx {
                if r.next_timeout() <= now {
                    match r.on_timeout(now) {
                        TxAction::Send(b) => sends.push((d.peer, b)),
                        TxAction::TimedOut => ack_timeouts.push(cid.clone()),
                        _ => {}
                    }
                }
            }
        }
        let mut cdone = Vec::new();
        for (b, (tx, peer, _)) in self.clients.iter_mut() {
            if tx.next_timeout().is_some_and(|t| t <= now) || tx.is_done() {
                match tx.on_timeout(now) {
                    TxAction::Send(d) => sends.push((*peer, d)),
                    TxAction::Terminated => cdone.push((b.clone(), false)),
                    TxAction::TimedOut => cdone.push((b.clone(), true)),
                    TxAction::Nothing => {}
                }
            }
        }
        for (b, timed_out) in cdone {
            if let Some((_, _, cid)) = self.clients.remove(&b) {
                if let Some((r, _)) = self.registrations.get_mut(&cid).filter(|_| timed_out) {
                    let before = r.state().clone();
                    r.on_timeout_no_answer(now);
                    self.report_registration(&cid, &before);
                }
            }
        }
        // Registration refreshes and retries.
        let due: Vec<String> = self
            .registrations
            .iter()
            .filter(|(_, (r, _))| r.next_timeout().is_some_and(|t| t <= now))
            .map(|(k, _)| k.clone())
            .collect();
        for cid in due {
            let (adv, ua) = (self.cfg.advertised.clone(), self.cfg.user_agent.clone());
            let Some((r, peer)) = self.registrations.get_mut(&cid) else {
                continue;
            };
            let peer = *peer;
            let before = r.state().clone();
            if let Some(req) = r.on_timer(now, &adv, &ua) {
                self.send_register(peer, &cid, req, now);
            }
            self.report_registration(&cid, &before);
        }
        for (p, d) in sends {
            self.send(p, d);
        }
        for cid in ack_timeouts {
            if let Some(d) = self.dialogs.get_mut(&cid) {
                d.reliable_2xx = None;
                d.state = DialogState::Confirmed;
            }
            self.hangup(&cid, now);
            // hangup() reports Local; the reason here is the missing ACK.
            if let Some(Output::Event(Event::CallEnded { reason, .. })) = self.out.back_mut() {
                *reason = EndReason::AckTimeout;
            }
        }
    }
}
