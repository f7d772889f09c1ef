//! A small CQL DDL parser: `CREATE TYPE` and `CREATE TABLE`, as found in a snapshot's
//! `schema.cql` or a `--schema` file, and the `ALTER TABLE ... DROP col USING TIMESTAMP t` /
//! `ALTER TABLE ... ADD col type` lines Cassandra writes after a table's CREATE TABLE for every
//! column dropped (and added again) since it was made (`SchemaCQLHelper.getDroppedColumnsAsCQL`
//! in Cassandra's `db/`): the CREATE TABLE still lists a dropped column, the DROP takes it out
//! and says when, since its cells written until then are gone. Other statements (and other
//! ALTERs: options, renames) are skipped. [`parse_map`] reads the
//! string maps table options are written as (`compaction = {'class': ...}`).

use std::fmt;

use super::lexer::Token;
use crate::types::{CqlType, UdtType};

/// A parse error with the byte position in the CQL text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CQL at byte {position}: {message}")]
pub struct CqlError {
    /// Byte offset in the text.
    pub position: usize,
    /// What is wrong.
    pub message: String,
}

/// The schema parser's view of a [`Token`] of the shared lexer: words (identifiers, numbers,
/// UUIDs, blobs, operators), quoted names, strings, punctuation.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Quoted(String),
    Str(String),
    Punct(char),
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Word(w) => f.write_str(w),
            Tok::Quoted(q) => write!(f, "\"{}\"", q.replace('"', "\"\"")),
            Tok::Str(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Tok::Punct(c) => write!(f, "{c}"),
        }
    }
}

/// The text's tokens, by [`super::lexer::lex`].
fn tokenize(text: &str) -> Result<Vec<(Tok, usize)>, CqlError> {
    let view = |t: Token| match t {
        Token::Ident(w) | Token::Number(w) | Token::Uuid(w) | Token::Hex(w) => Tok::Word(w),
        Token::Op(o) => Tok::Word(o.to_string()),
        Token::Quoted(q) => Tok::Quoted(q),
        Token::Str(s) => Tok::Str(s),
        Token::Sym(c) => Tok::Punct(c),
    };
    Ok(super::lexer::lex(text)?.into_iter().map(|(t, at)| (view(t), at)).collect())
}

/// A column of a `CREATE TABLE`.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnSpec {
    /// Name (case-folded unless quoted).
    pub name: String,
    /// Type text as written.
    pub type_text: String,
    /// Whether declared `STATIC`.
    pub is_static: bool,
}

/// A parsed `CREATE TABLE`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateTable {
    /// Keyspace, if qualified.
    pub keyspace: Option<String>,
    /// Table name.
    pub name: String,
    /// Columns in declaration order.
    pub columns: Vec<ColumnSpec>,
    /// Partition-key column names.
    pub partition_key: Vec<String>,
    /// Clustering column names.
    pub clustering: Vec<String>,
    /// Clustering columns declared DESC.
    pub descending: Vec<String>,
    /// `WITH COMPACT STORAGE`.
    pub compact_storage: bool,
    /// Other `WITH` options (name, raw value text).
    pub options: Vec<(String, String)>,
    /// Columns an `ALTER TABLE ... DROP` after it took out, in the order dropped.
    pub dropped: Vec<DroppedColumn>,
}

/// A column `ALTER TABLE ... DROP col USING TIMESTAMP t` removed: Cassandra reads none of its
/// cells written at or before `t` (µs), also when a column of that name was added again since.
#[derive(Debug, Clone, PartialEq)]
pub struct DroppedColumn {
    /// Its name.
    pub name: String,
    /// Its type text, as the CREATE TABLE gave it.
    pub type_text: String,
    /// Whether it was static.
    pub is_static: bool,
    /// When it was dropped (µs).
    pub dropped_at: i64,
}

/// A parsed `CREATE TYPE`.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateType {
    /// Keyspace, if qualified.
    pub keyspace: Option<String>,
    /// Type name.
    pub name: String,
    /// Fields (name, type text).
    pub fields: Vec<(String, String)>,
}

/// The statements of a schema file that matter for reading SSTables.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SchemaFile {
    /// `CREATE TYPE` statements in order.
    pub types: Vec<CreateType>,
    /// `CREATE TABLE` statements in order.
    pub tables: Vec<CreateTable>,
}

