//! Chunk decompression with every codec.
#![no_main]

use cairn_format::compression::Compressor;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((len, rest)) = data.split_at_checked(2) else { return };
    let expected = u16::from_be_bytes([len[0], len[1]]) as usize;
    for c in [Compressor::Lz4, Compressor::Snappy, Compressor::Deflate, Compressor::Zstd] {
        let mut out = Vec::new();
        let _ = c.decompress_into(rest, expected, &mut out);
    }
});
