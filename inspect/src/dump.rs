//! `cairn dump`: partitions, rows, cells and every tombstone, as `sstabledump` (Cassandra 4.x)
//! prints them.
//!
//! Shapes and layout follow Cassandra's `tools/JsonTransformer.java`: partition objects with
//! `partition.key` / `position` / `deletion_info`, `rows` of type `row`, `static_block`,
//! `range_tombstone_bound` and `range_tombstone_boundary`, `liveness_info`, `cells` with
//! `name` / `path` / `value` / `tstamp` / `ttl` / `expires_at` / `expired` / `deletion_info`.
//! Values are CQL JSON; keys and paths are plain strings. Where `sstabledump` has no field Cairn
//! adds one in the same style: `"shadowable" : true` in a shadowable row deletion, and, with
//! `--counter-shards`, a counter cell's `shards`. Counter values are their total (sstabledump
//! prints the first 8 bytes of the counter context, which is not a meaningful number).
//! When several SSTables are dumped without `--merge`, each partition object starts with an
//! `"sstable"` field naming the file it came from. With `--merge`, the SSTables of each table
//! (keyspace, table, id and point in time: [`cairn_format::location`]) are reconciled apart;
//! when the inputs hold more than one table, each partition object starts with a `"table"`
//! field naming it (`ks.table`, then `snapshot <tag>`, `backups` or `index <name>` where they
//! apply, and `id <hex>` when two tables have one name).
//!
//! A partition key or a cell path that does not decode as its column's type (a damaged file, or
//! a header that is not the data's) is shown in hex (a tuple or UDT: its fields up to the one
//! that does not decode), and counted: a warning on stderr says how many, once per SSTable (per
//! table with `--merge`; also when the dump stops at an error), with the offset of the first.
//!
//! sstabledump leaves a cell's `tstamp` out when it equals the row's liveness timestamp, and its
//! `ttl` / `expires_at` / `expired` out when the cell does not expire or its TTL equals the
//! liveness TTL (`JsonTransformer.serializeCell`). The dump is then ambiguous: a cell without a
//! TTL in a row whose marker has one prints exactly like a cell that inherits the marker's TTL.
//! `--explicit` ([`DumpOptions::explicit`]) prints every cell's own `tstamp`, `ttl` and
//! `expires_at` (`null` when the cell does not expire; a cell tombstone never expires), so the
//! JSON says what each cell stores.
//!
//! `expired` is Cassandra's liveness rule for row markers and cells alike: expired from the
//! expiry second on (`LivenessInfo.isLive`, `Cell.isLive`). sstabledump computes a row marker's
//! with `expires_at < now`, so at that very second it calls the marker live while its cells and
//! every read call the row dead; Cairn does not copy that.

use std::io::Write;

use cairn_format::clustering::BoundKind;
use cairn_format::data::{PartitionHeader, PartitionStream, Unfiltered, UnfilteredKind};
use cairn_format::deletion::{DeletionTime, LivenessInfo, NO_DELETION_TIME};
use cairn_format::partitioner::compare_decorated;
use cairn_format::reconcile::Merger;
use cairn_format::sstable::SsTable;
use cairn_format::statistics::SerializationHeader;
use cairn_format::types::CqlType;
use cairn_format::types::render::{
    InstantWriter, cql_identifier, format_uuid, get_string_checked, hex, push_int, quote_json, write_json_bytes,
    write_uuid,
};
use cairn_format::types::value::counter_shards;

use crate::InspectError;
use crate::json::{JsonOut, Name};
use crate::name;

/// Options of `cairn dump`.
#[derive(Debug, Clone, Default)]
pub struct DumpOptions {
    /// Only these partition keys (CQL literal or sstabledump text form).
    pub keys: Vec<String>,
    /// Skip these partition keys.
    pub exclude: Vec<String>,
    /// Print partition keys only.
    pub keys_only: bool,
    /// Print only tombstones.
    pub tombstones_only: bool,
    /// Timestamps as raw integers (µs; seconds for deletion and expiry times).
    pub raw_timestamps: bool,
    /// One partition per line.
    pub ndjson: bool,
    /// Show counter shards.
    pub counter_shards: bool,
    /// Current time (s) for `expired`.
    pub now_s: i64,
    /// Every cell prints its own `tstamp`, `ttl` and `expires_at` (`null` when not expiring),
    /// even where they equal the row's liveness.
    pub explicit: bool,
}

/// What a dump saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DumpStats {
    /// Partitions printed.
    pub partitions: u64,
    /// Rows printed.
    pub rows: u64,
}

