//! The pure `meta_*` functions of libmc.h: addresses, keys, signatures and
//! wei amounts for defid's wallet and RPC argument checks. No engine needed;
//! all of the logic lives in `metachain::keys` and `metachain::chain`.

use crate::{guard, FfiError};
use metachain::chain;
use metachain::keys::{self, MetaKey};

fn key(secret: &[u8]) -> Result<MetaKey, FfiError> {
    MetaKey::from_secret(secret).map_err(FfiError)
}

/// The chain id of `network` (`main`, `test`/`testnet` or `regtest`).
pub fn meta_chain_id(network: &str) -> Result<u64, FfiError> {
    guard("meta_chain_id", || {
        chain::params(network).map(|p| p.chain_id).map_err(FfiError)
    })
}

/// The EIP-55 form of a meta address, or an error saying why it is not one.
pub fn meta_parse_address(address: &str) -> Result<String, FfiError> {
    guard("meta_parse_address", || {
        keys::parse_address(address)
            .map(|a| keys::checksummed(&a))
            .map_err(FfiError)
    })
}

/// The meta address (EIP-55) of a 32-byte secret key.
pub fn meta_address_of_key(secret: &[u8]) -> Result<String, FfiError> {
    guard("meta_address_of_key", || {
        Ok(keys::checksummed(&key(secret)?.address()))
    })
}

/// The 65-byte EIP-712 signature (`r || s || v`, v 27/28) authorising the
/// withdrawal of `amount` native units to the native address `to`.
pub fn meta_sign_withdrawal(
    secret: &[u8],
    chain_id: u64,
    to: &str,
    amount: i64,
    nonce: u64,
) -> Result<Vec<u8>, FfiError> {
    guard("meta_sign_withdrawal", || {
        key(secret)?
            .sign_withdrawal(chain_id, to, amount, nonce)
            .map(|sig| sig.to_vec())
            .map_err(FfiError)
    })
}

/// A raw signed EIP-1559 transfer of `value_wei` (decimal) to `to`.
#[allow(clippy::too_many_arguments)]
pub fn meta_sign_transfer(
    secret: &[u8],
    chain_id: u64,
    nonce: u64,
    to: &str,
    value_wei: &str,
    max_fee_per_gas: u64,
    max_priority_fee_per_gas: u64,
    gas_limit: u64,
) -> Result<Vec<u8>, FfiError> {
    guard("meta_sign_transfer", || {
        let key = key(secret)?;
        let to = keys::parse_address(to).map_err(FfiError)?;
        let value = keys::parse_wei(value_wei).map_err(FfiError)?;
        if max_priority_fee_per_gas > max_fee_per_gas {
            return Err(FfiError(format!(
                "max priority fee per gas {max_priority_fee_per_gas} above max fee per gas \
                 {max_fee_per_gas}"
            )));
        }
        Ok(keys::sign_transfer(
            &key,
            chain_id,
            nonce,
            to,
            value,
            u128::from(max_fee_per_gas),
            u128::from(max_priority_fee_per_gas),
            gas_limit,
        ))
    })
}

/// keccak256 of a raw tx as 0x-hex: its tx hash.
pub fn meta_tx_hash(raw: &[u8]) -> String {
    keys::tx_hash(raw).to_string()
}

/// A wei amount (canonical decimal) as coins with 18 decimals.
pub fn meta_format_wei(wei: &str) -> Result<String, FfiError> {
    guard("meta_format_wei", || {
        keys::parse_wei(wei).map(keys::format_wei).map_err(FfiError)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; 32] = [0x46; 32];
    const ADDRESS: &str = "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F";

    #[test]
    fn chain_ids() {
        assert_eq!(meta_chain_id("main").unwrap(), 1130);
        assert_eq!(meta_chain_id("test").unwrap(), 1131);
        assert_eq!(meta_chain_id("testnet").unwrap(), 1131);
        assert_eq!(meta_chain_id("regtest").unwrap(), 1132);
        assert!(meta_chain_id("devnet")
            .unwrap_err()
            .0
            .contains("unknown network"));
    }

    #[test]
    fn addresses() {
        assert_eq!(
            meta_parse_address(&ADDRESS.to_lowercase()).unwrap(),
            ADDRESS
        );
        assert_eq!(meta_parse_address(ADDRESS).unwrap(), ADDRESS);
        let e = meta_parse_address("0x9D8A62f656a8d1615C1294fd71e9CFb3E4855A4F").unwrap_err();
        assert!(e.0.contains("bad EIP-55 checksum"), "{}", e.0);
        let e = meta_parse_address("dmc1xyz").unwrap_err();
        assert!(e.0.contains("not 0x followed by 40 hex digits"), "{}", e.0);
        assert_eq!(meta_address_of_key(&SECRET).unwrap(), ADDRESS);
        assert!(meta_address_of_key(&[0; 32]).is_err());
        assert!(meta_address_of_key(&[1; 31])
            .unwrap_err()
            .0
            .contains("31 bytes"));
    }

    #[test]
    fn withdrawal_signature() {
        let sig = meta_sign_withdrawal(
            &SECRET,
            1132,
            "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080",
            150_000_000,
            7,
        )
        .unwrap();
        // the signature eth-account makes for the same typed data
        assert_eq!(
            sig,
            hex_bytes(
                "7cd1e06e5980cf9b81623b950ec7fc55cddb7be36e56ed63af5212c3e35388a1\
                 64142f737bc016f4b82cea16c6ca2bad7a033ce8300eedcc99c0f8803fe7c2c11c"
            )
        );
        assert!(meta_sign_withdrawal(&SECRET, 1132, "x", 0, 0)
            .unwrap_err()
            .0
            .contains("positive"));
        assert!(meta_sign_withdrawal(&[], 1132, "x", 1, 0).is_err());
    }

    fn hex_bytes(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn transfer() {
        let raw = meta_sign_transfer(
            &SECRET,
            1132,
            3,
            "0x3535353535353535353535353535353535353535",
            "12345678900000000000",
            2_000_000_000,
            1_000_000_000,
            21_000,
        )
        .unwrap();
        // the raw tx eth-account signs for the same fields
        assert_eq!(
            meta_tx_hash(&raw),
            "0x7708bd09ee50d48d513518c119d1bf4a50daa44869c268ea0cec3db8c8d9785a"
        );
        let sign = |to: &str, value: &str, max_fee: u64, tip: u64| {
            meta_sign_transfer(&SECRET, 1132, 0, to, value, max_fee, tip, 21_000)
        };
        let to = "0x3535353535353535353535353535353535353535";
        assert!(sign("0x35", "1", 2, 1)
            .unwrap_err()
            .0
            .contains("not 0x followed"));
        assert!(sign(to, "-1", 2, 1)
            .unwrap_err()
            .0
            .contains("invalid wei amount"));
        assert!(sign(to, "01", 2, 1)
            .unwrap_err()
            .0
            .contains("leading zeros"));
        assert!(sign(to, "1", 1, 2).unwrap_err().0.contains("above max fee"));
        assert!(meta_sign_transfer(&[0; 32], 1132, 0, to, "1", 2, 1, 21_000).is_err());
    }

    #[test]
    fn hashes_and_wei() {
        assert_eq!(
            meta_tx_hash(&[]),
            "0xc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
        assert_eq!(
            meta_format_wei("1500000000000000000").unwrap(),
            "1.500000000000000000"
        );
        assert_eq!(meta_format_wei("1").unwrap(), "0.000000000000000001");
        assert!(meta_format_wei("1.5")
            .unwrap_err()
            .0
            .contains("invalid wei amount"));
        assert!(meta_format_wei("").is_err());
    }
}
