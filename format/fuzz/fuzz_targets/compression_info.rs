//! CompressionInfo.db and CRC.db.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for v in [cairn_format::Version::Mc, cairn_format::Version::Nb] {
        let _ = cairn_format::compression::CompressionInfo::parse(data, v);
    }
    let _ = cairn_format::compression::ChunkChecksums::parse(data);
    let _ = cairn_format::compression::parse_digest(data);
});
