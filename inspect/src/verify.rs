//! `cairn verify`: every check a reader can make without the cluster.
//!
//! * Digest.crc32 against the CRC32 of the whole Data.db;
//! * every chunk's CRC32 (CompressionInfo.db chunks, or CRC.db for uncompressed files), all
//!   chunks, continuing past failures;
//! * Data.db structure: every partition and row decodes, sizes agree, range tombstones open and
//!   close in pairs with matching deletions;
//! * partitions in token order, clusterings in order within each partition, as many partitions
//!   as Statistics.db records — the checks every full read makes
//!   ([`Scanner`](cairn_format::data::scanner::Scanner)), collected here instead of fatal;
//! * Index.db ↔ Data.db: one entry per partition, same keys, same positions, promoted-index
//!   header length and block offsets consistent with Data.db;
//! * Summary.db ↔ Index.db: samples point at index entries with the same key, first and last
//!   keys agree;
//! * the TOC lists what is on disk; Statistics.db's cardinality estimator decodes;
//! * Statistics.db's record of the smallest and largest timestamp, local deletion time and TTL
//!   against what the data holds, as every read that reaches the end of the data checks it
//!   ([`cairn_format::data::ranges`]).
//!
//! Problems are collected, each with the file, component and byte offset; the verb exits 1 when
//! any are found, 2 when it could not run at all.

use std::io::Write;

use cairn_format::descriptor::Component;
use cairn_format::sstable::SsTable;
use serde::Serialize;

use crate::InspectError;

/// One problem found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Problem {
    /// File.
    pub file: String,
    /// Component.
    pub component: String,
    /// Byte offset, when known.
    pub offset: Option<u64>,
    /// What is wrong.
    pub message: String,
}

/// The result for one SSTable.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// SSTable name.
    pub sstable: String,
    /// Partitions checked.
    pub partitions: u64,
    /// Rows and markers checked.
    pub unfiltereds: u64,
    /// Chunks checked.
    pub chunks: u64,
    /// Problems.
    pub problems: Vec<Problem>,
}

fn problem_of(e: &cairn_format::Error) -> Problem {
    Problem {
        file: e.path().map(|p| p.display().to_string()).unwrap_or_default(),
        component: e.component().map(|c| c.to_string()).unwrap_or_default(),
        offset: e.offset(),
        message: e.detail(),
    }
}