struct DdlCursor {
    toks: Vec<(Tok, usize)>,
    i: usize,
    len: usize,
}

impl DdlCursor {
    fn pos(&self) -> usize {
        self.toks.get(self.i).map_or(self.len, |t| t.1)
    }
    fn err<T>(&self, msg: impl Into<String>) -> Result<T, CqlError> {
        Err(CqlError { position: self.pos(), message: msg.into() })
    }
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|t| &t.0)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.i).map(|t| t.0.clone());
        self.i += 1;
        t
    }
    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(kw))
    }
    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect_kw(&mut self, kw: &str) -> Result<(), CqlError> {
        if self.eat_kw(kw) { Ok(()) } else { self.err(format!("expected {kw}")) }
    }
    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, c: char) -> Result<(), CqlError> {
        if self.eat(c) { Ok(()) } else { self.err(format!("expected '{c}'")) }
    }
    fn ident(&mut self) -> Result<String, CqlError> {
        match self.next() {
            Some(Tok::Word(w)) if !w.starts_with(|c: char| c.is_ascii_digit() || c == '-') => {
                Ok(w.to_ascii_lowercase())
            }
            Some(Tok::Quoted(q)) => Ok(q),
            _ => {
                self.i = self.i.saturating_sub(1);
                self.err("expected an identifier")
            }
        }
    }
    fn qualified(&mut self) -> Result<(Option<String>, String), CqlError> {
        let first = self.ident()?;
        if self.eat('.') { Ok((Some(first), self.ident()?)) } else { Ok((None, first)) }
    }
    fn type_text(&mut self) -> Result<String, CqlError> {
        let mut depth = 0i32;
        let mut s = String::new();
        loop {
            match self.peek() {
                None => break,
                Some(Tok::Punct('<')) => depth += 1,
                Some(Tok::Punct('>')) => depth -= 1,
                Some(Tok::Punct(',' | ')' | ';')) if depth == 0 => break,
                Some(Tok::Word(w)) if depth == 0 && !s.is_empty() && !s.ends_with('.') && w != "." => break,
                _ => {}
            }
            if let Some(t) = self.next() {
                if matches!(t, Tok::Word(_) | Tok::Quoted(_)) && s.ends_with(|c: char| c.is_alphanumeric() || c == '"')
                {
                    s.push(' ');
                }
                s.push_str(&t.to_string());
            }
            if depth < 0 {
                return self.err("unbalanced '>' in type");
            }
        }
        if s.is_empty() { self.err("expected a type") } else { Ok(s) }
    }
    fn skip_statement(&mut self) {
        while let Some(t) = self.next() {
            if t == Tok::Punct(';') {
                break;
            }
        }
    }
    fn raw_value(&mut self) -> String {
        let mut depth = 0i32;
        let mut parts = Vec::new();
        while let Some(t) = self.peek() {
            match t {
                Tok::Punct('{') | Tok::Punct('(') | Tok::Punct('[') => depth += 1,
                Tok::Punct('}') | Tok::Punct(')') | Tok::Punct(']') => depth -= 1,
                Tok::Punct(';') if depth == 0 => break,
                Tok::Word(w) if depth == 0 && w.eq_ignore_ascii_case("and") => break,
                _ => {}
            }
            if let Some(t) = self.next() {
                parts.push(t.to_string());
            }
        }
        parts.join(" ")
    }

    fn create_type(&mut self) -> Result<CreateType, CqlError> {
        if self.eat_kw("if") {
            self.expect_kw("not")?;
            self.expect_kw("exists")?;
        }
        let (keyspace, name) = self.qualified()?;
        self.expect('(')?;
        let mut fields = Vec::new();
        loop {
            let f = self.ident()?;
            let t = self.type_text()?;
            fields.push((f, t));
            if self.eat(')') {
                break;
            }
            self.expect(',')?;
        }
        self.skip_statement();
        Ok(CreateType { keyspace, name, fields })
    }

    /// `ALTER TABLE name DROP c USING TIMESTAMP t` or `ADD c type [static]` (one column, or a
    /// parenthesised list), applied to the CREATE TABLE of `name` before it; any other ALTER is
    /// skipped. A DROP must say when: which cells it removed depends on it.
    fn alter_table(&mut self, tables: &mut [CreateTable]) -> Result<(), CqlError> {
        let at = self.pos();
        let (keyspace, name) = self.qualified()?;
        let drop = self.eat_kw("drop");
        if !drop && !self.eat_kw("add") {
            self.skip_statement();
            return Ok(());
        }
        let list = self.eat('(');
        let mut columns = Vec::new();
        loop {
            let column = self.ident()?;
            let spec = if drop { None } else { Some((self.type_text()?, self.eat_kw("static"))) };
            columns.push((column, spec));
            if !list || self.eat(')') {
                break;
            }
            self.expect(',')?;
        }
        let dropped_at = if drop {
            if !(self.eat_kw("using") && self.eat_kw("timestamp")) {
                return self.err("ALTER TABLE ... DROP without USING TIMESTAMP: when a column was dropped decides which of its cells are gone");
            }
            match self.next() {
                Some(Tok::Word(w)) if w.parse::<i64>().is_ok() => w.parse::<i64>().unwrap_or_default(),
                _ => {
                    self.i = self.i.saturating_sub(1);
                    return self.err("expected the drop's timestamp (microseconds)");
                }
            }
        } else {
            0
        };
        if self.peek().is_some() && !self.eat(';') {
            return self.err("expected ';' or the end of the statement");
        }
        let fail = |message: String| Err(CqlError { position: at, message });
        let same =
            |t: &CreateTable| t.name == name && (keyspace.is_none() || t.keyspace.is_none() || t.keyspace == keyspace);
        let Some(t) = tables.iter_mut().rev().find(|t| same(t)) else {
            return fail(format!("ALTER TABLE {name}: no CREATE TABLE of it comes before"));
        };
        for (column, spec) in columns {
            let key = t.partition_key.contains(&column) || t.clustering.contains(&column);
            let at = t.columns.iter().position(|c| c.name == column);
            match (spec, at) {
                _ if key => return fail(format!("ALTER TABLE {name}: {column} is a primary key column")),
                (None, Some(i)) => {
                    let c = t.columns.remove(i);
                    t.dropped.retain(|d| d.name != column || d.dropped_at > dropped_at);
                    if !t.dropped.iter().any(|d| d.name == column) {
                        let (type_text, is_static) = (c.type_text, c.is_static);
                        t.dropped.push(DroppedColumn { name: column, type_text, is_static, dropped_at });
                    }
                }
                (None, None) => return fail(format!("ALTER TABLE {name} drops {column}, which it does not have")),
                (Some((type_text, is_static)), None) => {
                    t.columns.push(ColumnSpec { name: column, type_text, is_static })
                }
                (Some(_), Some(_)) => return fail(format!("ALTER TABLE {name} adds {column}, which it has")),
            }
        }
        Ok(())
    }

    fn create_table(&mut self) -> Result<CreateTable, CqlError> {
        if self.eat_kw("if") {
            self.expect_kw("not")?;
            self.expect_kw("exists")?;
        }
        let (keyspace, name) = self.qualified()?;
        self.expect('(')?;
        let mut t = CreateTable {
            keyspace,
            name,
            columns: vec![],
            partition_key: vec![],
            clustering: vec![],
            descending: vec![],
            compact_storage: false,
            options: vec![],
            dropped: vec![],
        };
        loop {
            if self.is_kw("primary") {
                self.i += 1;
                self.expect_kw("key")?;
                self.expect('(')?;
                if self.eat('(') {
                    loop {
                        t.partition_key.push(self.ident()?);
                        if self.eat(')') {
                            break;
                        }
                        self.expect(',')?;
                    }
                } else {
                    t.partition_key.push(self.ident()?);
                }
                while self.eat(',') {
                    t.clustering.push(self.ident()?);
                }
                self.expect(')')?;
            } else {
                let name = self.ident()?;
                let type_text = self.type_text()?;
                let mut is_static = false;
                loop {
                    if self.eat_kw("static") {
                        is_static = true;
                    } else if self.eat_kw("primary") {
                        self.expect_kw("key")?;
                        t.partition_key = vec![name.clone()];
                    } else {
                        break;
                    }
                }
                t.columns.push(ColumnSpec { name, type_text, is_static });
            }
            if self.eat(')') {
                break;
            }
            self.expect(',')?;
            if self.eat(')') {
                break;
            }
        }
        if self.eat_kw("with") {
            loop {
                if self.eat_kw("clustering") {
                    self.expect_kw("order")?;
                    self.expect_kw("by")?;
                    self.expect('(')?;
                    loop {
                        let c = self.ident()?;
                        if self.eat_kw("desc") {
                            t.descending.push(c);
                        } else {
                            self.eat_kw("asc");
                        }
                        if self.eat(')') {
                            break;
                        }
                        self.expect(',')?;
                    }
                } else if self.eat_kw("compact") {
                    self.expect_kw("storage")?;
                    t.compact_storage = true;
                } else {
                    let key = self.ident()?;
                    self.expect('=')?;
                    let v = self.raw_value();
                    t.options.push((key, v));
                }
                if !self.eat_kw("and") {
                    break;
                }
            }
        }
        if self.peek().is_some() && !self.eat(';') {
            return self.err("expected ';' or the end of the statement");
        }
        if t.partition_key.is_empty() {
            return self.err(format!("table {} has no PRIMARY KEY", t.name));
        }
        Ok(t)
    }
}

