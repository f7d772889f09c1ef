//! The catalog: keyspaces, user types and tables — the DDL statements that change them (CREATE,
//! DROP, TRUNCATE, USE) and the schema file the node replays at start-up
//! (`<data>/cairn_schema.cql`: one statement per line, each `CREATE TABLE` preceded by a
//! `-- table <keyspace>.<table> <id>` line naming its directory, so a restarted node finds its
//! SSTables again).
//!
//! In a ring the same text travels between nodes (pushed after a change, pulled when gossip
//! shows another schema version), and a node adopting it keeps what it has. What was dropped
//! must not come back from a peer that missed the drop, so the text carries when things were
//! made and dropped, as Cassandra's schema tables carry write times and tombstones:
//!
//! ```text
//! -- dropped keyspace <name> <µs>              a keyspace dropped at that time
//! -- dropped table <ks>.<table> <id> <µs>      a table (ids are never reused) dropped then
//! -- keyspace <name> <µs>                      the next CREATE KEYSPACE was made then
//! ```
//!
//! Tombstones come first. Adopting one drops the keyspace if it was made before the drop (a
//! newer keyspace of the same name stays) or the table with that id; a `CREATE KEYSPACE` made
//! no later than a tombstone of its name is skipped with everything in it, and so is a
//! `CREATE TABLE` whose id was dropped. Choice: tombstones are kept for good (a line per drop),
//! where Cassandra purges schema tombstones after gc_grace_seconds. A schema file without
//! `-- keyspace` lines (written before they existed) gives its keyspaces time 0. A table's serialization header is derived here from its schema, in
//! Cassandra's column order (simple columns before complex ones, then by name:
//! `SerializationHeader` and `Columns` in Cassandra's `db/`).

use std::collections::BTreeMap;
use std::sync::Arc;

use cairn_format::schema::TableSchema;
use cairn_format::schema::cql::CreateType;
use cairn_format::schema::render::{self, Style};
use cairn_format::statistics::SerializationHeader;
use cairn_format::types::render::hex;

use crate::connection::Session;
use crate::cql::Statement;
use crate::execute::{execute, resolve_keyspace, table_of};
use crate::node::{Shared, random_uuid};
use crate::protocol::{Failure, Outcome, QueryParams, Writer, code, invalid, syntax};
use crate::storage::table::Table;
use crate::system;

/// The schema: keyspaces with their types and tables.
pub(crate) struct Catalog {
    pub(crate) keyspaces: BTreeMap<String, Keyspace>,
    pub(crate) schema_version: [u8; 16],
    /// Random state for schema versions and table ids.
    pub(crate) seed: u64,
    /// Keyspaces dropped, with when (µs).
    pub(crate) dropped_keyspaces: BTreeMap<String, i64>,
    /// Tables dropped, by id: `keyspace.table` and when (µs).
    pub(crate) dropped_tables: BTreeMap<[u8; 16], (String, i64)>,
}

impl Catalog {
    /// An empty schema.
    pub(crate) fn new(seed: u64) -> Catalog {
        let mut c = Catalog {
            keyspaces: BTreeMap::new(),
            schema_version: [0; 16],
            seed,
            dropped_keyspaces: BTreeMap::new(),
            dropped_tables: BTreeMap::new(),
        };
        c.schema_version = schema_version(&schema_text(&c));
        c
    }

    /// The table with this id, in whichever keyspace.
    pub(crate) fn table_by_id(&self, id: &[u8; 16]) -> Option<&Arc<Table>> {
        self.keyspaces.values().flat_map(|k| k.tables.values()).find(|t| &t.id == id)
    }
}

/// A keyspace.
pub(crate) struct Keyspace {
    /// When it was made (µs; 0 when the schema file did not say).
    pub(crate) created: i64,
    pub(crate) replication: Vec<(String, String)>,
    pub(crate) durable_writes: bool,
    pub(crate) tables: BTreeMap<String, Arc<Table>>,
    pub(crate) types: Vec<CreateType>,
}

