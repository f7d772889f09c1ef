//! `cairn node --config cassandra.yaml`: the settings a node takes from a Cassandra
//! configuration file, under cassandra.yaml's own names, and its data centre and rack from the
//! `cassandra-rackdc.properties` beside it (as GossipingPropertyFileSnitch reads them).
//!
//! Read: `cluster_name`, `num_tokens`, `initial_token`, `listen_address`, `rpc_address` (where
//! CQL listens when given), `native_transport_port`, `storage_port`, `data_file_directories`
//! (the first), `seed_provider`'s `seeds`, `hinted_handoff_enabled`, `max_hint_window` (4.1:
//! `3h`, `10800s`, `10800000ms`) or `max_hint_window_in_ms` (4.0), `commitlog_sync`,
//! `commitlog_sync_period` / `commitlog_sync_period_in_ms`, `phi_convict_threshold`,
//! `auto_bootstrap`. Every other key is left alone (Cassandra has hundreds); a key Cairn reads
//! with a value it cannot use is an error naming the file, line and key.
//!
//! This is the block-style YAML cassandra.yaml is written in — `key: value` at the top level,
//! lists as `- item` lines under their key, `#` comments, quoted or plain scalars — not a
//! general YAML parser.

use std::path::{Path, PathBuf};
use std::time::Duration;

/// What a configuration file sets (`None`: not set there).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileConfig {
    /// `cluster_name`.
    pub cluster_name: Option<String>,
    /// `num_tokens`.
    pub num_tokens: Option<usize>,
    /// `initial_token`.
    pub initial_tokens: Vec<i64>,
    /// `listen_address`.
    pub listen_address: Option<std::net::IpAddr>,
    /// `rpc_address`.
    pub rpc_address: Option<std::net::IpAddr>,
    /// `native_transport_port`.
    pub native_port: Option<u16>,
    /// `storage_port`.
    pub storage_port: Option<u16>,
    /// The first of `data_file_directories`.
    pub data: Option<PathBuf>,
    /// `seed_provider`'s seeds.
    pub seeds: Vec<String>,
    /// `hinted_handoff_enabled`.
    pub hinted_handoff: Option<bool>,
    /// `max_hint_window`.
    pub max_hint_window: Option<Duration>,
    /// `commitlog_sync` is `batch`.
    pub commitlog_batch: Option<bool>,
    /// `commitlog_sync_period`.
    pub commitlog_sync_period: Option<Duration>,
    /// `phi_convict_threshold`.
    pub phi_convict_threshold: Option<f64>,
    /// `auto_bootstrap`.
    pub auto_bootstrap: Option<bool>,
    /// `dc` of cassandra-rackdc.properties.
    pub dc: Option<String>,
    /// `rack` of cassandra-rackdc.properties.
    pub rack: Option<String>,
}

/// A configuration file Cairn cannot use.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A value Cairn reads is not usable.
    #[error("{path}:{line}: {key}: {message}")]
    Value {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The key.
        key: String,
        /// What is wrong.
        message: String,
    },
}

fn unquote(v: &str) -> &str {
    let v = v.trim();
    let v = match v.find(" #") {
        Some(i) if !v.starts_with('"') && !v.starts_with('\'') => v[..i].trim(),
        _ => v,
    };
    v.strip_prefix('"')
        .and_then(|x| x.strip_suffix('"'))
        .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
        .unwrap_or(v)
}

/// A duration as cassandra.yaml writes one: `3h`, `10800s`, `500ms`, `1d`, `5m`; a bare number
/// is in `bare` units.
fn duration(v: &str, bare: Duration) -> Option<Duration> {
    let v = v.trim().to_ascii_lowercase();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (n, unit) = v.split_at(split);
    let n: u64 = n.parse().ok()?;
    let unit = match unit.trim() {
        "" => bare,
        "ms" | "milliseconds" => Duration::from_millis(1),
        "s" | "seconds" => Duration::from_secs(1),
        "m" | "minutes" => Duration::from_secs(60),
        "h" | "hours" => Duration::from_secs(3600),
        "d" | "days" => Duration::from_secs(86_400),
        _ => return None,
    };
    unit.checked_mul(u32::try_from(n).ok()?)
}

