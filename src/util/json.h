// JSON numbers kept as their text. nlohmann::json holds a fractional number as
// a double, which prints `10.00000000` as `10.0` and cannot hold every amount
// above 2^53 base units; a raw number keeps the exact text instead, as
// bitcoind's UniValue does.
#ifndef DEFI_UTIL_JSON_H
#define DEFI_UTIL_JSON_H

#include <nlohmann/json.hpp>

#include <optional>
#include <stdexcept>
#include <string>

using json = nlohmann::json;

// Deepest nesting ParseJSON accepts by default; RPC requests need 4 levels.
constexpr size_t MAX_JSON_DEPTH = 64;

struct JSONError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// A number written exactly as `text` (which must be a JSON number).
json RawNumber(const std::string& text);
// The text of a raw number, or nullopt for any other value.
std::optional<std::string> RawNumberText(const json& v);
// json::dump, with raw numbers written as their text and bytes that are not
// UTF-8 replaced by U+FFFD (JSON text is UTF-8; data from the wire may not be).
std::string WriteJSON(const json& v, int indent = -1);
// Strict parse: integers that fit int64 or uint64 stay integers, every other
// number is kept as a raw number (never through a double, so 1e400 or 2^64
// keep their text). Throws JSONError for bad JSON, a non-finite number or
// nesting deeper than `max_depth`.
json ParseJSON(const std::string& text, size_t max_depth = MAX_JSON_DEPTH);
// `v` as JSON text for an error message: escaped, at most `max` bytes of it.
std::string QuoteForError(const json& v, size_t max = 80);

#endif // DEFI_UTIL_JSON_H