/// Renders partitions in sstabledump's form.
///
/// Values are formatted straight into the output buffer ([`JsonOut::value_buf`]): no string of
/// their own per value, timestamps through an [`InstantWriter`] that keeps the date of the last
/// one, cell names quoted once per column.
pub struct Renderer<'a> {
    /// Options.
    pub opts: &'a DumpOptions,
    /// Output.
    pub json: JsonOut,
    instants: InstantWriter,
    names: NameCache,
    /// How much of `json` is whole partitions (see [`flush_partition`]).
    complete: usize,
    /// What the current source showed in hex (reported by [`Renderer::end_source`]).
    undecoded: Undecoded,
    /// The current source (an SSTable, or a table's SSTables merged) and whether its partition
    /// positions are one file's offsets.
    source: Option<(String, bool)>,
}

/// What `dump` counts when it shows it in hex ([`crate::ShownInHex`]), warned about once per
/// source: partition keys, then cell paths.
type Undecoded = crate::ShownInHex<2>;
const KEYS: usize = 0;
const PATHS: usize = 1;

impl Undecoded {
    const NONE: Undecoded = Undecoded::new(["partition key", "cell path"]);

    /// Count a partition key (`key`) or a cell path shown in hex, at Data.db offset `at`.
    fn note(&mut self, key: bool, at: u64) {
        *self.count(if key { KEYS } else { PATHS }) += 1;
        self.note_at(at);
    }
}

/// Microsecond timestamps as `java.time.Instant` prints them (sstabledump `dateString`).
pub fn instant_micros(us: i64) -> String {
    let mut s = String::with_capacity(27);
    write_instant_micros(&mut InstantWriter::default(), us, &mut s);
    s
}

fn write_instant_micros(w: &mut InstantWriter, us: i64, out: &mut String) {
    let secs = us / 1_000_000; // toSeconds truncates toward zero ...
    let nanos = (us.rem_euclid(1_000_000)) * 1000; // ... while the nano part uses floorMod
    w.write_instant(secs, nanos, out);
}

/// The JSON text of cell names (`cql_identifier`, quoted), kept per column slot: computed once
/// per column rather than once per cell. A slot is re-filled when its name differs (another
/// table's header).
#[derive(Default)]
struct NameCache {
    slots: Vec<Option<(String, String)>>,
}

impl NameCache {
    fn json(&mut self, slot: usize, name: &str) -> &str {
        let hit = matches!(self.slots.get(slot), Some(Some((n, _))) if n == name);
        if !hit {
            if self.slots.len() <= slot {
                self.slots.resize(slot + 1, None);
            }
            let mut text = String::new();
            quote_json(&cql_identifier(name), &mut text);
            if let Some(entry) = self.slots.get_mut(slot) {
                *entry = Some((name.to_string(), text));
            }
        }
        self.slots.get(slot).and_then(Option::as_ref).map_or("\"\"", |(_, text)| text.as_str())
    }
}

impl<'a> Renderer<'a> {
    /// A renderer.
    pub fn new(opts: &'a DumpOptions) -> Self {
        Renderer {
            opts,
            json: if opts.ndjson { JsonOut::minimal() } else { JsonOut::pretty() },
            instants: InstantWriter::default(),
            names: NameCache::default(),
            complete: 0,
            undecoded: Undecoded::NONE,
            source: None,
        }
    }

    /// Start counting what `source` shows in hex (see [`Undecoded`]); `at_offsets`: its
    /// partition positions are one file's offsets.
    fn begin_source(&mut self, source: String, at_offsets: bool) {
        self.end_source();
        self.source = Some((source, at_offsets));
    }

    /// Warn on stderr about what the current source showed in hex, if anything (also when the
    /// dump stops at an error: the partitions printed before it are out).
    fn end_source(&mut self) {
        if let Some((source, at_offsets)) = self.source.take()
            && let Some(w) = self.take_undecoded(&source, at_offsets)
        {
            crate::warn(&w);
        }
    }

    /// The warning, naming `source`, when partition keys or cell paths of it were shown in hex
    /// (with the offset of the first when `at_offsets`: one file's offsets); counting starts over.
    fn take_undecoded(&mut self, source: &dyn std::fmt::Display, at_offsets: bool) -> Option<String> {
        let u = std::mem::replace(&mut self.undecoded, Undecoded::NONE);
        u.warning(source, at_offsets.then_some("Data.db"))
    }

    /// `name : "…"` of a microsecond timestamp: its integer text with `--timestamps raw`, else
    /// its instant.
    #[inline(always)]
    fn field_micros(&mut self, name: Name, us: i64) {
        self.json.key(name);
        let raw = self.opts.raw_timestamps;
        let instants = &mut self.instants;
        self.json
            .plain_string_with(|out| if raw { push_int(out, us) } else { write_instant_micros(instants, us, out) });
    }

    /// `name : "…"` of a time in seconds (deletion, expiry): integer text or instant.
    #[inline(always)]
    fn field_seconds(&mut self, name: Name, s: i64) {
        self.json.key(name);
        let raw = self.opts.raw_timestamps;
        let instants = &mut self.instants;
        self.json.plain_string_with(|out| if raw { push_int(out, s) } else { instants.write_instant(s, 0, out) });
    }

    /// The key array of a partition.
    pub fn key_strings(header: &SerializationHeader, key: &[u8]) -> Vec<String> {
        Self::key_strings_checked(header, key).0
    }

