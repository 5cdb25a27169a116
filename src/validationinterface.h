// The validation-events interface: what the chain state and the mempool tell
// the rest of the node (the network layer, later the wallet and indexes) once
// a change is committed. Listeners are called on the thread that made the
// change, with the chain lock held: they must only note the event (queue it)
// and must not call back into the chain state or the mempool.
#ifndef DEFI_VALIDATIONINTERFACE_H
#define DEFI_VALIDATIONINTERFACE_H

#include <mutex>
#include <vector>

struct CBlock;
struct CBlockIndex;
struct CTransaction;

enum class MemPoolRemovalReason {
    BLOCK,     // a connected block included it
    INVALID,   // the new tip no longer allows it
    METACHAIN, // the metachain refused it when a block was built
};

class CValidationInterface {
public:
    virtual ~CValidationInterface() = default;
    // A block became the tip of the active chain.
    virtual void BlockConnected(const CBlock&, const CBlockIndex*) {}
    // The tip was disconnected (a reorg or invalidateblock).
    virtual void BlockDisconnected(const CBlock&, const CBlockIndex*) {}
    // The active chain's tip changed, once per activation: `fork` is the last
    // block the old and new chains share.
    virtual void UpdatedBlockTip(const CBlockIndex* /*new_tip*/, const CBlockIndex* /*fork*/) {}
    virtual void TransactionAddedToMempool(const CTransaction&) {}
    virtual void TransactionRemovedFromMempool(const CTransaction&, MemPoolRemovalReason) {}
};

// The listeners, and the calls that reach them all.
class ValidationSignals {
public:
    void Register(CValidationInterface* listener);
    void Unregister(CValidationInterface* listener);

    void BlockConnected(const CBlock& block, const CBlockIndex* index);
    void BlockDisconnected(const CBlock& block, const CBlockIndex* index);
    void UpdatedBlockTip(const CBlockIndex* new_tip, const CBlockIndex* fork);
    void TransactionAddedToMempool(const CTransaction& tx);
    void TransactionRemovedFromMempool(const CTransaction& tx, MemPoolRemovalReason reason);

private:
    template <typename F> void Each(F&& f);
    std::mutex m_mutex;
    std::vector<CValidationInterface*> m_listeners;
};

#endif // DEFI_VALIDATIONINTERFACE_H
