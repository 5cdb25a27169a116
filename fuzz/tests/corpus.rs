//! The committed corpus replays clean through every target (every crash ever
//! found stays fixed), and the seeds are what the harness mints today.
//! `FUZZ_WRITE_SEEDS=1 cargo test` rewrites the seeds after a format change.

use metachain_fuzz::*;
use std::path::{Path, PathBuf};

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
}

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out: Vec<_> = std::fs::read_dir(corpus(target))
        .unwrap_or_else(|e| panic!("{target} corpus: {e}"))
        .map(|e| {
            let path = e.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "{target} has no corpus");
    out
}

#[test]
fn seeds_are_current() {
    let write = std::env::var_os("FUZZ_WRITE_SEEDS").is_some();
    for (target, seeds) in [
        ("payload_connect", seed_payloads()),
        ("jsonrpc_params", seed_params()),
        ("jsonrpc_envelope", seed_envelopes()),
    ] {
        std::fs::create_dir_all(corpus(target)).unwrap();
        for (name, bytes) in seeds {
            let path = corpus(target).join(format!("seed-{name}"));
            if write {
                std::fs::write(&path, &bytes).unwrap();
            } else {
                let stored = std::fs::read(&path).unwrap_or_default();
                assert!(
                    stored == bytes,
                    "{} is stale: run FUZZ_WRITE_SEEDS=1 cargo test in fuzz/",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn seed_payloads_are_real_blocks() {
    for (name, payload) in seed_payloads() {
        let chain = Chain::new();
        let before = chain.engine.tip();
        let result = chain.engine.connect(connect_input(&payload));
        match name {
            "tip" => assert_eq!(result.unwrap().number, before.number),
            "stale" => assert!(result.is_err()),
            _ => assert_eq!(result.unwrap().number, before.number + 1, "{name}"),
        }
    }
}

#[test]
fn the_corpus_replays_clean() {
    let mut chain = Chain::new();
    for (_, bytes) in inputs("payload_connect") {
        payload_connect(&mut chain, &bytes);
    }
    for (_, bytes) in inputs("jsonrpc_params") {
        jsonrpc_params(&mut chain, &bytes);
    }
    for (_, bytes) in inputs("jsonrpc_envelope") {
        jsonrpc_envelope(&bytes);
    }
}
