// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title Child: made by Factory; can selfdestruct when the factory says so.
/// Storage: slot 0 = value (`factory` is immutable, in the code).
contract Child {
    address public immutable factory;
    uint256 public value;

    constructor(uint256 v) payable {
        factory = msg.sender;
        value = v;
    }

    /// SELFDESTRUCT, sending this contract's balance to `to`. Under Cancun (EIP-6780) it
    /// deletes the account (code, storage, nonce) only when run in the same tx that created
    /// the contract; otherwise it only moves the balance and the contract stays.
    function destroy(address payable to) external {
        require(msg.sender == factory, "Child: only the factory");
        selfdestruct(to);
    }

    receive() external payable {}
}

/// @title Factory: creates Child contracts with CREATE and CREATE2, and destroys them.
///
/// Two SELFDESTRUCT behaviours under EIP-6780 (the metachain runs spec CANCUN):
/// - `createAndDestroy`: creates a child and destroys it in the same tx. The child's
///   account is deleted at the end of the tx: no code, no storage, balance sent to `to`.
///   The emitted address has empty code afterwards.
/// - `destroy` on a child created in an earlier tx: only the balance moves to `to`;
///   the code, storage (`value`) and nonce stay, and the child still answers calls.
contract Factory {
    address[] public children;

    event Created(address indexed child, bool create2, bytes32 salt, uint256 value);
    event Destroyed(address indexed child, address to);

    /// CREATE: the child's address is keccak256(rlp([factory, factory nonce]))[12:].
    function create(uint256 v) external payable returns (address child) {
        child = address(new Child{value: msg.value}(v));
        children.push(child);
        emit Created(child, false, bytes32(0), v);
    }

    /// CREATE2: the child's address is `predict(salt, v)`.
    function create2(bytes32 salt, uint256 v) external payable returns (address child) {
        child = address(new Child{salt: salt, value: msg.value}(v));
        children.push(child);
        emit Created(child, true, salt, v);
    }

    /// keccak256(0xff ++ factory ++ salt ++ keccak256(init code))[12:].
    function predict(bytes32 salt, uint256 v) external view returns (address) {
        bytes32 initHash = keccak256(abi.encodePacked(type(Child).creationCode, abi.encode(v)));
        return address(uint160(uint256(keccak256(abi.encodePacked(bytes1(0xff), address(this), salt, initHash)))));
    }

    /// Creates a child (CREATE, with msg.value) and destroys it in the same tx: under
    /// EIP-6780 the child is deleted and its balance goes to `to`. It is not recorded in
    /// `children` (it still uses up one of the factory's CREATE nonces).
    function createAndDestroy(uint256 v, address payable to) external payable returns (address child) {
        Child c = new Child{value: msg.value}(v);
        child = address(c);
        emit Created(child, false, bytes32(0), v);
        c.destroy(to);
        emit Destroyed(child, to);
    }

    /// Destroys a child created in an earlier tx: under EIP-6780 only its balance goes
    /// to `to`; its code and storage stay.
    function destroy(address payable child, address payable to) external {
        Child(child).destroy(to);
        emit Destroyed(child, to);
    }

    function childCount() external view returns (uint256) {
        return children.length;
    }

    function codeSize(address a) external view returns (uint256) {
        return a.code.length;
    }
}
