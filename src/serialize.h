// Binary serialization: little-endian integers, u32-length-prefixed byte
// strings and vectors. Reading past the end throws, so a truncated or
// corrupt record never yields a half-read object.
#ifndef DEFI_SERIALIZE_H
#define DEFI_SERIALIZE_H

#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

struct SerializeError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

class Writer {
public:
    template <typename T> void Int(T v)
    {
        for (size_t i = 0; i < sizeof(T); ++i)
            m_out.push_back(static_cast<uint8_t>(static_cast<uint64_t>(v) >> (8 * i)));
    }
    void Bytes(const uint8_t* data, size_t len)
    {
        Int<uint32_t>(static_cast<uint32_t>(len));
        m_out.insert(m_out.end(), data, data + len);
    }
    void Bytes(const std::vector<uint8_t>& v) { Bytes(v.data(), v.size()); }
    void Str(const std::string& s) { Bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size()); }
    template <size_t N> void Fixed(const std::array<uint8_t, N>& a) { m_out.insert(m_out.end(), a.begin(), a.end()); }
    const std::vector<uint8_t>& data() const { return m_out; }
    std::vector<uint8_t> take() { return std::move(m_out); }

private:
    std::vector<uint8_t> m_out;
};

class Reader {
public:
    explicit Reader(const std::vector<uint8_t>& in) : m_in(in.data()), m_len(in.size()) {}
    // A reader only borrows its bytes.
    explicit Reader(std::vector<uint8_t>&&) = delete;
    Reader(const uint8_t* data, size_t len) : m_in(data), m_len(len) {}

    template <typename T> T Int()
    {
        Need(sizeof(T));
        uint64_t v = 0;
        for (size_t i = 0; i < sizeof(T); ++i)
            v |= static_cast<uint64_t>(m_in[m_pos + i]) << (8 * i);
        m_pos += sizeof(T);
        return static_cast<T>(v);
    }
    std::vector<uint8_t> Bytes(size_t max = 64 << 20)
    {
        const uint32_t len = Int<uint32_t>();
        if (len > m_len - m_pos) {
            throw SerializeError("truncated: a field claims " + std::to_string(len) + " bytes, " +
                                 std::to_string(m_len - m_pos) + " remain");
        }
        if (len > max) {
            throw SerializeError("field of " + std::to_string(len) + " bytes, over the limit of " +
                                 std::to_string(max));
        }
        std::vector<uint8_t> out(m_in + m_pos, m_in + m_pos + len);
        m_pos += len;
        return out;
    }
    std::string Str(size_t max = 1 << 16)
    {
        const auto b = Bytes(max);
        return std::string(b.begin(), b.end());
    }
    // A string of printable ASCII (addresses): text from the wire that ends up
    // in JSON and logs is never arbitrary bytes.
    std::string Ascii(size_t max)
    {
        std::string s = Str(max);
        for (const char c : s) {
            if (c < 0x21 || c > 0x7e) throw SerializeError("address field holds a byte that is not printable ASCII");
        }
        return s;
    }
    template <size_t N> std::array<uint8_t, N> Fixed()
    {
        Need(N);
        std::array<uint8_t, N> a;
        std::copy(m_in + m_pos, m_in + m_pos + N, a.begin());
        m_pos += N;
        return a;
    }
    bool AtEnd() const { return m_pos == m_len; }
    size_t Remaining() const { return m_len - m_pos; }
    void ExpectEnd() const
    {
        if (!AtEnd()) throw SerializeError("trailing bytes");
    }

private:
    void Need(size_t n) const
    {
        if (m_len - m_pos < n) throw SerializeError("unexpected end of data");
    }
    const uint8_t* m_in;
    size_t m_len;
    size_t m_pos{0};
};

#endif // DEFI_SERIALIZE_H
