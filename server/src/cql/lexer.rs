//! The statement lexer: `cairn_format`'s CQL lexer (the one the schema parser reads, so the node
//! and the offline tools split CQL text the same way), with unquoted words folded to lower case
//! as CQL folds them, and only the symbols statements use.

pub use cairn_format::schema::lexer::Token as Tok;

/// A syntax error at a byte position of the statement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line 1:{position} {message}")]
pub struct SyntaxError {
    /// Byte offset.
    pub position: usize,
    /// What was expected.
    pub message: String,
}

/// The symbols a statement may hold.
const SYMBOLS: &str = "(),;=<>.*?:{}[]+-";

/// Split a statement into tokens with their byte positions.
pub fn lex(text: &str) -> Result<Vec<(Tok, usize)>, SyntaxError> {
    let toks =
        cairn_format::schema::lexer::lex(text).map_err(|e| SyntaxError { position: e.position, message: e.message })?;
    toks.into_iter()
        .map(|(t, at)| match t {
            Tok::Ident(w) => Ok((Tok::Ident(w.to_ascii_lowercase()), at)),
            Tok::Sym(c) if !SYMBOLS.contains(c) => {
                Err(SyntaxError { position: at, message: format!("unexpected character '{c}'") })
            }
            t => Ok((t, at)),
        })
        .collect()
}
