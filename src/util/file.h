// Small files the node rewrites whole (banlist.json, peers.json).
#ifndef DEFI_UTIL_FILE_H
#define DEFI_UTIL_FILE_H

#include <filesystem>
#include <optional>
#include <string>

// Writes `contents` to `path` atomically: a temporary file in the same
// directory, synced, then renamed over `path` (and the directory synced), so
// a crash leaves the old file or the new one, never half of one. False with
// `error` if it cannot.
bool WriteFileAtomic(const std::filesystem::path& path, const std::string& contents, std::string& error);

// The whole file; nullopt if it does not exist. Throws std::runtime_error if
// it exists but cannot be read or is larger than `max_size`.
std::optional<std::string> ReadSmallFile(const std::filesystem::path& path, size_t max_size);

#endif // DEFI_UTIL_FILE_H
