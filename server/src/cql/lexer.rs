//! The CQL lexer: words, quoted names, string, numeric, blob, UUID literals, bind markers and
//! symbols, each with the byte offset where it starts.

/// A syntax error at a byte position of the statement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line 1:{position} {message}")]
pub struct SyntaxError {
    /// Byte offset.
    pub position: usize,
    /// What was expected.
    pub message: String,
}

/// A token.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// An identifier or keyword (unquoted: lower-cased).
    Ident(String),
    /// A double-quoted identifier (case kept).
    Quoted(String),
    /// A string literal (unescaped).
    Str(String),
    /// A number as written.
    Number(String),
    /// A UUID as written.
    Uuid(String),
    /// A blob literal `0x...` as written.
    Hex(String),
    /// Punctuation.
    Sym(char),
    /// `<=`, `>=`, `!=`.
    Op(&'static str),
}

fn is_uuid_at(s: &[u8]) -> bool {
    s.len() >= 36
        && s[..36]
            .iter()
            .enumerate()
            .all(|(i, c)| if [8, 13, 18, 23].contains(&i) { *c == b'-' } else { c.is_ascii_hexdigit() })
        && s.get(36).is_none_or(|c| !c.is_ascii_alphanumeric() && *c != b'_')
}

/// Split a statement into tokens with their byte positions.
pub fn lex(text: &str) -> Result<Vec<(Tok, usize)>, SyntaxError> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
        } else if c == b'-' && b.get(i + 1) == Some(&b'-') || c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            i += 2;
            while i + 1 < b.len() && !(b[i] == b'*' && b[i + 1] == b'/') {
                i += 1;
            }
            i += 2;
        } else if is_uuid_at(&b[i..]) {
            out.push((Tok::Uuid(text[i..i + 36].to_string()), start));
            i += 36;
        } else if c == b'0' && matches!(b.get(i + 1), Some(b'x' | b'X')) {
            i += 2;
            while i < b.len() && b[i].is_ascii_hexdigit() {
                i += 1;
            }
            out.push((Tok::Hex(text[start..i].to_string()), start));
        } else if c.is_ascii_digit() || (c == b'-' && b.get(i + 1).is_some_and(u8::is_ascii_digit)) {
            i += 1;
            while i < b.len()
                && (b[i].is_ascii_alphanumeric()
                    || b[i] == b'.'
                    || ((b[i] == b'-' || b[i] == b'+') && matches!(b[i - 1], b'e' | b'E')))
            {
                i += 1;
            }
            out.push((Tok::Number(text[start..i].to_string()), start));
        } else if c.is_ascii_alphabetic() || c == b'_' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
                i += 1;
            }
            out.push((Tok::Ident(text[start..i].to_ascii_lowercase()), start));
        } else if c == b'\'' || c == b'"' {
            let q = c;
            i += 1;
            let mut s = Vec::new();
            loop {
                match b.get(i) {
                    None => return Err(SyntaxError { position: start, message: "unterminated quoted text".into() }),
                    Some(&x) if x == q && b.get(i + 1) == Some(&q) => {
                        s.push(q);
                        i += 2;
                    }
                    Some(&x) if x == q => {
                        i += 1;
                        break;
                    }
                    Some(&x) => {
                        s.push(x);
                        i += 1;
                    }
                }
            }
            let s =
                String::from_utf8(s).map_err(|_| SyntaxError { position: start, message: "invalid UTF-8".into() })?;
            out.push((if q == b'\'' { Tok::Str(s) } else { Tok::Quoted(s) }, start));
        } else if c == b'$' && b.get(i + 1) == Some(&b'$') {
            let end = text[i + 2..]
                .find("$$")
                .ok_or(SyntaxError { position: start, message: "unterminated $$ string".into() })?;
            out.push((Tok::Str(text[i + 2..i + 2 + end].to_string()), start));
            i += end + 4;
        } else if matches!((c, b.get(i + 1)), (b'<' | b'>' | b'!', Some(b'='))) {
            out.push((
                Tok::Op(match c {
                    b'<' => "<=",
                    b'>' => ">=",
                    _ => "!=",
                }),
                start,
            ));
            i += 2;
        } else if b"(),;=<>.*?:{}[]+-".contains(&c) {
            out.push((Tok::Sym(c as char), start));
            i += 1;
        } else {
            return Err(SyntaxError { position: start, message: format!("unexpected character '{}'", c as char) });
        }
    }
    Ok(out)
}
