//! Meta addresses: bech32m with the `dmc` prefix over a 20-byte key hash.
//! Native addresses use a different prefix, so the two never mix.

use bech32::primitives::decode::CheckedHrpstring;
use bech32::{Bech32m, Hrp};
use sha2::{Digest, Sha256};

/// Human-readable prefix of every meta address.
pub const META_HRP: &str = "dmc";

/// Checks that `s` is a well-formed meta address and returns its key hash.
pub fn parse(s: &str) -> Result<[u8; 20], String> {
    let checked = CheckedHrpstring::new::<Bech32m>(s)
        .map_err(|e| format!("invalid meta address {s:?}: {e}"))?;
    if checked.hrp().as_str() != META_HRP {
        return Err(format!(
            "invalid meta address {s:?}: prefix {} is not {META_HRP}",
            checked.hrp()
        ));
    }
    let program: Vec<u8> = checked.byte_iter().collect();
    program
        .try_into()
        .map_err(|p: Vec<u8>| format!("invalid meta address {s:?}: {} bytes, expected 20", p.len()))
}

/// The address of a 20-byte key hash.
pub fn encode(key_hash: &[u8; 20]) -> String {
    let hrp = Hrp::parse_unchecked(META_HRP);
    // A 20-byte program always fits the bech32 length limit.
    bech32::encode::<Bech32m>(hrp, key_hash).unwrap_or_default()
}

/// The address owned by a compressed secp256k1 public key.
pub fn from_pubkey(pubkey: &[u8]) -> String {
    let digest = Sha256::digest(pubkey);
    let mut hash = [0u8; 20];
    hash.copy_from_slice(&digest[..20]);
    encode(&hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let a = encode(&[7u8; 20]);
        assert!(a.starts_with("dmc1"));
        assert_eq!(parse(&a).unwrap(), [7u8; 20]);
        // flipped character breaks the checksum
        let mut bad = a.clone().into_bytes();
        let last = bad.len() - 1;
        bad[last] = if bad[last] == b'q' { b'p' } else { b'q' };
        assert!(parse(std::str::from_utf8(&bad).unwrap()).is_err());
        // other prefix
        let other = bech32::encode::<Bech32m>(Hrp::parse_unchecked("bcrt"), &[7u8; 20]).unwrap();
        assert!(parse(&other).unwrap_err().contains("prefix"));
        assert!(parse("").is_err());
    }
}
