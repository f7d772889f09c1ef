//! The live view: what a CQL read at a given time sees, from a reconciled stream.
//!
//! Given partitions whose deletions have already been applied (a [`crate::reconcile::Merger`]
//! removes shadowed data), a row is visible when its row marker is alive or it has at least
//! one live cell; cells are alive unless they are tombstones or have expired by `now`. A
//! partition with live static cells and no visible rows shows one row with only the static
//! columns, as CQL does.

use crate::data::{PartitionStream, Unfiltered, UnfilteredKind};
use crate::error::Result;

/// A visible column value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiveColumn {
    /// A simple column's value.
    Simple(Vec<u8>),
    /// A complex column's live cells: (path, value) in cell-path order.
    Complex(Vec<(Vec<u8>, Vec<u8>)>),
}

/// One visible CQL row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveRow {
    /// Serialized partition key.
    pub key: Vec<u8>,
    /// Clustering values, or `None` for the static-only row of a partition without rows.
    pub clustering: Option<Vec<Option<Vec<u8>>>>,
    /// Static columns (header static index, value).
    pub statics: Vec<(u16, LiveColumn)>,
    /// Regular columns (header regular index, value).
    pub columns: Vec<(u16, LiveColumn)>,
    /// Row liveness timestamp, if the marker is alive.
    pub marker_timestamp: Option<i64>,
}

/// Live columns of a row at `now_s`.
pub fn live_columns(u: &Unfiltered, now_s: i64, complex: &dyn Fn(u16) -> bool) -> Vec<(u16, LiveColumn)> {
    let mut out: Vec<(u16, LiveColumn)> = Vec::new();
    for c in u.cells.iter().filter(|c| c.is_live(now_s)) {
        let value = u.value(c).to_vec();
        if complex(c.column) {
            let path = u.path(c).unwrap_or_default().to_vec();
            match out.last_mut() {
                Some((col, LiveColumn::Complex(cells))) if *col == c.column => cells.push((path, value)),
                _ => out.push((c.column, LiveColumn::Complex(vec![(path, value)]))),
            }
        } else {
            out.push((c.column, LiveColumn::Simple(value)));
        }
    }
    out
}

/// Visit every visible row of `stream` at `now_s`.
pub fn for_each_live_row(stream: &mut dyn PartitionStream, now_s: i64, f: &mut dyn FnMut(&LiveRow)) -> Result<()> {
    let header = stream.header().clone();
    let static_complex = |i: u16| header.static_columns.get(i as usize).is_some_and(|c| c.is_complex());
    let regular_complex = |i: u16| header.regular_columns.get(i as usize).is_some_and(|c| c.is_complex());
    while let Some(p) = stream.next_partition()? {
        let key = p.key.clone();
        let statics = stream.static_row().map(|s| live_columns(s, now_s, &static_complex)).unwrap_or_default();
        let mut any = false;
        while let Some(u) = stream.next_unfiltered()? {
            if u.kind() != UnfilteredKind::Row {
                continue;
            }
            let columns = live_columns(u, now_s, &regular_complex);
            let marker = u.liveness.is_live(now_s);
            if !marker && columns.is_empty() {
                continue;
            }
            any = true;
            f(&LiveRow {
                key: key.clone(),
                clustering: Some((0..u.clustering.len()).map(|i| u.clustering_value(i).map(<[u8]>::to_vec)).collect()),
                statics: statics.clone(),
                columns,
                marker_timestamp: marker.then_some(u.liveness.timestamp),
            });
        }
        if !any && !statics.is_empty() {
            f(&LiveRow { key, clustering: None, statics, columns: vec![], marker_timestamp: None });
        }
    }
    Ok(())
}
