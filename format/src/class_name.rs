//! Java class names as Cassandra resolves them from its files and schema.
//!
//! A compressor, partitioner or type is stored by class name. Cassandra looks a name without a
//! dot up in its own package for that kind (`CompressionParams.parseCompressorClass`,
//! `FBUtilities.newPartitioner`, `TypeParser.getAbstractType`) and loads any other name as
//! given: `com.acme.LZ4Compressor` is some other class than Cassandra's `LZ4Compressor`, and
//! its bytes must not be read as if it were.

/// The simple name of `class` when it names a class of `package` (`"org.apache.cassandra.dht."`,
/// with the trailing dot): bare, or qualified with exactly that package. `None` for a class
/// elsewhere.
pub fn in_package<'a>(class: &'a str, package: &str) -> Option<&'a str> {
    match class.strip_prefix(package) {
        Some(simple) => Some(simple),
        None if !class.contains('.') => Some(class),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::in_package;

    #[test]
    fn only_the_package_or_a_bare_name_resolves() {
        const P: &str = "org.apache.cassandra.io.compress.";
        assert_eq!(in_package("LZ4Compressor", P), Some("LZ4Compressor"));
        assert_eq!(in_package("org.apache.cassandra.io.compress.LZ4Compressor", P), Some("LZ4Compressor"));
        assert_eq!(in_package("com.acme.LZ4Compressor", P), None);
        assert_eq!(in_package("org.apache.cassandra.io.LZ4Compressor", P), None);
    }
}
