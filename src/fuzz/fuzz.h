// Shared helpers of the libFuzzer targets (built with -DDEFI_FUZZ=ON).
#ifndef DEFI_FUZZ_FUZZ_H
#define DEFI_FUZZ_FUZZ_H

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

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

// The datadirs of a target that runs a node: a template built once, and the
// node's own, copied afresh from it whenever an input changed the node, so a
// crash reproduces from its input alone. On a tmpfs when there is one, which
// makes the node's synced writes cheap.
struct FuzzDirs {
    std::filesystem::path base, templ, node;

    // Makes <tmp>/<prefix>XXXXXX; exits if it cannot.
    void Create(const std::string& prefix)
    {
        namespace fs = std::filesystem;
        const fs::path tmp = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
        std::string dir = (tmp / (prefix + "XXXXXX")).string();
        if (!mkdtemp(dir.data())) {
            std::fprintf(stderr, "mkdtemp failed in %s\n", tmp.c_str());
            std::exit(1);
        }
        base = dir;
        templ = base / "template";
        node = base / "node";
    }
    void CopyTemplateToNode() const
    {
        std::error_code ec;
        std::filesystem::remove_all(node, ec);
        std::filesystem::copy(templ, node, std::filesystem::copy_options::recursive);
    }
    void Remove() const
    {
        std::error_code ec;
        std::filesystem::remove_all(base, ec);
    }
};

#endif // DEFI_FUZZ_FUZZ_H
