//! Settling the freezing of UDT columns when only the serialization header is known.
//!
//! Cassandra 3.0 wrote frozen UDT columns into the serialization header as plain
//! `UserType(...)`, without the `FrozenType(...)` wrapper (CASSANDRA-15035); read as written,
//! such a column is multi-cell and its frozen value does not decode. Cassandra itself repairs the
//! header from the schema (`db/SSTableHeaderFix.java`, 3.0.19+, 3.11.5+, 4.0) and Cairn adopts the
//! schema's freezing whenever a schema is given ([`crate::schema::TableSchema::fix_header`]).
//!
//! Without a schema the rows decide. When the header has top-level UDT columns declared
//! non-frozen, the start of Data.db (up to [`PROBE_UNFILTEREDS`] rows and markers or
//! [`PROBE_BYTES`] bytes) is decoded with the header as it is, every value of those columns
//! included. If that fails, the same stretch is decoded with those columns frozen — each subset,
//! fewest columns first — and the one smallest subset that decodes cleanly is adopted, which
//! the caller reports as a warning naming the columns. When no subset decodes, or two equally
//! small ones do, nothing is guessed: the open fails with [`Error::UdtFreezingUndecided`], which
//! names the columns and says that a schema settles it. Errors that are not about how the rows
//! decode (a checksum, I/O) end the probe and are left to the readers that meet them.

use std::sync::Arc;

use crate::data::scanner::Scanner;
use crate::data::{Unfiltered, UnfilteredKind};
use crate::descriptor::Component;
use crate::error::{Error, Result};
use crate::schema::{ColumnDef, SchemaSource, TableSchema};
use crate::statistics::{HeaderColumn, SerializationHeader};
use crate::types::CqlType;
use crate::types::value::{decode, from_cells};

/// Rows and markers decoded per probe at most.
pub const PROBE_UNFILTEREDS: u64 = 10_000;
/// Uncompressed Data.db bytes decoded per probe at most.
pub const PROBE_BYTES: u64 = 16 << 20;
/// With more doubtful columns than this only "all frozen" is tried (2^n subsets otherwise).
const MAX_SUBSET_COLUMNS: usize = 4;

/// How the header's freezing was settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// Nothing to settle, or the header reads as it is.
    AsDeclared,
    /// These columns are read as frozen.
    Frozen(Vec<String>),
}

/// Whether a probe decoded cleanly, or the decoding error it met.
enum Probe {
    Clean,
    Undecodable(Error),
}

fn is_doubtful(c: &HeaderColumn) -> bool {
    matches!(&c.ty, CqlType::Udt(u) if !u.frozen)
}

/// Settle the freezing of `header`'s non-frozen UDT columns when `schema` came from the header
/// alone, updating both; see the module docs. `open_data` opens a scanner over Data.db.
pub fn settle(
    header: &mut Arc<SerializationHeader>,
    schema: &mut TableSchema,
    open_data: &dyn Fn(Arc<SerializationHeader>) -> Result<Scanner>,
) -> Result<Settled> {
    if schema.source != SchemaSource::Header {
        return Ok(Settled::AsDeclared);
    }
    let doubtful: Vec<String> = header
        .static_columns
        .iter()
        .chain(&header.regular_columns)
        .filter(|c| is_doubtful(c))
        .map(|c| c.name.clone())
        .collect();
    if doubtful.is_empty() {
        return Ok(Settled::AsDeclared);
    }
    let first_error = match probe(open_data(Arc::clone(header))?, header, &doubtful) {
        Probe::Clean => return Ok(Settled::AsDeclared),
        Probe::Undecodable(e) => e,
    };
    let undecided = |error: Error| Error::UdtFreezingUndecided { columns: doubtful.clone(), error: Box::new(error) };
    for subset in subsets(doubtful.len()) {
        let mut clean = Vec::new();
        for members in subset {
            let names: Vec<String> = members.iter().filter_map(|&i| doubtful.get(i).cloned()).collect();
            let (h, s) = frozen(header, schema, &names);
            if let Probe::Clean = probe(open_data(Arc::clone(&h))?, &h, &doubtful) {
                clean.push((names, h, s));
            }
        }
        match clean.len() {
            0 => continue,
            1 => {
                let Some((names, h, s)) = clean.pop() else { break };
                *header = h;
                *schema = s;
                return Ok(Settled::Frozen(names));
            }
            _ => return Err(undecided(first_error)),
        }
    }
    Err(undecided(first_error))
}

