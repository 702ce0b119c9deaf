//! The admin commands' one way in: the HTTP API (`/api/v1`, crate `selfprov-api`). A [`Client`]
//! sends each command's request either to a running service (`--url`, with an API token) or to
//! the same API router built in this process on the configured database and called without a
//! socket, as the operating-system user (`cli:<user>`, an administrator). The commands are
//! written once against it, so rules, messages, output and the audit cannot differ between the
//! two; only a running service can tell a phone of a change (NOTIFY check-sync).

use crate::client_tls::Trust;
use anyhow::{anyhow, bail, Context, Result};
use axum::body::{Body, Bytes};
use axum::http::{header, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use rustls::pki_types::ServerName;
use selfprov_api::auth::LocalCaller;
use selfprov_api::problem::Problem;
use selfprov_operations::settings::SettingsBase;
use selfprov_operations::{Actor, Operations};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

/// Where the requests go.
enum Transport {
    /// A running service's admin listener.
    Http {
        /// `host:port`, for the connection and the `Host` header.
        authority: String,
        token: String,
        /// `https://`: the name the certificate is checked for, and what is trusted.
        tls: Option<(ServerName<'static>, Arc<rustls::ClientConfig>)>,
    },
    /// The API router on the local database, authorised as the command line.
    InProcess {
        router: axum::Router,
        caller: LocalCaller,
    },
}

pub struct Client {
    rt: tokio::runtime::Runtime,
    to: Transport,
}

/// A request body.
pub enum Payload {
    Empty,
    Json(Vec<u8>),
    Csv(Vec<u8>),
}

/// An answer of the API.
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

/// A refusal or failure the API answered with (a problem+json).
#[derive(Debug)]
pub struct ApiError {
    pub problem: Problem,
    /// Whether the request went to a running service (`--url`).
    remote: bool,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.problem;
        match p.status {
            401 if self.remote => write!(
                f,
                "the service refused the token (401 Unauthorized): it is wrong, expired or revoked; give a valid one with --token-file, --token or SELFPROV_TOKEN"
            ),
            403 => write!(f, "not allowed (403 Forbidden): {}", p.detail),
            s if s >= 500 => write!(f, "the service failed ({s} {}): {}", p.title, p.detail),
            // The detail of a wrong input names its field already (`pin: must not be empty`).
            _ => match &p.field {
                Some(field) if !p.detail.starts_with(field.as_str()) => {
                    write!(f, "{field}: {}", p.detail)
                }
                _ => f.write_str(&p.detail),
            },
        }
    }
}

impl std::error::Error for ApiError {}

impl Answer {
    /// The answer as `T`, or the problem it holds as an [`ApiError`].
    fn json<T: DeserializeOwned>(self, remote: bool) -> Result<T> {
        self.check(remote)?;
        serde_json::from_slice(&self.body).context("reading the service's answer")
    }

    /// An error unless the answer is a success.
    pub fn check(&self, remote: bool) -> Result<()> {
        if self.status.is_success() {
            return Ok(());
        }
        let problem = serde_json::from_slice::<Problem>(&self.body).unwrap_or_else(|_| {
            Problem::new(
                self.status,
                "unexpected",
                self.status.canonical_reason().unwrap_or("Error"),
                format!(
                    "HTTP {}: {}",
                    self.status,
                    String::from_utf8_lossy(&self.body).trim()
                ),
            )
        });
        Err(ApiError { problem, remote }.into())
    }
}

/// Where `--url` points and with which token.
pub struct Remote {
    pub url: String,
    pub token: String,
}

impl Remote {
    /// From the options: the token from `--token-file` if given, else `--token`/`SELFPROV_TOKEN`.
    pub fn from_options(
        url: &str,
        token: Option<&str>,
        token_file: Option<&PathBuf>,
    ) -> Result<Remote> {
        let token = match (token_file, token) {
            (Some(f), _) => std::fs::read_to_string(f)
                .with_context(|| format!("reading the token from {}", f.display()))?
                .trim()
                .to_owned(),
            (None, Some(t)) => t.trim().to_owned(),
            (None, None) => bail!(
                "--url needs an API token: --token-file FILE, SELFPROV_TOKEN or --token (`selfprov token create` makes one)"
            ),
        };
        if token.is_empty() {
            bail!("the API token is empty");
        }
        Ok(Remote {
            url: url.to_owned(),
            token,
        })
    }
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")
}

impl Client {
    /// A client of the service at `remote.url` (`http://host:port` or `https://host:port`, the
    /// admin listener); `trust` says which certificates an `https://` one may show.
    pub fn http(remote: Remote, trust: &Trust) -> Result<Client> {
        let uri: Uri = remote
            .url
            .parse()
            .with_context(|| format!("--url `{}` is not a URL", remote.url))?;
        let (default_port, tls) = match uri.scheme_str() {
            Some("http") => (80, false),
            Some("https") => (443, true),
            _ => bail!("--url `{}` must start with http:// or https://", remote.url),
        };
        if !matches!(uri.path(), "" | "/" | "/api/v1" | "/api/v1/") {
            bail!("--url: give the admin listener's address only, e.g. https://host:8080");
        }
        let a = uri
            .authority()
            .ok_or_else(|| anyhow!("--url `{}` has no host", remote.url))?;
        let authority = format!("{}:{}", a.host(), a.port_u16().unwrap_or(default_port));
        let tls = if tls {
            Some((
                crate::client_tls::server_name(a.host())?,
                crate::client_tls::client_config(trust)?,
            ))
        } else {
            None
        };
        Ok(Client {
            rt: runtime()?,
            to: Transport::Http {
                authority,
                token: remote.token,
                tls,
            },
        })
    }

    /// A client of the API on a database opened here, in this process, as the command line's
    /// operating-system user; `base` are the configuration file's settings.
    pub fn in_process(ops: Operations, base: SettingsBase) -> Result<Client> {
        let state = selfprov_api::ApiState::in_process(ops, Arc::new(move || base.clone()));
        Ok(Client {
            rt: runtime()?,
            to: Transport::InProcess {
                router: selfprov_api::router(state),
                caller: LocalCaller::new(Actor::cli_from_env()),
            },
        })
    }

    /// Whether the requests go to a running service.
    pub fn is_remote(&self) -> bool {
        matches!(self.to, Transport::Http { .. })
    }

    /// One request; `path` starts with `/api/v1`. Any answer is returned, errors too.
    pub fn send(&self, method: Method, path: &str, body: Payload) -> Result<Answer> {
        let (content_type, bytes) = match body {
            Payload::Empty => (None, Vec::new()),
            Payload::Json(b) => (Some("application/json"), b),
            Payload::Csv(b) => (Some("text/csv"), b),
        };
        let mut req = Request::builder().method(method).uri(path);
        if let Some(ct) = content_type {
            req = req.header(header::CONTENT_TYPE, ct);
        }
        match &self.to {
            Transport::InProcess { router, caller } => {
                let mut req = req
                    .body(Body::from(bytes))
                    .context("building the request")?;
                req.extensions_mut().insert(caller.clone());
                self.rt.block_on(async {
                    let resp = router
                        .clone()
                        .oneshot(req)
                        .await
                        .unwrap_or_else(|never| match never {});
                    let status = resp.status();
                    let body = resp
                        .into_body()
                        .collect()
                        .await
                        .context("reading the answer")?
                        .to_bytes();
                    Ok(Answer { status, body })
                })
            }
            Transport::Http {
                authority,
                token,
                tls,
            } => {
                let req = req
                    .header(header::HOST, authority.as_str())
                    .header(header::AUTHORIZATION, format!("Bearer {token}"))
                    .body(Full::new(Bytes::from(bytes)))
                    .context("building the request")?;
                let scheme = if tls.is_some() { "https" } else { "http" };
                self.rt
                    .block_on(http_request(authority, tls.as_ref(), req))
                    .with_context(|| {
                        format!("no answer from the service at {scheme}://{authority}")
                    })
            }
        }
    }

    fn call<T: DeserializeOwned>(&self, method: Method, path: &str, body: Payload) -> Result<T> {
        self.send(method, path, body)?.json(self.is_remote())
    }

    pub fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call(Method::GET, path, Payload::Empty)
    }

    /// `GET path?query`.
    pub fn get_query<Q: Serialize, T: DeserializeOwned>(&self, path: &str, query: &Q) -> Result<T> {
        let q = serde_urlencoded::to_string(query).context("building the query")?;
        let path = if q.is_empty() {
            path.to_owned()
        } else {
            format!("{path}?{q}")
        };
        self.get(&path)
    }

    pub fn post<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        self.call(Method::POST, path, Payload::json(body)?)
    }

    /// `POST` a CSV file.
    pub fn send_csv<T: DeserializeOwned>(&self, path: &str, csv: Vec<u8>) -> Result<T> {
        self.call(Method::POST, path, Payload::Csv(csv))
    }

    /// `POST` without a body: an action on an object (`/users/{id}/unlock`).
    pub fn action<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        self.call(Method::POST, path, Payload::Empty)
    }

    pub fn patch<B: Serialize, T: DeserializeOwned>(&self, path: &str, body: &B) -> Result<T> {
        self.call(Method::PATCH, path, Payload::json(body)?)
    }

    /// A request whose success answers no body (`204 No Content`).
    pub fn no_content(&self, method: Method, path: &str, body: Payload) -> Result<()> {
        self.send(method, path, body)?.check(self.is_remote())
    }

    /// Create a named object: the key field and the patch's fields in one JSON object.
    pub fn create<P: Serialize, T: DeserializeOwned>(
        &self,
        collection: &str,
        key_field: &str,
        key: &str,
        patch: &P,
    ) -> Result<T> {
        let mut body = serde_json::to_value(patch).context("building the request")?;
        if let Some(o) = body.as_object_mut() {
            o.retain(|_, v| !v.is_null());
            o.insert(key_field.to_owned(), key.into());
        }
        self.post(&path(collection, ""), &body)
    }
}

