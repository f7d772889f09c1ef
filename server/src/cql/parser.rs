//! Recursive descent over the lexer's tokens: one [`Statement`] per call, counting its bind
//! markers.

use super::*;

struct StatementCursor<'t> {
    toks: &'t [(Tok, usize)],
    i: usize,
    len: usize,
    binds: usize,
}

impl StatementCursor<'_> {
    fn pos(&self) -> usize {
        self.toks.get(self.i).map_or(self.len, |t| t.1)
    }

    fn err<T>(&self, what: &str) -> Result<T, SyntaxError> {
        let got = match self.toks.get(self.i) {
            Some((t, _)) => format!("{t:?}"),
            None => "end of input".to_string(),
        };
        Err(SyntaxError { position: self.pos(), message: format!("expected {what}, got {got}") })
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i).map(|t| &t.0)
    }

    fn kw(&self, k: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s == k)
    }

    fn eat_kw(&mut self, k: &str) -> bool {
        if self.kw(k) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect_kw(&mut self, k: &str) -> Result<(), SyntaxError> {
        if self.eat_kw(k) { Ok(()) } else { self.err(&k.to_ascii_uppercase()) }
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Sym(c)) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), SyntaxError> {
        if self.eat(c) { Ok(()) } else { self.err(&format!("'{c}'")) }
    }

    fn ident(&mut self) -> Result<String, SyntaxError> {
        match self.peek().cloned() {
            Some(Tok::Ident(s)) | Some(Tok::Quoted(s)) => {
                self.i += 1;
                Ok(s)
            }
            _ => self.err("an identifier"),
        }
    }

    fn qname(&mut self) -> Result<QName, SyntaxError> {
        let first = self.ident()?;
        if self.eat('.') {
            Ok(QName { keyspace: Some(first), name: self.ident()? })
        } else {
            Ok(QName { keyspace: None, name: first })
        }
    }

    fn if_not_exists(&mut self) -> Result<bool, SyntaxError> {
        if self.eat_kw("if") {
            self.expect_kw("not")?;
            self.expect_kw("exists")?;
            return Ok(true);
        }
        Ok(false)
    }

    fn if_exists(&mut self) -> Result<bool, SyntaxError> {
        if self.eat_kw("if") {
            self.expect_kw("exists")?;
            return Ok(true);
        }
        Ok(false)
    }

    /// A balanced `{...}` / `[...]` / `(...)` group as text.
    fn group_text(&mut self, text: &str) -> Result<String, SyntaxError> {
        let start = self.pos();
        let mut depth = 0i32;
        loop {
            match self.peek() {
                Some(Tok::Sym('{' | '[' | '(')) => depth += 1,
                Some(Tok::Sym('}' | ']' | ')')) => depth -= 1,
                None => return self.err("a closing bracket"),
                _ => {}
            }
            self.i += 1;
            if depth == 0 {
                break;
            }
        }
        let end = self.toks.get(self.i - 1).map_or(self.len, |t| t.1 + 1);
        Ok(text.get(start..end).unwrap_or_default().to_string())
    }

    fn term(&mut self, text: &str) -> Result<Term, SyntaxError> {
        let t = match self.peek().cloned() {
            Some(Tok::Sym('?')) => {
                self.i += 1;
                self.binds += 1;
                return Ok(Term::Bind(self.binds - 1));
            }
            Some(Tok::Sym(':')) => {
                self.i += 1;
                let name = self.ident()?;
                self.binds += 1;
                return Ok(Term::Named(name, self.binds - 1));
            }
            Some(Tok::Sym('{' | '[')) => return Ok(Term::Collection(self.group_text(text)?)),
            Some(Tok::Sym('(')) => return Ok(Term::Collection(self.group_text(text)?)),
            Some(Tok::Str(s)) => Term::Literal(format!("'{}'", s.replace('\'', "''"))),
            Some(Tok::Number(n)) => Term::Literal(n),
            Some(Tok::Uuid(u)) => Term::Literal(u),
            Some(Tok::Hex(h)) => Term::Literal(h),
            Some(Tok::Sym('-')) => {
                self.i += 1;
                return match self.peek().cloned() {
                    Some(Tok::Ident(k)) if k == "nan" || k == "infinity" => {
                        self.i += 1;
                        Ok(Term::Literal(format!("-{k}")))
                    }
                    _ => self.err("a number"),
                };
            }
            Some(Tok::Ident(k)) if k == "null" => Term::Null,
            Some(Tok::Ident(k)) if ["true", "false", "nan", "infinity"].contains(&k.as_str()) => Term::Literal(k),
            _ => return self.err("a value"),
        };
        self.i += 1;
        Ok(t)
    }

    fn using(&mut self, text: &str) -> Result<Using, SyntaxError> {
        let mut u = Using::default();
        if self.eat_kw("using") {
            loop {
                if self.eat_kw("ttl") {
                    u.ttl = Some(self.term(text)?);
                } else if self.eat_kw("timestamp") {
                    u.timestamp = Some(self.term(text)?);
                } else {
                    return self.err("TTL or TIMESTAMP");
                }
                if !self.eat_kw("and") {
                    break;
                }
            }
        }
        Ok(u)
    }

    fn relations(&mut self, text: &str) -> Result<Vec<Relation>, SyntaxError> {
        let mut out = Vec::new();
        if !self.eat_kw("where") {
            return Ok(out);
        }
        loop {
            let (columns, token) =
                if self.kw("token") && self.toks.get(self.i + 1).is_some_and(|t| t.0 == Tok::Sym('(')) {
                    self.i += 2;
                    let mut cols = vec![self.ident()?];
                    while self.eat(',') {
                        cols.push(self.ident()?);
                    }
                    self.expect(')')?;
                    (cols, true)
                } else if self.eat('(') {
                    let mut cols = vec![self.ident()?];
                    while self.eat(',') {
                        cols.push(self.ident()?);
                    }
                    self.expect(')')?;
                    (cols, false)
                } else {
                    (vec![self.ident()?], false)
                };
            let op = match self.peek().cloned() {
                Some(Tok::Sym('=')) => "=",
                Some(Tok::Sym('<')) => "<",
                Some(Tok::Sym('>')) => ">",
                Some(Tok::Op(o)) if o != "!=" => o,
                Some(Tok::Ident(k)) if k == "in" => "in",
                Some(Tok::Ident(k)) if k == "contains" => {
                    return Ok(vec![Relation {
                        columns,
                        token,
                        op: "contains".into(),
                        values: vec![],
                        in_marker: false,
                        token_of: false,
                    }]);
                }
                _ => return self.err("a relation operator"),
            };
            self.i += 1;
            let in_marker = op == "in" && matches!(self.peek(), Some(Tok::Sym('?' | ':')));
            let mut token_of = false;
            let values = if op == "in" {
                if in_marker {
                    vec![self.term(text)?]
                } else {
                    self.expect('(')?;
                    let mut v = Vec::new();
                    if !self.eat(')') {
                        loop {
                            v.push(self.term(text)?);
                            if self.eat(')') {
                                break;
                            }
                            self.expect(',')?;
                        }
                    }
                    v
                }
            } else if token && self.kw("token") {
                // token(k) > token(?) : the right side is the token of a key value.
                self.i += 1;
                self.expect('(')?;
                let t = self.term(text)?;
                self.expect(')')?;
                token_of = true;
                vec![t]
            } else {
                vec![self.term(text)?]
            };
            out.push(Relation { columns, token, op: op.to_string(), values, in_marker, token_of });
            if !self.eat_kw("and") {
                break;
            }
        }
        Ok(out)
    }

    fn selector(&mut self) -> Result<Selector, SyntaxError> {
        let name = self.ident()?;
        if self.eat('(') {
            let s = match name.as_str() {
                "writetime" => Selector::WriteTime(self.ident()?),
                "ttl" => Selector::Ttl(self.ident()?),
                "count" => {
                    if self.eat('*') {
                        Selector::Count(None)
                    } else {
                        match self.peek() {
                            Some(Tok::Number(_)) => {
                                self.i += 1;
                                Selector::Count(None)
                            }
                            _ => Selector::Count(Some(self.ident()?)),
                        }
                    }
                }
                "token" => {
                    let mut cols = vec![self.ident()?];
                    while self.eat(',') {
                        cols.push(self.ident()?);
                    }
                    Selector::Token(cols)
                }
                other => {
                    return Err(SyntaxError {
                        position: self.pos(),
                        message: format!("function {other} is not supported"),
                    });
                }
            };
            self.expect(')')?;
            return Ok(s);
        }
        Ok(Selector::Column(name))
    }

    fn statement(&mut self, text: &str) -> Result<Statement, SyntaxError> {
        let start = self.pos();
        if self.eat_kw("use") {
            return Ok(Statement::Use(self.ident()?));
        }
        if self.eat_kw("create") {
            if self.eat_kw("keyspace") || self.eat_kw("schema") {
                let if_not_exists = self.if_not_exists()?;
                let name = self.ident()?;
                self.expect_kw("with")?;
                let (mut replication, mut durable_writes) = (Vec::new(), true);
                loop {
                    let opt = self.ident()?;
                    self.expect('=')?;
                    match opt.as_str() {
                        "replication" => {
                            let g = self.group_text(text)?;
                            replication = cairn_format::schema::cql::parse_map(&g)
                                .ok_or(SyntaxError { position: start, message: "invalid replication map".into() })?;
                        }
                        "durable_writes" => durable_writes = self.term(text)? == Term::Literal("true".into()),
                        _ => return self.err("replication or durable_writes"),
                    }
                    if !self.eat_kw("and") {
                        break;
                    }
                }
                return Ok(Statement::CreateKeyspace { name, if_not_exists, replication, durable_writes });
            }
            let is_table = self.eat_kw("table") || self.eat_kw("columnfamily");
            let is_type = !is_table && self.eat_kw("type");
            if is_table || is_type {
                let if_not_exists = self.if_not_exists()?;
                let name_at = self.pos();
                let name = self.qname()?;
                // Hand the rest to the schema parser, as `CREATE TABLE <name> ...`.
                let rest = text.get(name_at..).unwrap_or_default().trim_end().trim_end_matches(';');
                self.i = self.toks.len();
                let text = format!("CREATE {} {rest}", if is_table { "TABLE" } else { "TYPE" });
                return Ok(if is_table {
                    Statement::CreateTable { table: name, if_not_exists, text }
                } else {
                    Statement::CreateType { name, if_not_exists, text }
                });
            }
            for feature in ["index", "custom", "materialized", "function", "aggregate", "trigger", "role", "user", "or"]
            {
                if self.kw(feature) {
                    return Ok(Statement::Unsupported(format!("CREATE {}", feature.to_ascii_uppercase())));
                }
            }
            return self.err("KEYSPACE, TABLE or TYPE");
        }
        if self.eat_kw("drop") {
            if self.eat_kw("keyspace") {
                let if_exists = self.if_exists()?;
                return Ok(Statement::DropKeyspace { if_exists, name: self.ident()? });
            }
            if self.eat_kw("table") || self.eat_kw("columnfamily") {
                let if_exists = self.if_exists()?;
                return Ok(Statement::DropTable { if_exists, table: self.qname()? });
            }
            return Ok(Statement::Unsupported("this DROP".into()));
        }
        if self.eat_kw("alter") {
            return Ok(Statement::Unsupported("ALTER".into()));
        }
        if self.eat_kw("truncate") {
            self.eat_kw("table");
            return Ok(Statement::Truncate(self.qname()?));
        }
        if self.eat_kw("insert") {
            self.expect_kw("into")?;
            let table = self.qname()?;
            if self.eat_kw("json") {
                let json = Some(self.term(text)?);
                let if_not_exists = self.if_not_exists()?;
                let using = self.using(text)?;
                return Ok(Statement::Insert { table, columns: vec![], values: vec![], using, if_not_exists, json });
            }
            self.expect('(')?;
            let mut columns = vec![self.ident()?];
            while self.eat(',') {
                columns.push(self.ident()?);
            }
            self.expect(')')?;
            self.expect_kw("values")?;
            self.expect('(')?;
            let mut values = vec![self.term(text)?];
            while self.eat(',') {
                values.push(self.term(text)?);
            }
            self.expect(')')?;
            let if_not_exists = self.if_not_exists()?;
            let using = self.using(text)?;
            return Ok(Statement::Insert { table, columns, values, using, if_not_exists, json: None });
        }
        if self.eat_kw("update") {
            let table = self.qname()?;
            let using = self.using(text)?;
            self.expect_kw("set")?;
            let mut assignments = Vec::new();
            loop {
                let col = self.ident()?;
                if self.eat('.') {
                    let field = self.ident()?;
                    self.expect('=')?;
                    assignments.push(Assignment::SetField(col, field, self.term(text)?));
                } else if self.eat('[') {
                    let k = self.term(text)?;
                    self.expect(']')?;
                    self.expect('=')?;
                    assignments.push(Assignment::SetElement(col, k, self.term(text)?));
                } else {
                    self.expect('=')?;
                    if self.peek() == Some(&Tok::Ident(col.clone())) {
                        self.i += 1;
                        let add = if self.eat('+') {
                            true
                        } else if self.eat('-') {
                            false
                        } else {
                            return self.err("'+' or '-'");
                        };
                        let v = self.term(text)?;
                        assignments.push(if add { Assignment::Add(col, v) } else { Assignment::Remove(col, v) });
                    } else {
                        let v = self.term(text)?;
                        if self.eat('+') {
                            // v + c (prepend to a list)
                            self.ident()?;
                            assignments.push(Assignment::Prepend(col, v));
                        } else {
                            assignments.push(Assignment::Set(col, v));
                        }
                    }
                }
                if !self.eat(',') {
                    break;
                }
            }
            let relations = self.relations(text)?;
            let conditional = self.kw("if");
            if conditional {
                self.i = self.toks.len();
            }
            return Ok(Statement::Update { table, using, assignments, relations, conditional });
        }
        if self.eat_kw("delete") {
            let mut columns = Vec::new();
            if !self.kw("from") {
                loop {
                    let c = self.ident()?;
                    let el = if self.eat('[') {
                        let k = self.term(text)?;
                        self.expect(']')?;
                        Some(k)
                    } else {
                        None
                    };
                    columns.push((c, el));
                    if !self.eat(',') {
                        break;
                    }
                }
            }
            self.expect_kw("from")?;
            let table = self.qname()?;
            let using = self.using(text)?;
            let relations = self.relations(text)?;
            let conditional = self.kw("if");
            if conditional {
                self.i = self.toks.len();
            }
            return Ok(Statement::Delete { table, columns, using, relations, conditional });
        }
        if self.eat_kw("select") {
            let json = self.eat_kw("json");
            let distinct = self.eat_kw("distinct");
            let selectors = if self.eat('*') {
                None
            } else {
                let mut v = Vec::new();
                loop {
                    let s = self.selector()?;
                    let alias = if self.eat_kw("as") { Some(self.ident()?) } else { None };
                    v.push((s, alias));
                    if !self.eat(',') {
                        break;
                    }
                }
                Some(v)
            };
            self.expect_kw("from")?;
            let table = self.qname()?;
            let relations = self.relations(text)?;
            let mut order = Vec::new();
            if self.eat_kw("order") {
                self.expect_kw("by")?;
                loop {
                    let c = self.ident()?;
                    let desc = if self.eat_kw("desc") {
                        true
                    } else {
                        self.eat_kw("asc");
                        false
                    };
                    order.push((c, desc));
                    if !self.eat(',') {
                        break;
                    }
                }
            }
            let mut per_partition_limit = None;
            if self.eat_kw("per") {
                self.expect_kw("partition")?;
                self.expect_kw("limit")?;
                per_partition_limit = Some(self.term(text)?);
            }
            let limit = if self.eat_kw("limit") { Some(self.term(text)?) } else { None };
            let allow_filtering = if self.eat_kw("allow") {
                self.expect_kw("filtering")?;
                true
            } else {
                false
            };
            return Ok(Statement::Select {
                table,
                selectors,
                relations,
                limit,
                per_partition_limit,
                order,
                json,
                distinct,
                allow_filtering,
            });
        }
        if self.eat_kw("begin") {
            let _kind = if self.eat_kw("unlogged") || self.eat_kw("counter") { 1 } else { 0 };
            self.expect_kw("batch")?;
            let using = self.using(text)?;
            let mut statements = Vec::new();
            loop {
                while self.eat(';') {}
                if self.eat_kw("apply") {
                    self.expect_kw("batch")?;
                    break;
                }
                if self.peek().is_none() {
                    return self.err("APPLY BATCH");
                }
                statements.push(self.statement(text)?);
            }
            return Ok(Statement::Batch { statements, using });
        }
        if self.eat_kw("describe") || self.eat_kw("desc") {
            self.eat_kw("full");
            for what in ["keyspaces", "tables", "types", "schema", "cluster"] {
                if self.eat_kw(what) {
                    return Ok(Statement::Describe(what.into(), None));
                }
            }
            for what in ["keyspace", "table", "columnfamily", "type"] {
                if self.eat_kw(what) {
                    let name = if self.peek().is_some() { Some(self.qname()?) } else { None };
                    let what = if what == "columnfamily" { "table" } else { what };
                    return Ok(Statement::Describe(what.into(), name));
                }
            }
            return Ok(Statement::Describe("name".into(), Some(self.qname()?)));
        }
        for feature in ["grant", "revoke", "list"] {
            if self.kw(feature) {
                return Ok(Statement::Unsupported(feature.to_ascii_uppercase()));
            }
        }
        self.err("a statement")
    }
}

