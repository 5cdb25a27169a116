// Shared helpers of the libFuzzer targets (built with -DDEFI_FUZZ=ON).
#ifndef DEFI_FUZZ_FUZZ_H
#define DEFI_FUZZ_FUZZ_H

#include <cstdio>
#include <cstdlib>

// A property every input must keep; a violation aborts, which libFuzzer
// reports as a crash and saves the input.
#define FUZZ_ASSERT(cond, what)                                                                                        \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            std::fprintf(stderr, "%s:%d: fuzz assertion failed: %s (%s)\n", __FILE__, __LINE__, #cond, what);          \
            std::fflush(stderr);                                                                                       \
            std::abort();                                                                                              \
        }                                                                                                              \
    } while (0)

#endif // DEFI_FUZZ_FUZZ_H
