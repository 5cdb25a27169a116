#!/usr/bin/env node
// Compiles every *.sol beside this file with the pinned solc-js (package-lock.json)
// through standard JSON input: optimizer on (200 runs), evmVersion "cancun" (the
// metachain's revm spec). Writes build/<Contract>.json per contract:
//   {contract, source, compiler, evmVersion, abi, bytecode, deployedBytecode, storageLayout}
// (bytecodes 0x-hex; bytecode is the creation code), then build/manifest.json,
// written last, listing them. Exits 1 on any compiler error; warnings go to stderr.
// Usage: node compile.js [outDir]   (default: build/ beside this file)
"use strict";
const fs = require("fs");
const path = require("path");
const solc = require("solc");

const EVM_VERSION = "cancun";
const HERE = __dirname;
const OUT = path.resolve(process.argv[2] || path.join(HERE, "build"));

function writeAtomic(file, text) {
    const tmp = `${file}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
}

function main() {
    const files = fs.readdirSync(HERE).filter((f) => f.endsWith(".sol")).sort();
    if (files.length === 0) throw new Error(`no .sol files in ${HERE}`);
    const sources = {};
    for (const f of files) sources[f] = { content: fs.readFileSync(path.join(HERE, f), "utf8") };
    const input = {
        language: "Solidity",
        sources,
        settings: {
            optimizer: { enabled: true, runs: 200 },
            evmVersion: EVM_VERSION,
            outputSelection: {
                "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "storageLayout"] },
            },
        },
    };
    const output = JSON.parse(solc.compile(JSON.stringify(input)));
    let failed = false;
    for (const e of output.errors || []) {
        const text = e.formattedMessage || e.message;
        if (e.severity === "error") failed = true;
        process.stderr.write(`${e.severity}: ${text}\n`);
    }
    if (failed) {
        process.stderr.write("compile.js: compilation failed\n");
        process.exit(1);
    }
    fs.mkdirSync(OUT, { recursive: true });
    const compiler = solc.version();
    const manifest = { compiler, evmVersion: EVM_VERSION, contracts: {} };
    for (const source of Object.keys(output.contracts || {}).sort()) {
        for (const [name, c] of Object.entries(output.contracts[source])) {
            if (manifest.contracts[name]) throw new Error(`contract ${name} defined twice (${source}, ${manifest.contracts[name]})`);
            manifest.contracts[name] = source;
            const artifact = {
                contract: name,
                source,
                compiler,
                evmVersion: EVM_VERSION,
                abi: c.abi,
                bytecode: "0x" + c.evm.bytecode.object,
                deployedBytecode: "0x" + c.evm.deployedBytecode.object,
                storageLayout: c.storageLayout,
            };
            writeAtomic(path.join(OUT, `${name}.json`), JSON.stringify(artifact, null, 2) + "\n");
        }
    }
    writeAtomic(path.join(OUT, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
    process.stdout.write(`compiled ${Object.keys(manifest.contracts).length} contracts with solc ${compiler} (evm ${EVM_VERSION}) into ${OUT}\n`);
}

try {
    main();
} catch (e) {
    process.stderr.write(`compile.js: ${e.message}\n`);
    process.exit(1);
}
