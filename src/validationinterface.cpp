#include <validationinterface.h>

#include <algorithm>

void ValidationSignals::Register(CValidationInterface* listener)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    m_listeners.push_back(listener);
}

void ValidationSignals::Unregister(CValidationInterface* listener)
{
    std::lock_guard<std::mutex> lock(m_mutex);
    m_listeners.erase(std::remove(m_listeners.begin(), m_listeners.end(), listener), m_listeners.end());
}

template <typename F> void ValidationSignals::Each(F&& f)
{
    std::vector<CValidationInterface*> listeners;
    {
        std::lock_guard<std::mutex> lock(m_mutex);
        listeners = m_listeners;
    }
    for (auto* l : listeners)
        f(*l);
}

void ValidationSignals::BlockConnected(const CBlock& block, const CBlockIndex* index)
{
    Each([&](CValidationInterface& l) { l.BlockConnected(block, index); });
}

void ValidationSignals::BlockDisconnected(const CBlock& block, const CBlockIndex* index)
{
    Each([&](CValidationInterface& l) { l.BlockDisconnected(block, index); });
}

void ValidationSignals::UpdatedBlockTip(const CBlockIndex* new_tip, const CBlockIndex* fork)
{
    Each([&](CValidationInterface& l) { l.UpdatedBlockTip(new_tip, fork); });
}

void ValidationSignals::TransactionAddedToMempool(const CTransaction& tx)
{
    Each([&](CValidationInterface& l) { l.TransactionAddedToMempool(tx); });
}

void ValidationSignals::TransactionRemovedFromMempool(const CTransaction& tx, MemPoolRemovalReason reason)
{
    Each([&](CValidationInterface& l) { l.TransactionRemovedFromMempool(tx, reason); });
}
