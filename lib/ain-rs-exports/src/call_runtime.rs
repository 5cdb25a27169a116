//! The runtime a network client's blocking calls run on.
//!
//! A call drives the runtime on the caller's own thread, so the socket events
//! it waits for wake that thread directly instead of a worker that then wakes
//! it: on a small call the hop cost about a third of the round trip. Between
//! calls a background thread drives the runtime, so open connections still
//! answer pings and a server's graceful shutdown.

use std::future::Future;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use tokio::runtime::{Builder, Runtime};
use tokio::sync::Notify;

/// A current-thread runtime shared by callers and an idle driver.
pub struct CallRuntime {
    runtime: Arc<Runtime>,
    shared: Arc<Shared>,
    idle_driver: Option<JoinHandle<()>>,
}

#[derive(Default)]
struct Shared {
    /// Calls in flight, and whether the runtime is being dropped.
    state: Mutex<State>,
    /// Signalled when the last call in flight ends, or on drop.
    idle: Condvar,
    /// Asks the idle driver to hand the runtime over to a caller.
    hand_over: Notify,
}

#[derive(Default)]
struct State {
    calls: usize,
    stopping: bool,
}

impl CallRuntime {
    /// Starts the runtime and its idle driver.
    pub fn new() -> std::io::Result<Self> {
        let runtime = Arc::new(Builder::new_current_thread().enable_all().build()?);
        let shared = Arc::new(Shared::default());
        let (rt, sh) = (runtime.clone(), shared.clone());
        let idle_driver = std::thread::Builder::new()
            .name("ain-rpc-idle".into())
            .spawn(move || drive_while_idle(&rt, &sh))?;
        Ok(Self {
            runtime,
            shared,
            idle_driver: Some(idle_driver),
        })
    }

    /// Runs `fut` to completion, driving the runtime on this thread. Must not
    /// be called from inside an async context.
    pub fn block_on<F: Future>(&self, fut: F) -> F::Output {
        lock(&self.shared.state).calls += 1;
        // A stored permit if the driver is not waiting yet: it then returns
        // at once, sees the call and steps aside.
        self.shared.hand_over.notify_one();
        let out = self.runtime.block_on(fut);
        let mut state = lock(&self.shared.state);
        state.calls -= 1;
        if state.calls == 0 {
            self.shared.idle.notify_one();
        }
        out
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

/// Drives `rt` whenever no call is in flight, until the runtime is dropped.
fn drive_while_idle(rt: &Runtime, shared: &Shared) {
    loop {
        {
            let mut state = lock(&shared.state);
            while state.calls > 0 && !state.stopping {
                state = shared.idle.wait(state).unwrap_or_else(|e| e.into_inner());
            }
            if state.stopping {
                return;
            }
        }
        rt.block_on(shared.hand_over.notified());
    }
}

impl Drop for CallRuntime {
    fn drop(&mut self) {
        lock(&self.shared.state).stopping = true;
        self.shared.idle.notify_one();
        self.shared.hand_over.notify_one();
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
    fn drop_stops_the_idle_driver() {
        let rt = CallRuntime::new().unwrap();
        assert_eq!(rt.block_on(async { 7 }), 7);
        drop(rt); // joins the driver; a hang here fails the test by timeout
    }
}
