//! The runtime a network client's blocking calls run on.
//!
//! A call drives the runtime on the caller's own thread, so the socket events
//! it waits for wake that thread directly instead of a worker that then wakes
//! it. Between calls a background thread drives it for a moment every
//! [`IDLE_POLL`], so open connections still answer pings and a server's
//! graceful shutdown. That thread never holds the runtime while it waits, so
//! a call starts without waking it: on a VM each thread wake-up costs tens of
//! microseconds, a large part of a small call.

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Condvar, Mutex};
use std::task::Poll;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::runtime::{Builder, Runtime};

/// How often the idle driver runs what the sockets and timers woke.
const IDLE_POLL: Duration = Duration::from_millis(50);

/// How long a call polls for its reply before its thread may sleep. A small
/// call's reply (GetTip, a 0-tx mint or connect) usually comes within it, so
/// the thread is still running when the reply lands instead of being woken
/// for it; a long call wastes at most this much CPU.
const SPIN: Duration = Duration::from_millis(1);

/// A current-thread runtime shared by callers and an idle driver.
pub struct CallRuntime {
    runtime: Arc<Runtime>,
    stop: Arc<Stop>,
    idle_driver: Option<JoinHandle<()>>,
}

/// Set when the runtime is dropped; the idle driver waits on it.
#[derive(Default)]
struct Stop {
    stopping: Mutex<bool>,
    signal: Condvar,
}

impl CallRuntime {
    /// Starts the runtime and its idle driver.
    pub fn new() -> std::io::Result<Self> {
        let runtime = Arc::new(Builder::new_current_thread().enable_all().build()?);
        let stop = Arc::new(Stop::default());
        let (rt, st) = (runtime.clone(), stop.clone());
        let idle_driver = std::thread::Builder::new()
            .name("ain-rpc-idle".into())
            .spawn(move || drive_while_idle(&rt, &st))?;
        Ok(Self {
            runtime,
            stop,
            idle_driver: Some(idle_driver),
        })
    }

    /// Runs `fut` to completion, driving the runtime on this thread. Must not
    /// be called from inside an async context.
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        self.runtime.block_on(spin_then_park(fut))
    }
}

/// Awaits `fut`, polling the runtime's sockets without sleeping for the
/// first [`SPIN`]: each yield lets the scheduler check for I/O with a zero
/// timeout and run what it woke.
async fn spin_then_park<F: Future>(fut: F) -> F::Output {
    let mut fut = pin!(fut);
    let start = Instant::now();
    loop {
        if let Poll::Ready(out) =
            std::future::poll_fn(|cx| Poll::Ready(fut.as_mut().poll(cx))).await
        {
            return out;
        }
        if start.elapsed() >= SPIN {
            return fut.await;
        }
        tokio::task::yield_now().await;
    }
}

fn lock(m: &Mutex<bool>) -> std::sync::MutexGuard<'_, bool> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Every [`IDLE_POLL`], runs what the runtime's sockets and timers woke,
/// without waiting for more, until the runtime is dropped.
fn drive_while_idle(rt: &Runtime, stop: &Stop) {
    loop {
        {
            let stopping = lock(&stop.stopping);
            let (stopping, _) = stop
                .signal
                .wait_timeout_while(stopping, IDLE_POLL, |s| !*s)
                .unwrap_or_else(|e| e.into_inner());
            if *stopping {
                return;
            }
        }
        // A few turns: one to see I/O, the next to run the tasks it woke.
        // If a call holds the runtime, this returns at once and the call
        // drives it instead.
        rt.block_on(async {
            for _ in 0..4 {
                tokio::task::yield_now().await;
            }
        });
    }
}

impl Drop for CallRuntime {
    fn drop(&mut self) {
        *lock(&self.stop.stopping) = true;
        self.stop.signal.notify_one();
        if let Some(driver) = self.idle_driver.take() {
            let _ = driver.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    /// Waits up to 30 s for `done`; a liveness check, not a timing one.
    fn eventually(done: impl Fn() -> bool) -> bool {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if done() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    #[test]
    fn tasks_run_between_calls() {
        let rt = CallRuntime::new().unwrap();
        let ticks = Arc::new(AtomicU64::new(0));
        let t = ticks.clone();
        rt.block_on(async move {
            tokio::spawn(async move {
                loop {
                    t.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            });
        });
        // No call is in flight: only the idle driver can run the task.
        assert!(eventually(|| ticks.load(Ordering::Relaxed) > 10));
        let before = ticks.load(Ordering::Relaxed);
        assert!(eventually(|| ticks.load(Ordering::Relaxed) > before + 10));
    }

    #[test]
    fn calls_from_many_threads_all_finish() {
        let rt = Arc::new(CallRuntime::new().unwrap());
        let threads: Vec<_> = (0..4u64)
            .map(|i| {
                let rt = rt.clone();
                std::thread::spawn(move || {
                    (0..200u64)
                        .map(|j| {
                            rt.block_on(async move {
                                tokio::task::yield_now().await;
                                tokio::spawn(async move { i * 1000 + j }).await.unwrap()
                            })
                        })
                        .sum::<u64>()
                })
            })
            .collect();
        for (i, t) in threads.into_iter().enumerate() {
            let i = i as u64;
            assert_eq!(t.join().unwrap(), i * 1000 * 200 + (0..200).sum::<u64>());
        }
    }

    #[test]
    fn calls_outlasting_the_spin_sleep_until_woken() {
        let rt = CallRuntime::new().unwrap();
        let start = Instant::now();
        let waited = rt.block_on(async {
            tokio::time::sleep(SPIN * 20).await;
            start.elapsed()
        });
        assert!(waited >= SPIN * 20);
        // A socket reply after the spin window still reaches the caller.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let writer = std::thread::spawn(move || {
            use std::io::Write;
            let (mut s, _) = listener.accept().unwrap();
            std::thread::sleep(SPIN * 10);
            s.write_all(b"late").unwrap();
        });
        let got = rt.block_on(async move {
            let s = tokio::net::TcpStream::connect(addr).await.unwrap();
            let mut buf = [0u8; 4];
            let mut n = 0;
            while n < buf.len() {
                s.readable().await.unwrap();
                match s.try_read(&mut buf[n..]) {
                    Ok(0) => break,
                    Ok(k) => n += k,
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                    Err(e) => panic!("{e}"),
                }
            }
            buf
        });
        assert_eq!(&got, b"late");
        writer.join().unwrap();
    }

    #[test]
    fn drop_stops_the_idle_driver() {
        let rt = CallRuntime::new().unwrap();
        assert_eq!(rt.block_on(async { 7 }), 7);
        drop(rt); // joins the driver; a hang here fails the test by timeout
    }
}
