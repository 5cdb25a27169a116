"""The test contracts (test/contracts/*.sol) compiled, and ABI helpers on eth_abi/eth_utils.

    token = contracts.load("Token")                  # compiles once if build/ is stale
    data = contracts.deploy_data("Token", "T", "T", 10**24)   # creation code + ctor args
    call = contracts.encode_call(token.abi, "transfer", to, 5)
    (ok,) = contracts.decode_result(token.abi, "transfer", returned_bytes)
    name, args = contracts.decode_event(token.abi, log["topics"], log["data"])
    slot = contracts.erc20_balance_slot(holder)      # keccak256(pad32(holder) ++ pad32(0))

The compiler is solc-js pinned in test/contracts/package-lock.json (`./make.sh deps`
installs it; `load` runs `npm ci` itself if it is missing). `node compile.js` writes
build/<Contract>.json ({abi, bytecode, deployedBytecode, storageLayout}) and
build/manifest.json last; `load` recompiles when the manifest is missing or older than a
.sol file, compile.js or the lock, at most once per process, under a file lock.

Byte arguments (call data, topics, log data) may be bytes or 0x-hex strings; encoders
return bytes (send "0x" + b.hex())."""
import fcntl
import json
import os
import subprocess
from dataclasses import dataclass, field

import rlp
from eth_abi import decode as abi_decode, encode as abi_encode
from eth_utils import keccak, to_bytes, to_canonical_address, to_checksum_address
from eth_utils.abi import (abi_to_signature, collapse_if_tuple, event_abi_to_log_topic, function_abi_to_4byte_selector,
                           get_abi_input_types, get_abi_output_types)

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
CONTRACTS_DIR = os.path.join(ROOT, "test", "contracts")
BUILD_DIR = os.path.join(CONTRACTS_DIR, "build")
MANIFEST = os.path.join(BUILD_DIR, "manifest.json")
SOLC_VERSION = "0.8.28"  # test/contracts/package.json, exact
EVM_VERSION = "cancun"
ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)
TOKEN_BALANCES_SLOT = 0  # Token.sol: mapping balanceOf
TOKEN_ALLOWANCES_SLOT = 1  # Token.sol: mapping allowance

_built = False


def _b(x):
    """bytes from bytes or 0x-hex."""
    if isinstance(x, (bytes, bytearray)):
        return bytes(x)
    return to_bytes(hexstr=x)


def _inputs():
    names = sorted(f for f in os.listdir(CONTRACTS_DIR) if f.endswith(".sol"))
    paths = [os.path.join(CONTRACTS_DIR, f) for f in names]
    paths += [os.path.join(CONTRACTS_DIR, f) for f in ("compile.js", "package-lock.json")]
    return names, paths


def _fresh():
    try:
        with open(MANIFEST) as f:
            manifest = json.load(f)
    except (OSError, ValueError):
        return False
    names, paths = _inputs()
    if sorted(set(manifest["contracts"].values())) != names:
        return False
    newest = max(os.path.getmtime(p) for p in paths)
    if os.path.getmtime(MANIFEST) < newest:
        return False
    return all(os.path.exists(os.path.join(BUILD_DIR, f"{c}.json")) for c in manifest["contracts"])


def _run(cmd):
    r = subprocess.run(cmd, cwd=CONTRACTS_DIR, capture_output=True, text=True, timeout=600)
    if r.returncode:
        raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout}{r.stderr}")
    return r


