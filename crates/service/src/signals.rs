//! Unix signals as operator requests: SIGHUP reloads, SIGTERM/SIGINT drain, a second
//! SIGTERM/SIGINT exits at once.

use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorRequest {
    /// SIGHUP: reload configuration and prompts; calls in progress continue.
    Reload,
    /// First SIGTERM/SIGINT: refuse new calls, un-register, let calls finish up to the deadline.
    Drain,
    /// Second SIGTERM/SIGINT: exit now.
    ExitNow,
}

/// Install the handlers and return a channel of requests. Must be called inside a tokio runtime.
pub fn install() -> std::io::Result<mpsc::Receiver<OperatorRequest>> {
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let (tx, rx) = mpsc::channel(8);
    tokio::spawn(async move {
        let mut stops = 0u32;
        loop {
            let req = tokio::select! {
                Some(()) = hup.recv() => OperatorRequest::Reload,
                Some(()) = term.recv() => { stops += 1; if stops == 1 { OperatorRequest::Drain } else { OperatorRequest::ExitNow } },
                Some(()) = int.recv() => { stops += 1; if stops == 1 { OperatorRequest::Drain } else { OperatorRequest::ExitNow } },
                else => break,
            };
            if tx.send(req).await.is_err() {
                break;
            }
        }
    });
    Ok(rx)
}
