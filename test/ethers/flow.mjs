// ethers v6, a client we did not write, against the metachain's Ethereum JSON-RPC
// (docs/eth-rpc.md). Run by test/functional/test_eth_ethers.py while a miner keeps
// making blocks:
//
//   node flow.mjs '<config json>'        (or the config on stdin)
//
// config: {"http": "http://host:port", "ws": "ws://host:port", "privateKey": "0x…" (funded),
//          "chainId": 1132, "tokenArtifact": ".../build/Token.json",
//          "reverterArtifact": ".../build/Reverter.json", "recipientKey": "0x…" (optional),
//          "timeoutMs": 60000 (each wait), "totalTimeoutMs": 300000}
//
// Steps, each bounded by timeoutMs (a step whose prerequisite failed is not run):
//   network        JsonRpcProvider, getNetwork().chainId, getFeeData
//   deploy         Wallet + ContractFactory(Token).deploy (ethers' fee defaults and gas
//                  estimate), waitForDeployment, the deploy receipt
//   transfer       transfer() then tx.wait(): status, Transfer parsed from receipt.logs
//   balances       balanceOf, totalSupply, name
//   estimate       transfer.estimateGas
//   reverts        Reverter: a call, an estimate and a static call revert as CALL_EXCEPTION
//                  with the reason; a custom error decoded; a mined revert (status 0)
//   get_logs       provider.getLogs({address, topics: [Transfer]}) and contract.queryFilter
//   ws_connect     WebSocketProvider on the ws url, getNetwork
//   ws_block       provider.on("block") receives a block
//   ws_transfer    contract.on("Transfer") receives a transfer sent after subscribing
//
// Prints progress on stderr and one JSON line on stdout at the end:
//   {"ok": bool, "steps": {name: "ok" | "failed: …" | "not run: …"}, "failed": [names], …results}
// Exits 0 when every step passed, 1 when one failed (stderr names it), 2 on a bad config,
// 3 when the whole run took longer than totalTimeoutMs.
import { readFileSync } from "node:fs";
import {
    Contract, ContractFactory, JsonRpcProvider, Wallet, WebSocketProvider, id, isError, version,
} from "ethers";

const log = (...a) => console.error("[flow]", ...a);
// stdout carries only the result line: ethers' own console.log goes to stderr.
console.log = (...a) => console.error(...a);

function readConfig() {
    let text = process.argv[2];
    if (text == null) text = readFileSync(0, "utf8");
    try {
        const c = JSON.parse(text);
        for (const k of ["http", "ws", "privateKey", "chainId", "tokenArtifact", "reverterArtifact"]) {
            if (c[k] == null) throw new Error(`missing "${k}"`);
        }
        return c;
    } catch (e) {
        console.error(`flow.mjs: bad config: ${e.message}`);
        process.exit(2);
    }
}

const cfg = readConfig();
const TIMEOUT = cfg.timeoutMs ?? 60_000;
const TOTAL_TIMEOUT = cfg.totalTimeoutMs ?? 300_000;

// JSON with bigints as decimal strings.
const json = (v) => JSON.stringify(v, (_, x) => (typeof x === "bigint" ? x.toString() : x));

const results = { ethers: version, steps: {}, failed: [] };
let current = null; // the running step, for errors that escape it
let asyncError = null; // rejects the running step on an error raised outside it

function finish(code) {
    results.ok = results.failed.length === 0 && code === 0;
    process.stdout.write(json(results) + "\n");
    process.exit(code);
}

function message(e) {
    if (e == null) return String(e);
    let m = e.shortMessage ?? e.message ?? String(e);
    if (e.code && !m.includes(e.code)) m = `${e.code}: ${m}`;
    if (e.error?.message && !m.includes(e.error.message)) m += ` (rpc: ${e.error.message})`;
    const method = e.payload?.method ?? e.info?.payload?.method;
    if (method && !m.includes(method)) m += ` [${method}]`;
    return m.length > 600 ? m.slice(0, 600) + "…" : m;
}

// Errors raised outside any awaited promise (a subscription that the node refused, a
// socket error): they fail the running step, or are recorded if none is running.
for (const ev of ["unhandledRejection", "uncaughtException"]) {
    process.on(ev, (e) => {
        if (asyncError) {
            asyncError(e);
        } else {
            const name = `async_${current ?? "idle"}`;
            results.steps[name] = `failed: ${ev}: ${message(e)}`;
            if (!results.failed.includes(name)) results.failed.push(name);
            log(`${ev} outside a step: ${message(e)}`);
        }
    });
}