/// Parse one statement (a trailing `;` is allowed). Returns it and its number of bind markers.
pub fn parse(text: &str) -> Result<(Statement, usize), SyntaxError> {
    let toks = lex(text)?;
    let mut p = StatementCursor { toks: &toks, i: 0, len: text.len(), binds: 0 };
    let st = p.statement(text)?;
    if matches!(st, Statement::Unsupported(_)) {
        return Ok((st, 0));
    }
    while p.eat(';') {}
    if p.i < toks.len() {
        return p.err("end of statement");
    }
    Ok((st, p.binds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_drivers_and_session_stores_send() {
        let (s, n) = parse("SELECT * FROM system.local WHERE key='local'").expect("parses");
        assert_eq!(n, 0);
        let Statement::Select { table, relations, .. } = s else { panic!() };
        assert_eq!(table, QName { keyspace: Some("system".into()), name: "local".into() });
        assert_eq!(relations[0].values, vec![Term::Literal("'local'".into())]);
        let (s, n) =
            parse("INSERT INTO sessions (sid, data) VALUES (%s, %s) USING TTL 3600".replace("%s", "?").as_str())
                .expect("parses");
        assert_eq!(n, 2);
        let Statement::Insert { using, .. } = s else { panic!() };
        assert_eq!(using.ttl, Some(Term::Literal("3600".into())));
        let (s, _) = parse("DELETE FROM ks.t USING TIMESTAMP 5 WHERE k = 1 AND c > 2;").expect("parses");
        assert!(matches!(s, Statement::Delete { .. }));
        let (s, _) = parse(
            "CREATE TABLE IF NOT EXISTS ks.t (k int, c frozen<list<int>>, PRIMARY KEY (k)) WITH gc_grace_seconds = 10",
        )
        .expect("parses");
        let Statement::CreateTable { if_not_exists, text, .. } = s else { panic!() };
        assert!(if_not_exists && text.starts_with("CREATE TABLE ks.t (k int"));
        let (s, _) = parse("CREATE KEYSPACE IF NOT EXISTS k WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1} AND durable_writes = true").expect("parses");
        let Statement::CreateKeyspace { replication, .. } = s else { panic!() };
        assert_eq!(replication.len(), 2);
        let (s, n) = parse(
            "BEGIN UNLOGGED BATCH INSERT INTO t (k) VALUES (?); UPDATE t SET v = v + {'a': 1} WHERE k = ?; APPLY BATCH",
        )
        .expect("parses");
        assert_eq!(n, 2);
        assert!(matches!(s, Statement::Batch { ref statements, .. } if statements.len() == 2));
        let (s, _) =
            parse("SELECT writetime(v), ttl(v) AS t, count(*) FROM t WHERE token(k) > -5 LIMIT 10 ALLOW FILTERING")
                .expect("parses");
        assert!(matches!(s, Statement::Select { allow_filtering: true, .. }));
        let (_, _) = parse("SELECT * FROM t WHERE id = 123e4567-e89b-12d3-a456-426614174000").expect("uuid literal");
    }

    #[test]
    fn errors_name_the_position() {
        let e = parse("SELECT * FORM t").expect_err("typo");
        assert_eq!(e.position, 9);
        assert!(parse("INSERT INTO t (a) VALUES ('x)").is_err());
        assert!(matches!(parse("CREATE INDEX i ON t (v)").expect("recognised").0, Statement::Unsupported(_)));
    }
}