    /// [`Renderer::key_strings`], and whether the key split and each part decoded as its type.
    pub(crate) fn key_strings_checked(header: &SerializationHeader, key: &[u8]) -> (Vec<String>, bool) {
        cairn_format::types::render::key_strings_checked(&header.key_type, key)
    }

    /// A set element's or map key's path as a string (counted when it does not decode).
    fn path_string(&mut self, ty: &CqlType, path: &[u8], at: u64) {
        let (text, decoded) = get_string_checked(ty, path);
        if !decoded {
            self.undecoded.note(false, at);
        }
        self.json.string(&text);
    }

    fn key(&mut self, header: &SerializationHeader, key: &[u8], at: u64) {
        self.json.objects_compact = true;
        self.json.arrays_compact = true;
        self.json.begin_array();
        let (strings, decoded) = Self::key_strings_checked(header, key);
        if !decoded {
            self.undecoded.note(true, at);
        }
        for s in strings {
            self.json.string(&s);
        }
        self.json.end_array();
        self.json.objects_compact = false;
        self.json.arrays_compact = false;
    }

    fn deletion(&mut self, d: &DeletionTime, shadowable: bool) {
        self.json.key(name!("deletion_info"));
        self.json.objects_compact = true;
        self.json.begin_object();
        self.field_micros(name!("marked_deleted"), d.marked_for_delete_at);
        self.field_seconds(name!("local_delete_time"), d.local_deletion_time);
        if shadowable {
            self.json.key(name!("shadowable"));
            self.json.boolean(true);
        }
        self.json.end_object();
        self.json.objects_compact = false;
    }

    fn clustering(&mut self, header: &SerializationHeader, u: &Unfiltered) -> Result<(), InspectError> {
        if u.clustering.is_empty() {
            return Ok(());
        }
        self.json.key(name!("clustering"));
        self.json.objects_compact = true;
        self.json.begin_array();
        self.json.arrays_compact = true;
        for i in 0..header.clustering_types.len() {
            if i >= u.clustering.len() {
                self.json.string("*");
                continue;
            }
            let ty = header.clustering_types.get(i).unwrap_or(&CqlType::Blob);
            match u.clustering_value(i) {
                None => self.json.raw("null"),
                Some(b) => {
                    write_json_bytes(ty, b, self.json.value_buf()).map_err(|e| InspectError::value(u.position, e))?
                }
            }
        }
        self.json.end_array();
        self.json.objects_compact = false;
        self.json.arrays_compact = false;
        Ok(())
    }

    /// Open the partition object and its `rows` array; `source` is a leading `(field, value)`
    /// naming where the partition came from (`sstable` or `table`).
    pub fn begin_partition(&mut self, header: &SerializationHeader, p: &PartitionHeader, source: Option<(Name, &str)>) {
        self.json.begin_object();
        if let Some((field, value)) = source {
            self.json.field_string(field, value);
        }
        self.json.key(name!("partition"));
        self.json.begin_object();
        self.json.key(name!("key"));
        self.key(header, &p.key, p.position);
        self.json.field_number(name!("position"), p.position);
        if !p.deletion.is_live() {
            self.deletion(&p.deletion, false);
        }
        self.json.end_object();
        self.json.key(name!("rows"));
        self.json.begin_array();
    }

    /// Close the `rows` array and the partition object.
    pub fn end_partition(&mut self) {
        self.json.end_array();
        self.json.end_object();
    }

    /// Whether an unfiltered has anything to show in tombstones-only mode.
    pub fn has_tombstones(u: &Unfiltered, now_s: i64) -> bool {
        u.is_marker()
            || !u.deletion.is_live()
            || !u.shadowable_deletion.is_live()
            || !u.complex_deletions.is_empty()
            || u.cells.iter().any(|c| c.is_tombstone() || c.is_expired(now_s))
    }

    /// One row, static row or marker.
    pub fn unfiltered(
        &mut self,
        header: &SerializationHeader,
        u: &Unfiltered,
        static_position: u64,
    ) -> Result<(), InspectError> {
        match u.kind() {
            UnfilteredKind::Marker(kind) => self.marker(header, u, kind),
            UnfilteredKind::StaticRow => self.row(header, u, true, static_position),
            UnfilteredKind::Row => self.row(header, u, false, u.position),
        }
    }

    /// A range tombstone bound; a clustering value that does not decode is the marker's error
    /// (as a row's is), not left out.
    fn bound(
        &mut self,
        header: &SerializationHeader,
        u: &Unfiltered,
        name: Name,
        inclusive: bool,
        d: &DeletionTime,
    ) -> Result<(), InspectError> {
        self.json.key(name);
        self.json.begin_object();
        self.json.field_string(name!("type"), if inclusive { "inclusive" } else { "exclusive" });
        self.clustering(header, u)?;
        self.deletion(d, false);
        self.json.end_object();
        Ok(())
    }

