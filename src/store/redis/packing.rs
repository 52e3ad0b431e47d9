//! How the Redis store writes a partition's JSON texts (its record, journal
//! entries, documents, events and expiring documents) and reads them back.
//!
//! A text of [`PACKED_FROM`] bytes or more is written packed: a zstd frame
//! made with a dictionary of typical documents (`dictionary-1.json`), behind
//! a mark byte that no UTF-8 text starts with and the dictionary's number.
//! Shorter texts, and any text packing would not shrink (or the compressor
//! fails on), are written as they are. Reading takes either, so partitions
//! written before packing read as they always did.
//!
//! Why: Redis's Lua hashes every byte a script is handed, about 13
//! instructions a byte, and a commit hands it every text it writes
//! (docs/redis.md, "What a commit costs"). Packed, a withdrawal's five
//! texts are about a third of their bytes as JSON. The dictionary is part
//! of the stored format: a dictionary once used is kept, unchanged, for as
//! long as data written with it may exist (a test pins its digest); a
//! better one comes with the next number.

use std::cell::RefCell;
use std::sync::LazyLock;

use zstd::bulk::{Compressor, Decompressor};
use zstd::dict::{DecoderDictionary, EncoderDictionary};

use crate::store::StoreError;

/// The first byte of a packed value: never the first byte of UTF-8 text.
const MARK: u8 = 0xFF;
/// The number of the dictionary new values are packed with.
const DICTIONARY_NUMBER: u8 = 1;
/// Dictionary 1: a record, a withdrawal, a saved reply, events and journal
/// entries as walletgate writes them (zstd reads it as raw content).
const DICTIONARY_1: &[u8] = include_bytes!("dictionary-1.json");
/// Texts shorter than this are written as they are: packing them saves
/// little and costs the frame's own bytes.
const PACKED_FROM: usize = 96;
/// zstd's level: a fast one. On a withdrawal's five texts (about 4 KB),
/// measured on this project's machine: level -2 packs them to 1 312 bytes in
/// 6.3 µs and unpacks them in 1.0 µs; level 1 to 1 210 bytes in 18–20 µs
/// (and 6.4 µs to unpack, its literals being entropy-coded). The gateway
/// pays for packing, Redis for the bytes: about 13 instructions a byte.
const LEVEL: i32 = -2;
/// The most a packed value may unpack to, so a damaged or hostile frame
/// cannot make a reader allocate without bound.
const UNPACKED_MAX: usize = 16 << 20;

static ENCODER: LazyLock<EncoderDictionary<'static>> = LazyLock::new(|| EncoderDictionary::copy(DICTIONARY_1, LEVEL));
static DECODER: LazyLock<DecoderDictionary<'static>> = LazyLock::new(|| DecoderDictionary::copy(DICTIONARY_1));

thread_local! {
    // A compression context per thread, made once: making one costs more
    // than packing a document.
    static COMPRESSOR: RefCell<Option<Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<Decompressor<'static>>> = const { RefCell::new(None) };
}

/// The bytes to store for `text`: packed when it is long enough and packing
/// works, the text itself otherwise.
pub(super) fn pack(text: &str) -> Vec<u8> {
    if text.len() < PACKED_FROM {
        return text.as_bytes().to_vec();
    }
    let frame = COMPRESSOR.with_borrow_mut(|slot| {
        let compressor = match slot {
            Some(compressor) => compressor,
            None => slot.insert(Compressor::with_prepared_dictionary(&ENCODER).ok()?),
        };
        compressor.compress(text.as_bytes()).ok()
    });
    match frame {
        Some(frame) if frame.len() + 2 < text.len() => {
            let mut packed = Vec::with_capacity(frame.len() + 2);
            packed.extend_from_slice(&[MARK, DICTIONARY_NUMBER]);
            packed.extend_from_slice(&frame);
            packed
        }
        _ => text.as_bytes().to_vec(),
    }
}

/// The text stored as `bytes` (packed or not) under `key`, which names the
/// place in the error when the bytes are neither.
pub(super) fn unpack(key: &str, bytes: Vec<u8>) -> Result<String, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { key: key.to_owned(), reason };
    let Some((&MARK, rest)) = bytes.split_first() else {
        return String::from_utf8(bytes).map_err(|e| corrupt(format!("neither text nor a packed value: {e}")));
    };
    let Some((&number, frame)) = rest.split_first() else {
        return Err(corrupt("a packed value without its dictionary's number".into()));
    };
    if number != DICTIONARY_NUMBER {
        return Err(corrupt(format!("packed with dictionary {number}, which this version does not know")));
    }
    let unpacked = DECOMPRESSOR.with_borrow_mut(|slot| {
        let decompressor = match slot {
            Some(decompressor) => decompressor,
            None => slot.insert(Decompressor::with_prepared_dictionary(&DECODER)?),
        };
        decompressor.decompress(frame, UNPACKED_MAX)
    });
    let unpacked = unpacked.map_err(|e| corrupt(format!("a packed value that does not unpack: {e}")))?;
    String::from_utf8(unpacked).map_err(|e| corrupt(format!("a packed value that is not text: {e}")))
}

