//! The CQL lexer, the one both CQL parsers read: the schema parser ([`super::cql`]: `CREATE
//! TYPE` / `CREATE TABLE` of `schema.cql` files) and the node's statement parser
//! (`cairn-server`'s `cql::parser`). Tokens are words (case kept; CQL folds unquoted names, the
//! parsers do), double-quoted names, string literals (`'...'` with `''` escapes, or `$$...$$`),
//! numbers, UUIDs, blobs (`0x...`), the two-character operators `<=`, `>=`, `!=`, and single
//! ASCII symbols — each with the byte offset where it starts. Comments (`--`, `//`, `/* */`)
//! are skipped. The lexical rules are those of Cassandra's `Lexer.g` (`cql3/` grammar), in the
//! subset the parsers use.

use std::fmt;

use super::cql::CqlError;

/// A token.
#[derive(Debug, Clone, PartialEq)]
pub enum Token {
    /// An identifier or keyword, unquoted, case kept.
    Ident(String),
    /// A double-quoted identifier (unescaped, case kept).
    Quoted(String),
    /// A string literal (unescaped).
    Str(String),
    /// A number as written (`-1`, `1.5`, `1e-3`, `NaN` is an identifier).
    Number(String),
    /// A UUID as written.
    Uuid(String),
    /// A blob literal `0x...` as written.
    Hex(String),
    /// A single ASCII symbol.
    Sym(char),
    /// `<=`, `>=`, `!=`.
    Op(&'static str),
}

impl fmt::Display for Token {
    /// The token as CQL text (quoted names and strings re-escaped).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Ident(w) | Token::Number(w) | Token::Uuid(w) | Token::Hex(w) => f.write_str(w),
            Token::Quoted(q) => write!(f, "\"{}\"", q.replace('"', "\"\"")),
            Token::Str(s) => write!(f, "'{}'", s.replace('\'', "''")),
            Token::Sym(c) => write!(f, "{c}"),
            Token::Op(o) => f.write_str(o),
        }
    }
}

/// Whether `s` starts with a UUID (8-4-4-4-12 hex digits) not followed by a word character.
fn is_uuid_at(s: &[u8]) -> bool {
    s.get(..36).is_some_and(|u| {
        u.iter().enumerate().all(|(i, c)| if [8, 13, 18, 23].contains(&i) { *c == b'-' } else { c.is_ascii_hexdigit() })
    }) && s.get(36).is_none_or(|c| !c.is_ascii_alphanumeric() && *c != b'_')
}

/// Split CQL text into tokens with their byte offsets.
pub fn lex(text: &str) -> Result<Vec<(Token, usize)>, CqlError> {
    let b = text.as_bytes();
    let at = |i: usize| b.get(i).copied();
    let slice = |from: usize, to: usize| text.get(from..to).unwrap_or_default().to_string();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(c) = at(i) {
        let start = i;
        let next = at(i + 1);
        if c.is_ascii_whitespace() {
            i += 1;
        } else if (c == b'-' && next == Some(b'-')) || (c == b'/' && next == Some(b'/')) {
            while at(i).is_some_and(|x| x != b'\n') {
                i += 1;
            }
        } else if c == b'/' && next == Some(b'*') {
            let end = text
                .get(i + 2..)
                .and_then(|t| t.find("*/"))
                .ok_or(CqlError { position: start, message: "unterminated comment".into() })?;
            i += end + 4;
        } else if is_uuid_at(b.get(i..).unwrap_or_default()) {
            out.push((Token::Uuid(slice(i, i + 36)), start));
            i += 36;
        } else if c == b'0' && matches!(next, Some(b'x' | b'X')) {
            i += 2;
            while at(i).is_some_and(|x| x.is_ascii_hexdigit()) {
                i += 1;
            }
            out.push((Token::Hex(slice(start, i)), start));
        } else if c.is_ascii_digit() || (c == b'-' && next.is_some_and(|x| x.is_ascii_digit())) {
            i += 1;
            while let Some(x) = at(i) {
                let exponent_sign = matches!(x, b'-' | b'+') && matches!(at(i - 1), Some(b'e' | b'E'));
                if !(x.is_ascii_alphanumeric() || x == b'.' || exponent_sign) {
                    break;
                }
                i += 1;
            }
            out.push((Token::Number(slice(start, i)), start));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while at(i).is_some_and(|x| x.is_ascii_alphanumeric() || x == b'_') {
                i += 1;
            }
            out.push((Token::Ident(slice(start, i)), start));
        } else if c == b'\'' || c == b'"' {
            i += 1;
            let mut s = String::new();
            loop {
                let Some(ch) = text.get(i..).and_then(|t| t.chars().next()) else {
                    return Err(CqlError { position: start, message: "unterminated string or quoted name".into() });
                };
                if ch as u32 == u32::from(c) {
                    if at(i + 1) == Some(c) {
                        s.push(ch);
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                s.push(ch);
                i += ch.len_utf8();
            }
            out.push((if c == b'\'' { Token::Str(s) } else { Token::Quoted(s) }, start));
        } else if c == b'$' && next == Some(b'$') {
            let end = text
                .get(i + 2..)
                .and_then(|t| t.find("$$"))
                .ok_or(CqlError { position: start, message: "unterminated $$ string".into() })?;
            out.push((Token::Str(slice(i + 2, i + 2 + end)), start));
            i += end + 4;
        } else if matches!((c, next), (b'<' | b'>' | b'!', Some(b'='))) {
            let op = match c {
                b'<' => "<=",
                b'>' => ">=",
                _ => "!=",
            };
            out.push((Token::Op(op), start));
            i += 2;
        } else if c.is_ascii_punctuation() {
            out.push((Token::Sym(c as char), start));
            i += 1;
        } else {
            let ch = text.get(i..).and_then(|t| t.chars().next()).unwrap_or('?');
            return Err(CqlError { position: start, message: format!("unexpected character '{ch}'") });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tokens_of_both_parsers() {
        let toks: Vec<Token> =
            lex("SELECT \"K\", v FROM ks.t WHERE k >= -1.5e-3 AND u = 5a8b4c1e-0000-4000-8000-000000000000 \
             AND b = 0xCAFE AND s = 'it''s' AND f = $$x$$ -- c\n /* c */ LIMIT ?;")
            .expect("lexes")
            .into_iter()
            .map(|(t, _)| t)
            .collect();
        assert_eq!(toks[1], Token::Quoted("K".into()));
        assert!(toks.contains(&Token::Op(">=")));
        assert!(toks.contains(&Token::Number("-1.5e-3".into())));
        assert!(toks.contains(&Token::Uuid("5a8b4c1e-0000-4000-8000-000000000000".into())));
        assert!(toks.contains(&Token::Hex("0xCAFE".into())));
        assert!(toks.contains(&Token::Str("it's".into())));
        assert!(toks.contains(&Token::Str("x".into())));
        assert_eq!(toks.last(), Some(&Token::Sym(';')));
        assert_eq!(toks.iter().filter(|t| **t == Token::Ident("LIMIT".into())).count(), 1);
        let e = lex("SELECT 'open").expect_err("unterminated");
        assert_eq!(e.position, 7);
        assert!(lex("/* open").is_err());
        assert!(lex("a é").is_err());
    }
}