pub(crate) fn unhex16(s: &str) -> Option<[u8; 16]> {
    // Exactly 32 hex digits: a pair that is not hex is no id, never skipped.
    if s.len() != 32 || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let mut out = [0u8; 16];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// After a schema change: the new schema version, and the schema file saved.
pub(crate) fn schema_changed(state: &mut Catalog, data: &std::path::Path) -> Result<(), Failure> {
    let text = schema_text(state);
    state.schema_version = schema_version(&text);
    save_schema(&text, data)
}

/// The schema version: a name-based (version 3) UUID digesting the schema's text, table ids
/// included, so nodes with the same schema report the same version (drivers wait for every
/// node to agree after a schema change), as Cassandra's digest of its schema tables does.
pub(crate) fn schema_version(text: &str) -> [u8; 16] {
    let (a, b) = cairn_format::partitioner::murmur3_cassandra(text.as_bytes());
    let mut v = [0u8; 16];
    v[..8].copy_from_slice(&a.to_be_bytes());
    v[8..].copy_from_slice(&b.to_be_bytes());
    v[6] = (v[6] & 0x0f) | 0x30;
    v[8] = (v[8] & 0x3f) | 0x80;
    v
}

/// The schema as the node replays it: one statement per line, each table's id on the line
/// before its `CREATE TABLE`.
pub(crate) fn schema_text(state: &Catalog) -> String {
    let mut out = String::from("-- The schema of this cairn node, replayed at start-up. One statement per line.\n");
    for (name, at) in &state.dropped_keyspaces {
        out.push_str(&format!("-- dropped keyspace {name} {at}\n"));
    }
    for (id, (qualified, at)) in &state.dropped_tables {
        out.push_str(&format!("-- dropped table {qualified} {} {at}\n", hex(id)));
    }
    for (name, k) in &state.keyspaces {
        out.push_str(&format!("-- keyspace {name} {}\n", k.created));
        out.push_str(&render::create_keyspace(name, &k.replication, Some(k.durable_writes), Style::LINE));
        out.push_str(";\n");
        for ty in &k.types {
            out.push_str(&render::create_type(name, ty, Style::LINE));
            out.push_str(";\n");
        }
        for (tn, t) in &k.tables {
            out.push_str(&format!("-- table {name}.{tn} {}\n{};\n", hex(&t.id), t.create_text));
        }
    }
    out
}

/// Write the schema the node replays at start-up (`<data>/cairn_schema.cql`), atomically.
fn save_schema(text: &str, data: &std::path::Path) -> Result<(), Failure> {
    let path = data.join("cairn_schema.cql");
    let tmp = data.join("cairn_schema.cql.tmp");
    let io =
        |e: std::io::Error| Failure { code: code::SERVER, message: format!("{}: {e}", path.display()), extra: vec![] };
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)
}

/// Replay `<data>/cairn_schema.cql` into a new node. Only a missing file means a node without
/// schema: one that cannot be read stops the start, as an unreadable system keyspace stops
/// Cassandra's (started without its tables, the node would count every commit-log entry as
/// inapplicable and discard the log at its next flush).
pub(crate) fn replay_schema(shared: &Shared) -> std::io::Result<()> {
    let path = shared.config.data_dir.join("cairn_schema.cql");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(std::io::Error::new(e.kind(), format!("{}: {e}", path.display()))),
    };
    run_schema_text(shared, &text, false).map_err(|f| {
        // The replay saves the schema as it grows: a start that fails leaves the file it read.
        let restored = match save_schema(&text, &shared.config.data_dir) {
            Ok(()) => String::new(),
            Err(r) => format!(" (and restoring the file failed: {})", r.message),
        };
        std::io::Error::other(format!("{}: {}{restored}", path.display(), f.message))
    })
}

/// Adopt schema text another node of the ring sent (its schema file after a pull, or the
/// statements of a schema change it pushed): what this node already has is left as it is.
pub(crate) fn adopt_schema(shared: &Shared, text: &str) -> Result<(), Failure> {
    let result = run_schema_text(shared, text, true);
    if let Some(cluster) = &shared.cluster {
        let version = shared.catalog_read()?.schema_version;
        cluster.set_schema_version(version);
    }
    result
}

