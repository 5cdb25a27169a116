//! Meta addresses, keys and signatures: every piece of address and signature
//! code of the project lives here (defid reaches it over the bridge).
//!
//! - Addresses are Ethereum addresses, parsed strictly ([`parse_address`]) and
//!   printed in EIP-55 form ([`checksummed`]).
//! - [`MetaKey`] is a secp256k1 Ethereum key: it signs EIP-2718 txs
//!   ([`MetaKey::sign_tx`], [`sign_transfer`]) and EIP-712 withdrawals
//!   ([`MetaKey::sign_withdrawal`]), which [`recover_withdrawal_signer`] checks.
//! - Wei amounts as decimal strings: [`format_wei`], [`parse_wei`].

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, TypedTransaction};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{keccak256, Address, Signature, TxKind, B256, U256};
use alloy_sol_types::{sol, Eip712Domain, SolStruct};
use secp256k1::ecdsa::{RecoverableSignature, RecoveryId};
use secp256k1::{Message, PublicKey, SecretKey, SECP256K1};
use std::borrow::Cow;
use std::fmt;

sol! {
    /// The EIP-712 message a meta address signs to withdraw to the native chain.
    struct Withdrawal {
        address from;
        string to;
        uint256 amount;
        uint256 nonce;
    }
}

/// EIP-712 domain name of withdrawals.
pub const EIP712_NAME: &str = "DefiMetachain";
/// EIP-712 domain version of withdrawals.
pub const EIP712_VERSION: &str = "1";

/// secp256k1 group order n.
const SECP256K1_N: U256 = U256::from_be_bytes([
    0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE,
    0xBA, 0xAE, 0xDC, 0xE6, 0xAF, 0x48, 0xA0, 0x3B, 0xBF, 0xD2, 0x5E, 0x8C, 0xD0, 0x36, 0x41, 0x41,
]);

/// n / 2: EIP-2 refuses signatures with a larger s.
const SECP256K1_HALF_N: U256 = U256::from_be_bytes([
    0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
    0x5D, 0x57, 0x6E, 0x73, 0x57, 0xA4, 0x50, 0x1D, 0xDF, 0xE9, 0x2F, 0x46, 0x68, 0x1B, 0x20, 0xA0,
]);

/// 10^18: wei per coin.
const WEI_PER_COIN: u64 = 1_000_000_000_000_000_000;

/// `s` for an error message: quoted, and cut short if hostile input is long.
fn shown(s: &str) -> String {
    const MAX: usize = 100;
    if s.len() <= MAX {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head:?}... ({} bytes)", s.len())
    }
}

/// Parses a meta address: exactly `0x` and 40 hex digits, all lowercase, all
/// uppercase, or mixed case with a valid EIP-55 checksum.
pub fn parse_address(s: &str) -> Result<Address, String> {
    let digits = s
        .strip_prefix("0x")
        .filter(|d| d.len() == 40 && d.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| {
            format!(
                "invalid meta address {}: not 0x followed by 40 hex digits",
                shown(s)
            )
        })?;
    let mut bytes = [0u8; 20];
    hex::decode_to_slice(digits, &mut bytes).map_err(|e| {
        format!(
            "invalid meta address {}: not 0x followed by 40 hex digits ({e})",
            shown(s)
        )
    })?;
    let address = Address::from(bytes);
    let has_lower = digits.bytes().any(|b| b.is_ascii_lowercase());
    let has_upper = digits.bytes().any(|b| b.is_ascii_uppercase());
    if has_lower && has_upper && checksummed(&address) != s {
        return Err(format!(
            "invalid meta address {}: bad EIP-55 checksum (mixed case must match it exactly; \
             all-lowercase is accepted without one)",
            shown(s)
        ));
    }
    Ok(address)
}

/// The EIP-55 form of `a` (without EIP-1191 chain id).
pub fn checksummed(a: &Address) -> String {
    a.to_checksum(None)
}

/// The address of an uncompressed secp256k1 public key: the last 20 bytes of
/// keccak256 of its 64 coordinate bytes.
fn address_of(pubkey: &PublicKey) -> Address {
    let uncompressed = pubkey.serialize_uncompressed();
    let hash = keccak256(&uncompressed[1..]);
    Address::from_slice(&hash[12..])
}

