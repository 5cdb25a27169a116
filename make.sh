#!/usr/bin/env bash
# The project's one entry point: ./make.sh deps|build|patch-codegen|run|test|bench|lint|fuzz|clean
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
BUILD_DIR="$ROOT/build"
# Debian packages the build and the tests need.
APT_PACKAGES=(build-essential cmake ninja-build pkg-config libgtest-dev python3 libleveldb-dev libsecp256k1-dev
    libssl-dev nlohmann-json3-dev libevent-dev clang-format clang libclang-rt-14-dev)
# Python modules the functional tests import, as module:pip-package.
PY_MODULES=(pytest:pytest requests:requests grpc:grpcio grpc_tools:grpcio-tools grpc_reflection:grpcio-reflection websockets:websockets
    ecdsa:ecdsa eth_account:eth-account web3:web3)
MIN_RUST="1.88"

log() { printf '==> %s\n' "$*"; }
die() { printf 'make.sh: error: %s\n' "$*" >&2; exit 1; }

triple() { rustc -vV | sed -n 's/^host: //p'; }
depends_dir() { echo "$ROOT/depends/$(triple)"; }

cmd_deps() {
    local missing=()
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    if ((${#missing[@]})); then
        log "installing Debian packages: ${missing[*]}"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
    else
        log "Debian packages present: ${APT_PACKAGES[*]}"
    fi
    local pymissing=()
    for entry in "${PY_MODULES[@]}"; do
        python3 -c "import ${entry%%:*}" 2>/dev/null || pymissing+=("${entry#*:}")
    done
    if ((${#pymissing[@]})); then
        log "installing Python packages: ${pymissing[*]}"
        python3 -m pip install -q "${pymissing[@]}"
    fi
    cmd_deps_contracts
    command -v cargo >/dev/null || die "cargo not found: install Rust >= $MIN_RUST with rustup (https://rustup.rs)"
    local have
    have="$(rustc --version | awk '{print $2}')"
    if [ "$(printf '%s\n%s\n' "$MIN_RUST" "$have" | sort -V | head -1)" != "$MIN_RUST" ]; then
        die "rustc $have is older than the required $MIN_RUST; run: rustup update"
    fi
    log "Rust toolchain $have ok"
}

# The tests' npm packages, each pinned in its package-lock.json and installed with
# `npm ci` when node_modules is missing or the lock changed (its sha256 is kept in
# node_modules/.lock.sha256): solc-js in test/contracts (the Solidity compiler), ethers
# in test/ethers (the ethers v6 client test, test_eth_ethers.py).
cmd_deps_contracts() {
    if ! command -v npm >/dev/null; then
        log "installing Debian packages: nodejs npm"
        local sudo=""
        [ "$(id -u)" -eq 0 ] || sudo="sudo"
        $sudo apt-get update -qq
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs npm
    fi
    npm_ci_if_changed test/contracts solc
    npm_ci_if_changed test/ethers ethers
}

# npm ci in $ROOT/$1 when node_modules/$2 is missing or package-lock.json changed.
npm_ci_if_changed() {
    local dir="$ROOT/$1" pkg="$2" stamp="$ROOT/$1/node_modules/.lock.sha256" want
    want="$(sha256sum "$dir/package-lock.json" | awk '{print $1}')"
    if [ ! -d "$dir/node_modules/$pkg" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        log "installing $pkg: npm ci in $1"
        npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >/dev/null
        echo "$want" >"$stamp"
    fi
    log "$pkg $(node -p "require('$dir/node_modules/$pkg/package.json').version") in $1"
}

# Installs a file only when its content changed, so unchanged inputs never
# trigger a rebuild and changed ones always do.
install_if_changed() {
    local src="$1" dst="$2"
    mkdir -p "$(dirname "$dst")"
    cmp -s "$src" "$dst" || cp "$src" "$dst"
}

cmd_patch_codegen() {
    local out dep
    out="$(ls -t "$ROOT"/target/release/build/ain-rs-exports-*/out/include/libmc.h 2>/dev/null | head -1)"
    [ -n "$out" ] || die "no generated bridges found: run ./make.sh build"
    out="$(dirname "$(dirname "$out")")"
    dep="$(depends_dir)"
    install_if_changed "$ROOT/target/release/libain.a" "$dep/lib/libain.a"
    for f in libmc.h libain_rpc.h rust/cxx.h; do
        install_if_changed "$out/include/$f" "$dep/include/$f"
    done
    for f in libmc.cpp libain_rpc.cpp; do
        install_if_changed "$out/src/$f" "$dep/src/$f"
    done
    log "bridges and libain.a installed in ${dep#"$ROOT"/}"
}

cmd_build() {
    log "cargo build (release)"
    cargo build --release --locked -p ain-rs-exports -p metachaind
    cmd_patch_codegen
    log "cmake build of src/"
    cmake -S "$ROOT/src" -B "$BUILD_DIR" -G Ninja \
        -DDEPENDS_DIR="$(depends_dir)" \
        -DMETACHAIND="$ROOT/target/release/metachaind" >/dev/null
    cmake --build "$BUILD_DIR"
}

cmd_lint() {
    log "cargo fmt --check"
    cargo fmt --all -- --check
    log "cargo clippy -D warnings"
    cargo clippy --release --locked --workspace --all-targets -- -D warnings
    log "clang-format --dry-run"
    find "$ROOT/src" -name '*.cpp' -o -name '*.h' | xargs clang-format --dry-run --Werror
}

cmd_test() {
    cmd_deps
    cmd_build
    log "cargo test"
    cargo test --release --locked --workspace
    log "ctest"
    ctest --test-dir "$BUILD_DIR" --output-on-failure
    log "pytest functional suite"
    python3 -m pytest -q "$ROOT/test/functional"
}

cmd_run() {
    cmd_deps
    cmd_build
    log "starting defid -regtest -meta (Ctrl-C to stop)"
    exec "$BUILD_DIR/defid" -regtest -meta "$@"
}

cmd_bench() {
    cmd_build
    log "transports: FFI vs gRPC vs JSON-RPC"
    "$BUILD_DIR/bench_transports"
    log "metachain engine: ConnectBlock of 10,000 ERC-20 transfers (Token.sol) vs bare revm"
    cmd_deps_contracts
    node "$ROOT/test/contracts/compile.js" >/dev/null
    cargo bench --locked -p metachain --bench engine
    log "P2P: initial sync and propagation"
    python3 "$ROOT/test/bench/p2p_bench.py" --defid "$BUILD_DIR/defid" --metachaind "$ROOT/target/release/metachaind"
    log "Ethereum JSON-RPC: latency and ERC-20 throughput vs anvil (Foundry, tools/foundry)"
    python3 "$ROOT/test/bench/eth_bench.py" --defid "$BUILD_DIR/defid" --metachaind "$ROOT/target/release/metachaind"
    log "metachain tx relay over P2P: latency on a 4-node line (ffi - grpc - jsonrpc - ffi)"
    python3 "$ROOT/test/bench/meta_latency_bench.py" --defid "$BUILD_DIR/defid" --metachaind "$ROOT/target/release/metachaind"
}

FUZZ_DIR="$ROOT/build-fuzz"
# The C++ libFuzzer targets (src/fuzz/<name>.cpp, seeds in test/fuzz/corpus/<name>/).
FUZZ_TARGETS=(tx_deserialize block_deserialize amount_parse jsonrpc_request p2p_message)

# Runs one libFuzzer binary for $2 seconds on a copy of corpus $3; prints its
# execs and execs/s; a crash input is kept in build-fuzz/crashes/<name>/.
fuzz_one() {
    local name="$1" seconds="$2" corpus="$3"
    shift 3
    local work="$FUZZ_DIR/run/$name" crashes="$FUZZ_DIR/crashes/$name" out="$FUZZ_DIR/logs/$name.log"
    rm -rf "$work"
    mkdir -p "$work" "$crashes" "$FUZZ_DIR/logs"
    [ -d "$corpus" ] && cp -R "$corpus/." "$work/"
    local rc=0
    "$@" "$work" -max_total_time="$seconds" -timeout=30 -print_final_stats=1 -artifact_prefix="$crashes/" \
        >"$out" 2>&1 || rc=$?
    local execs rate
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$out" | tail -1)"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out" | tail -1)"
    printf '%-24s %12s execs %10s execs/s  %s\n' "$name" "${execs:-?}" "${rate:-?}" "$( ((rc)) && echo FAILED || echo ok)"
    if ((rc)); then
        grep -E 'ERROR|assertion failed|Test unit written to|deadly signal|uncaught' "$out" | head -20 >&2 || true
        printf '  log: %s\n  crash input kept in: %s\n' "${out#"$ROOT"/}" "${crashes#"$ROOT"/}/" >&2
    fi
    return "$rc"
}

# ./make.sh fuzz [seconds-per-target]: builds the C++ fuzzers with clang and
# the sanitizers into build-fuzz/, runs each for the given time (default 60)
# on a copy of its committed corpus, then the Rust cargo-fuzz targets in fuzz/.
cmd_fuzz() {
    local seconds="${1:-60}" failed=()
    [[ "$seconds" =~ ^[1-9][0-9]*$ ]] || die "fuzz: seconds per target must be a positive whole number, got '$seconds'"
    cmd_deps
    if [ ! -f "$(depends_dir)/lib/libain.a" ]; then
        log "cargo build (release): libain.a for the fuzzers"
        cargo build --release --locked -p ain-rs-exports
        cmd_patch_codegen
    fi
    log "cmake build of the fuzzers (clang, libFuzzer + ASan + UBSan) in ${FUZZ_DIR#"$ROOT"/}"
    cmake -S "$ROOT/src" -B "$FUZZ_DIR" -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DDEFI_FUZZ=ON \
        -DDEPENDS_DIR="$(depends_dir)" >/dev/null
    cmake --build "$FUZZ_DIR" --target fuzz
    log "C++ fuzz targets, ${seconds}s each"
    for t in "${FUZZ_TARGETS[@]}"; do
        local dict=()
        [ -f "$ROOT/test/fuzz/$t.dict" ] && dict=(-dict="$ROOT/test/fuzz/$t.dict")
        fuzz_one "$t" "$seconds" "$ROOT/test/fuzz/corpus/$t" "$FUZZ_DIR/fuzz/$t" "${dict[@]}" || failed+=("$t")
    done
    # The Rust cargo-fuzz targets in fuzz/, built as fuzz/README.md says (stable
    # Rust: --sanitizer none), each run like the C++ ones on a copy of fuzz/corpus/<target>.
    if [ -d "$ROOT/fuzz" ]; then
        command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
        log "cargo fuzz build --sanitizer none (fuzz/)"
        local rust_targets
        rust_targets="$(cargo fuzz list --fuzz-dir "$ROOT/fuzz")" || die "cargo fuzz list failed in fuzz/"
        if (cd "$ROOT" && cargo fuzz build --sanitizer none); then
            log "Rust fuzz targets, ${seconds}s each"
            for t in $rust_targets; do
                fuzz_one "rust_$t" "$seconds" "$ROOT/fuzz/corpus/$t" \
                    "$ROOT/fuzz/target/$(triple)/release/$t" || failed+=("rust:$t")
            done
        else
            failed+=("rust:build")
        fi
    else
        log "no fuzz/ directory: no Rust fuzz targets to run"
    fi
    ((${#failed[@]} == 0)) || die "fuzz: crashes or failures in: ${failed[*]} (inputs kept in ${FUZZ_DIR#"$ROOT"/}/crashes/)"
    log "fuzz: no crash"
}

cmd_clean() {
    rm -rf "$BUILD_DIR" "$ROOT"/depends/*/
    cargo clean
}

case "${1:-}" in
    deps) cmd_deps ;;
    build) cmd_build ;;
    patch-codegen) cmd_patch_codegen ;;
    run) shift; cmd_run "$@" ;;
    test) cmd_test ;;
    bench) cmd_bench ;;
    lint) cmd_lint ;;
    fuzz) shift; cmd_fuzz "$@" ;;
    clean) cmd_clean ;;
    *) echo "usage: ./make.sh deps|build|patch-codegen|run|test|bench|lint|fuzz [seconds]|clean" >&2; exit 2 ;;
esac