/// The `key`/`value` pairs of a Java properties file, as `java.util.Properties` reads the lines
/// Cassandra's snitches write: `#` and `!` comments, and a key ended by the first `=`, `:` or
/// blank, with blanks around the separator (`dc = DC1`, `dc:DC1`, `dc DC1`). Line continuations
/// and escapes are not read.
fn properties(text: &str) -> impl Iterator<Item = (&str, &str)> {
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with(['#', '!'])).map(|line| {
        let end = line.find(|ch: char| ch == '=' || ch == ':' || ch.is_whitespace()).unwrap_or(line.len());
        let (key, rest) = line.split_at(end);
        let rest = rest.trim_start();
        let value = rest.strip_prefix(['=', ':']).unwrap_or(rest).trim();
        (key, value)
    })
}

impl FileConfig {
    /// Read `path` (and the `cassandra-rackdc.properties` beside it, when there is one).
    pub fn read(path: &Path) -> Result<FileConfig, ConfigError> {
        let io = |source| ConfigError::Io { path: path.to_path_buf(), source };
        let text = std::fs::read_to_string(path).map_err(io)?;
        let mut c = FileConfig::parse(&text, path)?;
        let rackdc = path.with_file_name("cassandra-rackdc.properties");
        // Only a missing file means none: one that does not read would silently put the node in
        // the default data center.
        match std::fs::read(&rackdc) {
            Ok(bytes) => {
                // ISO-8859-1, as `Properties.load(InputStream)` reads it: every byte is a char.
                let props: String = bytes.iter().map(|&b| char::from(b)).collect();
                for (key, value) in properties(&props) {
                    match key {
                        "dc" => c.dc = Some(value.to_string()),
                        "rack" => c.rack = Some(value.to_string()),
                        _ => {}
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(ConfigError::Io { path: rackdc, source }),
        }
        Ok(c)
    }

    /// Parse cassandra.yaml text (`path` names it in errors).
    pub fn parse(text: &str, path: &Path) -> Result<FileConfig, ConfigError> {
        let mut c = FileConfig::default();
        // The top-level key the indented lines below belong to.
        let mut section = String::new();
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let bad = |key: &str, message: String| ConfigError::Value {
                path: path.to_path_buf(),
                line: line_no,
                key: key.to_string(),
                message,
            };
            let line = raw.trim_end();
            let content = line.trim_start();
            if content.is_empty() || content.starts_with('#') {
                continue;
            }
            let indented = line.len() != content.len();
            if !indented {
                let Some((key, value)) = content.split_once(':') else { continue };
                section = key.trim().to_string();
                let value = unquote(value);
                if value.is_empty() {
                    continue;
                }
                let key = section.as_str();
                let num = |what: &str| bad(key, format!("{value:?} is not {what}"));
                let flag = || match value.to_ascii_lowercase().as_str() {
                    "true" => Ok(true),
                    "false" => Ok(false),
                    _ => Err(bad(key, format!("{value:?} is not true or false"))),
                };
                match key {
                    "cluster_name" => c.cluster_name = Some(value.to_string()),
                    "num_tokens" => c.num_tokens = Some(value.parse().map_err(|_| num("a count"))?),
                    "initial_token" => {
                        c.initial_tokens = value
                            .split(',')
                            .map(|t| t.trim().parse::<i64>().map_err(|_| num("a list of Murmur3 tokens")))
                            .collect::<Result<_, _>>()?;
                    }
                    "listen_address" => c.listen_address = Some(value.parse().map_err(|_| num("an IP address"))?),
                    "rpc_address" => c.rpc_address = Some(value.parse().map_err(|_| num("an IP address"))?),
                    "native_transport_port" => c.native_port = Some(value.parse().map_err(|_| num("a port"))?),
                    "storage_port" => c.storage_port = Some(value.parse().map_err(|_| num("a port"))?),
                    "hinted_handoff_enabled" => c.hinted_handoff = Some(flag()?),
                    "auto_bootstrap" => c.auto_bootstrap = Some(flag()?),
                    "max_hint_window" => {
                        c.max_hint_window =
                            Some(duration(value, Duration::from_millis(1)).ok_or_else(|| num("a duration"))?);
                    }
                    "max_hint_window_in_ms" => {
                        c.max_hint_window =
                            Some(Duration::from_millis(value.parse().map_err(|_| num("milliseconds"))?));
                    }
                    "commitlog_sync" => {
                        c.commitlog_batch = Some(match value {
                            "batch" | "group" => true,
                            "periodic" => false,
                            _ => return Err(bad(key, format!("{value:?}: periodic, batch or group"))),
                        });
                    }
                    "commitlog_sync_period" => {
                        c.commitlog_sync_period =
                            Some(duration(value, Duration::from_millis(1)).ok_or_else(|| num("a duration"))?);
                    }
                    "commitlog_sync_period_in_ms" => {
                        c.commitlog_sync_period =
                            Some(Duration::from_millis(value.parse().map_err(|_| num("milliseconds"))?));
                    }
                    "phi_convict_threshold" => {
                        c.phi_convict_threshold = Some(value.parse().map_err(|_| num("a number"))?);
                    }
                    _ => {}
                }
                continue;
            }
            // Indented: a list item or nested key of `section`.
            let item = content.strip_prefix("- ").unwrap_or(content);
            match section.as_str() {
                "data_file_directories" if content.starts_with("- ") && c.data.is_none() => {
                    c.data = Some(PathBuf::from(unquote(item)));
                }
                "seed_provider" => {
                    if let Some(("seeds", v)) = item.split_once(':').map(|(k, v)| (k.trim(), v)) {
                        c.seeds = unquote(v)
                            .split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .map(str::to_string)
                            .collect();
                    }
                }
                _ => {}
            }
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rackdc_properties_read_as_java_reads_them() {
        let text = "# snitch\n! also a comment\ndc = DC1\nrack:RAC2\n\nprefer_local true\n";
        let got: Vec<(&str, &str)> = properties(text).collect();
        assert_eq!(got, [("dc", "DC1"), ("rack", "RAC2"), ("prefer_local", "true")]);
        let dir = tempfile::tempdir().expect("tempdir");
        let yaml = dir.path().join("cassandra.yaml");
        std::fs::write(&yaml, "cluster_name: c\n").expect("yaml");
        // A Latin-1 byte in a comment, as Java's Properties reads it: not an error.
        let mut bytes = b"# r\xe9seau\n".to_vec();
        bytes.extend_from_slice(text.as_bytes());
        std::fs::write(dir.path().join("cassandra-rackdc.properties"), bytes).expect("rackdc");
        let c = FileConfig::read(&yaml).expect("read");
        assert_eq!((c.dc.as_deref(), c.rack.as_deref()), (Some("DC1"), Some("RAC2")));
        // A rackdc file that does not read is an error naming it, not the default data center.
        std::fs::remove_file(dir.path().join("cassandra-rackdc.properties")).expect("rm");
        std::fs::create_dir(dir.path().join("cassandra-rackdc.properties")).expect("mkdir");
        let err = FileConfig::read(&yaml).expect_err("unreadable").to_string();
        assert!(err.contains("cassandra-rackdc.properties"), "{err}");
    }

    #[test]
    fn the_settings_cairn_reads_come_from_cassandra_yaml_names() {
        let yaml = r#"
# a cassandra.yaml excerpt
cluster_name: 'Test Cluster'
num_tokens: 8
hinted_handoff_enabled: false
max_hint_window: 2h
commitlog_sync: batch
commitlog_sync_period_in_ms: 10000
data_file_directories:
    - /var/lib/cassandra/data
    - /other
seed_provider:
    - class_name: org.apache.cassandra.locator.SimpleSeedProvider
      parameters:
          - seeds: "127.0.0.1:7000, 127.0.0.2"
listen_address: 127.0.0.3
native_transport_port: 9043
storage_port: 7001
phi_convict_threshold: 12
concurrent_reads: 32
"#;
        let c = FileConfig::parse(yaml, Path::new("cassandra.yaml")).expect("parses");
        assert_eq!(c.cluster_name.as_deref(), Some("Test Cluster"));
        assert_eq!(c.num_tokens, Some(8));
        assert_eq!(c.hinted_handoff, Some(false));
        assert_eq!(c.max_hint_window, Some(Duration::from_secs(7200)));
        assert_eq!(c.commitlog_batch, Some(true));
        assert_eq!(c.commitlog_sync_period, Some(Duration::from_secs(10)));
        assert_eq!(c.data, Some(PathBuf::from("/var/lib/cassandra/data")));
        assert_eq!(c.seeds, ["127.0.0.1:7000", "127.0.0.2"]);
        assert_eq!(c.listen_address, Some("127.0.0.3".parse().expect("ip")));
        assert_eq!((c.native_port, c.storage_port), (Some(9043), Some(7001)));
        assert_eq!(c.phi_convict_threshold, Some(12.0));
    }

    #[test]
    fn an_unusable_value_is_an_error_naming_line_and_key() {
        let e = FileConfig::parse("cluster_name: x\nnum_tokens: many\n", Path::new("c.yaml")).expect_err("bad");
        assert_eq!(e.to_string(), "c.yaml:2: num_tokens: \"many\" is not a count");
        let e = FileConfig::parse("max_hint_window: 3 fortnights\n", Path::new("c.yaml")).expect_err("bad");
        assert!(e.to_string().starts_with("c.yaml:1: max_hint_window:"), "{e}");
    }
}