    fn marker(&mut self, header: &SerializationHeader, u: &Unfiltered, kind: BoundKind) -> Result<(), InspectError> {
        self.json.begin_object();
        let (end_incl, start_incl) = kind.inclusivity();
        if kind.is_boundary() {
            self.json.field_string(name!("type"), "range_tombstone_boundary");
            self.bound(header, u, name!("end"), end_incl, &u.close_deletion)?;
            self.bound(header, u, name!("start"), start_incl, &u.deletion)?;
        } else if kind.is_open() {
            self.json.field_string(name!("type"), "range_tombstone_bound");
            self.bound(header, u, name!("start"), start_incl, &u.deletion)?;
        } else {
            self.json.field_string(name!("type"), "range_tombstone_bound");
            self.bound(header, u, name!("end"), end_incl, &u.close_deletion)?;
        }
        self.json.end_object();
        self.json.objects_compact = false;
        Ok(())
    }

    fn liveness(&mut self, l: &LivenessInfo) {
        self.json.objects_compact = false;
        self.json.key(name!("liveness_info"));
        self.json.objects_compact = true;
        self.json.begin_object();
        self.field_micros(name!("tstamp"), l.timestamp);
        if l.is_expiring() {
            self.json.field_number(name!("ttl"), l.ttl);
            self.field_seconds(name!("expires_at"), l.local_expiration_time);
            self.json.key(name!("expired"));
            self.json.boolean(l.is_expired(self.opts.now_s));
        }
        self.json.end_object();
        self.json.objects_compact = false;
    }

    fn row(
        &mut self,
        header: &SerializationHeader,
        u: &Unfiltered,
        is_static: bool,
        position: u64,
    ) -> Result<(), InspectError> {
        let tomb_only = self.opts.tombstones_only;
        self.json.begin_object();
        self.json.key(name!("type"));
        if is_static {
            self.json.raw("\"static_block\"");
        } else {
            self.json.raw("\"row\"");
        }
        self.json.field_number(name!("position"), position);
        if !is_static {
            self.clustering(header, u)?;
            if !u.liveness.is_empty() {
                self.liveness(&u.liveness);
            }
        }
        match (u.deletion.is_live(), u.shadowable_deletion.is_live()) {
            (false, true) => self.deletion(&u.deletion, false),
            (true, false) => self.deletion(&u.shadowable_deletion, true),
            (false, false) => {
                self.deletion(&u.deletion, false);
                self.json.key(name!("shadowable_deletion_info"));
                self.json.objects_compact = true;
                self.json.begin_object();
                self.field_micros(name!("marked_deleted"), u.shadowable_deletion.marked_for_delete_at);
                self.field_seconds(name!("local_delete_time"), u.shadowable_deletion.local_deletion_time);
                self.json.end_object();
                self.json.objects_compact = false;
            }
            (true, true) => {}
        }
        self.json.key(name!("cells"));
        self.json.begin_array();
        let columns = if is_static { &header.static_columns } else { &header.regular_columns };
        let mut complex_done: Option<u16> = None;
        let now = self.opts.now_s;
        for (i, cell) in u.cells.iter().enumerate() {
            let Some(col) = columns.get(cell.column as usize) else { continue };
            // A complex column's deletion comes before its first cell.
            if col.is_complex() && complex_done != Some(cell.column) {
                complex_done = Some(cell.column);
                if let Some(cd) = u.complex_deletions.iter().find(|d| d.column == cell.column) {
                    self.complex_deletion(&col.name, &cd.deletion);
                }
            }
            if tomb_only && !(cell.is_tombstone() || cell.is_expired(now)) {
                continue;
            }
            let _ = i;
            let slot = usize::from(cell.column) * 2 + usize::from(is_static);
            self.cell(u, cell, slot, &col.name, &col.ty)?;
        }
        // Complex deletions of columns whose cells are all gone.
        for cd in &u.complex_deletions {
            if !u.cells.iter().any(|c| c.column == cd.column)
                && let Some(col) = columns.get(cd.column as usize)
            {
                self.complex_deletion(&col.name, &cd.deletion);
            }
        }
        self.json.end_array();
        self.json.end_object();
        Ok(())
    }

    fn complex_deletion(&mut self, name: &str, d: &DeletionTime) {
        self.json.objects_compact = true;
        self.json.begin_object();
        self.json.field_string(name!("name"), &cql_identifier(name));
        self.deletion(d, false);
        self.json.objects_compact = true;
        self.json.end_object();
        self.json.objects_compact = false;
    }

