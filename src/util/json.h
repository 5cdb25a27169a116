// JSON numbers kept as their text. nlohmann::json holds a fractional number as
// a double, which prints `10.00000000` as `10.0` and cannot hold every amount
// above 2^53 base units; a raw number keeps the exact text instead, as
// bitcoind's UniValue does.
#ifndef DEFI_UTIL_JSON_H
#define DEFI_UTIL_JSON_H

#include <nlohmann/json.hpp>

#include <string>

using json = nlohmann::json;

// A number written exactly as `text` (which must be a JSON number).
json RawNumber(const std::string& text);
// json::dump, with raw numbers written as their text.
std::string WriteJSON(const json& v, int indent = -1);
// json::parse, with every fractional number kept as a raw number; throws
// json::parse_error.
json ParseJSONKeepNumbers(const std::string& text);

#endif // DEFI_UTIL_JSON_H