const watchdog = setTimeout(() => {
    const name = current ?? "run";
    log(`step ${name} failed: the whole run exceeded ${TOTAL_TIMEOUT} ms`);
    results.steps[name] = `failed: the whole run exceeded ${TOTAL_TIMEOUT} ms`;
    results.failed.push(name);
    finish(3);
}, TOTAL_TIMEOUT);
watchdog.unref();

function withTimeout(promise, ms, what) {
    let timer;
    const t = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
    });
    return Promise.race([promise, t]).finally(() => clearTimeout(timer));
}

function check(cond, what) {
    if (!cond) throw new Error(`check failed: ${what}`);
}

// Runs step `name` (an async function) under TIMEOUT unless one of `needs` failed.
async function step(name, needs, fn) {
    const missing = needs.filter((n) => results.steps[n] !== "ok");
    if (missing.length) {
        results.steps[name] = `not run: needs ${missing.join(", ")}`;
        results.failed.push(name);
        log(`step ${name} not run: ${missing.join(", ")} failed`);
        return;
    }
    current = name;
    log(`step ${name}`);
    const escaped = new Promise((_, reject) => { asyncError = reject; });
    try {
        await withTimeout(Promise.race([fn(), escaped]), TIMEOUT, `step ${name}`);
        results.steps[name] = "ok";
    } catch (e) {
        results.steps[name] = `failed: ${message(e)}`;
        results.failed.push(name);
        log(`step ${name} failed: ${message(e)}`);
    } finally {
        asyncError = null;
        current = null;
    }
}

// Waits for `ethersError` to be thrown by `fn`; returns it (fails if fn succeeds).
async function expectError(fn, what) {
    try {
        await fn();
    } catch (e) {
        return e;
    }
    throw new Error(`${what}: expected an error, it succeeded`);
}

function receiptInfo(r) {
    return { hash: r.hash, status: r.status, blockNumber: r.blockNumber, blockHash: r.blockHash,
             gasUsed: r.gasUsed, gasPrice: r.gasPrice, logs: r.logs.length, contractAddress: r.contractAddress };
}

const token = JSON.parse(readFileSync(cfg.tokenArtifact, "utf8"));
const reverterArt = JSON.parse(readFileSync(cfg.reverterArtifact, "utf8"));
const TRANSFER_TOPIC = id("Transfer(address,address,uint256)");
const SUPPLY = 10n ** 24n;

// cacheTimeout -1: ethers otherwise answers a repeated request from a 250 ms
// cache, and with blocks this fast a "pending" nonce read just before a tx was
// mined comes back stale (NONCE_EXPIRED).
const provider = new JsonRpcProvider(cfg.http, undefined, { pollingInterval: 250, cacheTimeout: -1 });
const wallet = new Wallet(cfg.privateKey, provider);
const recipient = new Wallet(cfg.recipientKey ?? "0x" + "e74ff".padStart(64, "0")).address;
results.deployer = wallet.address;
results.recipient = recipient;
let contract, deployReceipt, transferReceipt, wsp;

await step("network", [], async () => {
    const net = await provider.getNetwork();
    results.chainId = net.chainId;
    check(net.chainId === BigInt(cfg.chainId), `chainId ${net.chainId} == ${cfg.chainId}`);
    const fee = await provider.getFeeData();
    results.feeData = { gasPrice: fee.gasPrice, maxFeePerGas: fee.maxFeePerGas,
                        maxPriorityFeePerGas: fee.maxPriorityFeePerGas };
    check(fee.maxFeePerGas != null && fee.maxPriorityFeePerGas != null, "EIP-1559 fee data (baseFeePerGas served)");
    results.startBalance = await provider.getBalance(wallet.address);
    check(results.startBalance > 0n, `the key ${wallet.address} is funded`);
});

