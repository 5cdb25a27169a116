// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @title Token: a plain ERC-20 for the functional tests.
/// @notice The constructor mints `initialSupply` to the deployer.
///
/// Storage layout (fixed on purpose; tests read balances straight from storage):
///   slot 0: mapping(address => uint256) balanceOf
///   slot 1: mapping(address => mapping(address => uint256)) allowance
///   slot 2: uint256 totalSupply
///   slot 3: string name
///   slot 4: string symbol
/// so the balance of `a` is at keccak256(abi.encode(a, uint256(0))), i.e.
/// keccak256(left-pad32(a) ++ uint256(0)), and the allowance of `o` for `s` at
/// keccak256(abi.encode(s, keccak256(abi.encode(o, uint256(1))))).
/// (build/Token.json's storageLayout says the same.)
contract Token {
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;
    uint256 public totalSupply;
    string public name;
    string public symbol;
    uint8 public constant decimals = 18;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    constructor(string memory name_, string memory symbol_, uint256 initialSupply) {
        name = name_;
        symbol = symbol_;
        totalSupply = initialSupply;
        balanceOf[msg.sender] = initialSupply;
        emit Transfer(address(0), msg.sender, initialSupply);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        _transfer(msg.sender, to, value);
        return true;
    }

    function approve(address spender, uint256 value) external returns (bool) {
        allowance[msg.sender][spender] = value;
        emit Approval(msg.sender, spender, value);
        return true;
    }

    function transferFrom(address from, address to, uint256 value) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= value, "Token: allowance too low");
        if (allowed != type(uint256).max) {
            allowance[from][msg.sender] = allowed - value;
        }
        _transfer(from, to, value);
        return true;
    }

    function _transfer(address from, address to, uint256 value) internal {
        require(to != address(0), "Token: transfer to the zero address");
        uint256 have = balanceOf[from];
        require(have >= value, "Token: balance too low");
        balanceOf[from] = have - value;
        balanceOf[to] += value;
        emit Transfer(from, to, value);
    }
}
