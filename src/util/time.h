// The wall clock as the node uses it: Unix seconds, for block times, bans,
// the address book and "is the tip recent" checks.
#ifndef DEFI_UTIL_TIME_H
#define DEFI_UTIL_TIME_H

#include <chrono>
#include <cstdint>

inline int64_t GetTime()
{
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

#endif // DEFI_UTIL_TIME_H