/// As [`unpack`], for a value that may be absent.
pub(super) fn unpack_optional(key: &str, bytes: Option<Vec<u8>>) -> Result<Option<String>, StoreError> {
    bytes.map(|bytes| unpack(key, bytes)).transpose()
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use super::*;

    /// A withdrawal as walletgate writes one (ids, names and times not in the dictionary).
    fn withdrawal_like() -> String {
        concat!(
            r#"{"id":"wd_01a3000000007000a000000000000001","binding_id":"bnd_01a3000000007000a000000000000002","#,
            r#""destination":{"provider":"wechat","openid":"oQ1xZ7bT9kLmN3pR5sV8wY0aC2e","unionid":"oU4gH6jK8lM0nP2qR4sT6vX8z","#,
            r#""nickname":"王小明","avatar_url":"https://thirdwx.qlogo.cn/mmopen/vi_32/Q0j4TwGTfTKq/132"},"#,
            r#""amount":"250.00","fee":"0.25","fee_quota_used":"1000.00","status":"pending","review_reasons":[],"#,
            r#""created_at":"2026-12-01T08:15:42Z","limit_day":"2026-12-01","hold_entry":"je_01a3000000007000a000000000000003","#,
            r#""history":[{"status":"pending","at":"2026-12-01T08:15:42Z"}],"failure_reason":null,"#,
            r#""payout":{"attempts":0,"parked":false,"last_error":null,"transfer_bill_no":null}}"#
        )
        .to_owned()
    }

    #[test]
    fn texts_come_back_as_they_went_packed_or_not() {
        let long = withdrawal_like();
        for text in ["", "{}", "\"short\"", "张三丰", long.as_str(), &long.repeat(40)] {
            let stored = pack(text);
            assert_eq!(unpack("k", stored.clone()).unwrap(), text);
            assert_eq!(stored.first() == Some(&MARK), text.len() >= PACKED_FROM, "{text}");
        }
    }

    #[test]
    fn a_withdrawal_packs_to_under_half_its_size() {
        let text = withdrawal_like();
        let packed = pack(&text);
        assert!(packed.len() * 2 < text.len(), "{} bytes packed to {}", text.len(), packed.len());
    }

    #[test]
    fn text_written_before_packing_reads_as_it_is() {
        let text = withdrawal_like();
        assert_eq!(unpack("k", text.clone().into_bytes()).unwrap(), text);
    }

    #[test]
    fn bytes_that_are_neither_text_nor_a_packed_value_are_corrupt_not_a_panic() {
        let frame = pack(&withdrawal_like());
        let mut other_dictionary = frame.clone();
        other_dictionary[1] = 9;
        let mut truncated = frame.clone();
        truncated.truncate(frame.len() / 2);
        let cases: [(&str, Vec<u8>, &str); 5] = [
            ("not UTF-8", vec![0xC3, 0x28], "neither text"),
            ("a mark alone", vec![MARK], "dictionary's number"),
            ("an unknown dictionary", other_dictionary, "dictionary 9"),
            ("a cut frame", truncated, "does not unpack"),
            ("garbage after the mark", vec![MARK, DICTIONARY_NUMBER, 1, 2, 3, 4, 5], "does not unpack"),
        ];
        for (case, bytes, said) in cases {
            match unpack("the-key", bytes) {
                Err(StoreError::Corrupt { key, reason }) => {
                    assert_eq!(key, "the-key");
                    assert!(reason.contains(said), "{case}: {reason}");
                }
                other => panic!("{case}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_frame_that_would_unpack_beyond_the_limit_is_refused() {
        let huge = zstd::bulk::compress(&vec![b' '; UNPACKED_MAX + 1], 1).unwrap();
        let mut bytes = vec![MARK, DICTIONARY_NUMBER];
        bytes.extend_from_slice(&huge);
        assert!(matches!(unpack("k", bytes), Err(StoreError::Corrupt { .. })));
    }

    /// Values packed with dictionary 1 can only be read with it: it must
    /// never change (a new dictionary takes a new number).
    #[test]
    fn dictionary_1_is_the_one_data_was_written_with() {
        let digest = hex::encode(Sha256::digest(DICTIONARY_1));
        assert_eq!(digest, "8b8c596fda4f7e44c9ef4c67d6457f1fcb445d9e37215ffcc5daa29cc6d492fd");
    }
}