    fn cell(
        &mut self,
        u: &Unfiltered,
        cell: &cairn_format::data::Cell,
        slot: usize,
        name: &str,
        ty: &CqlType,
    ) -> Result<(), InspectError> {
        let liveness = &u.liveness;
        self.json.begin_object();
        self.json.objects_compact = true;
        self.json.key(name!("name"));
        let name_json = self.names.json(slot, name);
        self.json.raw(name_json);
        let mut value_type: &CqlType = ty;
        if let Some(path) = u.path(cell) {
            self.json.key(name!("path"));
            self.json.arrays_compact = true;
            self.json.begin_array();
            value_type = match ty {
                CqlType::List { elem, .. } => {
                    match <[u8; 16]>::try_from(path) {
                        Ok(b) => self.json.plain_string_with(|out| write_uuid(&b, out)),
                        Err(_) => {
                            self.undecoded.note(false, u.position);
                            self.json.string(&hex(path))
                        }
                    }
                    elem.as_ref()
                }
                CqlType::Set { elem, .. } => {
                    self.path_string(elem, path, u.position);
                    &CqlType::Empty
                }
                CqlType::Map { key, value, .. } => {
                    self.path_string(key, path, u.position);
                    value.as_ref()
                }
                CqlType::Udt(udt) => {
                    let idx = <[u8; 2]>::try_from(path).map(|b| i16::from_be_bytes(b) as usize).unwrap_or(usize::MAX);
                    match udt.fields.get(idx) {
                        Some((f, t)) => {
                            self.json.string(f);
                            t
                        }
                        None => {
                            self.undecoded.note(false, u.position);
                            self.json.string(&hex(path));
                            &CqlType::Blob
                        }
                    }
                }
                _ => {
                    // A custom type's paths are not Cairn's to read: hex by design.
                    if !matches!(ty.unreversed(), CqlType::Custom(_)) {
                        self.undecoded.note(false, u.position);
                    }
                    self.json.string(&hex(path));
                    &CqlType::Blob
                }
            };
            self.json.end_array();
            self.json.arrays_compact = false;
        }
        if cell.is_tombstone() {
            self.json.key(name!("deletion_info"));
            self.json.objects_compact = true;
            self.json.begin_object();
            self.field_seconds(name!("local_delete_time"), cell.local_deletion_time);
            self.json.end_object();
            self.json.objects_compact = false;
        } else {
            self.json.key(name!("value"));
            let raw = u.value(cell);
            if value_type.is_counter() {
                let shards = counter_shards(raw).map_err(|e| InspectError::value(u.position, e))?;
                self.json.number(shards.iter().fold(0i64, |a, x| a.wrapping_add(x.count)));
            } else if matches!(value_type, CqlType::Empty) {
                self.json.raw("\"\"");
            } else {
                write_json_bytes(value_type, raw, self.json.value_buf())
                    .map_err(|e| InspectError::value(u.position, e))?;
            }
            if self.opts.counter_shards && value_type.is_counter() {
                self.shards(raw);
            }
        }
        // sstabledump leaves out what equals the row's liveness; --explicit never does.
        let explicit = self.opts.explicit;
        if explicit || liveness.is_empty() || cell.timestamp != liveness.timestamp {
            self.field_micros(name!("tstamp"), cell.timestamp);
        }
        let expiring = cell.is_expiring() && !cell.is_tombstone();
        if expiring && (explicit || liveness.is_empty() || cell.ttl != liveness.ttl) {
            self.json.field_number(name!("ttl"), cell.ttl);
            self.field_seconds(name!("expires_at"), cell.local_deletion_time);
            self.json.key(name!("expired"));
            self.json.boolean(cell.is_expired(self.opts.now_s));
        } else if explicit && !expiring {
            self.json.key(name!("ttl"));
            self.json.raw("null");
            self.json.key(name!("expires_at"));
            self.json.raw("null");
        }
        self.json.end_object();
        self.json.objects_compact = false;
        Ok(())
    }

    fn shards(&mut self, raw: &[u8]) {
        let Ok(shards) = counter_shards(raw) else { return };
        self.json.key(name!("shards"));
        self.json.arrays_compact = true;
        self.json.begin_array();
        for s in shards {
            self.json.begin_object();
            self.json.field_string(name!("counter_id"), &format_uuid(&s.counter_id));
            self.json.field_number(name!("clock"), s.clock);
            self.json.field_number(name!("count"), s.count);
            self.json.field_string(
                name!("kind"),
                match s.kind {
                    cairn_format::types::value::ShardKind::Global => "global",
                    cairn_format::types::value::ShardKind::Local => "local",
                    cairn_format::types::value::ShardKind::Remote => "remote",
                },
            );
            self.json.end_object();
        }
        self.json.end_array();
        self.json.arrays_compact = false;
    }
}

pub(crate) fn parse_keys(table: &SsTable, keys: &[String]) -> Result<Vec<Vec<u8>>, InspectError> {
    keys.iter()
        .map(|k| {
            cairn_format::types::parse::from_string(&table.header.key_type, k)
                .map_err(|reason| InspectError::BadKey { key: k.clone(), reason })
        })
        .collect()
}