/// Execute schema text in the schema file's form: one statement per line, a
/// `-- table <keyspace>.<table> <id>` line naming the id of the `CREATE TABLE` after it. With
/// `tolerate_existing`, a keyspace, type or table that already exists is not an error.
fn run_schema_text(shared: &Shared, text: &str, tolerate_existing: bool) -> Result<(), Failure> {
    let mut session =
        Session { keyspace: None, compression: None, started: true, authenticated: true, pending_sync: None };
    let bad = |line: &str| invalid(format!("schema text: a malformed line: {line}"));
    // When the next CREATE KEYSPACE was made; keyspaces and a table skipped as dropped.
    let mut created: Option<i64> = None;
    let mut skipped: Vec<String> = Vec::new();
    // The id the next CREATE TABLE takes (its directory).
    let mut table_id: Option<((String, String), [u8; 16])> = None;
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["--", "dropped", "keyspace", name, at] => {
                let at = at.parse().map_err(|_| bad(line))?;
                let mut cat = shared.catalog_write()?;
                forget_keyspace(&mut cat, shared, name, at)?;
                schema_changed(&mut cat, &shared.config.data_dir)?;
                continue;
            }
            ["--", "dropped", "table", qualified, id, at] => {
                let (id, at) = (unhex16(id).ok_or_else(|| bad(line))?, at.parse().map_err(|_| bad(line))?);
                let mut cat = shared.catalog_write()?;
                forget_table(&mut cat, shared, qualified, id, at)?;
                schema_changed(&mut cat, &shared.config.data_dir)?;
                continue;
            }
            ["--", "keyspace", _, at] => {
                created = Some(at.parse().map_err(|_| bad(line))?);
                continue;
            }
            ["--", "table", qualified, id] => {
                let (Some((ks, t)), Some(id)) = (qualified.split_once('.'), unhex16(id)) else { return Err(bad(line)) };
                table_id = Some(((ks.to_string(), t.to_string()), id));
                continue;
            }
            _ => {}
        }
        if line.trim().is_empty() || line.starts_with("--") {
            continue;
        }
        let (mut st, _) = crate::cql::parse(line).map_err(syntax)?;
        // A CREATE TABLE saved as typed after `USE ks` (before the text was rendered with its
        // keyspace) is in the keyspace its `-- table` line names.
        if let (Statement::CreateTable { table, .. }, Some(((ks, _), _))) = (&mut st, &table_id)
            && table.keyspace.is_none()
        {
            table.keyspace = Some(ks.clone());
        }
        // What a tombstone here says was dropped after it was made stays dropped.
        let keyspace = match &st {
            Statement::CreateKeyspace { name, .. } => Some(name.clone()),
            Statement::CreateType { name, .. } => name.keyspace.clone(),
            Statement::CreateTable { table, .. } => table.keyspace.clone(),
            _ => None,
        };
        if let Statement::CreateKeyspace { name, .. } = &st {
            let made = created.take().unwrap_or(0);
            if shared.catalog_read()?.dropped_keyspaces.get(name).is_some_and(|&at| at >= made) {
                skipped.push(name.clone());
                continue;
            }
            let result = execute(shared, &mut session, &st, &QueryParams::default(), None);
            if result.is_ok() {
                let mut cat = shared.catalog_write()?;
                if let Some(k) = cat.keyspaces.get_mut(name) {
                    k.created = made;
                }
                schema_changed(&mut cat, &shared.config.data_dir)?;
            }
            match result {
                Err(f) if !(tolerate_existing && f.code == code::ALREADY_EXISTS) => return Err(f),
                _ => continue,
            }
        }
        let id = if matches!(st, Statement::CreateTable { .. }) { table_id.take() } else { None };
        let dropped = match &id {
            Some((_, id)) => shared.catalog_read()?.dropped_tables.contains_key(id),
            None => false,
        };
        if keyspace.is_some_and(|k| skipped.contains(&k)) || dropped {
            continue;
        }
        // The id is handed to this CREATE TABLE alone, never left for a later one.
        let pending = |set: bool| -> Result<(), Failure> {
            let mut map = shared.pending_ids.lock().map_err(|_| invalid("the pending table ids: lock poisoned"))?;
            if let Some((k, i)) = &id {
                if set {
                    map.insert(k.clone(), *i);
                } else {
                    map.remove(k);
                }
            }
            Ok(())
        };
        pending(true)?;
        let result = execute(shared, &mut session, &st, &QueryParams::default(), None);
        pending(false)?;
        match result {
            Ok(_) => {}
            Err(f) if tolerate_existing && f.code == code::ALREADY_EXISTS => {}
            Err(f) => return Err(f),
        }
    }
    Ok(())
}

