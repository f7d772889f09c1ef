//! Shared helpers for the end-to-end tests live in the test binary.

/// The Python interpreter of the peers virtualenv (`CAIRN_PEERS_PYTHON`, set by `scripts/test`),
/// or `None` outside CI, where a missing oracle is reported rather than failed. In CI (`CI=true`)
/// a missing interpreter fails the test: an oracle that silently does not run verifies nothing.
pub fn peers_python(oracle: &str) -> Option<String> {
    match std::env::var("CAIRN_PEERS_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            let msg = format!("CAIRN_PEERS_PYTHON is not set: {oracle} was not run; scripts/test sets it up");
            assert!(!cairn_fixtures::in_ci(), "{msg}");
            eprintln!("{msg}");
            None
        }
    }
}

/// The Python interpreter of the virtualenv holding the `cairn` Python package
/// (`CAIRN_PY_PYTHON`, set by `scripts/test` from `scripts/python-wheel`), or `None` outside CI,
/// where the package's tests are reported as not run; in CI a missing interpreter fails.
pub fn package_python() -> Option<String> {
    match std::env::var("CAIRN_PY_PYTHON") {
        Ok(p) if !p.is_empty() => Some(p),
        _ => {
            let msg = "CAIRN_PY_PYTHON is not set: the Python package was not tested; scripts/python-wheel builds it";
            assert!(!cairn_fixtures::in_ci(), "{msg}");
            eprintln!("{msg}");
            None
        }
    }
}