impl Payload {
    pub fn json<B: Serialize>(body: &B) -> Result<Payload> {
        Ok(Payload::Json(
            serde_json::to_vec(body).context("building the request")?,
        ))
    }
}

/// The API path of a collection (`key` empty) or of one object in it.
pub fn path(collection: &str, key: &str) -> String {
    if key.is_empty() {
        format!("{}{collection}", selfprov_api::PREFIX)
    } else {
        selfprov_api::body::location(collection, key)
    }
}

/// One HTTP/1.1 request on its own connection.
async fn http_request(
    authority: &str,
    tls: Option<&(ServerName<'static>, Arc<rustls::ClientConfig>)>,
    req: Request<Full<Bytes>>,
) -> Result<Answer> {
    let stream = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::net::TcpStream::connect(authority),
    )
    .await
    .map_err(|_| anyhow!("connecting timed out"))??;
    match tls {
        None => exchange(stream, req).await,
        Some((name, config)) => {
            let stream = tokio_rustls::TlsConnector::from(config.clone())
                .connect(name.clone(), stream)
                .await
                .context("TLS handshake")?;
            exchange(stream, req).await
        }
    }
}

/// One request and its answer on a connection.
async fn exchange<S>(stream: S, req: Request<Full<Bytes>>) -> Result<Answer>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    let conn = tokio::spawn(conn);
    let resp = sender.send_request(req).await?;
    let status = resp.status();
    let body = resp.into_body().collect().await?.to_bytes();
    drop(sender);
    let _ = conn.await;
    Ok(Answer { status, body })
}