/// Record that keyspace `name` was dropped at `at` (µs), and drop it here if it was made before
/// then.
fn forget_keyspace(state: &mut Catalog, shared: &Shared, name: &str, at: i64) -> Result<(), Failure> {
    let seen = state.dropped_keyspaces.entry(name.to_string()).or_insert(at);
    *seen = (*seen).max(at);
    if state.keyspaces.get(name).is_none_or(|k| k.created >= at) {
        return Ok(());
    }
    if let Some(k) = state.keyspaces.remove(name) {
        for (t, table) in &k.tables {
            state.dropped_tables.insert(table.id, (format!("{name}.{t}"), at));
        }
    }
    shared.prepared()?.retain(|_, p| p.table.0 != name);
    Ok(())
}

/// Record that the table with `id` (`keyspace.table`) was dropped at `at` (µs), and drop it
/// here if this node has it.
fn forget_table(state: &mut Catalog, shared: &Shared, qualified: &str, id: [u8; 16], at: i64) -> Result<(), Failure> {
    state.dropped_tables.insert(id, (qualified.to_string(), at));
    for (ks, k) in state.keyspaces.iter_mut() {
        let Some(name) = k.tables.iter().find(|(_, t)| t.id == id).map(|(n, _)| n.clone()) else { continue };
        k.tables.remove(&name);
        shared.prepared()?.retain(|_, p| !(p.table.0 == *ks && p.table.1 == name));
    }
    Ok(())
}

/// A schema change as the schema file's lines, to push to the other nodes of the ring (see
/// [`adopt_schema`]); `None` when the object is gone again.
pub(crate) fn change_text(state: &Catalog, change: &Outcome) -> Option<String> {
    let Outcome::SchemaChange { change, target, keyspace, name } = change else { return None };
    let ks = state.keyspaces.get(keyspace);
    match (*change, *target) {
        ("CREATED", "KEYSPACE") => {
            let k = ks?;
            let create = render::create_keyspace(keyspace, &k.replication, Some(k.durable_writes), Style::LINE);
            Some(format!("-- keyspace {keyspace} {}\n{create}", k.created))
        }
        ("CREATED", "TYPE") => {
            let ty = ks?.types.iter().find(|t| Some(&t.name) == name.as_ref())?;
            Some(render::create_type(keyspace, ty, Style::LINE))
        }
        ("CREATED", "TABLE") => {
            let t = ks?.tables.get(name.as_ref()?)?;
            Some(format!("-- table {keyspace}.{} {}\n{}", t.schema.table, hex(&t.id), t.create_text))
        }
        ("DROPPED", "KEYSPACE") => {
            let at = state.dropped_keyspaces.get(keyspace)?;
            Some(format!("-- dropped keyspace {keyspace} {at}"))
        }
        ("DROPPED", "TABLE") => {
            let qualified = format!("{keyspace}.{}", name.as_ref()?);
            let (id, (_, at)) =
                state.dropped_tables.iter().filter(|(_, (q, _))| *q == qualified).max_by_key(|(_, (_, at))| *at)?;
            Some(format!("-- dropped table {qualified} {} {at}", hex(id)))
        }
        _ => None,
    }
}

pub(crate) fn validate_name(name: &str) -> Result<(), Failure> {
    if name.is_empty() || name.len() > 48 || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(invalid(format!("\"{name}\" is not a valid name: use up to 48 letters, digits or underscores")));
    }
    Ok(())
}

pub(crate) fn header_for(schema: &TableSchema) -> SerializationHeader {
    schema.serialization_header()
}

/// `USE`.
pub(crate) fn use_keyspace(state: &Catalog, session: &mut Session, st: &Statement) -> Result<Outcome, Failure> {
    let Statement::Use(ks) = st else { return Err(invalid("not a Use statement")) };
    if !state.keyspaces.contains_key(ks) && !system::is_system_keyspace(ks) {
        return Err(invalid(format!("Keyspace '{ks}' does not exist")));
    }
    session.keyspace = Some(ks.clone());
    Ok(Outcome::SetKeyspace(ks.clone()))
}

