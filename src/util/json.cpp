#include <util/json.h>

#include <vector>

namespace {
// The binary subtype that marks a raw number; JSON text never yields binary.
constexpr std::uint64_t RAW_NUMBER = 0x6e;

bool IsRawNumber(const json& v)
{
    return v.is_binary() && v.get_binary().has_subtype() && v.get_binary().subtype() == RAW_NUMBER;
}

std::string Dump(const json& v) { return v.dump(-1, ' ', false, json::error_handler_t::replace); }

void Write(const json& v, int indent, int depth, std::string& out)
{
    const auto newline = [&](int level) {
        if (indent < 0) return;
        out += '\n';
        out.append(static_cast<size_t>(indent * level), ' ');
    };
    if (IsRawNumber(v)) {
        out.append(v.get_binary().begin(), v.get_binary().end());
    } else if (v.is_object() && !v.empty()) {
        out += '{';
        bool first = true;
        for (const auto& [key, item] : v.items()) {
            if (!first) out += ',';
            first = false;
            newline(depth + 1);
            out += Dump(json(key));
            out += indent < 0 ? ":" : ": ";
            Write(item, indent, depth + 1, out);
        }
        newline(depth);
        out += '}';
    } else if (v.is_array() && !v.empty()) {
        out += '[';
        bool first = true;
        for (const auto& item : v) {
            if (!first) out += ',';
            first = false;
            newline(depth + 1);
            Write(item, indent, depth + 1, out);
        }
        newline(depth);
        out += ']';
    } else {
        out += Dump(v);
    }
}

// Builds the tree as json::parse does, but keeps every number that is not an
// int64 or uint64 as its text, and stops at a nesting limit.
class KeepNumbers : public nlohmann::json_sax<json> {
public:
    explicit KeepNumbers(size_t max_depth) : m_max_depth(max_depth) {}
    json root;
    std::string error;

    bool null() override { return Add(nullptr); }
    bool boolean(bool v) override { return Add(v); }
    bool number_integer(number_integer_t v) override { return Add(v); }
    bool number_unsigned(number_unsigned_t v) override { return Add(v); }
    bool number_float(number_float_t, const string_t& text) override { return Add(RawNumber(text)); }
    bool string(string_t& v) override { return Add(v); }
    bool binary(binary_t& v) override { return Add(json::binary(v)); }
    bool start_object(std::size_t) override { return Open(json::object()); }
    bool key(string_t& k) override
    {
        m_key = k;
        return true;
    }
    bool end_object() override { return Close(); }
    bool start_array(std::size_t) override { return Open(json::array()); }
    bool end_array() override { return Close(); }
    bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override
    {
        // Drop nlohmann's "[json.exception.parse_error.101] " tag.
        std::string what = e.what();
        if (const auto end = what.find("] "); what.rfind("[json.exception", 0) == 0 && end != std::string::npos) {
            what.erase(0, end + 2);
        }
        error = what;
        return false;
    }

private:
    json* Place(json v)
    {
        if (m_stack.empty()) {
            root = std::move(v);
            return &root;
        }
        json& parent = *m_stack.back();
        if (parent.is_array()) {
            parent.push_back(std::move(v));
            return &parent.back();
        }
        return &(parent[m_key] = std::move(v));
    }
    bool Add(json v)
    {
        Place(std::move(v));
        return true;
    }
    bool Open(json v)
    {
        if (m_stack.size() >= m_max_depth) {
            error = "nesting deeper than " + std::to_string(m_max_depth) + " levels";
            return false;
        }
        m_stack.push_back(Place(std::move(v)));
        return true;
    }
    bool Close()
    {
        m_stack.pop_back();
        return true;
    }

    size_t m_max_depth;
    std::vector<json*> m_stack;
    std::string m_key;
};
} // namespace

json RawNumber(const std::string& text)
{
    return json::binary(std::vector<std::uint8_t>(text.begin(), text.end()), RAW_NUMBER);
}

std::string WriteJSON(const json& v, int indent)
{
    std::string out;
    Write(v, indent, 0, out);
    return out;
}

std::optional<std::string> RawNumberText(const json& v)
{
    if (!IsRawNumber(v)) return std::nullopt;
    return std::string(v.get_binary().begin(), v.get_binary().end());
}

json ParseJSON(const std::string& text, size_t max_depth)
{
    KeepNumbers sax(max_depth);
    if (!json::sax_parse(text, &sax)) throw JSONError(sax.error.empty() ? "invalid JSON" : sax.error);
    return std::move(sax.root);
}

std::string QuoteForError(const json& v, size_t max)
{
    std::string text = WriteJSON(v);
    if (text.size() > max) text = text.substr(0, max) + "...";
    return text;
}
