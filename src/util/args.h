// bitcoind-style command-line options: -name, -name=value, --name=value,
// -noname. Options are declared once; the declarations drive both parsing
// (unknown options are errors) and the -help text.
#ifndef DEFI_UTIL_ARGS_H
#define DEFI_UTIL_ARGS_H

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

class ArgsManager {
public:
    // `spec` is "-name" or "-name=<value>"; the first declared wins in -help order.
    void AddArg(const std::string& spec, const std::string& help);
    // Returns false and sets `error` on an unknown or malformed option.
    bool Parse(int argc, const char* const argv[], std::string& error);
    bool IsSet(const std::string& name) const;
    // The option's value: the last given on the command line, else the first
    // in the config file.
    std::string Get(const std::string& name, const std::string& fallback = "") const;
    // Every value of a repeatable option (-connect, -addnode, -bind): the
    // command line's in order, then the config file's. -noname on the
    // command line drops the values before it and the config file's.
    std::vector<std::string> GetArgs(const std::string& name) const;
    bool GetBool(const std::string& name, bool fallback) const;
    // A whole number in [min, max] (exactly: no sign games, no trailing
    // text); `fallback` when unset. Returns false with `error` otherwise.
    bool GetInt(const std::string& name, int64_t fallback, int64_t min, int64_t max, int64_t& out,
                std::string& error) const;
    std::string HelpText() const;
    // Reads `key=value` lines (# comments) from a config file; values given
    // on the command line win. Returns false with `error` on a bad line or key.
    bool ReadConfigFile(const std::string& path, std::string& error);

private:
    struct Option {
        std::string spec;
        std::string help;
    };
    std::vector<std::pair<std::string, Option>> m_declared;
    std::map<std::string, std::string> m_values;
    std::map<std::string, std::vector<std::string>> m_cli_lists, m_conf_lists;
    std::set<std::string> m_cli_negated;
};

#endif // DEFI_UTIL_ARGS_H
