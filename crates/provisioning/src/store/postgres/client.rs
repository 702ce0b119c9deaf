//! A blocking PostgreSQL client that may be called from any thread — a plain one, a blocking
//! task, or a tokio worker (the service calls the store from all three). The connections' socket
//! I/O runs on a small runtime of the store's own (one thread, `selfprov-pg`); a call only sends
//! its request to its connection's task and waits for the answer with a plain executor, which
//! (unlike the `postgres` crate's per-call runtime) never trips tokio's "runtime within a
//! runtime" check.

use std::future::Future;
use std::sync::mpsc::sync_channel;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Connection, Error, Row, Statement};

/// Runs the connections' tasks.
pub(crate) struct Driver {
    rt: Option<tokio::runtime::Runtime>,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Allowed anywhere, also inside another runtime (a plain drop is not).
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// How long opening a connection may take when the URL does not say (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

type Answer = Result<tokio_postgres::Client, Error>;

/// Hand the client to the caller, then drive the connection until it closes.
async fn serve<S, T>(
    r: Result<(tokio_postgres::Client, Connection<S, T>), Error>,
    answer: std::sync::mpsc::SyncSender<Answer>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    match r {
        Ok((client, connection)) => {
            let _ = answer.send(Ok(client));
            if let Err(e) = connection.await {
                tracing::warn!(error = %e, "PostgreSQL connection closed");
            }
        }
        Err(e) => {
            let _ = answer.send(Err(e));
        }
    }
}

impl Driver {
    pub fn new() -> std::io::Result<Driver> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("selfprov-pg")
            .enable_all()
            .build()?;
        Ok(Driver { rt: Some(rt) })
    }

    /// Open a connection.
    pub fn connect(
        &self,
        config: &tokio_postgres::Config,
        tls: Option<&tokio_postgres_rustls::MakeRustlsConnect>,
    ) -> Result<Client, String> {
        let mut config = config.clone();
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        let wait = config
            .get_connect_timeout()
            .copied()
            .unwrap_or(CONNECT_TIMEOUT);
        let (tx, rx) = sync_channel(1);
        let tls = tls.cloned();
        let rt = self.rt.as_ref().ok_or("the database driver is stopped")?;
        rt.spawn(async move {
            match tls {
                Some(t) => serve(config.connect(t).await, tx).await,
                None => serve(config.connect(tokio_postgres::NoTls).await, tx).await,
            }
        });
        match rx.recv_timeout(wait + Duration::from_secs(1)) {
            Ok(Ok(inner)) => Ok(Client { inner }),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err(format!("no answer within {} s", wait.as_secs())),
        }
    }
}

/// One connection, used by one thread at a time.
pub(crate) struct Client {
    inner: tokio_postgres::Client,
}

fn wait<F: Future>(f: F) -> F::Output {
    futures_executor::block_on(f)
}

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

impl Client {
    pub fn prepare(&self, sql: &str) -> Result<Statement, Error> {
        wait(self.inner.prepare(sql))
    }
    pub fn query(&self, st: &Statement, p: Params) -> Result<Vec<Row>, Error> {
        wait(self.inner.query(st, p))
    }
    pub fn query_opt(&self, st: &Statement, p: Params) -> Result<Option<Row>, Error> {
        wait(self.inner.query_opt(st, p))
    }
    pub fn query_one(&self, st: &Statement, p: Params) -> Result<Row, Error> {
        wait(self.inner.query_one(st, p))
    }
    pub fn execute(&self, st: &Statement, p: Params) -> Result<u64, Error> {
        wait(self.inner.execute(st, p))
    }
    /// Statements without parameters (transaction control, migrations).
    pub fn batch_execute(&self, sql: &str) -> Result<(), Error> {
        wait(self.inner.batch_execute(sql))
    }
}