/// A meta (Ethereum) secp256k1 key.
#[derive(Clone, PartialEq, Eq)]
pub struct MetaKey {
    secret: SecretKey,
    address: Address,
}

impl fmt::Debug for MetaKey {
    /// Shows the address only, never the secret.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MetaKey({})", checksummed(&self.address))
    }
}

impl MetaKey {
    /// The key with this 32-byte secret (1 ≤ secret < n).
    pub fn from_secret(secret: &[u8]) -> Result<Self, String> {
        let secret: [u8; 32] = secret
            .try_into()
            .map_err(|_| format!("invalid meta key: {} bytes, expected 32", secret.len()))?;
        let secret = SecretKey::from_byte_array(secret)
            .map_err(|_| "invalid meta key: zero or not below the secp256k1 order".to_string())?;
        Ok(Self::from_secret_key(secret))
    }

    fn from_secret_key(secret: SecretKey) -> Self {
        let address = address_of(&PublicKey::from_secret_key(SECP256K1, &secret));
        Self { secret, address }
    }

    /// A fresh key from the OS's randomness.
    pub fn random() -> Self {
        Self::from_secret_key(SecretKey::new(&mut secp256k1::rand::rng()))
    }

    /// The 32-byte secret.
    pub fn secret_bytes(&self) -> [u8; 32] {
        self.secret.secret_bytes()
    }

    /// The key's address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Signs a 32-byte digest (RFC 6979 nonce, low s).
    pub fn sign_hash(&self, hash: &B256) -> Signature {
        let sig = SECP256K1.sign_ecdsa_recoverable(Message::from_digest(hash.0), &self.secret);
        let (recid, rs) = sig.serialize_compact();
        let r = U256::from_be_slice(&rs[..32]);
        let s = U256::from_be_slice(&rs[32..]);
        Signature::new(r, s, i32::from(recid) == 1)
    }

    /// Signs `tx` (any type; a legacy tx is signed with EIP-155 iff it has a
    /// chain id) and returns its raw EIP-2718 encoding.
    pub fn sign_tx(&self, tx: impl Into<TypedTransaction>) -> Vec<u8> {
        let tx: TypedTransaction = tx.into();
        let sig = self.sign_hash(&tx.signature_hash());
        TxEnvelope::from((tx, sig)).encoded_2718()
    }

    /// The 65-byte EIP-712 signature (`r || s || v`, v 27/28) authorising the
    /// withdrawal of `amount` native units from this key's address to the
    /// native address `to` at account nonce `nonce`.
    pub fn sign_withdrawal(
        &self,
        chain_id: u64,
        to: &str,
        amount: i64,
        nonce: u64,
    ) -> Result<[u8; 65], String> {
        let hash = withdrawal_signing_hash(chain_id, self.address, to, amount, nonce)?;
        let sig = self.sign_hash(&hash);
        let mut out = [0u8; 65];
        out[..32].copy_from_slice(&sig.r().to_be_bytes::<32>());
        out[32..64].copy_from_slice(&sig.s().to_be_bytes::<32>());
        out[64] = 27 + u8::from(sig.v());
        Ok(out)
    }
}

/// The EIP-712 domain of withdrawals on chain `chain_id`:
/// `EIP712Domain(string name,string version,uint256 chainId)`.
pub fn withdrawal_domain(chain_id: u64) -> Eip712Domain {
    Eip712Domain::new(
        Some(Cow::Borrowed(EIP712_NAME)),
        Some(Cow::Borrowed(EIP712_VERSION)),
        Some(U256::from(chain_id)),
        None,
        None,
    )
}

/// The EIP-712 digest a withdrawal signature signs. `amount` is in native
/// units and must be positive.
pub fn withdrawal_signing_hash(
    chain_id: u64,
    from: Address,
    to: &str,
    amount: i64,
    nonce: u64,
) -> Result<B256, String> {
    if amount <= 0 {
        return Err(format!(
            "invalid withdrawal amount {amount}: must be positive"
        ));
    }
    let message = Withdrawal {
        from,
        to: to.to_string(),
        amount: U256::from(amount.unsigned_abs()),
        nonce: U256::from(nonce),
    };
    Ok(message.eip712_signing_hash(&withdrawal_domain(chain_id)))
}

