//! Workspace-level tests: conformance against the corpus, peer oracles, robustness (CLI tests live beside the binary, in cli/tests).

mod compaction;
mod components;
mod conformance;
mod counters;
mod cqlite;
mod datasets;
mod export;
mod freezing;
mod load;
mod meta;
mod model;
mod murmur_oracle;
mod node;
mod plan;
mod python;
mod rewrite;
mod ring_placement;
mod robustness;
mod tombstones;
