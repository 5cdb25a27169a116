//! How `meta_getBlock` and defid's `getmetablock` name a block.

use crate::error::EngineError;

pub type Hash = [u8; 32];

/// How `meta_getBlock` names a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockId {
    Hash(Hash),
    Height(u64),
}

/// Longest part of a refused block id quoted back in the error.
const QUOTED_ID_CHARS: usize = 80;

impl BlockId {
    /// Accepts exactly 64 hex digits, with or without `0x` (a hash), or a
    /// canonical decimal height:
    /// digits only, no sign, no leading zero except "0" itself, at most
    /// `u64::MAX`. Anything else (`+1`, `00`, 63 zeros, ` 1`) is refused
    /// rather than read as some other block.
    pub fn parse(id: &str) -> Result<BlockId, EngineError> {
        let digits = id.strip_prefix("0x").unwrap_or(id).as_bytes();
        if digits.len() == 64 && digits.iter().all(u8::is_ascii_hexdigit) {
            if let Some(h) = hex::decode(digits)
                .ok()
                .and_then(|v| Hash::try_from(v).ok())
            {
                return Ok(BlockId::Hash(h));
            }
        }
        let canonical = match id.as_bytes() {
            [b'0'] => true,
            [b'1'..=b'9', rest @ ..] => rest.iter().all(u8::is_ascii_digit),
            _ => false,
        };
        if canonical {
            if let Ok(n) = id.parse::<u64>() {
                return Ok(BlockId::Height(n));
            }
        }
        // The id can be megabytes: quote only its start.
        let quoted: String = id.chars().take(QUOTED_ID_CHARS).collect();
        let more = if quoted.len() < id.len() {
            format!(" (first {QUOTED_ID_CHARS} of {} bytes)", id.len())
        } else {
            String::new()
        };
        Err(EngineError::Invalid(format!(
            "block id {quoted:?}{more} is neither a block hash (64 hex digits) nor a height \
             (decimal 0 to {}, no sign or leading zeros)",
            u64::MAX
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_ids_are_a_hash_or_a_canonical_height() {
        let hash = "ab".repeat(32);
        assert_eq!(BlockId::parse(&hash).unwrap(), BlockId::Hash([0xab; 32]));
        assert_eq!(
            BlockId::parse(&hash.to_uppercase()).unwrap(),
            BlockId::Hash([0xab; 32])
        );
        assert_eq!(
            BlockId::parse(&"0".repeat(64)).unwrap(),
            BlockId::Hash([0; 32])
        );
        assert_eq!(
            BlockId::parse(&format!("0x{hash}")).unwrap(),
            BlockId::Hash([0xab; 32])
        );
        for (id, n) in [
            ("0", 0),
            ("1", 1),
            ("10", 10),
            ("18446744073709551615", u64::MAX),
        ] {
            assert_eq!(BlockId::parse(id).unwrap(), BlockId::Height(n), "{id}");
        }
        let refused = [
            "".to_string(),
            "+1".into(),
            "-1".into(),
            "00".into(),
            "01".into(),
            " 1".into(),
            "1 ".into(),
            "1.0".into(),
            "1e3".into(),
            "0x1".into(),
            "١".into(), // a non-ASCII digit
            "18446744073709551616".into(),
            "0".repeat(63),
            "0".repeat(65),
            format!("{}g", "a".repeat(63)),
            format!("+{}", "a".repeat(63)),
        ];
        for id in refused {
            let e = BlockId::parse(&id).unwrap_err();
            assert!(matches!(e, EngineError::Invalid(_)), "{id:?}: {e:?}");
            let text = e.to_string();
            assert!(
                text.contains("64 hex digits") && text.contains("no sign or leading zeros"),
                "{text}"
            );
        }
    }

    #[test]
    fn a_huge_block_id_is_quoted_only_in_part() {
        let id = "9".repeat(1 << 20);
        let text = BlockId::parse(&id).unwrap_err().to_string();
        assert!(text.len() < 400, "{text}");
        assert!(
            text.contains(&format!("(first 80 of {} bytes)", 1 << 20)),
            "{text}"
        );
    }
}