/// `CREATE KEYSPACE`.
pub(crate) fn create_keyspace(state: &mut Catalog, shared: &Shared, st: &Statement) -> Result<Outcome, Failure> {
    let Statement::CreateKeyspace { name, if_not_exists, replication, durable_writes } = st else {
        return Err(invalid("not a CreateKeyspace statement"));
    };
    validate_name(name)?;
    if state.keyspaces.contains_key(name) || system::is_system_keyspace(name) {
        if *if_not_exists {
            return Ok(Outcome::Void);
        }
        let mut w = Writer::default();
        w.string(name).string("");
        return Err(Failure {
            code: code::ALREADY_EXISTS,
            message: format!("Keyspace {name} already exists"),
            extra: w.buf,
        });
    }
    if !replication.iter().any(|(k, _)| k == "class") {
        return Err(Failure {
            code: code::CONFIG,
            message: "Missing replication strategy class".into(),
            extra: vec![],
        });
    }
    std::fs::create_dir_all(shared.config.data_dir.join(name)).map_err(|e| Failure {
        code: code::SERVER,
        message: e.to_string(),
        extra: vec![],
    })?;
    // Made after any drop of the name this node knows of.
    let created = crate::node::now_micros().max(state.dropped_keyspaces.get(name).map_or(0, |at| at + 1));
    state.keyspaces.insert(
        name.clone(),
        Keyspace {
            created,
            replication: replication.clone(),
            durable_writes: *durable_writes,
            tables: BTreeMap::new(),
            types: vec![],
        },
    );
    schema_changed(state, &shared.config.data_dir)?;
    Ok(Outcome::SchemaChange { change: "CREATED", target: "KEYSPACE", keyspace: name.clone(), name: None })
}

/// `DROP KEYSPACE`.
pub(crate) fn drop_keyspace(state: &mut Catalog, shared: &Shared, st: &Statement) -> Result<Outcome, Failure> {
    let Statement::DropKeyspace { name, if_exists } = st else { return Err(invalid("not a DropKeyspace statement")) };
    let Some(created) = state.keyspaces.get(name).map(|k| k.created) else {
        return if *if_exists { Ok(Outcome::Void) } else { Err(invalid(format!("Keyspace {name} does not exist"))) };
    };
    forget_keyspace(state, shared, name, crate::node::now_micros().max(created + 1))?;
    schema_changed(state, &shared.config.data_dir)?;
    Ok(Outcome::SchemaChange { change: "DROPPED", target: "KEYSPACE", keyspace: name.clone(), name: None })
}

/// `CREATE TYPE`.
pub(crate) fn create_type(
    state: &mut Catalog,
    shared: &Shared,
    session: &mut Session,
    st: &Statement,
) -> Result<Outcome, Failure> {
    let Statement::CreateType { name, if_not_exists, text } = st else {
        return Err(invalid("not a CreateType statement"));
    };
    let ks = resolve_keyspace(session, name)?;
    validate_name(&name.name)?;
    let parsed = cairn_format::schema::cql::parse(text).map_err(syntax)?;
    let mut ty = parsed.types.into_iter().next().ok_or_else(|| invalid("not a CREATE TYPE"))?;
    ty.keyspace = Some(ks.clone());
    let keyspace = state.keyspaces.get_mut(&ks).ok_or_else(|| invalid(format!("Keyspace {ks} does not exist")))?;
    if keyspace.types.iter().any(|t| t.name == ty.name) {
        if *if_not_exists {
            return Ok(Outcome::Void);
        }
        let mut w = Writer::default();
        w.string(&ks).string(&ty.name);
        return Err(Failure {
            code: code::ALREADY_EXISTS,
            message: format!("A user type with name '{}' already exists", ty.name),
            extra: w.buf,
        });
    }
    let n = ty.name.clone();
    keyspace.types.push(ty);
    schema_changed(state, &shared.config.data_dir)?;
    Ok(Outcome::SchemaChange { change: "CREATED", target: "TYPE", keyspace: ks, name: Some(n) })
}