await step("deploy", ["network"], async () => {
    const factory = new ContractFactory(token.abi, token.bytecode, wallet);
    contract = await factory.deploy("Tok", "TOK", SUPPLY);
    const tx = contract.deploymentTransaction();
    results.deployTx = { hash: tx.hash, type: tx.type, nonce: tx.nonce, gasLimit: tx.gasLimit,
                         maxFeePerGas: tx.maxFeePerGas, maxPriorityFeePerGas: tx.maxPriorityFeePerGas };
    await contract.waitForDeployment();
    results.token = await contract.getAddress();
    deployReceipt = await tx.wait(1, TIMEOUT);
    results.deployReceipt = receiptInfo(deployReceipt);
    check(deployReceipt.status === 1, "deploy receipt status 1");
    check(deployReceipt.contractAddress === results.token, "receipt.contractAddress is the contract");
    check(deployReceipt.gasUsed <= tx.gasLimit, "gas used within ethers' estimate");
    const code = await provider.getCode(results.token);
    check(code === token.deployedBytecode, "the deployed code is Token's runtime code");
});

await step("transfer", ["deploy"], async () => {
    const tx = await contract.transfer(recipient, 5n);
    const r = await tx.wait(1, TIMEOUT);
    transferReceipt = r;
    results.transfer = receiptInfo(r);
    check(r.status === 1, "transfer receipt status 1");
    const events = r.logs.map((l) => contract.interface.parseLog(l)).filter((e) => e?.name === "Transfer");
    results.transfer.events = events.map((e) => ({ from: e.args.from, to: e.args.to, value: e.args.value }));
    check(events.length === 1, "one Transfer event in receipt.logs");
    const [ev] = events;
    check(ev.args.from === wallet.address && ev.args.to === recipient && ev.args.value === 5n,
          "Transfer(deployer, recipient, 5)");
    check(r.logs[0].topics[0] === TRANSFER_TOPIC, "the log's topic 0 is Transfer's");
});

await step("balances", ["transfer"], async () => {
    results.balances = {
        deployer: await contract.balanceOf(wallet.address),
        recipient: await contract.balanceOf(recipient),
        totalSupply: await contract.totalSupply(),
    };
    results.name = await contract.name();
    check(results.balances.recipient === 5n, "recipient balance 5");
    check(results.balances.deployer === SUPPLY - 5n, "deployer balance supply - 5");
    check(results.balances.totalSupply === SUPPLY, "totalSupply");
    check(results.name === "Tok", "name");
});

await step("estimate", ["deploy"], async () => {
    const gas = await contract.transfer.estimateGas(recipient, 1n);
    results.estimateGas = gas;
    check(gas > 21_000n && gas < 100_000n, `21000 < transfer estimate ${gas} < 100000`);
});

await step("reverts", ["network"], async () => {
    const factory = new ContractFactory(reverterArt.abi, reverterArt.bytecode, wallet);
    const rev = await factory.deploy();
    await rev.waitForDeployment();
    const out = { address: await rev.getAddress() };
    results.reverts = out;
    const call = await expectError(() => rev.fail(), "fail()");
    out.call = { code: call.code, reason: call.reason };
    check(isError(call, "CALL_EXCEPTION") && call.reason === "nope: always reverts",
          `fail() is CALL_EXCEPTION "nope: always reverts", got ${message(call)}`);
    const est = await expectError(() => rev.fail.estimateGas(), "fail.estimateGas()");
    out.estimate = { code: est.code, reason: est.reason };
    check(isError(est, "CALL_EXCEPTION") && est.reason === "nope: always reverts",
          `fail.estimateGas() is CALL_EXCEPTION "nope: always reverts", got ${message(est)}`);
    const st = await expectError(() => rev.writeThenFail.staticCall(3n), "writeThenFail.staticCall(3)");
    out.staticCall = { code: st.code, reason: st.reason };
    check(isError(st, "CALL_EXCEPTION") && st.reason === "nope: write rolled back",
          `writeThenFail.staticCall is CALL_EXCEPTION "nope: write rolled back", got ${message(st)}`);
    const custom = await expectError(() => rev.failCustom(7n), "failCustom(7)");
    out.custom = { code: custom.code, name: custom.revert?.name, args: custom.revert?.args?.map((a) => a) };
    check(isError(custom, "CALL_EXCEPTION") && custom.revert?.name === "Refused" && custom.revert.args[0] === 7n,
          `failCustom(7) decodes as Refused(7), got ${message(custom)}`);
    // A tx that reverts when mined (an explicit gas limit skips the estimate): wait() throws.
    const tx = await rev.writeThenFail(3n, { gasLimit: 100_000n });
    const mined = await expectError(() => tx.wait(1, TIMEOUT), "a mined revert's wait()");
    out.mined = { code: mined.code, status: mined.receipt?.status, hash: tx.hash };
    check(isError(mined, "CALL_EXCEPTION") && mined.receipt?.status === 0,
          `a mined revert: wait() throws CALL_EXCEPTION with a status 0 receipt, got ${message(mined)}`);
    out.writes = await rev.writes();
    check(out.writes === 0n, "no write survived the reverts");
});

