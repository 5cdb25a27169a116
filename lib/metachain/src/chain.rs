//! The metachain networks and their fixed parameters (docs/metachain.md, Networks).

/// 1 native unit (10^-8 coin) in wei: 1 coin = 10^8 units = 10^18 wei.
pub const WEI_PER_UNIT: u64 = 10_000_000_000;

/// Block gas limit of every network.
pub const GAS_LIMIT: u64 = 30_000_000;

/// Base fee floor of every network: 1 gwei.
pub const MIN_BASE_FEE: u64 = 1_000_000_000;

/// The fixed parameters of one metachain network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainParams {
    /// Canonical network name: `main`, `testnet` or `regtest`.
    pub name: &'static str,
    /// EIP-155 chain id (also the EVM's `CHAINID` and the EIP-712 domain's).
    pub chain_id: u64,
    /// Gas limit of every block.
    pub gas_limit: u64,
    /// The base fee never falls below this (wei per gas).
    pub min_base_fee: u64,
}

/// The regtest parameters, the default of a new engine.
pub fn regtest() -> ChainParams {
    ChainParams {
        name: "regtest",
        chain_id: 1132,
        gas_limit: GAS_LIMIT,
        min_base_fee: MIN_BASE_FEE,
    }
}

/// The parameters of `network`: `main` (1130), `testnet` or `test` (1131),
/// `regtest` (1132).
pub fn params(network: &str) -> Result<ChainParams, String> {
    let (name, chain_id) = match network {
        "main" => ("main", 1130),
        "testnet" | "test" => ("testnet", 1131),
        "regtest" => return Ok(regtest()),
        other => {
            let shown: String = other.chars().take(64).collect();
            return Err(format!(
                "unknown network {shown:?}: expected main, testnet (or test) or regtest"
            ));
        }
    };
    Ok(ChainParams {
        name,
        chain_id,
        gas_limit: GAS_LIMIT,
        min_base_fee: MIN_BASE_FEE,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        assert_eq!(params("main").unwrap().chain_id, 1130);
        assert_eq!(params("testnet").unwrap().chain_id, 1131);
        assert_eq!(params("test").unwrap(), params("testnet").unwrap());
        assert_eq!(params("test").unwrap().name, "testnet");
        let r = params("regtest").unwrap();
        assert_eq!(
            (r.chain_id, r.gas_limit, r.min_base_fee),
            (1132, 30_000_000, 1_000_000_000)
        );
        let e = params("mainnet").unwrap_err();
        assert!(e.contains("unknown network \"mainnet\""), "{e}");
        assert!(params("").is_err());
        assert!(params("Main").is_err());
        assert_eq!(WEI_PER_UNIT * 100_000_000, 1_000_000_000_000_000_000);
    }
}