/// `CREATE TABLE`.
pub(crate) fn create_table(
    state: &mut Catalog,
    shared: &Shared,
    session: &mut Session,
    st: &Statement,
) -> Result<Outcome, Failure> {
    let Statement::CreateTable { table, if_not_exists, text } = st else {
        return Err(invalid("not a CreateTable statement"));
    };
    let ks = resolve_keyspace(session, table)?;
    validate_name(&table.name)?;
    let parsed = cairn_format::schema::cql::parse(text).map_err(syntax)?;
    let mut ct = parsed.tables.into_iter().next().ok_or_else(|| invalid("not a CREATE TABLE"))?;
    ct.keyspace = Some(ks.clone());
    let seed = &mut state.seed;
    let id = random_uuid(seed);
    let keyspace = state.keyspaces.get_mut(&ks).ok_or_else(|| invalid(format!("Keyspace {ks} does not exist")))?;
    if keyspace.tables.contains_key(&ct.name) {
        if *if_not_exists {
            return Ok(Outcome::Void);
        }
        let mut w = Writer::default();
        w.string(&ks).string(&ct.name);
        return Err(Failure {
            code: code::ALREADY_EXISTS,
            message: format!("Cannot add already existing table \"{}\" to keyspace \"{ks}\"", ct.name),
            extra: w.buf,
        });
    }
    if ct.partition_key.is_empty() {
        return Err(invalid("No PRIMARY KEY specified (exactly one required)"));
    }
    let mut schema = TableSchema::from_create(&ct, &keyspace.types).map_err(invalid)?;
    schema.keyspace = ks.clone();
    let header = Arc::new(header_for(&schema));
    let name = ct.name.clone();
    let id = shared.pending_ids.lock().ok().and_then(|mut m| m.remove(&(ks.clone(), name.clone()))).unwrap_or(id);
    let dir = crate::storage::table_dir(&shared.config.data_dir, &ks, &name, &id);
    let io = |e: std::io::Error| Failure { code: code::SERVER, message: e.to_string(), extra: vec![] };
    std::fs::create_dir_all(&dir).map_err(io)?;
    // The text saved and replayed names its keyspace: a table made after `USE ks` is the same
    // table in a schema file replayed without one.
    let create_text = render::create_table(&schema, Style::LINE);
    let mut schema_cql = String::new();
    for ty in &keyspace.types {
        schema_cql.push_str(&render::create_type(&ks, ty, Style::LINE));
        schema_cql.push_str(";\n");
    }
    schema_cql.push_str(&create_text);
    schema_cql.push_str(";\n");
    std::fs::write(dir.join("schema.cql"), schema_cql).map_err(io)?;
    let sstables = crate::storage::open_table_dir(&dir).map_err(|e| Failure {
        code: code::SERVER,
        message: e.to_string(),
        extra: vec![],
    })?;
    keyspace.tables.insert(name.clone(), Arc::new(Table::new(schema, header, id, dir, create_text, sstables)));
    schema_changed(state, &shared.config.data_dir)?;
    Ok(Outcome::SchemaChange { change: "CREATED", target: "TABLE", keyspace: ks, name: Some(name) })
}

/// `DROP TABLE`.
pub(crate) fn drop_table(
    state: &mut Catalog,
    shared: &Shared,
    session: &mut Session,
    st: &Statement,
) -> Result<Outcome, Failure> {
    let Statement::DropTable { table, if_exists } = st else { return Err(invalid("not a DropTable statement")) };
    let ks = resolve_keyspace(session, table)?;
    let Some(id) = state.keyspaces.get(&ks).and_then(|k| k.tables.get(&table.name)).map(|t| t.id) else {
        return if *if_exists {
            Ok(Outcome::Void)
        } else {
            Err(invalid(format!("Table '{ks}.{}' doesn't exist", table.name)))
        };
    };
    forget_table(state, shared, &format!("{ks}.{}", table.name), id, crate::node::now_micros())?;
    // The replayed schema must not bring the table back at the next start.
    schema_changed(state, &shared.config.data_dir)?;
    Ok(Outcome::SchemaChange { change: "DROPPED", target: "TABLE", keyspace: ks, name: Some(table.name.clone()) })
}

/// `TRUNCATE`: the memtable and the SSTables go.
pub(crate) fn truncate(state: &Catalog, session: &mut Session, st: &Statement) -> Result<Outcome, Failure> {
    let Statement::Truncate(table) = st else { return Err(invalid("not a Truncate statement")) };
    let ks = resolve_keyspace(session, table)?;
    let t = table_of(state, &ks, &table.name)?;
    let mut d = t.lock()?;
    d.memtable.clear();
    // The SSTables go too (Cassandra snapshots first when auto_snapshot is on).
    for s in d.sstables.drain(..) {
        for c in cairn_format::Component::BIG {
            let _ = std::fs::remove_file(s.path(c));
        }
    }
    Ok(Outcome::Void)
}
