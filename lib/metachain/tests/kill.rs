//! Crash consistency: a child process connecting blocks in a loop is SIGKILLed
//! at random moments; every reopen finds a fully committed tip whose state
//! root verifies.

mod common;

use common::*;
use metachain::{address, Engine};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const DIR_ENV: &str = "DMC_KILL_TEST_DIR";

/// The child: connects 200-deposit blocks forever. Only runs when spawned by
/// `killed_at_random_moments_reopens_consistent`.
#[test]
fn kill_child_loop() {
    let Some(dir) = std::env::var_os(DIR_ENV) else {
        return;
    };
    let engine = Engine::open(std::path::Path::new(&dir)).unwrap();
    loop {
        let n = engine.tip().number;
        let txs = (0..200u32)
            .map(|i| {
                deposit(
                    &address::encode(&[(i % 50) as u8; 20]),
                    1 + i as i64,
                    &format!("{n}-{i}"),
                )
            })
            .collect();
        advance(&engine, txs);
    }
}

fn pseudo_random(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn killed_at_random_moments_reopens_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut last_height = 0;
    for trial in 0..24 {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "kill_child_loop",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(DIR_ENV, dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(30 + pseudo_random(&mut seed) % 250));
        child.kill().unwrap();
        child.wait().unwrap();

        let engine = Engine::open(dir.path())
            .unwrap_or_else(|e| panic!("trial {trial}: reopen failed: {e}"));
        engine
            .check_integrity()
            .unwrap_or_else(|e| panic!("trial {trial}: torn state: {e}"));
        let tip = engine.tip();
        assert!(
            tip.number >= last_height,
            "trial {trial}: tip went backwards"
        );
        last_height = tip.number;
    }
    assert!(last_height > 0, "the child never committed a block");
}
