"""A metachain (Ethereum) key held by the test, apart from defid's wallet, on eth-account.

Written from docs/metachain.md, not from the node's code:
- the address is the EIP-55 Ethereum address of a secp256k1 key;
- a withdrawal is authorised by an EIP-712 typed-data signature (65 bytes r || s || v,
  v = 27/28) over Withdrawal(address from,string to,uint256 amount,uint256 nonce) in
  the domain EIP712Domain(string name,string version,uint256 chainId) =
  ("DefiMetachain", "1", chain id), exactly what a wallet's eth_signTypedData_v4 makes;
- EVM txs are signed Ethereum txs: EIP-1559 (type 2), EIP-2930 (type 1) or legacy with
  EIP-155, EIP-2718 encoded, as Account.sign_transaction makes them.

    key = MetaKey(0x1234)
    key.address                                    # "0x…" EIP-55
    sig = key.sign_withdrawal(native_addr, COIN, 0, REGTEST_CHAIN_ID)   # 65 bytes
    raw = key.sign_tx(eip1559(nonce=0, to=addr, value=10**18))        # bytes
    node.metasendrawtransaction("0x" + raw.hex()) == tx_hash(raw)

The native side (docs/node.md, src/primitives/transaction.cpp: little-endian integers,
u32 length prefixes): `withdrawal()` builds a raw native WithdrawFromMetachain
(no meta pubkey: the metachain recovers the signer from the EIP-712 signature),
`bech32m()` the native addresses (messages.py), `txid()` its sha256d."""
import hashlib
import struct

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_keys import keys as eth_keys
from eth_utils import keccak, to_checksum_address

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
BECH32M_CONST = 0x2BC830A3
KIND_WITHDRAW = 2  # TX_KIND_WITHDRAW in protobuf/metachain/types/v1/types.proto
TX_WITHDRAW = 3  # TxType in src/primitives/transaction.h

MAIN_CHAIN_ID, TESTNET_CHAIN_ID, REGTEST_CHAIN_ID = 1130, 1131, 1132
GWEI = 10**9
BASE_FEE_FLOOR = 1 * GWEI
WEI_PER_UNIT = 10**10  # 1 native unit (10^-8 coin) = 10^10 wei
WEI_PER_COIN = 10**18

EIP712_DOMAIN_NAME, EIP712_DOMAIN_VERSION = "DefiMetachain", "1"
WITHDRAWAL_TYPES = {
    "EIP712Domain": [
        {"name": "name", "type": "string"},
        {"name": "version", "type": "string"},
        {"name": "chainId", "type": "uint256"},
    ],
    "Withdrawal": [
        {"name": "from", "type": "address"},
        {"name": "to", "type": "string"},
        {"name": "amount", "type": "uint256"},
        {"name": "nonce", "type": "uint256"},
    ],
}


# ---- EIP-712 withdrawals ----

def withdrawal_typed_data(meta_from, to_native, amount_units, nonce, chain_id=REGTEST_CHAIN_ID):
    """The full EIP-712 message of a withdrawal (eth_signTypedData_v4's argument):
    `amount_units` in native units (10^-8 coin), `nonce` = the 0x account's nonce."""
    return {
        "types": WITHDRAWAL_TYPES,
        "primaryType": "Withdrawal",
        "domain": {"name": EIP712_DOMAIN_NAME, "version": EIP712_DOMAIN_VERSION, "chainId": chain_id},
        "message": {"from": to_checksum_address(meta_from), "to": to_native, "amount": amount_units,
                    "nonce": nonce},
    }


def withdrawal_digest(meta_from, to_native, amount_units, nonce, chain_id=REGTEST_CHAIN_ID):
    """The 32-byte EIP-712 hash that is signed: keccak256(0x19 0x01 ‖ domainSeparator ‖ structHash)."""
    m = encode_typed_data(full_message=withdrawal_typed_data(meta_from, to_native, amount_units, nonce, chain_id))
    return keccak(b"\x19" + m.version + m.header + m.body)


def recover_withdrawal(signature, meta_from, to_native, amount_units, nonce, chain_id=REGTEST_CHAIN_ID):
    """The EIP-55 address that made `signature` over this withdrawal (eth_account's recover)."""
    m = encode_typed_data(full_message=withdrawal_typed_data(meta_from, to_native, amount_units, nonce, chain_id))
    return Account.recover_message(m, signature=bytes(signature))


# ---- EVM txs ----

def eip1559(nonce, to=None, value=0, data=b"", gas=21_000, max_fee=10 * GWEI, max_priority_fee=GWEI,
            chain_id=REGTEST_CHAIN_ID, access_list=()):
    """An EIP-1559 (type 2) tx dict for MetaKey.sign_tx; `to=None` creates a contract."""
    tx = {"type": 2, "chainId": chain_id, "nonce": nonce, "gas": gas, "maxFeePerGas": max_fee,
          "maxPriorityFeePerGas": max_priority_fee, "value": value, "data": bytes(data),
          "accessList": list(access_list)}
    if to is not None:
        tx["to"] = to_checksum_address(to)
    return tx