/// Parse a schema file, keeping `CREATE TYPE` and `CREATE TABLE` statements.
pub fn parse(text: &str) -> Result<SchemaFile, CqlError> {
    let toks = tokenize(text)?;
    let mut p = DdlCursor { toks, i: 0, len: text.len() };
    let mut out = SchemaFile::default();
    while p.peek().is_some() {
        if p.eat(';') {
            continue;
        }
        if p.eat_kw("alter") && (p.eat_kw("table") || p.eat_kw("columnfamily")) {
            p.alter_table(&mut out.tables)?;
            continue;
        }
        if p.eat_kw("create") {
            if p.eat_kw("type") {
                out.types.push(p.create_type()?);
                continue;
            }
            if p.eat_kw("table") || (p.eat_kw("columnfamily")) {
                out.tables.push(p.create_table()?);
                continue;
            }
        }
        p.skip_statement();
    }
    Ok(out)
}

/// Parse a CQL map literal of strings (`{'class': '...', 'max_threshold': '32'}`), as
/// schema.cql gives a table's `compaction` option. Unquoted values (numbers, booleans) are
/// taken as text.
pub fn parse_map(text: &str) -> Option<Vec<(String, String)>> {
    let mut chars = text.trim().chars().peekable();
    if chars.next()? != '{' {
        return None;
    }
    let mut out = Vec::new();
    let skip_ws = |c: &mut std::iter::Peekable<std::str::Chars<'_>>| {
        while c.peek().is_some_and(|x| x.is_whitespace()) {
            c.next();
        }
    };
    let term = |c: &mut std::iter::Peekable<std::str::Chars<'_>>| -> Option<String> {
        let mut s = String::new();
        if c.peek() == Some(&'\'') {
            c.next();
            loop {
                match c.next()? {
                    '\'' if c.peek() == Some(&'\'') => {
                        c.next();
                        s.push('\'');
                    }
                    '\'' => return Some(s),
                    x => s.push(x),
                }
            }
        }
        while let Some(&x) = c.peek() {
            if x == ',' || x == '}' || x == ':' || x.is_whitespace() {
                break;
            }
            s.push(x);
            c.next();
        }
        (!s.is_empty()).then_some(s)
    };
    loop {
        skip_ws(&mut chars);
        if chars.peek() == Some(&'}') {
            return Some(out);
        }
        let k = term(&mut chars)?;
        skip_ws(&mut chars);
        if chars.next()? != ':' {
            return None;
        }
        skip_ws(&mut chars);
        let v = term(&mut chars)?;
        out.push((k, v));
        skip_ws(&mut chars);
        match chars.next()? {
            ',' => continue,
            '}' => return Some(out),
            _ => return None,
        }
    }
}