/// Print the partition `stream` is positioned on (after `next_partition` returned `p`).
fn emit_partition(
    stream: &mut dyn PartitionStream,
    p: &PartitionHeader,
    r: &mut Renderer<'_>,
    source: Option<(Name, &str)>,
    out: &mut dyn Write,
    stats: &mut DumpStats,
) -> Result<(), InspectError> {
    let opts = r.opts;
    let header = stream.header().clone();
    if opts.keys_only {
        if opts.ndjson {
            r.json.arrays_compact = true;
        }
        r.key(&header, &p.key, p.position);
        stats.partitions += 1;
        return Ok(());
    }
    // Tombstones-only prints a partition only when something in it is a tombstone: it is begun
    // at the first one, so nothing is buffered.
    if opts.tombstones_only {
        let st = stream.static_row().filter(|s| Renderer::has_tombstones(s, opts.now_s)).cloned();
        let mut begun = !p.deletion.is_live() || st.is_some();
        if begun {
            r.begin_partition(&header, p, source);
        }
        if let Some(s) = &st {
            r.unfiltered(&header, s, p.body_position)?;
        }
        while let Some(u) = stream.next_unfiltered()? {
            if !Renderer::has_tombstones(u, opts.now_s) {
                continue;
            }
            if !begun {
                r.begin_partition(&header, p, source);
                begun = true;
            }
            r.unfiltered(&header, u, p.body_position)?;
            stats.rows += 1;
            write_if_long(r, out)?;
        }
        if !begun {
            return Ok(());
        }
        r.end_partition();
    } else {
        r.begin_partition(&header, p, source);
        if let Some(s) = stream.static_row() {
            r.unfiltered(&header, s, p.body_position)?;
        }
        while let Some(u) = stream.next_unfiltered()? {
            r.unfiltered(&header, u, p.body_position)?;
            stats.rows += 1;
            write_if_long(r, out)?;
        }
        r.end_partition();
    }
    stats.partitions += 1;
    Ok(())
}

/// The renderer's text is handed to the output in chunks of more than this: whole partitions
/// together, so that the output's own buffer (64 KiB on stdout) passes each chunk straight
/// through instead of copying it (a partition at a time, it copied each; dump −5%
/// instructions).
const OUT_CHUNK: usize = 1 << 16;

/// End a partition (a line with `--ndjson`): its text is whole now, and goes out with the next
/// chunk ([`OUT_CHUNK`]), or at the end of the dump, or before the error of a later partition.
fn flush_partition(r: &mut Renderer<'_>, out: &mut dyn Write) -> Result<(), InspectError> {
    if r.opts.ndjson && r.json.as_str().len() > r.complete {
        r.json.newline();
    }
    r.complete = r.json.as_str().len();
    if r.complete > OUT_CHUNK {
        write_out(r, out)?;
    }
    Ok(())
}

/// A long partition goes out in chunks of its own text: once more than [`OUT_CHUNK`] has
/// come since the last whole partition, all the renderer holds is written.
fn write_if_long(r: &mut Renderer<'_>, out: &mut dyn Write) -> Result<(), InspectError> {
    if r.json.as_str().len().saturating_sub(r.complete) > OUT_CHUNK {
        write_out(r, out)?;
    }
    Ok(())
}

/// Write out all the renderer holds, keeping its buffer for what follows.
fn write_out(r: &mut Renderer<'_>, out: &mut dyn Write) -> Result<(), InspectError> {
    let written = out.write_all(r.json.as_str().as_bytes()).map_err(InspectError::Output);
    r.json.clear();
    r.complete = 0;
    written
}

/// Dump `tables` to `out`; with `merge`, the SSTables of each table are reconciled into one
/// view (in token order, nothing purged).
pub fn dump(
    tables: &[SsTable],
    opts: &DumpOptions,
    merge: bool,
    out: &mut dyn Write,
) -> Result<DumpStats, InspectError> {
    let mut r = Renderer::new(opts);
    let dumped = dump_with(tables, opts, merge, &mut r, out);
    r.end_source();
    if dumped.is_err() {
        // The partitions before the failing one are printed, as they would have been had
        // each gone out as it ended (a failed write here changes nothing: the error stands).
        let whole = r.json.as_str().get(..r.complete).unwrap_or_default();
        let _ = out.write_all(whole.as_bytes());
    }
    dumped
}