def build(force=False):
    """Compiles test/contracts if build/ is stale (or `force`); returns the manifest
    {compiler, evmVersion, contracts: {name: source file}}."""
    global _built
    if force or not _built:
        os.makedirs(BUILD_DIR, exist_ok=True)
        with open(os.path.join(BUILD_DIR, ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if force or not _fresh():
                if not os.path.exists(os.path.join(CONTRACTS_DIR, "node_modules", "solc", "package.json")):
                    _run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"])
                _run(["node", "compile.js", BUILD_DIR])
        _built = True
    with open(MANIFEST) as f:
        return json.load(f)


@dataclass
class Contract:
    name: str
    abi: list
    bytecode: bytes  # creation code
    deployed_bytecode: bytes  # runtime code (immutables still zero)
    storage_layout: dict = field(repr=False)
    compiler: str = ""

    def deploy_data(self, *args):
        return self.bytecode + encode_args(constructor_abi(self.abi), args)

    def encode_call(self, fn, *args):
        return encode_call(self.abi, fn, *args)

    def decode_result(self, fn, data):
        return decode_result(self.abi, fn, data)

    def decode_event(self, topics, data):
        return decode_event(self.abi, topics, data)

    def event_topic(self, name):
        return event_topic(self.abi, name)

    def slot(self, label):
        """The storage slot of state variable `label`, from solc's storageLayout."""
        for var in self.storage_layout["storage"]:
            if var["label"] == label:
                return int(var["slot"])
        raise KeyError(f"{self.name} has no state variable {label!r}")


_cache = {}


def load(name):
    """The compiled contract `name` (e.g. "Token", "Factory", "Child")."""
    manifest = build()
    if name not in manifest["contracts"]:
        raise KeyError(f"no contract {name!r}; have {sorted(manifest['contracts'])}")
    path = os.path.join(BUILD_DIR, f"{name}.json")
    stamp = os.path.getmtime(path)
    if name not in _cache or _cache[name][0] != stamp:
        with open(path) as f:
            a = json.load(f)
        _cache[name] = (stamp, Contract(name, a["abi"], _b(a["bytecode"]), _b(a["deployedBytecode"]),
                                        a["storageLayout"], a["compiler"]))
    return _cache[name][1]


# ---- ABI ----

def _find(abi, kind, name):
    """The ABI entry of type `kind` called `name`, or with signature `name` ("f(uint256)")."""
    entries = [e for e in abi if e.get("type") == kind]
    if "(" in name:
        hits = [e for e in entries if abi_to_signature(e) == name.replace(" ", "")]
    else:
        hits = [e for e in entries if e.get("name") == name]
    if not hits:
        raise KeyError(f"no {kind} {name!r} in the ABI")
    if len(hits) > 1:
        raise KeyError(f"{kind} {name!r} is overloaded: name it by signature, one of "
                       f"{[abi_to_signature(e) for e in hits]}")
    return hits[0]


def _normalize(types, args):
    """0x-hex strings for bytes/bytesN become bytes; the rest goes to eth_abi as is."""
    out = []
    for t, a in zip(types, args):
        if t.startswith("bytes") and not t.endswith("]") and isinstance(a, str):
            a = _b(a)
        out.append(a)
    return out


def encode_args(entry, args):
    types = get_abi_input_types(entry) if entry else []
    if len(args) != len(types):
        raise TypeError(f"{entry.get('name', 'constructor') if entry else 'constructor'} takes "
                        f"{len(types)} arguments ({types}), got {len(args)}")
    return abi_encode(types, _normalize(types, args)) if types else b""


def constructor_abi(abi):
    return next((e for e in abi if e.get("type") == "constructor"), None)


def selector(abi, fn):
    return function_abi_to_4byte_selector(_find(abi, "function", fn))


def encode_call(abi, fn, *args):
    """Call data: the 4-byte selector of `fn` (a name, or a signature if overloaded) and
    its ABI-encoded arguments."""
    entry = _find(abi, "function", fn)
    return function_abi_to_4byte_selector(entry) + encode_args(entry, args)


def _checksum(t, v):
    """Addresses as EIP-55 (eth_abi gives lowercase), also in arrays."""
    if t == "address":
        return to_checksum_address(v)
    if t.startswith("address[") and t.endswith("]"):
        return type(v)(_checksum(t[:t.rindex("[")], x) for x in v)
    return v


def _decode(types, data):
    return tuple(_checksum(t, v) for t, v in zip(types, abi_decode(types, data)))


def decode_result(abi, fn, data):
    """The return values of `fn` decoded from `data`, as a tuple (addresses EIP-55)."""
    return _decode(get_abi_output_types(_find(abi, "function", fn)), _b(data))


def deploy_data(name, *ctor_args):
    """Creation tx data for contract `name`: creation code ++ the ABI-encoded ctor args."""
    return load(name).deploy_data(*ctor_args)


def event_topic(abi, name):
    """topic0 of event `name`: keccak256 of its signature."""
    return event_abi_to_log_topic(_find(abi, "event", name))


def _types(inputs):
    """ABI type strings of a list of ABI params (tuples collapsed to "(…)")."""
    return [collapse_if_tuple(i) for i in inputs]


def decode_event(abi, topics, data):
    """(event name, {arg: value}) of a log, found by topic0 among `abi`'s events
    (addresses EIP-55).
    Indexed dynamic arguments (string, bytes, arrays) are only their keccak256 hash."""
    topics = [_b(t) for t in topics]
    data = _b(data)
    if not topics:
        raise ValueError("anonymous log: no topic0")
    for e in abi:
        if e.get("type") != "event" or e.get("anonymous") or event_abi_to_log_topic(e) != topics[0]:
            continue
        inputs = e["inputs"]
        indexed = [i for i in inputs if i["indexed"]]
        plain = [i for i in inputs if not i["indexed"]]
        if len(indexed) != len(topics) - 1:
            continue
        values = dict(zip((i["name"] for i in plain), _decode(_types(plain), data)))
        for i, topic in zip(indexed, topics[1:]):
            t = _types([i])[0]
            dynamic = t in ("string", "bytes") or t.endswith("]") or t.startswith("(")
            values[i["name"]] = topic if dynamic else _decode([t], topic)[0]
        return e["name"], {i["name"]: values[i["name"]] for i in inputs}
    raise KeyError(f"no event with topic0 0x{topics[0].hex()} in the ABI")


def decode_revert(data, abi=None):
    """Revert data as ("Error", reason), ("Panic", code), (custom error name, args tuple),
    or ("", raw bytes) when it is none of those."""
    data = _b(data)
    if data[:4] == ERROR_SELECTOR:
        return "Error", abi_decode(["string"], data[4:])[0]
    if data[:4] == PANIC_SELECTOR:
        return "Panic", abi_decode(["uint256"], data[4:])[0]
    for e in abi or []:
        if e.get("type") == "error" and function_abi_to_4byte_selector(e) == data[:4]:
            return e["name"], _decode(get_abi_input_types(e), data[4:])
    return "", data


# ---- storage and addresses ----

def mapping_slot(key, slot, key_type="address"):
    """The slot of `mapping[key]` for a mapping at `slot`: keccak256(abi.encode(key, slot)).
    Nest for mapping(a => mapping(b => v)): mapping_slot(b, mapping_slot(a, slot))."""
    return int.from_bytes(keccak(abi_encode([key_type, "uint256"], _normalize([key_type], [key]) + [slot])),
                          "big")


def erc20_balance_slot(holder):
    """Token.sol's storage slot of balanceOf[holder]: keccak256(pad32(holder) ++ pad32(0))."""
    return mapping_slot(holder, TOKEN_BALANCES_SLOT)


def erc20_allowance_slot(owner, spender):
    """Token.sol's storage slot of allowance[owner][spender]."""
    return mapping_slot(spender, mapping_slot(owner, TOKEN_ALLOWANCES_SLOT))


def slot_hex(slot):
    """A slot as the 0x + 64 hex digits that eth_getStorageAt-style calls take."""
    return "0x" + slot.to_bytes(32, "big").hex()


def create_address(sender, nonce):
    """CREATE: keccak256(rlp([sender, nonce]))[12:], EIP-55."""
    return to_checksum_address(keccak(rlp.encode([to_canonical_address(sender), nonce]))[12:])


def create2_address(deployer, salt, init_code):
    """CREATE2: keccak256(0xff ++ deployer ++ salt ++ keccak256(init_code))[12:], EIP-55."""
    salt = _b(salt) if not isinstance(salt, int) else salt.to_bytes(32, "big")
    return to_checksum_address(keccak(b"\xff" + to_canonical_address(deployer) + salt.rjust(32, b"\0")
                                      + keccak(_b(init_code)))[12:])
