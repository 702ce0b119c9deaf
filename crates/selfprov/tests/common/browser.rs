//! A real browser for the end-to-end tests of the web pages (the console, the self-care
//! portal): headless Chromium from Debian driven over WebDriver (chromedriver, started on a free
//! port and owned by a `ChildGuard`), and the steps the tests take on a page. No sleeps: every
//! step waits for an element or a condition, with a deadline.

use super::repo;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use selfprov_testkit::{free_tcp_port, require_tool, ChildGuard, TempDir};
use serde_json::json;
use std::future::Future;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

pub const DEADLINE: Duration = Duration::from_secs(20);

/// chromedriver on a free port, ready (its `/status` says so).
pub fn chromedriver() -> (ChildGuard, u16) {
    let port = free_tcp_port();
    let mut cmd = Command::new(require_tool("chromedriver"));
    cmd.arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut guard = ChildGuard::spawn("chromedriver", &mut cmd).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if driver_status(port).is_some_and(|a| a.replace(' ', "").contains("\"ready\":true")) {
            return (guard, port);
        }
        assert!(
            guard.child_mut().try_wait().unwrap().is_none(),
            "chromedriver exited"
        );
        assert!(
            Instant::now() < deadline,
            "chromedriver did not become ready"
        );
        // Poll again shortly: it is listening within a few hundred milliseconds.
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// chromedriver's `GET /status` body; `None` while it does not answer. (It keeps the
/// connection open after the answer, so read exactly `Content-Length` bytes.)
pub fn driver_status(port: u16) -> Option<String> {
    use std::io::{Read, Write};
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    c.write_all(b"GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = c.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse::<usize>().ok())?
                })
                .unwrap_or(0);
            if body.len() >= length {
                return Some(body.to_owned());
            }
        }
    }
}

/// A WebDriver session of a headless Chromium, the size of a laptop screen.
pub async fn browser(driver_port: u16, profile: &std::path::Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": require_tool("chromium"),
            "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1366,768", format!("--user-data-dir={}", profile.display())],
        }),
    );
    let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("a WebDriver session");
    c.set_window_size(1366, 768).await.unwrap();
    c
}

/// Poll `f` until it gives `Some`, or panic naming `what` at the deadline.
pub async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The element `css` once it exists.
pub async fn el(c: &Client, css: &str) -> Element {
    eventually(css, || async { c.find(Locator::Css(css)).await.ok() }).await
}

/// The element `css` once its text contains `needle`; its text.
pub async fn text_of(c: &Client, css: &str, needle: &str) -> String {
    eventually(&format!("{css} to contain {needle:?}"), || async {
        let t = c.find(Locator::Css(css)).await.ok()?.text().await.ok()?;
        t.contains(needle).then_some(t)
    })
    .await
}

/// The page's `<h1>` once it reads `title`.
pub async fn page(c: &Client, title: &str) {
    text_of(c, "main h1", title).await;
}

pub async fn fill(c: &Client, form: &str, name: &str, value: &str) {
    let input = el(c, &format!("{form} [name=\"{name}\"]")).await;
    input.clear().await.unwrap();
    input.send_keys(value).await.unwrap();
}

pub async fn submit(c: &Client, form: &str) {
    el(c, &format!("{form} button[type=submit]"))
        .await
        .click()
        .await
        .unwrap();
}

pub async fn nav(c: &Client, route: &str) {
    el(c, &format!("#nav a[data-route=\"{route}\"]"))
        .await
        .click()
        .await
        .unwrap();
}

/// The value of the browser's cookie `name`, if it holds one.
pub async fn cookie(c: &Client, name: &str) -> Option<String> {
    c.get_all_cookies()
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.name() == name)
        .map(|k| k.value().to_owned())
}

/// `docs/img/NAME.png`, when asked for (`SELFPROV_SCREENSHOTS=1`).
pub async fn screenshot(c: &Client, name: &str) {
    if std::env::var("SELFPROV_SCREENSHOTS").as_deref() != Ok("1") {
        return;
    }
    // Let the page settle: the focus ring and no spinner.
    eventually("the page to finish loading", || async {
        c.find_all(Locator::Css("main .loading"))
            .await
            .ok()?
            .is_empty()
            .then_some(())
    })
    .await;
    let png = c.screenshot().await.unwrap();
    let path = repo().join(format!("docs/img/{name}.png"));
    std::fs::write(&path, png).unwrap();
}

/// Run `scenario` in a headless Chromium of its own (a fresh profile, a laptop-sized window):
/// in a task, so that a failed assertion still ends the browser; the page's text is printed
/// at a failure.
pub fn in_browser<F, Fut>(tag: &str, scenario: F)
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (_driver, driver_port) = chromedriver();
    let profile = TempDir::new(&format!("{tag}-chromium"));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let c = browser(driver_port, profile.path()).await;
        let outcome = tokio::spawn(scenario(c.clone())).await;
        if outcome.is_err() {
            if let Ok(body) = c.find(Locator::Css("body")).await {
                eprintln!(
                    "the page at the failure:\n{}",
                    body.text().await.unwrap_or_default()
                );
            }
        }
        let _ = c.close().await;
        if let Err(e) = outcome {
            std::panic::resume_unwind(e.into_panic());
        }
    });
}