/// Verify one SSTable.
pub fn verify_one(table: &SsTable) -> Result<Report, InspectError> {
    let mut r =
        Report { sstable: table.descriptor.display_name(), partitions: 0, unfiltereds: 0, chunks: 0, problems: vec![] };
    let add = |r: &mut Report, c: Component, offset: Option<u64>, message: String| {
        r.problems.push(Problem {
            file: table.path(c).display().to_string(),
            component: c.to_string(),
            offset,
            message,
        });
    };
    // TOC against the disk.
    if let Some(toc) = &table.toc {
        for c in table.listed_but_missing() {
            add(&mut r, c, None, format!("listed in TOC.txt but missing on disk: {}", table.path(c).display()));
        }
        for c in &table.present {
            if !toc.contains(c) {
                add(&mut r, *c, None, "present on disk but not listed in TOC.txt".to_string());
            }
        }
    }
    // Statistics.db's cardinality estimator, which compaction reads to size its bloom filter.
    if let Err(e) = table.estimated_cardinality() {
        r.problems.push(problem_of(&e));
    }
    // The scan below reads (and checks) the chunks it needs in order; the chunk pass after it
    // reads the rest. Their problems come first in the report, so the scan's are set aside.
    let mut scanner = table.scanner()?;
    let toc_problems = r.problems.len();
    // Where the scan stopped on an error: a problem dropped when a chunk is bad, of which it
    // is most likely a consequence.
    let mut scan_error: Option<usize> = None;
    // Structure, order, and the index beside it.
    let mut index = match table.index_reader() {
        Ok(i) => Some(i),
        Err(e) => {
            r.problems.push(problem_of(&e));
            None
        }
    };
    // Summary samples by Index.db position, checked as the index is walked.
    let summary = match table.summary() {
        Ok(s) => s,
        Err(e) => {
            r.problems.push(problem_of(&e));
            None
        }
    };
    let mut samples: std::collections::BTreeMap<u64, (Vec<u8>, bool)> =
        summary.iter().flat_map(|s| s.entries.iter().map(|(k, p)| (*p, (k.clone(), false)))).collect();
    let filter = match table.filter() {
        Ok(f) => f,
        Err(e) => {
            r.problems.push(problem_of(&e));
            None
        }
    };
    let mut first_index_key: Option<Vec<u8>> = None;
    let mut last_index_key: Option<Vec<u8>> = None;
    let mut filter_misses = 0u64;
    let mut scan_complete = false;
    // The scan's own checks (order, sizes, partition count) are collected, not fatal.
    scanner.report_problems();
    'partitions: loop {
        let next = scanner.next_partition().map(|p| p.cloned());
        r.problems.extend(scanner.take_problems().iter().map(problem_of));
        let p = match next {
            Ok(Some(p)) => p,
            Ok(None) => {
                scan_complete = true;
                break;
            }
            Err(e) => {
                scan_error = Some(r.problems.len());
                r.problems.push(problem_of(&e));
                break;
            }
        };
        r.partitions += 1;
        // Index entry for this partition.
        if let Some(idx) = index.as_mut() {
            match idx.next_entry() {
                Ok(Some(e)) => {
                    if first_index_key.is_none() {
                        first_index_key = Some(e.key.clone());
                    }
                    last_index_key = Some(e.key.clone());
                    if let Some(s) = samples.get_mut(&e.index_position) {
                        s.1 = s.0 == e.key;
                    }
                    if let Some(f) = &filter
                        && !f.may_contain(&e.key)
                    {
                        filter_misses += 1;
                    }
                    if e.key != p.key {
                        add(
                            &mut r,
                            Component::Index,
                            Some(e.index_position),
                            "index entry key differs from the Data.db partition key".into(),
                        );
                    }
                    if e.data_position != p.position {
                        add(
                            &mut r,
                            Component::Index,
                            Some(e.index_position),
                            format!(
                                "index entry points at Data.db byte {} but the partition starts at {}",
                                e.data_position, p.position
                            ),
                        );
                    }
                    if let Some(pi) = &e.promoted {
                        let header_len = p.body_position - p.position;
                        if pi.header_length != header_len {
                            add(
                                &mut r,
                                Component::Index,
                                Some(e.index_position),
                                format!(
                                    "promoted index header length {} but the partition header is {header_len} bytes",
                                    pi.header_length
                                ),
                            );
                        }
                        if pi.deletion != p.deletion {
                            add(
                                &mut r,
                                Component::Index,
                                Some(e.index_position),
                                "promoted index partition deletion differs from Data.db".into(),
                            );
                        }
                        let mut last_end = 0;
                        for (bi, b) in pi.blocks.iter().enumerate() {
                            if b.offset < last_end {
                                add(
                                    &mut r,
                                    Component::Index,
                                    Some(e.index_position),
                                    format!("promoted index block {bi} overlaps the previous one"),
                                );
                            }
                            last_end = b.offset + b.width;
                        }
                    }
                }
                Ok(None) => add(
                    &mut r,
                    Component::Index,
                    None,
                    format!("Index.db has no entry for the partition at Data.db byte {}", p.position),
                ),
                Err(e) => {
                    r.problems.push(problem_of(&e));
                    index = None;
                }
            }
        }
        // The scan's problems in this partition are taken when it ends (nothing else adds
        // problems meanwhile, so their order is the same), not once per row.
        loop {
            let next = scanner.next_unfiltered().map(|u| u.is_some());
            match next {
                Ok(true) => r.unfiltereds += 1,
                Ok(false) => {
                    r.problems.extend(scanner.take_problems().iter().map(problem_of));
                    break;
                }
                Err(e) => {
                    r.problems.extend(scanner.take_problems().iter().map(problem_of));
                    scan_error = Some(r.problems.len());
                    r.problems.push(problem_of(&e));
                    break 'partitions;
                }
            }
        }
    }
    if scan_complete
        && let Some(idx) = index.as_mut()
        && let Ok(Some(e)) = idx.next_entry()
    {
        add(
            &mut r,
            Component::Index,
            Some(e.index_position),
            "Index.db has entries beyond the last Data.db partition".into(),
        );
    }
    // Summary against the index.
    if let Some(sm) = &summary
        && scan_complete
    {
        for (pos, (_, ok)) in &samples {
            if !ok {
                add(
                    &mut r,
                    Component::Summary,
                    None,
                    format!("summary sample points at Index.db byte {pos}, which is not the entry of its key"),
                );
            }
        }
        if first_index_key.as_ref().is_some_and(|k| *k != sm.first_key) {
            add(&mut r, Component::Summary, None, "summary first key differs from the first Index.db key".into());
        }
        if last_index_key.as_ref().is_some_and(|k| *k != sm.last_key) {
            add(&mut r, Component::Summary, None, "summary last key differs from the last Index.db key".into());
        }
    }
    if filter_misses > 0 {
        add(
            &mut r,
            Component::Filter,
            None,
            format!("bloom filter misses {filter_misses} partition key(s) of Index.db"),
        );
    }
    // Every chunk the scan did not read in order, continuing past failures; with the scan's,
    // their stored bytes make the CRC32 of the whole file for Digest.crc32.
    let mut later = r.problems.split_off(toc_problems);
    let mut source = scanner.into_source();
    let mut buf = Vec::new();
    r.chunks = source.chunk_count();
    for i in source.chunks_read_in_order()..source.chunk_count() {
        buf.clear();
        if let Err(e) = source.append_chunk(i, &mut buf) {
            r.problems.push(problem_of(&e));
        }
    }
    if let Err(e) = source.check_digest() {
        r.problems.push(problem_of(&e));
    }
    let chunk_problems = r.problems.iter().any(|p| p.component == "Data.db");
    if chunk_problems && let Some(i) = scan_error.and_then(|i| i.checked_sub(toc_problems)) {
        later.remove(i);
    }
    r.problems.append(&mut later);
    Ok(r)
}