/// Subsets of `0..n` by size (one list per size, smallest first); only the full set beyond
/// [`MAX_SUBSET_COLUMNS`].
fn subsets(n: usize) -> Vec<Vec<Vec<usize>>> {
    if n > MAX_SUBSET_COLUMNS {
        return vec![vec![(0..n).collect()]];
    }
    let mut by_size: Vec<Vec<Vec<usize>>> = vec![Vec::new(); n];
    for mask in 1u32..(1 << n) {
        let members: Vec<usize> = (0..n).filter(|i| mask & (1 << i) != 0).collect();
        if let Some(slot) = by_size.get_mut(members.len() - 1) {
            slot.push(members);
        }
    }
    by_size
}

/// `header` and `schema` with the columns `names` frozen (and the header's column order
/// restored: frozen columns are simple, and simple columns come first).
fn frozen(
    header: &SerializationHeader,
    schema: &TableSchema,
    names: &[String],
) -> (Arc<SerializationHeader>, TableSchema) {
    let mut s = schema.clone();
    let freeze = |d: &mut ColumnDef| {
        if names.contains(&d.name) {
            d.ty = d.ty.clone().frozen();
        }
    };
    s.static_columns.iter_mut().for_each(freeze);
    s.regular_columns.iter_mut().for_each(freeze);
    let mut h = header.clone();
    s.fix_header(&mut h);
    (Arc::new(h), s)
}

/// Decode the start of Data.db with `scanner` (which decodes with `header`), checking every
/// value of the `watched` columns.
fn probe(mut scanner: Scanner, header: &SerializationHeader, watched: &[String]) -> Probe {
    let path = scanner.source().path().to_path_buf();
    let mut unfiltereds = 0u64;
    let outcome = (|| -> Result<()> {
        while scanner.next_partition()?.is_some() {
            if let Some(row) = scanner.static_row() {
                check_values(row, &header.static_columns, watched, &path)?;
            }
            while let Some(u) = scanner.next_unfiltered()? {
                if u.kind() == UnfilteredKind::Row {
                    check_values(u, &header.regular_columns, watched, &path)?;
                }
                unfiltereds += 1;
                if unfiltereds >= PROBE_UNFILTEREDS || scanner.offset() >= PROBE_BYTES {
                    return Ok(());
                }
            }
        }
        Ok(())
    })();
    match outcome {
        Err(e @ Error::Corrupt { component: Component::Data, .. }) => Probe::Undecodable(e),
        // Anything else (a checksum, I/O) is not a question of how the rows decode: the readers
        // report it when they meet it.
        Ok(()) | Err(_) => Probe::Clean,
    }
}

/// Every live value of a watched column in `row` decodes with the column's type.
fn check_values(row: &Unfiltered, columns: &[HeaderColumn], watched: &[String], path: &std::path::Path) -> Result<()> {
    for (index, column) in columns.iter().enumerate() {
        if !watched.contains(&column.name) {
            continue;
        }
        let mut cells = row.cells.iter().filter(|c| usize::from(c.column) == index && !c.is_tombstone());
        let checked = if column.ty.is_multi_cell() {
            from_cells(&column.ty, cells.map(|c| (row.path(c).unwrap_or(&[]), row.value(c)))).map(|_| ())
        } else {
            cells.try_for_each(|c| decode(&column.ty, row.value(c)).map(|_| ()))
        };
        checked.map_err(|e| crate::DecodeError::new(row.position, e.kind).located(path, Component::Data))?;
    }
    Ok(())
}
