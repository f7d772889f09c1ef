//! Statistics.db, every version.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for v in cairn_format::Version::ALL {
        if let Ok(s) = cairn_format::statistics::parse(data, v) {
            if let Some(c) = s.compaction {
                let _ = c.estimated_cardinality();
            }
        }
    }
});
