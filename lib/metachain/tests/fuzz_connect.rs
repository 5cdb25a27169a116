//! Proptest-fed fuzzing of payload decoding plus ConnectBlock: arbitrary or
//! mutated bytes never panic, never connect, and change nothing.

mod common;

use common::*;
use metachain::address;
use metachain::Engine;
use proptest::prelude::*;

fn engine_with_candidate() -> (tempfile::TempDir, Engine, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open(dir.path()).unwrap();
    advance(&engine, vec![deposit(&address::encode(&[1; 20]), 50, "a")]);
    let m = mint(
        &engine,
        2,
        vec![
            deposit(&address::encode(&[2; 20]), 7, "b"),
            deposit(&address::encode(&[1; 20]), 3, "c"),
        ],
    );
    (dir, engine, m.payload)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_connect(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let (_d, engine, _) = engine_with_candidate();
        let before = engine.tip();
        prop_assert!(connect(&engine, 2, &bytes).is_err());
        prop_assert_eq!(engine.tip(), before);
    }

    #[test]
    fn mutated_payloads_never_connect(pos in any::<prop::sample::Index>(), flip in 1u8..=255, cut in any::<bool>()) {
        let (_d, engine, payload) = engine_with_candidate();
        let before = engine.tip();
        let mut bad = payload.clone();
        let i = pos.index(bad.len());
        if cut { bad.truncate(i) } else { bad[i] ^= flip }
        prop_assert!(connect(&engine, 2, &bad).is_err());
        prop_assert_eq!(engine.tip(), before);
        engine.check_integrity().unwrap();
        // The genuine payload still connects afterwards.
        prop_assert!(connect(&engine, 2, &payload).is_ok());
    }
}
