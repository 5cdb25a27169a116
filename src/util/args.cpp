#include <util/args.h>

#include <algorithm>
#include <charconv>
#include <fstream>

void ArgsManager::AddArg(const std::string& spec, const std::string& help)
{
    const std::string name = spec.substr(0, spec.find('='));
    m_declared.push_back({name, Option{spec, help}});
}

bool ArgsManager::Parse(int argc, const char* const argv[], std::string& error)
{
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        if (arg.size() < 2 || arg[0] != '-') {
            error = "unexpected argument '" + arg + "' (options start with -)";
            return false;
        }
        if (arg.rfind("--", 0) == 0) arg = arg.substr(1);
        std::string name = arg;
        std::string value = "1";
        if (const auto eq = arg.find('='); eq != std::string::npos) {
            name = arg.substr(0, eq);
            value = arg.substr(eq + 1);
        }
        auto known = [this](const std::string& n) {
            return std::any_of(m_declared.begin(), m_declared.end(), [&](const auto& d) { return d.first == n; });
        };
        bool negated = false;
        if (!known(name) && name.rfind("-no", 0) == 0 && known("-" + name.substr(3))) {
            name = "-" + name.substr(3);
            value = (value == "0") ? "1" : "0";
            negated = true;
        }
        if (!known(name)) {
            error = "unknown option " + name + " (see -help)";
            return false;
        }
        m_values[name] = value;
        if (negated) {
            // -noname: no values (-noname=0 is a bare "1", no list value either).
            m_cli_lists[name].clear();
            if (value == "0") m_cli_negated.insert(name);
        } else {
            m_cli_lists[name].push_back(value);
        }
    }
    return true;
}

bool ArgsManager::IsSet(const std::string& name) const { return m_values.count(name) > 0; }

std::string ArgsManager::Get(const std::string& name, const std::string& fallback) const
{
    const auto it = m_values.find(name);
    return it == m_values.end() ? fallback : it->second;
}

std::vector<std::string> ArgsManager::GetArgs(const std::string& name) const
{
    std::vector<std::string> out;
    if (const auto it = m_cli_lists.find(name); it != m_cli_lists.end()) out = it->second;
    if (m_cli_negated.count(name)) return out;
    if (const auto it = m_conf_lists.find(name); it != m_conf_lists.end())
        out.insert(out.end(), it->second.begin(), it->second.end());
    return out;
}

bool ArgsManager::GetBool(const std::string& name, bool fallback) const
{
    const auto it = m_values.find(name);
    if (it == m_values.end()) return fallback;
    return !(it->second == "0" || it->second == "false" || it->second.empty());
}

std::string ArgsManager::HelpText() const
{
    std::string out = "Options:\n";
    for (const auto& [name, opt] : m_declared) {
        out += "  " + opt.spec + "\n       " + opt.help + "\n";
    }
    return out;
}

bool ArgsManager::ReadConfigFile(const std::string& path, std::string& error)
{
    std::ifstream in(path);
    if (!in) return true; // no config file is fine
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        const auto hash = line.find('#');
        if (hash != std::string::npos) line.erase(hash);
        const auto first = line.find_first_not_of(" \t\r");
        if (first == std::string::npos) continue;
        line = line.substr(first, line.find_last_not_of(" \t\r") - first + 1);
        const auto eq = line.find('=');
        if (eq == std::string::npos) {
            error = path + ":" + std::to_string(n) + ": expected key=value";
            return false;
        }
        std::string key = line.substr(0, eq);
        key.erase(key.find_last_not_of(" \t") + 1);
        const std::string name = "-" + key;
        if (std::none_of(m_declared.begin(), m_declared.end(), [&](const auto& d) { return d.first == name; })) {
            error = path + ":" + std::to_string(n) + ": unknown option " + key;
            return false;
        }
        std::string value = line.substr(eq + 1);
        value.erase(0, value.find_first_not_of(" \t"));
        m_values.emplace(name, value); // emplace: the command line keeps precedence
        m_conf_lists[name].push_back(value);
    }
    return true;
}

bool ArgsManager::GetInt(const std::string& name, int64_t fallback, int64_t min, int64_t max, int64_t& out,
                         std::string& error) const
{
    if (!IsSet(name)) {
        out = fallback;
        return true;
    }
    const std::string text = Get(name);
    int64_t v = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || v < min || v > max) {
        error = name + "=" + text + " is not a whole number from " + std::to_string(min) + " to " + std::to_string(max);
        return false;
    }
    out = v;
    return true;
}