/// Recovers the signer of a 32-byte digest from a 65-byte `r || s || v`
/// signature, v ∈ {0, 1, 27, 28}. Refuses r or s outside [1, n) and high s
/// (EIP-2).
pub fn recover_hash_signer(hash: &B256, sig: &[u8]) -> Result<Address, String> {
    let sig: &[u8; 65] = sig
        .try_into()
        .map_err(|_| format!("bad signature: {} bytes, expected 65", sig.len()))?;
    let r = U256::from_be_slice(&sig[..32]);
    let s = U256::from_be_slice(&sig[32..64]);
    if r.is_zero() || r >= SECP256K1_N {
        return Err("bad signature: r out of range".into());
    }
    if s.is_zero() || s >= SECP256K1_N {
        return Err("bad signature: s out of range".into());
    }
    if s > SECP256K1_HALF_N {
        return Err("bad signature: high s (EIP-2 requires s <= n/2)".into());
    }
    let parity = match sig[64] {
        0 | 27 => 0,
        1 | 28 => 1,
        v => {
            return Err(format!(
                "bad signature: v is {v}, expected 27 or 28 (or 0 or 1)"
            ))
        }
    };
    let recid = RecoveryId::try_from(parity).map_err(|e| format!("bad signature: {e}"))?;
    let recoverable = RecoverableSignature::from_compact(&sig[..64], recid)
        .map_err(|e| format!("bad signature: {e}"))?;
    let pubkey = SECP256K1
        .recover_ecdsa(Message::from_digest(hash.0), &recoverable)
        .map_err(|_| "bad signature: no public key recovers from it".to_string())?;
    Ok(address_of(&pubkey))
}

/// The address whose key made `sig` over the withdrawal; the withdrawal is
/// authorised iff that is `from`.
pub fn recover_withdrawal_signer(
    chain_id: u64,
    from: Address,
    to: &str,
    amount: i64,
    nonce: u64,
    sig: &[u8],
) -> Result<Address, String> {
    let hash = withdrawal_signing_hash(chain_id, from, to, amount, nonce)?;
    recover_hash_signer(&hash, sig)
}

/// A raw signed EIP-1559 transfer of `value` wei to `to` (empty input and
/// access list).
#[allow(clippy::too_many_arguments)]
pub fn sign_transfer(
    key: &MetaKey,
    chain_id: u64,
    nonce: u64,
    to: Address,
    value: U256,
    max_fee_per_gas: u128,
    max_priority_fee_per_gas: u128,
    gas_limit: u64,
) -> Vec<u8> {
    key.sign_tx(TxEip1559 {
        chain_id,
        nonce,
        gas_limit,
        max_fee_per_gas,
        max_priority_fee_per_gas,
        to: TxKind::Call(to),
        value,
        access_list: Default::default(),
        input: Default::default(),
    })
}

/// The hash of a raw EIP-2718 tx: keccak256 of its bytes.
pub fn tx_hash(raw: &[u8]) -> B256 {
    keccak256(raw)
}

/// `wei` as coins with exactly 18 decimals: `1.500000000000000000`.
pub fn format_wei(wei: U256) -> String {
    let coin = U256::from(WEI_PER_COIN);
    let (whole, frac) = wei.div_rem(coin);
    // frac < 10^18 < 2^64
    format!("{whole}.{:018}", frac.as_limbs()[0])
}

