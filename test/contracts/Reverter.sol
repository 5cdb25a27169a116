// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title Reverter: a call that always fails with a reason, and one that succeeds.
/// Storage: slot 0 = value, slot 1 = writes.
contract Reverter {
    uint256 public value;
    uint256 public writes;

    event Stored(address indexed by, uint256 value);

    error Refused(uint256 code);

    /// Always reverts with Error(string) "nope: always reverts".
    function fail() external pure {
        require(false, "nope: always reverts");
    }

    /// Writes storage, then reverts: the write must be rolled back.
    function writeThenFail(uint256 v) external {
        value = v;
        writes += 1;
        require(false, "nope: write rolled back");
    }

    /// Reverts with the custom error Refused(code).
    function failCustom(uint256 code) external pure {
        revert Refused(code);
    }

    /// Succeeds: stores `v`, counts the write and emits Stored.
    function store(uint256 v) external {
        value = v;
        writes += 1;
        emit Stored(msg.sender, v);
    }
}
