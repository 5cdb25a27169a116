//! Serde for protobuf `bytes` fields as lowercase hex strings in JSON.
//! Table-driven: block payloads are megabytes, and the generic `hex` crate
//! was the largest cost of a 10,000-tx JSON-RPC round trip.

use serde::de::{Error, Visitor};
use serde::{Deserializer, Serializer};
use std::fmt;

const DIGITS: &[u8; 16] = b"0123456789abcdef";

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
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(DIGITS[(b >> 4) as usize]);
        out.push(DIGITS[(b & 0x0f) as usize]);
    }
    // Only ASCII digits were pushed.
    String::from_utf8(out).unwrap_or_default()
}

/// Bytes of a hex string (either case).
pub fn decode(text: &str) -> Result<Vec<u8>, String> {
    let s = text.as_bytes();
    if !s.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits ({})", s.len()));
    }
    let mut out = Vec::with_capacity(s.len() / 2);
    for (i, pair) in s.chunks_exact(2).enumerate() {
        let (hi, lo) = (VALUES[pair[0] as usize], VALUES[pair[1] as usize]);
        if hi == 0xff || lo == 0xff {
            return Err(format!(
                "invalid hex digit at position {}",
                2 * i + usize::from(hi != 0xff)
            ));
        }
        out.push(hi << 4 | lo);
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