/// Parses a canonical decimal wei amount: digits only, no sign, no leading
/// zeros (except `0` itself), at most 2^256 - 1.
pub fn parse_wei(s: &str) -> Result<U256, String> {
    if s.is_empty() {
        return Err("invalid wei amount \"\": empty".into());
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "invalid wei amount {}: only decimal digits are allowed",
            shown(s)
        ));
    }
    if s.len() > 1 && s.starts_with('0') {
        return Err(format!(
            "invalid wei amount {}: leading zeros are not allowed",
            shown(s)
        ));
    }
    // 2^256 has 78 decimal digits: anything longer overflows.
    if s.len() > 78 {
        return Err(format!("invalid wei amount {}: above 2^256 - 1", shown(s)));
    }
    U256::from_str_radix(s, 10)
        .map_err(|_| format!("invalid wei amount {}: above 2^256 - 1", shown(s)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::transaction::SignerRecoverable;
    use alloy_consensus::{Transaction, TxLegacy};
    use alloy_eips::eip2718::Decodable2718;
    use alloy_primitives::{address, b256, hex};

    fn key46() -> MetaKey {
        MetaKey::from_secret(&[0x46; 32]).unwrap()
    }

    #[test]
    fn address_of_eip155_key() {
        let k = key46();
        assert_eq!(
            checksummed(&k.address()),
            "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F"
        );
        assert_eq!(k.secret_bytes(), [0x46; 32]);
        assert_eq!(
            format!("{k:?}"),
            "MetaKey(0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F)"
        );
        assert_eq!(MetaKey::from_secret(&k.secret_bytes()).unwrap(), k);
    }

    #[test]
    fn bad_secrets() {
        assert!(MetaKey::from_secret(&[0; 32]).unwrap_err().contains("zero"));
        assert!(MetaKey::from_secret(&[0xff; 32]).is_err());
        assert!(MetaKey::from_secret(&[1; 31])
            .unwrap_err()
            .contains("31 bytes"));
        assert!(MetaKey::from_secret(&[1; 33]).is_err());
        assert!(MetaKey::from_secret(&[]).is_err());
        let a = MetaKey::random();
        let b = MetaKey::random();
        assert_ne!(a.address(), b.address());
    }

    #[test]
    fn eip55_vectors() {
        // From EIP-55.
        for s in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
            "0x52908400098527886E0F7030069857D2E4169EE7",
            "0x8617E340B3D01FA5F11F306F4090FD50E238070D",
            "0xde709f2102306220921060314715629080e2fb77",
            "0x27b1fdb04752bbc536007a920d24acb045561c26",
        ] {
            let a = parse_address(s).unwrap();
            assert_eq!(checksummed(&a), s);
            assert_eq!(parse_address(&s.to_lowercase()).unwrap(), a);
            let upper = format!("0x{}", s[2..].to_uppercase());
            assert_eq!(parse_address(&upper).unwrap(), a);
        }
    }

    #[test]
    fn address_rejections() {
        let good = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
        // one letter's case flipped
        let bad = "0x5aaeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
        assert!(parse_address(bad)
            .unwrap_err()
            .contains("bad EIP-55 checksum"));
        for s in [
            "",
            "0x",
            "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0X5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAe",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed0",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeg",
            " 0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAé",
            "dmc1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqq",
        ] {
            let e = parse_address(s).unwrap_err();
            assert!(e.contains("not 0x followed by 40 hex digits"), "{s}: {e}");
        }
        let long = "x".repeat(10_000);
        assert!(parse_address(&long).unwrap_err().len() < 300);
        assert!(parse_address(good).is_ok());
    }

    /// The EIP-155 example: its signing hash, signature and raw tx.
    #[test]
    fn eip155_example() {
        let tx = TxLegacy {
            chain_id: Some(1),
            nonce: 9,
            gas_price: 20_000_000_000,
            gas_limit: 21000,
            to: TxKind::Call(address!("3535353535353535353535353535353535353535")),
            value: U256::from(1_000_000_000_000_000_000u64),
            input: Default::default(),
        };
        assert_eq!(
            hex::encode(tx.encoded_for_signing()),
            "ec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080018080"
        );
        assert_eq!(
            tx.signature_hash(),
            b256!("daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53")
        );
        let raw = key46().sign_tx(tx);
        assert_eq!(
            hex::encode(&raw),
            "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83"
        );
        // the hash eth-account gives
        assert_eq!(
            tx_hash(&raw),
            b256!("33469b22e9f636356c4160a87eb19df52b7412e8eac32a4a55ffe88ea8350788")
        );
        let env = TxEnvelope::decode_2718_exact(&raw).unwrap();
        assert_eq!(env.recover_signer().unwrap(), key46().address());
    }

    /// An EIP-1559 transfer, byte for byte as eth-account 0.14 signs it.
    #[test]
    fn transfer_matches_eth_account() {
        let raw = sign_transfer(
            &key46(),
            1132,
            3,
            address!("3535353535353535353535353535353535353535"),
            U256::from(12_345_678_900_000_000_000u128),
            2_000_000_000,
            1_000_000_000,
            21000,
        );
        assert_eq!(
            hex::encode(&raw),
            "02f87482046c03843b9aca00847735940082520894353535353535353535353535353535353535353588ab54a98ca189080080c001a0adbaf825ecf14934f878a01cdd94d8f8713d2c15d67a39a3653342e320d67533a03b508b17b2630bef2db63f46366ba797643335825c3a102691e4d648af4b63b3"
        );
        assert_eq!(
            tx_hash(&raw),
            b256!("7708bd09ee50d48d513518c119d1bf4a50daa44869c268ea0cec3db8c8d9785a")
        );
        let env = TxEnvelope::decode_2718_exact(&raw).unwrap();
        assert_eq!(env.recover_signer().unwrap(), key46().address());
        assert_eq!(env.chain_id(), Some(1132));
        assert_eq!(*env.tx_hash(), tx_hash(&raw));
    }

    const NATIVE_TO: &str = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";

    /// Cross-check against eth-account 0.14 (`encode_typed_data` and
    /// `Account.sign_message` with the same key): digest and signature.
    #[test]
    fn eip712_matches_eth_account() {
        let k = key46();
        let hash = withdrawal_signing_hash(1132, k.address(), NATIVE_TO, 150_000_000, 7).unwrap();
        assert_eq!(
            hash,
            b256!("ce10357e4e683e05a579032dc8876c41fdfb35dbdcadd6d9771a9447e9f40331")
        );
        let sig = k.sign_withdrawal(1132, NATIVE_TO, 150_000_000, 7).unwrap();
        assert_eq!(
            hex::encode(sig),
            "7cd1e06e5980cf9b81623b950ec7fc55cddb7be36e56ed63af5212c3e35388a164142f737bc016f4b82cea16c6ca2bad7a033ce8300eedcc99c0f8803fe7c2c11c"
        );
    }

    #[test]
    fn withdrawal_sign_recover_and_tamper() {
        let k = MetaKey::random();
        let from = k.address();
        let sig = k.sign_withdrawal(1132, NATIVE_TO, 5, 3).unwrap();
        assert!(sig[64] == 27 || sig[64] == 28);
        assert_eq!(
            recover_withdrawal_signer(1132, from, NATIVE_TO, 5, 3, &sig).unwrap(),
            from
        );
        let other = MetaKey::random().address();
        let cases: [(u64, Address, &str, i64, u64); 5] = [
            (1131, from, NATIVE_TO, 5, 3),
            (1132, other, NATIVE_TO, 5, 3),
            (1132, from, "bcrt1qother", 5, 3),
            (1132, from, NATIVE_TO, 6, 3),
            (1132, from, NATIVE_TO, 5, 4),
        ];
        for (chain, f, to, amount, nonce) in cases {
            // recovery may fail or give another address; never `from`
            if let Ok(a) = recover_withdrawal_signer(chain, f, to, amount, nonce, &sig) {
                assert_ne!(a, from);
                assert_ne!(a, f);
            }
        }
        // a flipped bit in r or s
        for i in [0, 31, 40, 63] {
            let mut bad = sig;
            bad[i] ^= 1;
            if let Ok(a) = recover_withdrawal_signer(1132, from, NATIVE_TO, 5, 3, &bad) {
                assert_ne!(a, from);
            }
        }
    }

    #[test]
    fn withdrawal_v_forms() {
        let k = key46();
        let sig = k.sign_withdrawal(1132, NATIVE_TO, 150_000_000, 7).unwrap();
        let rec =
            |s: &[u8]| recover_withdrawal_signer(1132, k.address(), NATIVE_TO, 150_000_000, 7, s);
        let mut raw01 = sig;
        raw01[64] -= 27;
        assert_eq!(rec(&sig).unwrap(), k.address());
        assert_eq!(rec(&raw01).unwrap(), k.address());
        // the other parity recovers someone else
        let mut flipped = sig;
        flipped[64] = if sig[64] == 27 { 28 } else { 27 };
        assert_ne!(rec(&flipped).ok(), Some(k.address()));
        for v in [2u8, 26, 29, 35, 255] {
            let mut bad = sig;
            bad[64] = v;
            assert!(rec(&bad).unwrap_err().contains("v is"), "v={v}");
        }
        assert!(rec(&sig[..64]).unwrap_err().contains("64 bytes"));
        assert!(rec(&[]).is_err());
        let mut long = sig.to_vec();
        long.push(0);
        assert!(rec(&long).unwrap_err().contains("66 bytes"));
    }

    #[test]
    fn withdrawal_high_s_and_range() {
        let k = key46();
        let sig = k.sign_withdrawal(1132, NATIVE_TO, 150_000_000, 7).unwrap();
        let rec =
            |s: &[u8]| recover_withdrawal_signer(1132, k.address(), NATIVE_TO, 150_000_000, 7, s);
        // (r, n - s, flipped v) is the same signature, malleated: refused
        let s = U256::from_be_slice(&sig[32..64]);
        let mut high = sig;
        high[32..64].copy_from_slice(&(SECP256K1_N - s).to_be_bytes::<32>());
        high[64] = if sig[64] == 27 { 28 } else { 27 };
        assert!(rec(&high).unwrap_err().contains("high s"));
        let mut r0 = sig;
        r0[..32].fill(0);
        assert!(rec(&r0).unwrap_err().contains("r out of range"));
        let mut rn = sig;
        rn[..32].copy_from_slice(&SECP256K1_N.to_be_bytes::<32>());
        assert!(rec(&rn).unwrap_err().contains("r out of range"));
        let mut s0 = sig;
        s0[32..64].fill(0);
        assert!(rec(&s0).unwrap_err().contains("s out of range"));
        let mut sff = sig;
        sff[32..64].fill(0xff);
        assert!(rec(&sff).is_err());
        // s = n/2 exactly is allowed by the range check
        let mut half = sig;
        half[32..64].copy_from_slice(&SECP256K1_HALF_N.to_be_bytes::<32>());
        if let Err(e) = rec(&half) {
            assert!(!e.contains("high s") && !e.contains("range"), "{e}");
        }
    }

    #[test]
    fn withdrawal_amount_must_be_positive() {
        let k = key46();
        for amount in [0, -1, i64::MIN] {
            assert!(k
                .sign_withdrawal(1132, NATIVE_TO, amount, 0)
                .unwrap_err()
                .contains("positive"));
            assert!(
                recover_withdrawal_signer(1132, k.address(), NATIVE_TO, amount, 0, &[0; 65])
                    .is_err()
            );
        }
        assert!(k
            .sign_withdrawal(1132, NATIVE_TO, i64::MAX, u64::MAX)
            .is_ok());
    }

    #[test]
    fn signing_is_low_s() {
        for i in 0..64u8 {
            let k = MetaKey::random();
            let sig = k.sign_hash(&keccak256([i]));
            assert!(sig.s() <= SECP256K1_HALF_N);
            let mut raw = [0u8; 65];
            raw[..32].copy_from_slice(&sig.r().to_be_bytes::<32>());
            raw[32..64].copy_from_slice(&sig.s().to_be_bytes::<32>());
            raw[64] = u8::from(sig.v());
            assert_eq!(
                recover_hash_signer(&keccak256([i]), &raw).unwrap(),
                k.address()
            );
        }
    }

    #[test]
    fn wei_formatting() {
        let f = |s: &str| format_wei(parse_wei(s).unwrap());
        assert_eq!(f("0"), "0.000000000000000000");
        assert_eq!(f("1"), "0.000000000000000001");
        assert_eq!(f("1500000000000000000"), "1.500000000000000000");
        assert_eq!(f("1000000000000000000"), "1.000000000000000000");
        assert_eq!(f("123456789012345678901234"), "123456.789012345678901234");
        assert_eq!(
            format_wei(U256::MAX),
            "115792089237316195423570985008687907853269984665640564039457.584007913129639935"
        );
        assert_eq!(parse_wei(&U256::MAX.to_string()).unwrap(), U256::MAX);
    }

    #[test]
    fn wei_parse_rejections() {
        for (s, why) in [
            ("", "empty"),
            ("01", "leading zeros"),
            ("00", "leading zeros"),
            ("-1", "digits"),
            ("+1", "digits"),
            ("1.5", "digits"),
            ("1e18", "digits"),
            (" 1", "digits"),
            ("0x10", "digits"),
            ("١", "digits"),
            (
                "115792089237316195423570985008687907853269984665640564039457584007913129639936",
                "above",
            ),
            (
                "999999999999999999999999999999999999999999999999999999999999999999999999999999",
                "above",
            ),
        ] {
            let e = parse_wei(s).unwrap_err();
            assert!(e.contains(why), "{s}: {e}");
        }
        assert!(parse_wei(&"9".repeat(100_000)).unwrap_err().len() < 300);
    }
}
