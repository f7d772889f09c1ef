//! Index.db entries with promoted indexes.
#![no_main]

use cairn_format::codec::Cursor;
use cairn_format::index::parse_entry;
use cairn_format::types::CqlType;
use cairn_format::Version;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let types = [CqlType::Int, CqlType::Text];
    for version in [Version::Mc, Version::Oa] {
        let mut c = Cursor::new(data);
        while !c.is_empty() {
            if parse_entry(&mut c, &types, version).is_err() {
                break;
            }
        }
    }
});
