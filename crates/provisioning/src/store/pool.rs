//! A small blocking connection pool shared by the backends: at most `max` connections open, idle
//! ones reused, callers waiting for one when all are busy. A connection found broken is dropped
//! instead of returned, so the next caller opens a fresh one (a restarted database server is
//! reconnected to without anyone restarting selfprov).

use super::StoreError;
use std::sync::{Condvar, Mutex};

pub(crate) struct Pool<C> {
    idle: Mutex<Vec<C>>,
    available: Condvar,
    /// Connections handed out or idle; at most `max`.
    open: Mutex<usize>,
    max: usize,
}

/// A connection taken from the pool, returned to it on drop unless marked broken.
pub(crate) struct Pooled<'a, C> {
    pool: &'a Pool<C>,
    conn: Option<C>,
    broken: bool,
}

impl<C> std::ops::Deref for Pooled<'_, C> {
    type Target = C;
    fn deref(&self) -> &C {
        self.conn
            .as_ref()
            .expect("pooled connection present until drop")
    }
}
impl<C> std::ops::DerefMut for Pooled<'_, C> {
    fn deref_mut(&mut self) -> &mut C {
        self.conn
            .as_mut()
            .expect("pooled connection present until drop")
    }
}

impl<C> Pooled<'_, C> {
    /// Do not reuse this connection: it is closed when dropped.
    #[cfg_attr(not(feature = "postgresql"), allow(dead_code))]
    pub fn discard(&mut self) {
        self.broken = true;
    }
}

impl<C> Drop for Pooled<'_, C> {
    fn drop(&mut self) {
        if let Some(c) = self.conn.take() {
            if self.broken {
                drop(c);
                if let Ok(mut o) = self.pool.open.lock() {
                    *o = o.saturating_sub(1);
                }
            } else if let Ok(mut p) = self.pool.idle.lock() {
                p.push(c);
            }
            self.pool.available.notify_one();
        }
    }
}

impl<C> Pool<C> {
    pub fn new(max: usize) -> Self {
        Pool {
            idle: Mutex::new(Vec::new()),
            available: Condvar::new(),
            open: Mutex::new(0),
            max: max.max(1),
        }
    }

    /// An idle connection, a new one from `connect` while fewer than `max` are open, or the next
    /// one returned.
    pub fn get(
        &self,
        connect: impl Fn() -> Result<C, StoreError>,
    ) -> Result<Pooled<'_, C>, StoreError> {
        let poisoned = || StoreError::Database("connection pool poisoned".into());
        let mut idle = self.idle.lock().map_err(|_| poisoned())?;
        loop {
            if let Some(c) = idle.pop() {
                return Ok(self.pooled(c));
            }
            {
                let mut open = self.open.lock().map_err(|_| poisoned())?;
                if *open < self.max {
                    *open += 1;
                    drop(open);
                    drop(idle);
                    return match connect() {
                        Ok(c) => Ok(self.pooled(c)),
                        Err(e) => {
                            if let Ok(mut o) = self.open.lock() {
                                *o -= 1;
                            }
                            self.available.notify_one();
                            Err(e)
                        }
                    };
                }
            }
            idle = self.available.wait(idle).map_err(|_| poisoned())?;
        }
    }

    fn pooled(&self, c: C) -> Pooled<'_, C> {
        Pooled {
            pool: self,
            conn: Some(c),
            broken: false,
        }
    }
}