/// Resolve a UDT by name among `types` (fields resolved recursively).
pub fn resolve_udt(types: &[CreateType], keyspace: &str, name: &str) -> Option<UdtType> {
    let t = types.iter().find(|t| t.name == name)?;
    let ks = t.keyspace.clone().unwrap_or_else(|| keyspace.to_string());
    let lookup = |n: &str| resolve_udt(types, &ks, n);
    let mut fields = Vec::with_capacity(t.fields.len());
    for (f, text) in &t.fields {
        fields.push((f.clone(), CqlType::parse_cql(text, &ks, &lookup).ok()?));
    }
    Some(UdtType { keyspace: ks, name: t.name.clone(), fields, frozen: false })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tables_and_types() {
        let s = parse(
            "-- comment\nCREATE TYPE ks.ut (a int, b text);\n\
             CREATE TABLE IF NOT EXISTS ks.t (\n pk int, \"Ck\" text, s int static, m map<int, frozen<ut>>, v vector<float, 3>,\n PRIMARY KEY ((pk), \"Ck\"))\n\
             WITH CLUSTERING ORDER BY (\"Ck\" DESC) AND ID = 5b608090-e03d-11eb-b4c1-d335f841c590 AND compaction = { 'class': 'X' } AND gc_grace_seconds = 10;\n\
             CREATE KEYSPACE x WITH replication = {'class': 'SimpleStrategy'};",
        )
        .unwrap();
        assert_eq!(s.types.len(), 1);
        let t = &s.tables[0];
        assert_eq!(t.partition_key, vec!["pk"]);
        assert_eq!(t.clustering, vec!["Ck"]);
        assert_eq!(t.descending, vec!["Ck"]);
        assert!(t.columns[2].is_static);
        assert_eq!(t.columns[3].type_text, "map<int,frozen<ut>>");
        assert!(t.options.iter().any(|(k, v)| k == "gc_grace_seconds" && v == "10"));
        let ut = resolve_udt(&s.types, "ks", "ut").unwrap();
        assert_eq!(ut.fields.len(), 2);
    }

    #[test]
    fn drops_and_adds_apply_to_the_table_before_them() {
        let file = parse(
            "CREATE TABLE ks.t (k int PRIMARY KEY, a text, b int, s int static);\n\
             ALTER TABLE ks.t DROP a USING TIMESTAMP 10;\n\
             ALTER TABLE ks.t DROP (b, s) USING TIMESTAMP 20;\n\
             ALTER TABLE ks.t ADD a blob;\n\
             ALTER TABLE ks.t WITH gc_grace_seconds = 5;",
        )
        .expect("parses");
        let t = &file.tables[0];
        let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["k", "a"]);
        assert_eq!(t.columns[1].type_text, "blob");
        let dropped: Vec<(&str, &str, bool, i64)> =
            t.dropped.iter().map(|d| (d.name.as_str(), d.type_text.as_str(), d.is_static, d.dropped_at)).collect();
        assert_eq!(dropped, [("a", "text", false, 10), ("b", "int", false, 20), ("s", "int", true, 20)]);
        for bad in [
            "ALTER TABLE ks.t DROP a;",
            "ALTER TABLE ks.t DROP k USING TIMESTAMP 1;",
            "ALTER TABLE ks.t DROP z USING TIMESTAMP 1;",
            "ALTER TABLE ks.t ADD a int;",
            "ALTER TABLE ks.u DROP a USING TIMESTAMP 1;",
        ] {
            let text = format!("CREATE TABLE ks.t (k int PRIMARY KEY, a text); {bad}");
            assert!(parse(&text).is_err(), "{bad}");
        }
    }

    #[test]
    fn errors_have_positions() {
        let e = parse("CREATE TABLE t (pk int").unwrap_err();
        assert!(e.position > 0);
        assert!(parse("CREATE TABLE t (pk int, v text)").is_err());
    }

    #[test]
    fn cql_maps_parse() {
        let m = parse_map(
        "{ 'max_threshold': '32', 'min_threshold': '4', 'compaction_window_size': '60', 'class': 'org.apache.cassandra.db.compaction.TimeWindowCompactionStrategy' }",
    )
    .expect("parses");
        assert_eq!(m.len(), 4);
        assert_eq!(m[3], ("class".into(), "org.apache.cassandra.db.compaction.TimeWindowCompactionStrategy".into()));
        assert_eq!(
            parse_map("{'a': 'it''s', 'b': 3}"),
            Some(vec![("a".into(), "it's".into()), ("b".into(), "3".into())])
        );
        assert_eq!(parse_map("{}"), Some(vec![]));
        assert_eq!(parse_map("{'a' 'b'}"), None);
        assert_eq!(parse_map("'a'"), None);
    }
}
