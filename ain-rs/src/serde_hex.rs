//! Serde for protobuf `bytes` fields as lowercase hex strings in JSON.
//! SIMD (faster-hex): block payloads are megabytes, and hex was the largest
//! cost of a 10,000-tx JSON-RPC round trip.

use serde::de::{Error, Visitor};
use serde::ser::Error as _;
use serde::{Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use std::fmt;

/// Lowercase hex of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    hex_into(bytes, &mut out);
    // Only ASCII digits were written.
    String::from_utf8(out).unwrap_or_default()
}

/// Writes the hex of `bytes` into `out`, which is exactly twice as long.
fn hex_into(bytes: &[u8], out: &mut [u8]) {
    // Fails only when `out` is too short, which the callers rule out.
    let _ = faster_hex::hex_encode(bytes, out);
}

/// Bytes of a hex string (either case).
pub fn decode(text: &str) -> Result<Vec<u8>, String> {
    decode_ascii(text.as_bytes())
}

fn decode_ascii(s: &[u8]) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err(format!("odd number of hex digits ({})", s.len()));
    }
    let mut out = vec![0u8; s.len() / 2];
    if faster_hex::hex_decode(s, &mut out).is_err() {
        let i = s.iter().position(|c| !c.is_ascii_hexdigit()).unwrap_or(0);
        return Err(format!("invalid hex digit at position {i}"));
    }
    Ok(out)
}

/// `bytes` as a quoted JSON string of hex digits.
fn quoted(bytes: &[u8]) -> String {
    let mut out = vec![b'"'; bytes.len() * 2 + 2];
    let end = out.len() - 1;
    hex_into(bytes, &mut out[1..end]);
    // Only ASCII was written.
    String::from_utf8(out).unwrap_or_default()
}

/// Short bytes (txids, keys) go out as a plain string from a stack buffer.
/// Longer ones are written as a raw JSON value: hex digits never need
/// escaping, and serde_json's byte-by-byte escape scan was the largest cost
/// of writing a block payload.
pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    if bytes.len() <= 64 {
        let mut buf = [0u8; 128];
        let out = &mut buf[..bytes.len() * 2];
        hex_into(bytes, out);
        return s.serialize_str(std::str::from_utf8(out).unwrap_or_default());
    }
    RawValue::from_string(quoted(bytes))
        .map_err(S::Error::custom)?
        .serialize(s)
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    struct HexVisitor;
    impl Visitor<'_> for HexVisitor {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a hex string")
        }
        fn visit_str<E: Error>(self, v: &str) -> Result<Vec<u8>, E> {
            self.visit_bytes(v.as_bytes())
        }
        // serde_json hands a string's raw bytes straight from its buffer.
        fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            decode_ascii(v).map_err(|e| E::custom(format!("invalid hex: {e}")))
        }
    }
    // As bytes, serde_json finds the closing quote with memchr and skips the
    // UTF-8 check: decoding accepts only hex digits anyway.
    d.deserialize_bytes(HexVisitor)
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
        // Long inputs take the SIMD path; a bad digit deep inside is found.
        let long = format!("{}g{}", "ab".repeat(500), "c".repeat(99));
        assert!(decode(&long).unwrap_err().contains("position 1000"));
    }

    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct Msg {
        #[serde(with = "super")]
        b: Vec<u8>,
    }

    #[test]
    fn short_and_long_bytes_are_plain_json_strings() {
        for len in [0, 1, 32, 64, 65, 100_000] {
            let msg = Msg {
                b: (0..len).map(|i| (i * 7) as u8).collect(),
            };
            let expected = format!(r#"{{"b":"{}"}}"#, hex::encode(&msg.b));
            assert_eq!(serde_json::to_string(&msg).unwrap(), expected);
            let value = serde_json::to_value(&msg).unwrap();
            assert_eq!(value["b"], serde_json::Value::String(hex::encode(&msg.b)));
            assert_eq!(serde_json::from_str::<Msg>(&expected).unwrap(), msg);
            assert_eq!(
                serde_json::from_slice::<Msg>(expected.as_bytes()).unwrap(),
                msg
            );
            assert_eq!(serde_json::from_value::<Msg>(value).unwrap(), msg);
        }
    }

    #[test]
    fn only_strings_of_hex_digits_are_bytes() {
        let parse = |json: &str| serde_json::from_str::<Msg>(json).map(|m| m.b);
        // Escapes are still JSON: "\u0061b" is "ab".
        assert_eq!(parse(r#"{"b":"\u0061b"}"#).unwrap(), vec![0xab]);
        for bad in [
            r#"{"b":[1,2]}"#,
            r#"{"b":12}"#,
            r#"{"b":"a\u0000"}"#,
            "{\"b\":\"a\u{1}\"}",
            r#"{"b":"éé"}"#,
            r#"{"b":"abc"}"#,
            r#"{"b":"ab"#,
        ] {
            assert!(parse(bad).is_err(), "{bad} was accepted");
        }
        let err = parse(r#"{"b":[1,2]}"#).unwrap_err().to_string();
        assert!(err.contains("expected a hex string"), "{err}");
    }
}
