//! Hashes one side computes and the other checks, defined once for the engine
//! and for every caller (defid reaches them through libain).

use crate::types::NativeTx;
use sha2::{Digest, Sha256};

/// `MetaConnectBlockInput.native_txs_hash`: sha256 of `txs` encoded as a
/// `NativeTxList` message. Any protobuf library gives the same bytes, e.g.
/// Python's `sha256(NativeTxList(txs=txs).SerializeToString())`.
pub fn native_txs_hash<'a>(txs: impl IntoIterator<Item = &'a NativeTx>) -> [u8; 32] {
    let mut buf = Vec::new();
    for tx in txs {
        // Field 1 of NativeTxList, one length-delimited entry per tx.
        prost::encoding::message::encode(1, tx, &mut buf);
    }
    Sha256::digest(&buf).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::NativeTxList;

    #[test]
    fn matches_the_encoding_of_a_native_tx_list() {
        let txs = vec![
            NativeTx {
                kind: 1,
                to: "dmc1x".into(),
                amount: 5,
                native_txid: "aa".into(),
                ..Default::default()
            },
            NativeTx::default(),
        ];
        let list = prost::Message::encode_to_vec(&NativeTxList { txs: txs.clone() });
        assert_eq!(
            native_txs_hash(&txs),
            <[u8; 32]>::from(Sha256::digest(&list))
        );
        assert_ne!(native_txs_hash(&txs[..1]), native_txs_hash(&txs));
        assert_eq!(
            hex::encode(native_txs_hash([])),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
