//! Crash consistency: a child process minting and connecting blocks (deposits,
//! transfers and contract storage writes) in a loop is SIGKILLed at random
//! moments; every reopen finds a fully committed tip whose state root and
//! supply verify, and the chain carries on from it.

mod common;

use alloy_primitives::U256;
use common::*;
use metachain::Engine;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const DIR_ENV: &str = "DMC_KILL_TEST_DIR";

/// One more block on `engine`: 100 deposits, and from key 1 up to 20
/// transfers and a storage write to the contract it deployed first.
fn grow(engine: &Engine) {
    let height = engine.tip().number + 1;
    let k = key(1);
    let store = created(k.address(), 0);
    let mut native: Vec<_> = (0..100u8)
        .map(|i| deposit(addr(i % 50 + 1), 1 + i as i64))
        .collect();
    native.push(deposit(k.address(), 100_000_000));
    if height > 1 {
        let mut n = engine
            .balance(&metachain::keys::checksummed(&k.address()))
            .unwrap()
            .pending_nonce;
        if n == 0 {
            let _ = engine.submit(&create(&k, 0, deploy(&store_runtime())));
            n = 1;
        }
        for i in 0..20u64 {
            let _ = engine.submit(&transfer(&k, n + i, addr(0x77), U256::from(i + 1)));
        }
        let _ = engine.submit(&call(&k, n + 20, store, word(U256::from(height))));
    }
    mint_connect(engine, native, height);
}

/// The child: grows the chain forever. Only runs when spawned by
/// `killed_at_random_moments_reopens_consistent`.
#[test]
fn kill_child_loop() {
    let Some(dir) = std::env::var_os(DIR_ENV) else {
        return;
    };
    let engine = Engine::open(std::path::Path::new(&dir)).unwrap();
    loop {
        grow(&engine);
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
    for trial in 0..16 {
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
        std::thread::sleep(Duration::from_millis(50 + pseudo_random(&mut seed) % 300));
        // SIGKILL
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
        // the block at the tip is there, and the chain goes on from it
        assert_eq!(
            engine.block(&tip.number.to_string()).unwrap().hash,
            engine.tip_result().hash
        );
        if trial % 4 == 3 {
            grow(&engine);
            engine.check_integrity().unwrap();
            last_height += 1;
        }
    }
    assert!(last_height > 1, "the child never committed a block");
}