await step("get_logs", ["transfer"], async () => {
    const logs = await provider.getLogs({ address: results.token, topics: [TRANSFER_TOPIC],
                                          fromBlock: deployReceipt.blockNumber, toBlock: "latest" });
    results.getLogs = logs.map((l) => ({ tx: l.transactionHash, block: l.blockNumber, index: l.index,
                                         data: l.data, topics: l.topics }));
    const mint = logs.find((l) => l.transactionHash === deployReceipt.hash);
    const mine = logs.find((l) => l.transactionHash === transferReceipt.hash);
    check(mint != null, "getLogs has the constructor's mint Transfer");
    check(mine != null, "getLogs has the transfer's Transfer");
    const ev = contract.interface.parseLog(mine);
    check(ev.args.to === recipient && ev.args.value === 5n, "getLogs' Transfer parses to (recipient, 5)");
    check(mine.blockHash === transferReceipt.blockHash && mine.blockNumber === transferReceipt.blockNumber,
          "the log's block is the receipt's");
    const q = await contract.queryFilter(contract.filters.Transfer(null, recipient), deployReceipt.blockNumber);
    results.queryFilter = q.length;
    check(q.length >= 1 && q.every((e) => e.args.to === recipient), "queryFilter(Transfer(null, recipient))");
});

await step("ws_connect", [], async () => {
    wsp = new WebSocketProvider(cfg.ws);
    // A socket error would otherwise be an uncaught 'error' event.
    wsp.websocket.onerror = (e) => asyncError?.(new Error(`websocket error: ${e.message ?? e}`));
    const net = await wsp.getNetwork();
    check(net.chainId === BigInt(cfg.chainId), `ws chainId ${net.chainId}`);
    results.wsBlockNumber = await wsp.getBlockNumber();
});

await step("ws_block", ["ws_connect"], async () => {
    const got = await new Promise((resolve) => { wsp.once("block", resolve); });
    results.wsBlock = got;
    check(typeof got === "number" && got > 0, `a block number, got ${got}`);
});

await step("ws_transfer", ["ws_connect", "deploy"], async () => {
    const wsContract = new Contract(results.token, token.abi, wsp);
    const seen = [];
    let wake = null;
    await wsContract.on("Transfer", (from, to, value, event) => {
        seen.push({ from, to, value, tx: event.log.transactionHash, block: event.log.blockNumber });
        wake?.();
    });
    // Let the subscription be in place before sending: two more blocks (seen over http).
    const start = await provider.getBlockNumber();
    while ((await provider.getBlockNumber()) < start + 2) await new Promise((r) => setTimeout(r, 100));
    const tx = await contract.transfer(recipient, 7n);
    results.wsTransferSent = tx.hash;
    const r = await tx.wait(1, TIMEOUT);
    check(r.status === 1, "the second transfer's status 1");
    const mine = () => seen.find((s) => s.tx === tx.hash);
    while (!mine()) await new Promise((resolve) => { wake = resolve; });
    results.wsTransfer = mine();
    results.wsTransfers = seen.length;
    const ev = mine();
    check(ev.from === wallet.address && ev.to === recipient && ev.value === 7n, "Transfer(deployer, recipient, 7)");
    check(ev.block === r.blockNumber, "the event's block is the receipt's");
    await wsContract.removeAllListeners();
    results.recipientBalanceAfterWs = await contract.balanceOf(recipient);
});

current = "destroy";
try {
    if (wsp) await withTimeout(wsp.destroy(), 10_000, "WebSocketProvider.destroy");
    provider.destroy();
} catch (e) {
    log(`destroy failed: ${message(e)}`);
}
current = null;
if (results.failed.length) log(`failed steps: ${results.failed.join(", ")}`);
finish(results.failed.length ? 1 : 0);