/// [`dump`] with the renderer it prints through.
fn dump_with(
    tables: &[SsTable],
    opts: &DumpOptions,
    merge: bool,
    r: &mut Renderer<'_>,
    out: &mut dyn Write,
) -> Result<DumpStats, InspectError> {
    let mut stats = DumpStats::default();
    let multi = tables.len() > 1 && !merge;
    if !opts.ndjson {
        r.json.begin_array();
        if opts.keys_only {
            r.json.arrays_compact = true;
        }
    }
    if merge {
        let groups = cairn_format::location::group_by_table(tables);
        let several = groups.len() > 1;
        let labels: Vec<String> = groups.iter().map(|(l, _)| l.label_among(groups.iter().map(|(l, _)| l))).collect();
        for ((_, group), label) in groups.iter().zip(labels) {
            let Some(first) = group.first() else { continue };
            r.begin_source(format!("{label}, merged"), false);
            let include = parse_keys(first, &opts.keys)?;
            let exclude = parse_keys(first, &opts.exclude)?;
            let scanners = group.iter().map(|t| t.scanner()).collect::<Result<Vec<_>, _>>()?;
            let mut merger = Merger::new(scanners, first.partitioner)?;
            while let Some(p) = merger.next_partition()? {
                let p = p.clone();
                if exclude.contains(&p.key) || (!include.is_empty() && !include.contains(&p.key)) {
                    continue;
                }
                let source = several.then_some((name!("table"), label.as_str()));
                emit_partition(&mut merger, &p, r, source, out, &mut stats).map_err(|e| {
                    e.in_places(|_| cairn_format::sstable::partition_places(group.iter().copied(), &p.key))
                })?;
                flush_partition(r, out)?;
            }
            r.end_source();
        }
    } else {
        for table in tables {
            let name = table.descriptor.display_name();
            r.begin_source(table.path(cairn_format::Component::Data).display().to_string(), true);
            let include = parse_keys(table, &opts.keys)?;
            let exclude = parse_keys(table, &opts.exclude)?;
            let mut scanner = table.scanner()?;
            // With -k, visit the requested partitions through the index, in token order. Index.db
            // decides, not the bloom filter (a damaged filter must not hide a partition; one
            // that rejects a key Index.db holds is warned about), and each partition read must
            // be the key its entry is for.
            let mut positions: Option<std::vec::IntoIter<(u64, Vec<u8>)>> = None;
            if !include.is_empty() {
                let mut keyed: Vec<(cairn_format::partitioner::Token, Vec<u8>)> =
                    include.iter().map(|k| (table.token(k), k.clone())).collect();
                keyed.sort_by(|a, b| compare_decorated(&a.0, &a.1, &b.0, &b.1));
                keyed.dedup();
                let lookup = cairn_format::lookup::PartitionLookup::new(table)?;
                let mut pos = Vec::new();
                for (_, k) in keyed {
                    if let Some(p) = lookup.find_in_index(table, &k)? {
                        if !lookup.may_contain(&k) {
                            let filter = table.path(cairn_format::Component::Filter);
                            let key = Renderer::key_strings(&table.header, &k).join(":");
                            crate::warn(&format!(
                                "{}: the bloom filter rejects key {key}, which Index.db holds: the filter is damaged",
                                filter.display()
                            ));
                        }
                        pos.push((p, k));
                    }
                }
                positions = Some(pos.into_iter());
            }
            loop {
                let next = match positions.as_mut() {
                    Some(it) => match it.next() {
                        Some((at, key)) => scanner.seek_partition(at, &key)?,
                        None => break,
                    },
                    None => scanner.next_partition()?,
                };
                let Some(p) = next else { break };
                let p = p.clone();
                if exclude.contains(&p.key) {
                    continue;
                }
                let source = multi.then_some((name!("sstable"), name.as_str()));
                emit_partition(&mut scanner, &p, r, source, out, &mut stats).map_err(|e| {
                    let data = table.path(cairn_format::Component::Data);
                    e.in_places(|at| cairn_format::sstable::DataPlaces(vec![(data, Some(at))]))
                })?;
                flush_partition(r, out)?;
            }
            r.end_source();
        }
    }
    if !opts.ndjson {
        if opts.keys_only {
            r.json.arrays_compact = false;
        }
        r.json.end_array();
        r.json.newline();
    }
    write_out(r, out)?;
    Ok(stats)
}

/// Whether `t` denotes "no deletion" (for renderers that print deletion times).
pub fn is_no_deletion(t: i64) -> bool {
    t == NO_DELETION_TIME
}

#[cfg(test)]
mod tests {
    use cairn_format::statistics::EncodingStats;
    use cairn_format::types::value::compose;

    use super::*;

    fn header(key_type: CqlType) -> SerializationHeader {
        let stats = EncodingStats { min_timestamp: 0, min_local_deletion_time: 0, min_ttl: 0 };
        SerializationHeader::new(stats, key_type, vec![], vec![], vec![])
    }

