//! Serde for protobuf `bytes` fields as lowercase hex strings in JSON.
//! Table-driven: block payloads are megabytes, and the generic `hex` crate
//! was the largest cost of a 10,000-tx JSON-RPC round trip.

use serde::de::{Error, Visitor};
use serde::{Deserializer, Serializer};
use std::fmt;

/// The two lowercase hex digits of each byte value.
const PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [DIGITS[i >> 4], DIGITS[i & 0x0f]];
        i += 1;
    }
    t
};

/// Value of each ASCII hex digit; 0xff for anything else.
const VALUES: [u8; 256] = {
    let mut t = [0xffu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// Lowercase hex of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    for (pair, &b) in out.chunks_exact_mut(2).zip(bytes) {
        pair.copy_from_slice(&PAIRS[b as usize]);
    }
    // Only ASCII digits were written.
    String::from_utf8(out).unwrap_or_default()
}

/// Bytes of a hex string (either case).
pub fn decode(text: &str) -> Result<Vec<u8>, String> {
    let s = text.as_bytes();
    if !s.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits ({})", s.len()));
    }
    let mut out = vec![0u8; s.len() / 2];
    // Branch-free loop; a bad digit sets 0xf0 bits in `bad`, located after.
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(s.chunks_exact(2)) {
        let (hi, lo) = (VALUES[pair[0] as usize], VALUES[pair[1] as usize]);
        bad |= hi | lo;
        *o = hi << 4 | lo;
    }
    if bad & 0xf0 != 0 {
        let i = s
            .iter()
            .position(|&c| VALUES[c as usize] == 0xff)
            .unwrap_or(0);
        return Err(format!("invalid hex digit at position {i}"));
    }
    Ok(out)
}

pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&encode(bytes))
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    struct HexVisitor;
    impl Visitor<'_> for HexVisitor {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a hex string")
        }
        // Decodes from the parser's buffer: no intermediate String.
        fn visit_str<E: Error>(self, v: &str) -> Result<Vec<u8>, E> {
            decode(v).map_err(|e| E::custom(format!("invalid hex: {e}")))
        }
    }
    d.deserialize_str(HexVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects() {
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(encode(&all), hex::encode(&all));
        assert_eq!(decode(&encode(&all)).unwrap(), all);
        assert_eq!(decode("ABcd").unwrap(), vec![0xab, 0xcd]);
        assert!(decode("abc").unwrap_err().contains("odd"));
        assert!(decode("zz").unwrap_err().contains("position 0"));
        assert!(decode("0z").unwrap_err().contains("position 1"));
        assert_eq!(decode("").unwrap(), Vec::<u8>::new());
    }
}
