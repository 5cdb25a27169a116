//! Generates the libmc and libain_rpc cxx bridges (Rust and C++ halves) from
//! `protobuf/`. `./make.sh patch-codegen` installs the C++ halves.
use ain_codegen::cxx::Extras;
use std::path::PathBuf;

/// Hand-written functions of libmc.h: lifecycle in `src/lifecycle.rs`,
/// `meta_*` keys and addresses in `src/meta_keys.rs`, helpers in `src/lib.rs`.
const LIBMC_EXTRAS: &str = "
        /// Version of the linked metachain library.
        fn ain_version() -> String;
        /// Opens the in-process metachain in `datadir`; `args` are the `-meta` args.
        fn ain_init(datadir: &str, args: &str) -> Result<()>;
        /// Drops the engine and the runtime. Safe to call more than once.
        fn ain_shutdown();
        /// Whether ain_init succeeded and ain_shutdown has not run since.
        fn ain_is_initialized() -> bool;
        /// URLs the embedded metachain serves on (\"grpc://a http://b\"), or \"\".
        fn ain_server_urls() -> String;
        /// Panics inside the FFI guard: proves a panic reaches C++ as an exception.
        fn ain_debug_panic(message: &str) -> Result<()>;
        /// Makes the C allocator keep freed payload-sized buffers for reuse
        /// instead of mapping them afresh each call. Call at process start;
        /// false if the C library refused.
        fn ain_keep_freed_buffers() -> bool;
        /// A copy of `data` as a Rust vector, made in one call (rust::Vec has no
        /// bulk insert; push_back crosses the FFI once per byte).
        fn ain_bytes(data: &[u8]) -> Vec<u8>;
        /// MetaConnectBlockInput.native_txs_hash of a native block's
        /// Deposit/Withdraw txs, in block order.
        fn ain_native_txs_hash(txs: Vec<NativeTx>) -> Vec<u8>;
        /// Chain id of a network: main 1130, test (or testnet) 1131, regtest 1132.
        fn meta_chain_id(network: &str) -> Result<u64>;
        /// The EIP-55 form of a meta address (0x + 40 hex digits: all lower,
        /// all upper or a valid EIP-55 checksum), or an error saying why not.
        fn meta_parse_address(address: &str) -> Result<String>;
        /// The meta address (EIP-55) of a 32-byte secp256k1 secret key.
        fn meta_address_of_key(secret: &[u8]) -> Result<String>;
        /// The 65-byte EIP-712 signature (r || s || v, v 27/28) authorising the
        /// withdrawal of `amount` native units from the key's address to the
        /// native address `to` at meta account nonce `nonce`.
        fn meta_sign_withdrawal(secret: &[u8], chain_id: u64, to: &str, amount: i64, nonce: u64) -> Result<Vec<u8>>;
        /// A raw signed EIP-1559 transfer of `value_wei` (decimal string) to
        /// the meta address `to`, with no data and no access list.
        fn meta_sign_transfer(secret: &[u8], chain_id: u64, nonce: u64, to: &str, value_wei: &str, max_fee_per_gas: u64, max_priority_fee_per_gas: u64, gas_limit: u64) -> Result<Vec<u8>>;
        /// keccak256 of a raw tx (its tx hash), 0x-hex.
        fn meta_tx_hash(raw: &[u8]) -> String;
        /// A wei amount (decimal string) as coins with 18 decimals.
        fn meta_format_wei(wei: &str) -> Result<String>;
";

/// Client lifecycle of libain_rpc.h, written by hand in `src/rpc_client.rs`.
const LIBAIN_RPC_EXTRAS: &str = "
        /// Connects to `grpc://host:port` or `http://host:port`; an empty
        /// `secret_path` means no control-rpc credentials.
        fn NewClient(url: &str, secret_path: &str) -> Result<Box<MetaClient>>;
        /// Like `NewClient`, with each call (and the connect) limited to
        /// `timeout_ms` instead of 30 s.
        fn NewClientWithTimeout(url: &str, secret_path: &str, timeout_ms: u64) -> Result<Box<MetaClient>>;
        /// The URL the client was created with.
        fn ClientUrl(client: &MetaClient) -> String;
";

fn main() -> anyhow::Result<()> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let extras = Extras {
        libmc: LIBMC_EXTRAS.into(),
        libain_rpc: LIBAIN_RPC_EXTRAS.into(),
    };
    println!("cargo:rerun-if-changed=build.rs");
    ain_codegen::generate_bridges(&manifest.join("../../protobuf"), &out, &extras)
}