    /// A range tombstone whose bound does not decode is an error, as a row whose clustering
    /// does not decode is: it was once left out of the bound, the dump then printing JSON with an
    /// unclosed array and exiting 0. Only the partitions before it are printed.
    #[test]
    fn a_bound_that_does_not_decode_is_an_error_not_malformed_json() {
        use cairn_format::deletion::DeletionTime;
        use cairn_format::partition::{Partition, RangeTombstone};
        use cairn_format::writer::{SsTableWriter, WriterOptions};
        let stats = EncodingStats { min_timestamp: 0, min_local_deletion_time: 0, min_ttl: 0 };
        let header = SerializationHeader::new(stats, CqlType::Int, vec![CqlType::Text], vec![], vec![]);
        let deletion = DeletionTime { marked_for_delete_at: 10, local_deletion_time: 1_000 };
        let bad = vec![0xff, 0xfe];
        // The second partition's damage: a range tombstone ending at the bad value, or a row there.
        let damage = |what: &str, p: &mut Partition| {
            if what == "bound" {
                p.range_tombstones.push(RangeTombstone {
                    start: vec![Some(b"a".to_vec())],
                    start_inclusive: true,
                    end: vec![Some(bad.clone())],
                    end_inclusive: true,
                    deletion,
                })
            } else {
                let live = LivenessInfo { timestamp: 10, ttl: 0, local_expiration_time: NO_DELETION_TIME };
                p.row_mut(&[Some(bad.clone())]).add_liveness(live)
            }
        };
        for what in ["bound", "row"] {
            let dir = tempfile::tempdir().expect("tempdir");
            let options = WriterOptions { compression: None, ..WriterOptions::default() };
            let mut w = SsTableWriter::create(dir.path(), 1, header.clone(), options).expect("writer");
            let mut keys: Vec<i32> = (0..2).collect();
            keys.sort_by_key(|k| cairn_format::partitioner::Partitioner::Murmur3.token(&k.to_be_bytes()));
            for (i, k) in keys.iter().enumerate() {
                let mut p = Partition::new(k.to_be_bytes().to_vec());
                if i == 1 {
                    damage(what, &mut p);
                } else {
                    p.delete(deletion);
                }
                w.write_partition_content(&p).expect("write");
            }
            let data = w.finish().expect("finish").path(cairn_format::Component::Data);
            let table = SsTable::open(&data, None).expect("open");
            let opts = DumpOptions { now_s: 2_000, ..DumpOptions::default() };
            let mut out = Vec::new();
            let got = dump(std::slice::from_ref(&table), &opts, false, &mut out);
            assert!(got.is_err(), "{what}: {}", String::from_utf8_lossy(&out));
            let printed = String::from_utf8_lossy(&out);
            assert!(printed.contains(&format!("\"key\" : [ \"{}\" ]", keys[0])), "{what}: {printed}");
            assert!(!printed.contains("clustering"), "{what}: the failing partition is printed: {printed}");
        }
    }

    #[test]
    fn key_strings_are_one_per_key_column() {
        let one = header(CqlType::Int);
        assert_eq!(Renderer::key_strings(&one, &7i32.to_be_bytes()), ["7"]);
        let two = header(CqlType::Composite(vec![CqlType::Int, CqlType::Text]));
        let key = compose(&[&7i32.to_be_bytes(), b"a:b"]);
        assert_eq!(Renderer::key_strings(&two, &key), ["7", "a:b"]);
        // A key with more components than the type has is shown whole, in hex, never cut short.
        let three = compose(&[&7i32.to_be_bytes(), b"a", b"b"]);
        assert_eq!(Renderer::key_strings(&two, &three), [hex(&three)]);
        assert_eq!(Renderer::key_strings(&two, &[0, 9]), ["0009"]);
    }

    #[test]
    fn keys_shown_in_hex_are_counted_for_one_warning_per_source() {
        let opts = DumpOptions::default();
        let mut r = Renderer::new(&opts);
        let two = header(CqlType::Composite(vec![CqlType::Int, CqlType::Text]));
        r.key(&two, &compose(&[&7i32.to_be_bytes(), b"a"]), 0);
        assert_eq!(r.take_undecoded(&"nb-1-big-Data.db", true), None, "a key that splits and decodes");
        r.key(&two, &[0, 9], 40);
        r.key(&two, &compose(&[&7i32.to_be_bytes(), b"a", b"b"]), 80);
        // Parts that split but do not decode: a 3-byte int, text that is not UTF-8.
        r.key(&two, &compose(&[&[0, 0, 7], b"a"]), 120);
        r.key(&two, &compose(&[&7i32.to_be_bytes(), &[0xff, 0xfe]]), 160);
        let one = header(CqlType::Int);
        r.key(&one, &[0, 7], 200);
        assert_eq!(
            r.take_undecoded(&"nb-1-big-Data.db", true).as_deref(),
            Some(
                "nb-1-big-Data.db: 5 partition keys did not decode as the column types (the first at Data.db byte \
                 40); shown in hex"
            )
        );
        assert_eq!(r.take_undecoded(&"nb-1-big-Data.db", true), None, "counted per source");
        let blob = header(CqlType::Blob);
        r.key(&blob, &[0, 7, 1], 0);
        assert_eq!(r.take_undecoded(&"x", true), None, "a blob is hex by design");
        // Set elements and map keys as cell paths.
        r.path_string(&CqlType::Text, b"ok", 10);
        r.path_string(&CqlType::Int, &[0, 7], 20);
        r.path_string(&CqlType::Blob, &[1], 30);
        assert_eq!(
            r.take_undecoded(&"x", true).as_deref(),
            Some("x: 1 cell path did not decode as the column types (the first at Data.db byte 20); shown in hex")
        );
    }
}
