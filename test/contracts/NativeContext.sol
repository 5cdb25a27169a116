// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title NativeContext: records the block context the EVM sees.
/// @notice docs/metachain.md maps it from the native chain: NUMBER = the native height,
/// TIMESTAMP = the native block time, COINBASE = the beneficiary named in MintBlock,
/// BLOCKHASH(n) = the metachain block hash at n, PREVRANDAO = the parent hash,
/// BASEFEE = the EIP-1559 base fee, CHAINID = 1130/1131/1132.
/// `record()` stores them (public getters below, slots 0..7 in declaration order) and
/// emits them in `Context`.
contract NativeContext {
    uint256 public number;
    uint256 public timestamp;
    bytes32 public parentHash;
    address public coinbase;
    uint256 public basefee;
    uint256 public chainid;
    uint256 public prevrandao;
    uint256 public gaslimit;

    event Context(
        uint256 number,
        uint256 timestamp,
        bytes32 parentHash,
        address coinbase,
        uint256 basefee,
        uint256 chainid,
        uint256 prevrandao,
        uint256 gaslimit
    );

    function record() external {
        number = block.number;
        timestamp = block.timestamp;
        parentHash = blockhash(block.number - 1);
        coinbase = block.coinbase;
        basefee = block.basefee;
        chainid = block.chainid;
        prevrandao = block.prevrandao;
        gaslimit = block.gaslimit;
        emit Context(number, timestamp, parentHash, coinbase, basefee, chainid, prevrandao, gaslimit);
    }

    /// BLOCKHASH(n) as seen now (zero outside the last 256 blocks and for the current one).
    function hashOf(uint256 n) external view returns (bytes32) {
        return blockhash(n);
    }
}