/// Verify every table; returns whether all were clean.
pub fn verify(tables: &[SsTable], json: bool, out: &mut dyn Write) -> Result<bool, InspectError> {
    let mut clean = true;
    let mut reports = Vec::new();
    for t in tables {
        let rep = verify_one(t)?;
        clean &= rep.problems.is_empty();
        reports.push(rep);
    }
    // What interrupted operations left beside the SSTables is a problem of their directory.
    let dirs: std::collections::BTreeSet<&std::path::Path> =
        tables.iter().map(|t| t.descriptor.directory.as_path()).collect();
    for dir in dirs {
        let left = cairn_format::txn::leftovers(dir)?;
        if left.is_empty() {
            continue;
        }
        clean = false;
        let problems = left
            .describe()
            .into_iter()
            .map(|message| Problem { file: dir.display().to_string(), component: String::new(), offset: None, message })
            .collect();
        reports.push(Report { sstable: dir.display().to_string(), partitions: 0, unfiltereds: 0, chunks: 0, problems });
    }
    if json {
        let s = serde_json::to_string_pretty(&reports).unwrap_or_default();
        writeln!(out, "{s}").map_err(InspectError::Output)?;
    } else {
        for rep in &reports {
            let status = if rep.problems.is_empty() { "OK" } else { "PROBLEMS" };
            writeln!(
                out,
                "{}: {status} ({} partitions, {} rows/markers, {} chunks checked)",
                rep.sstable, rep.partitions, rep.unfiltereds, rep.chunks
            )
            .map_err(InspectError::Output)?;
            for p in &rep.problems {
                match p.offset {
                    Some(o) => writeln!(out, "  {} ({}) at byte {o}: {}", p.file, p.component, p.message),
                    None => writeln!(out, "  {} ({}): {}", p.file, p.component, p.message),
                }
                .map_err(InspectError::Output)?;
            }
        }
    }
    Ok(clean)
}
