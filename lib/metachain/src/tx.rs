//! Signed metachain transactions.
//!
//! A withdrawal or transfer is signed by the `from` account's secp256k1 key:
//! ECDSA (low-S, 64-byte compact) over [`sighash`], with the 33-byte compressed
//! public key in the tx. `from` must be the address of that key. The sighash is
//! `sha256("dmc-tx-v1" || kind:i32le || len:u32le || from || len:u32le || to ||
//! amount:i64le || nonce:u64le)`; wallets on the C++ side build the same bytes.

use crate::address;
use crate::hashing::{sha256, Hash};
use ain_rs::types::{MetaTx, TxKind};
use prost::Message;
use secp256k1::{ecdsa::Signature, PublicKey, SecretKey};

const DOMAIN: &[u8] = b"dmc-tx-v1";

/// The digest a withdrawal or transfer signs.
pub fn sighash(kind: i32, from: &str, to: &str, amount: i64, nonce: u64) -> Hash {
    let mut buf = Vec::with_capacity(DOMAIN.len() + 32 + from.len() + to.len());
    buf.extend_from_slice(DOMAIN);
    buf.extend_from_slice(&kind.to_le_bytes());
    for s in [from, to] {
        buf.extend_from_slice(&(s.len() as u32).to_le_bytes());
        buf.extend_from_slice(s.as_bytes());
    }
    buf.extend_from_slice(&amount.to_le_bytes());
    buf.extend_from_slice(&nonce.to_le_bytes());
    sha256(&buf)
}

/// Hash identifying a tx: sha256 of its protobuf encoding.
pub fn tx_hash(tx: &MetaTx) -> Hash {
    sha256(&tx.encode_to_vec())
}

/// Checks that `tx` is signed by the key owning `tx.from`.
pub fn verify(tx: &MetaTx) -> Result<(), String> {
    let pubkey = PublicKey::from_slice(&tx.pubkey).map_err(|e| format!("bad public key: {e}"))?;
    if address::from_pubkey(&pubkey.serialize()) != tx.from {
        return Err(format!("public key does not own {}", tx.from));
    }
    let sig = Signature::from_compact(&tx.signature).map_err(|e| format!("bad signature: {e}"))?;
    let msg =
        secp256k1::Message::from_digest(sighash(tx.kind, &tx.from, &tx.to, tx.amount, tx.nonce));
    sig.verify(msg, &pubkey)
        .map_err(|_| "signature does not verify".to_string())
}

/// A meta account key, as a wallet holds it.
#[derive(Clone)]
pub struct Key {
    secret: SecretKey,
    pubkey: [u8; 33],
}

impl Key {
    pub fn from_secret(bytes: [u8; 32]) -> Result<Key, String> {
        let secret =
            SecretKey::from_byte_array(bytes).map_err(|e| format!("bad secret key: {e}"))?;
        let pubkey = PublicKey::from_secret_key_global(&secret).serialize();
        Ok(Key { secret, pubkey })
    }

    pub fn random() -> Key {
        let secret = SecretKey::new(&mut secp256k1::rand::rng());
        let pubkey = PublicKey::from_secret_key_global(&secret).serialize();
        Key { secret, pubkey }
    }

    pub fn address(&self) -> String {
        address::from_pubkey(&self.pubkey)
    }

    /// A signed tx of `kind` from this key's address.
    pub fn sign(&self, kind: TxKind, to: &str, amount: i64, nonce: u64) -> MetaTx {
        let from = self.address();
        let digest = sighash(kind as i32, &from, to, amount, nonce);
        let sig = self
            .secret
            .sign_ecdsa(secp256k1::Message::from_digest(digest));
        MetaTx {
            kind: kind as i32,
            from,
            to: to.to_string(),
            amount,
            nonce,
            pubkey: self.pubkey.to_vec(),
            signature: sig.serialize_compact().to_vec(),
            native_txid: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_every_field() {
        let k = Key::random();
        let tx = k.sign(TxKind::Transfer, &address::encode(&[1; 20]), 5, 0);
        assert_eq!(verify(&tx), Ok(()));
        for tamper in [
            |t: &mut MetaTx| t.amount += 1,
            |t: &mut MetaTx| t.nonce += 1,
            |t: &mut MetaTx| t.to = address::encode(&[2; 20]),
            |t: &mut MetaTx| t.kind = TxKind::Withdraw as i32,
            |t: &mut MetaTx| t.signature[10] ^= 1,
        ] {
            let mut t = tx.clone();
            tamper(&mut t);
            assert!(verify(&t).is_err());
        }
        let other = Key::random();
        let mut stolen = tx.clone();
        stolen.pubkey = other.sign(TxKind::Transfer, "x", 1, 0).pubkey;
        assert!(verify(&stolen).unwrap_err().contains("does not own"));
    }
}
