//! The CQL statements the node executes, parsed by a hand-written lexer and recursive descent
//! (research/ecosystem.md §2.4: the server subset is small; no parser crate handles CQL whole).
//!
//! `CREATE TABLE` and `CREATE TYPE` bodies are handed to `cairn_format`'s schema parser, the one
//! that reads `schema.cql` files, so the node and the offline tools agree on what a table is.
//! Errors carry the byte position of the offending token.
//!
//! The rooms: [`lexer`] (text to tokens with their byte positions), [`parser`] (tokens to a
//! [`Statement`]), [`literal`] (a collection, tuple or UDT literal to its serialized bytes). The
//! statement tree the executor walks is defined here.

pub mod lexer;
pub mod literal;
pub mod parser;

pub use lexer::{SyntaxError, Tok, lex};
pub use parser::parse;

/// A value in a statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Term {
    /// A literal, as text the format crate's value parser reads (strings keep their quotes).
    Literal(String),
    /// `null`.
    Null,
    /// A `?` marker (its position among the statement's markers).
    Bind(usize),
    /// A `:name` marker.
    Named(String, usize),
    /// A collection literal `{...}` or `[...]`, as written.
    Collection(String),
}

/// A relation in WHERE.
#[derive(Debug, Clone, PartialEq)]
pub struct Relation {
    /// Column (or the columns of `token(...)`).
    pub columns: Vec<String>,
    /// Whether the left side is `token(...)`.
    pub token: bool,
    /// `=`, `<`, `<=`, `>`, `>=`, `IN`.
    pub op: String,
    /// Right side (several for IN).
    pub values: Vec<Term>,
    /// `IN ?` (or `IN :name`): one marker bound to the whole list of values, not a list of one
    /// value (`IN (?)`).
    pub in_marker: bool,
    /// The right side is `token(value)`: the token of a partition key value, not a token.
    pub token_of: bool,
}

/// A selected expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Selector {
    /// A column.
    Column(String),
    /// `writetime(c)`.
    WriteTime(String),
    /// `ttl(c)`.
    Ttl(String),
    /// `count(*)` / `count(1)` (`None`: rows), `count(c)` (the rows where `c` is not null).
    Count(Option<String>),
    /// `token(k...)`.
    Token(Vec<String>),
}

/// A table name, maybe qualified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QName {
    /// Keyspace.
    pub keyspace: Option<String>,
    /// Name.
    pub name: String,
}

/// `USING TTL / TIMESTAMP`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Using {
    /// TTL.
    pub ttl: Option<Term>,
    /// Timestamp.
    pub timestamp: Option<Term>,
}

/// An assignment of UPDATE.
#[derive(Debug, Clone, PartialEq)]
pub enum Assignment {
    /// `c = v`.
    Set(String, Term),
    /// `c = c + v` (collections, counters).
    Add(String, Term),
    /// `c = c - v`.
    Remove(String, Term),
    /// `c = v + c` (prepend to a list).
    Prepend(String, Term),
    /// `c[k] = v`.
    SetElement(String, Term, Term),
    /// `c.field = v` (a field of a non-frozen UDT).
    SetField(String, String, Term),
}

/// A statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `USE ks`.
    Use(String),
    /// `CREATE KEYSPACE`.
    CreateKeyspace {
        /// Name.
        name: String,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
        /// `replication` map.
        replication: Vec<(String, String)>,
        /// `durable_writes`.
        durable_writes: bool,
    },
    /// `DROP KEYSPACE`.
    DropKeyspace {
        /// Name.
        name: String,
        /// `IF EXISTS`.
        if_exists: bool,
    },
    /// `CREATE TABLE` (the whole text, minus IF NOT EXISTS, for the schema parser).
    CreateTable {
        /// The table.
        table: QName,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
        /// `CREATE TABLE ...` text.
        text: String,
    },
    /// `CREATE TYPE`.
    CreateType {
        /// The type.
        name: QName,
        /// `IF NOT EXISTS`.
        if_not_exists: bool,
        /// `CREATE TYPE ...` text.
        text: String,
    },
    /// `DROP TABLE`.
    DropTable {
        /// The table.
        table: QName,
        /// `IF EXISTS`.
        if_exists: bool,
    },
    /// `TRUNCATE`.
    Truncate(QName),
    /// `INSERT`.
    Insert {
        /// Table.
        table: QName,
        /// Columns.
        columns: Vec<String>,
        /// Values.
        values: Vec<Term>,
        /// TTL / timestamp.
        using: Using,
        /// `IF NOT EXISTS` (refused: no lightweight transactions).
        if_not_exists: bool,
        /// `INSERT ... JSON '...'`.
        json: Option<Term>,
    },
    /// `UPDATE`.
    Update {
        /// Table.
        table: QName,
        /// TTL / timestamp.
        using: Using,
        /// SET.
        assignments: Vec<Assignment>,
        /// WHERE.
        relations: Vec<Relation>,
        /// Has an IF clause (refused).
        conditional: bool,
    },
    /// `DELETE`.
    Delete {
        /// Table.
        table: QName,
        /// Columns (and `c[k]` elements) deleted; empty: rows or partitions.
        columns: Vec<(String, Option<Term>)>,
        /// Timestamp.
        using: Using,
        /// WHERE.
        relations: Vec<Relation>,
        /// Has an IF clause (refused).
        conditional: bool,
    },
    /// `SELECT`.
    Select {
        /// Table.
        table: QName,
        /// `None`: `*`.
        selectors: Option<Vec<(Selector, Option<String>)>>,
        /// WHERE.
        relations: Vec<Relation>,
        /// LIMIT.
        limit: Option<Term>,
        /// PER PARTITION LIMIT.
        per_partition_limit: Option<Term>,
        /// ORDER BY (column, descending).
        order: Vec<(String, bool)>,
        /// `SELECT JSON`.
        json: bool,
        /// `SELECT DISTINCT`.
        distinct: bool,
        /// ALLOW FILTERING.
        allow_filtering: bool,
    },
    /// `BEGIN [UNLOGGED|COUNTER] BATCH ... APPLY BATCH`.
    Batch {
        /// The statements.
        statements: Vec<Statement>,
        /// `USING TIMESTAMP`.
        using: Using,
    },
    /// `DESCRIBE ...` (server-side, as Cassandra 4.0 answers cqlsh): what, and the name.
    Describe(String, Option<QName>),
    /// Something the node recognises and does not support (the name of the feature).
    Unsupported(String),
}
