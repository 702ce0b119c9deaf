//! The runtime of the work no call waits for: the admin listener (HTTP API, web console,
//! self-care portal) with its database reads and writes. Its threads run at a lower scheduling
//! priority ([`NICE`] above the service's own), so that on a busy machine the kernel gives the
//! SIP, IVR and media threads the CPU first: an administrator's script paging through 100,000
//! users must not make the prompts stutter. Alone on the machine they run at full speed — a
//! nice value only matters when threads compete for a core.
//!
//! Its sockets and tasks belong to it: the admin listener is bound from inside it (see
//! [`run`]), so the connections it accepts, their tasks and their `spawn_blocking` work are all
//! on its threads.

use std::future::Future;
use std::sync::OnceLock;

/// How much lower than the service the background threads run (`nice` steps, 0–19).
pub const NICE: i32 = 10;

static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();

/// The background runtime, started at the first use: as many workers as cores, a bounded
/// blocking pool, every thread at [`NICE`] below the thread that started it. The target is fixed
/// then: threads are also started by other background threads (the blocking pool's), which
/// would otherwise lower it again.
fn runtime() -> &'static tokio::runtime::Runtime {
    RUNTIME.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let target = (nice_of_this_thread() + NICE).min(19);
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .worker_threads(cores)
            .max_blocking_threads((4 * cores).clamp(8, 64))
            .thread_name("selfprov-admin")
            .on_thread_start(move || set_nice(target))
            .build()
            // Only fails when the system refuses threads or an event queue at start-up.
            .expect("the background runtime starts")
    })
}

/// Run `f` on the background runtime and wait for its result.
pub async fn run<F>(f: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    match runtime().spawn(f).await {
        Ok(out) => out,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
}

/// Start `f` on the background runtime.
pub fn spawn<F>(f: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    runtime().spawn(f);
}

/// Set the calling thread's nice value. Threads of one process have their own nice value on
/// Linux (`setpriority` with a thread ID).
fn set_nice(value: i32) {
    // SAFETY: a plain system call about the calling thread; no memory is shared with it.
    let r = unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t, value) };
    if r != 0 {
        tracing::debug!(
            error = %std::io::Error::last_os_error(),
            "background thread keeps the service's priority"
        );
    }
}

/// The calling thread's nice value (0 when it cannot be read).
fn nice_of_this_thread() -> i32 {
    // SAFETY: plain system calls about the calling thread; errno is the thread's own.
    unsafe {
        *libc::__errno_location() = 0;
        let n = libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t);
        if n == -1 && *libc::__errno_location() != 0 {
            0
        } else {
            n
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn background_threads_run_at_a_lower_priority_than_the_caller() {
        let mine = nice_of_this_thread();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        // Several blocking threads at once, started by the (already lower) workers.
        let (theirs, blocking) = rt.block_on(run(async {
            let tasks: Vec<_> = (0..6)
                .map(|_| {
                    tokio::task::spawn_blocking(|| {
                        std::thread::sleep(std::time::Duration::from_millis(50));
                        nice_of_this_thread()
                    })
                })
                .collect();
            let mut blocking = Vec::new();
            for t in tasks {
                blocking.push(t.await.unwrap());
            }
            (nice_of_this_thread(), blocking)
        }));
        let target = (mine + NICE).min(19);
        assert_eq!(theirs, target);
        assert_eq!(
            blocking, [target; 6],
            "the blocking pool too, not lowered twice"
        );
        assert_eq!(nice_of_this_thread(), mine, "the caller keeps its priority");
    }
}
