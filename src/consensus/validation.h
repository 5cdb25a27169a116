// Typed results of validating a tx or a block: what kind of failure, a short
// reject reason (the text submitblock and sendrawtransaction report) and
// whether whoever sent it is to blame. The network layer decides from the
// kind, never from the text.
#ifndef DEFI_CONSENSUS_VALIDATION_H
#define DEFI_CONSENSUS_VALIDATION_H

#include <string>

enum class TxValidationResult {
    TX_RESULT_UNSET,
    TX_CONSENSUS,          // breaks a rule on any chain (signature, amounts, addresses): the sender's fault
    TX_INSUFFICIENT_FUNDS, // its sender cannot pay amount + fee on this chain now
    TX_BAD_NONCE,          // not its sender's next nonce on this chain now
    TX_CONFLICT,           // already pooled, or another pooled tx has its sender and nonce
    TX_MEMPOOL_POLICY,     // this node's policy: fee, size, a full pool
    TX_NO_METACHAIN,       // a deposit or withdrawal on a node that runs no metachain
    TX_METACHAIN_REFUSED,  // the metachain would refuse it
};

enum class BlockValidationResult {
    BLOCK_RESULT_UNSET,
    BLOCK_CONSENSUS,      // breaks a consensus rule: the sender's fault
    BLOCK_CACHED_INVALID, // already known to be invalid
    BLOCK_INVALID_HEADER, // bad proof of work, difficulty or height
    BLOCK_MUTATED,        // its txs or payload do not match its header: this copy is corrupt, the header may be fine
    BLOCK_MISSING_PREV,   // its parent is unknown: it arrived out of order, nobody is to blame
    BLOCK_INVALID_PREV,   // it descends from an invalid block
    BLOCK_PAYLOAD,        // the metachain rejected its payload
};

template <typename Result> class ValidationState {
public:
    bool IsValid() const { return m_result == Result{}; }
    bool IsInvalid() const { return !IsValid(); }
    // Marks the state invalid; returns false, so `return state.Invalid(...)` reads well.
    bool Invalid(Result result, const std::string& reason, const std::string& debug = "")
    {
        m_result = result;
        m_reason = reason;
        m_debug = debug;
        return false;
    }
    Result GetResult() const { return m_result; }
    const std::string& GetRejectReason() const { return m_reason; }
    const std::string& GetDebugMessage() const { return m_debug; }
    // "" when valid, else the reason and any detail.
    std::string ToString() const
    {
        if (IsValid()) return "";
        return m_debug.empty() ? m_reason : m_reason + ": " + m_debug;
    }

private:
    Result m_result{};
    std::string m_reason, m_debug;
};

using TxValidationState = ValidationState<TxValidationResult>;
using BlockValidationState = ValidationState<BlockValidationResult>;

// Whether the peer that sent an invalid tx or block is misbehaving, as
// opposed to being on another chain or merely early.
inline bool SenderToBlame(TxValidationResult r) { return r == TxValidationResult::TX_CONSENSUS; }
inline bool SenderToBlame(BlockValidationResult r)
{
    switch (r) {
    case BlockValidationResult::BLOCK_CONSENSUS:
    case BlockValidationResult::BLOCK_CACHED_INVALID:
    case BlockValidationResult::BLOCK_INVALID_HEADER:
    case BlockValidationResult::BLOCK_MUTATED:
    case BlockValidationResult::BLOCK_INVALID_PREV:
    case BlockValidationResult::BLOCK_PAYLOAD:
        return true;
    case BlockValidationResult::BLOCK_RESULT_UNSET:
    case BlockValidationResult::BLOCK_MISSING_PREV:
        return false;
    }
    return false;
}

#endif // DEFI_CONSENSUS_VALIDATION_H