def eip2930(nonce, to=None, value=0, data=b"", gas=21_000, gas_price=10 * GWEI, chain_id=REGTEST_CHAIN_ID,
            access_list=()):
    """An EIP-2930 (type 1) tx dict."""
    tx = {"type": 1, "chainId": chain_id, "nonce": nonce, "gas": gas, "gasPrice": gas_price, "value": value,
          "data": bytes(data), "accessList": list(access_list)}
    if to is not None:
        tx["to"] = to_checksum_address(to)
    return tx


def legacy(nonce, to=None, value=0, data=b"", gas=21_000, gas_price=10 * GWEI, chain_id=REGTEST_CHAIN_ID):
    """A legacy tx dict, EIP-155 with `chain_id`; chain_id=None makes a pre-EIP-155 tx
    (which the metachain refuses)."""
    tx = {"nonce": nonce, "gas": gas, "gasPrice": gas_price, "value": value, "data": bytes(data)}
    if chain_id is not None:
        tx["chainId"] = chain_id
    if to is not None:
        tx["to"] = to_checksum_address(to)
    return tx


def tx_hash(raw):
    """An EVM tx's hash: keccak256 of its EIP-2718 encoding, 0x-hex."""
    return "0x" + keccak(bytes(raw)).hex()


def recover_tx_sender(raw):
    return Account.recover_transaction(bytes(raw))


# ---- the key ----

class MetaKey:
    def __init__(self, secret):
        self.secret = int(secret).to_bytes(32, "big")
        self.account = Account.from_key(self.secret)
        self.address = self.account.address  # EIP-55
        pub = eth_keys.PrivateKey(self.secret).public_key
        self.pubkey = b"\x04" + pub.to_bytes()  # uncompressed, 65 bytes (not in any tx)

    def __repr__(self):
        return f"MetaKey({self.address})"

    def sign_withdrawal(self, to_native, amount_units, nonce, chain_id=REGTEST_CHAIN_ID):
        """The 65-byte EIP-712 signature (r ‖ s ‖ v, v 27/28) authorising a withdrawal of
        `amount_units` native units from this key's address to `to_native`."""
        signed = Account.sign_typed_data(self.secret, full_message=withdrawal_typed_data(
            self.address, to_native, amount_units, nonce, chain_id))
        return bytes(signed.signature)

    def sign_tx(self, tx):
        """The raw signed tx (EIP-2718 bytes) of a tx dict (eip1559(), eip2930(), legacy()
        or any dict Account.sign_transaction takes). Nothing is filled in."""
        signed = Account.sign_transaction(tx, self.secret)
        return bytes(getattr(signed, "raw_transaction", None) or signed.rawTransaction)


# ---- native txs ----

def _polymod(values):
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i, g in enumerate(gen):
            if (top >> i) & 1:
                chk ^= g
    return chk


def bech32m(hrp, data):
    """bech32m of `data` regrouped into 5-bit words, no version word (native addresses)."""
    acc, bits, words = 0, 0, []
    for byte in data:
        acc, bits = acc << 8 | byte, bits + 8
        while bits >= 5:
            bits -= 5
            words.append(acc >> bits & 31)
    if bits:
        words.append(acc << (5 - bits) & 31)
    expanded = [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]
    poly = _polymod(expanded + words + [0] * 6) ^ BECH32M_CONST
    checksum = [poly >> 5 * (5 - i) & 31 for i in range(6)]
    return hrp + "1" + "".join(CHARSET[w] for w in words + checksum)


def _str(b):
    return struct.pack("<I", len(b)) + b


def sha256(b):
    return hashlib.sha256(b).digest()


def withdrawal(meta_from, to, amount_sat, fee_sat, meta_nonce, signature):
    """A serialized native WithdrawFromMetachain (no native sender or signature), in the
    layout of src/primitives/transaction.cpp: type, from (33 zero bytes), to, amount, fee,
    nonce (0), meta_from (the 0x address, <= 42 chars), meta_nonce, meta_signature
    (MetaKey.sign_withdrawal's 65 bytes over (to, amount_sat, meta_nonce)), signature
    (empty)."""
    return (bytes([TX_WITHDRAW]) + bytes(33) + _str(to.encode()) + struct.pack("<qqQ", amount_sat, fee_sat, 0)
            + _str(meta_from.encode()) + struct.pack("<Q", meta_nonce) + _str(bytes(signature)) + _str(b""))


def txid(raw):
    return sha256(sha256(raw)).hex()
