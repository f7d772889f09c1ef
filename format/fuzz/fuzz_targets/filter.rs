//! Filter.db.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for v in [cairn_format::Version::Mc, cairn_format::Version::Nb] {
        if let Ok(f) = cairn_format::filter::BloomFilter::parse(data, v) {
            let _ = f.may_contain(b"key");
        }
    }
});
