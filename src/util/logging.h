// One log: debug.log in the datadir, and the console with -printtoconsole.
#ifndef DEFI_UTIL_LOGGING_H
#define DEFI_UTIL_LOGGING_H

#include <string>

// Opens `path` for appending; returns false if it cannot.
bool LogOpen(const std::string& path, bool print_to_console);
void LogPrint(const std::string& message);
// Logs, prints to stderr and exits non-zero at once. For failures after
// which continuing could diverge from the metachain; the next start
// recovers from the committed state.
[[noreturn]] void FatalError(const std::string& message);

#endif // DEFI_UTIL_LOGGING_H
