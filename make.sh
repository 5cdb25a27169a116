#!/usr/bin/env bash
# The project's one entry point: ./make.sh deps|build|patch-codegen|run|test|bench|lint|clean
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"
BUILD_DIR="$ROOT/build"
# Debian packages the build and the tests need.
APT_PACKAGES=(build-essential cmake ninja-build pkg-config libgtest-dev python3 libleveldb-dev libsecp256k1-dev
    libssl-dev nlohmann-json3-dev libevent-dev clang-format)
# Python modules the functional tests import, as module:pip-package.
PY_MODULES=(pytest:pytest requests:requests grpc:grpcio grpc_tools:grpcio-tools grpc_reflection:grpcio-reflection websockets:websockets
    ecdsa:ecdsa)
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
    command -v cargo >/dev/null || die "cargo not found: install Rust >= $MIN_RUST with rustup (https://rustup.rs)"
    local have
    have="$(rustc --version | awk '{print $2}')"
    if [ "$(printf '%s\n%s\n' "$MIN_RUST" "$have" | sort -V | head -1)" != "$MIN_RUST" ]; then
        die "rustc $have is older than the required $MIN_RUST; run: rustup update"
    fi
    log "Rust toolchain $have ok"
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
    log "metachain engine (criterion)"
    cargo bench --locked -p metachain --bench engine
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
    clean) cmd_clean ;;
    *) echo "usage: ./make.sh deps|build|patch-codegen|run|test|bench|lint|clean" >&2; exit 2 ;;
esac
