//! End users' self-care sessions: like the administrators' console sessions ([`crate::sessions`])
//! a random secret in a cookie of which only the SHA-256 is kept, an anti-CSRF token, an
//! absolute and an idle expiry — but held in this process's memory, apart from the
//! administrators' table, so a user session can never be taken for an administrator's. A restart
//! logs users out; behind a load balancer, a user's requests must stick to one node
//! (docs/self-care.md).

use crate::secrets::{hex, sha256_hex};
use crate::sessions::{OpenedSession, SessionPolicy};
use selfprov_provisioning::model::UserId;
use selfprov_provisioning::store::UnixMillis;
use std::collections::HashMap;
use std::sync::Mutex;

/// More open sessions than this and the oldest-seen go first (a flood of logins cannot grow
/// memory without bound).
const MAX_SESSIONS: usize = 100_000;

struct Row {
    user_id: UserId,
    csrf: String,
    expires: UnixMillis,
    last_seen: UnixMillis,
}

/// An open session: whose it is and its anti-CSRF token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSession {
    pub user_id: UserId,
    pub csrf: String,
}

/// The open sessions, by the SHA-256 of their secret.
#[derive(Default)]
pub struct UserSessions(Mutex<HashMap<String, Row>>);

impl UserSessions {
    pub fn open(&self, user: &UserId, policy: &SessionPolicy, now: UnixMillis) -> OpenedSession {
        let secret = hex(&rand::random::<[u8; 32]>());
        let csrf = hex(&rand::random::<[u8; 16]>());
        let row = Row {
            user_id: user.clone(),
            csrf: csrf.clone(),
            expires: now.plus(policy.lifetime),
            last_seen: now,
        };
        let expires = row.expires;
        if let Ok(mut m) = self.0.lock() {
            m.retain(|_, r| live(r, policy, now));
            if m.len() >= MAX_SESSIONS {
                if let Some(k) = m
                    .iter()
                    .min_by_key(|(_, r)| r.last_seen)
                    .map(|(k, _)| k.clone())
                {
                    m.remove(&k);
                }
            }
            m.insert(sha256_hex(&secret), row);
        }
        OpenedSession {
            secret,
            csrf,
            expires,
        }
    }

    /// The session of a cookie's secret while it is open; a use renews the idle time.
    pub fn find(
        &self,
        secret: &str,
        policy: &SessionPolicy,
        now: UnixMillis,
    ) -> Option<UserSession> {
        if secret.len() != 64 {
            return None;
        }
        let key = sha256_hex(secret);
        let mut m = self.0.lock().ok()?;
        let r = m.get_mut(&key)?;
        if !live(r, policy, now) {
            m.remove(&key);
            return None;
        }
        r.last_seen = now;
        Some(UserSession {
            user_id: r.user_id.clone(),
            csrf: r.csrf.clone(),
        })
    }

    /// End a session at once.
    pub fn close(&self, secret: &str) {
        if let Ok(mut m) = self.0.lock() {
            m.remove(&sha256_hex(secret));
        }
    }
}

fn live(r: &Row, policy: &SessionPolicy, now: UnixMillis) -> bool {
    r.expires > now && now.0 - r.last_seen.0 < policy.idle.as_millis() as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn sessions_end_when_idle_expired_or_closed() {
        let s = UserSessions::default();
        let p = SessionPolicy {
            lifetime: Duration::from_secs(3600),
            idle: Duration::from_secs(60),
        };
        let u: UserId = "jsmith".parse().unwrap();
        let t0 = UnixMillis(1_000_000);
        let o = s.open(&u, &p, t0);
        let at = |secs: i64| UnixMillis(t0.0 + secs * 1000);
        assert_eq!(s.find(&o.secret, &p, at(50)).map(|x| x.csrf), Some(o.csrf));
        // Used at 50 s and at 100 s; idle for more than a minute at 161 s.
        assert!(s.find(&o.secret, &p, at(100)).is_some());
        assert!(s.find(&o.secret, &p, at(161)).is_none());
        let o = s.open(&u, &p, t0);
        s.close(&o.secret);
        assert!(s.find(&o.secret, &p, at(1)).is_none());
        assert!(s.find("not a secret", &p, at(1)).is_none());
        // The absolute lifetime ends a session however busy.
        let o = s.open(&u, &p, t0);
        for m in 1..=70 {
            let alive = s.find(&o.secret, &p, at(m * 59)).is_some();
            assert_eq!(alive, m * 59 < 3600, "at {} s", m * 59);
        }
    }
}
