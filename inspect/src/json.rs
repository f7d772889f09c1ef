//! A JSON writer that lays text out the way `sstabledump` does.
//!
//! `sstabledump` uses Jackson's `DefaultPrettyPrinter` with two indenters that it switches
//! between "compact" (one space) and "line" (newline + two spaces per level) at fixed points,
//! which is why liveness, deletion and clustering objects stay on one line while rows break.
//! [`JsonOut`] reproduces that state machine; in minimal mode (`--ndjson`) it writes no
//! whitespace at all, like Jackson's `MinimalPrettyPrinter`.

use cairn_format::types::render::{push_int, quote_json};

/// A field name that is written between quotes as it is: letters, digits and `_` only, which
/// [`Name::new`] checks (at compile time through [`name!`](crate::name)). It carries its text
/// as written in both layouts, quotes and colon included.
#[derive(Clone, Copy, Debug)]
pub struct Name {
    minimal: &'static str,
    pretty: &'static str,
}

impl Name {
    /// A field name; panics (in a `const`, fails to compile) unless `name` is letters, digits
    /// and `_`, and `minimal` / `pretty` are `"name":` / `"name" : `. Use [`name!`](crate::name).
    pub const fn new(name: &'static str, minimal: &'static str, pretty: &'static str) -> Name {
        let b = name.as_bytes();
        let (m, p) = (minimal.as_bytes(), pretty.as_bytes());
        assert!(m.len() == b.len() + 3 && p.len() == b.len() + 5, "a name's texts are \"name\": and \"name\" : ");
        assert!(m[0] == b'"' && p[0] == b'"', "a name's texts start with a quote");
        let mut i = 0;
        while i < b.len() {
            assert!(b[i].is_ascii_alphanumeric() || b[i] == b'_', "field names are letters, digits and _");
            assert!(m[i + 1] == b[i] && p[i + 1] == b[i], "a name's texts hold the name");
            i += 1;
        }
        let n = b.len();
        assert!(m[n + 1] == b'"' && m[n + 2] == b':', "the minimal text ends with \":");
        assert!(
            p[n + 1] == b'"' && p[n + 2] == b' ' && p[n + 3] == b':' && p[n + 4] == b' ',
            "the pretty text ends with \" : "
        );
        Name { minimal, pretty }
    }
}

/// A [`Name`] checked at compile time: `name!("tstamp")`.
#[macro_export]
macro_rules! name {
    ($s:literal) => {
        const { $crate::json::Name::new($s, concat!("\"", $s, "\":"), concat!("\"", $s, "\" : ")) }
    };
}

/// Spaces for pretty indentation, two a level.
const SPACES: &str = "                                                                ";

/// Streaming JSON text builder.
pub struct JsonOut {
    out: String,
    level: usize,
    /// Objects compact (one space instead of a new line).
    pub objects_compact: bool,
    /// Arrays compact.
    pub arrays_compact: bool,
    minimal: bool,
    /// Whether the innermost open object or array holds an item already: the next one is
    /// preceded by a comma. One flag serves every level: a container that closes is an item
    /// of the one around it, so the flag is true again after it. It means nothing at level 0,
    /// where nothing is separated (`--ndjson` writes its top-level objects one after another).
    has_items: bool,
    /// A field name was just written: the next value is its value, with no separator before it.
    after_field: bool,
}

impl JsonOut {
    /// A pretty (sstabledump) writer.
    pub fn pretty() -> Self {
        Self::new(false)
    }

    /// A minimal (one line, no whitespace) writer.
    pub fn minimal() -> Self {
        Self::new(true)
    }

    fn new(minimal: bool) -> Self {
        JsonOut {
            out: String::new(),
            level: 0,
            objects_compact: false,
            arrays_compact: false,
            minimal,
            has_items: false,
            after_field: false,
        }
    }

    /// Take the text written so far.
    pub fn take(&mut self) -> String {
        std::mem::take(&mut self.out)
    }

    /// Forget the text written so far, keeping the buffer (after it was written out).
    pub fn clear(&mut self) {
        self.out.clear();
    }

    /// Append a newline (between `--ndjson` lines).
    pub fn newline(&mut self) {
        self.out.push('\n');
    }

    /// Text written so far.
    pub fn as_str(&self) -> &str {
        &self.out
    }

    /// The whitespace before a value, a field or a closing bracket; none in minimal mode.
    #[inline(always)]
    fn indent(&mut self, compact: bool) {
        if !self.minimal {
            self.pretty_indent(compact);
        }
    }

    /// [`Self::indent`]'s pretty layout, out of line: every `--ndjson` row skips it.
    #[inline(never)]
    fn pretty_indent(&mut self, compact: bool) {
        if compact {
            self.out.push(' ');
        } else {
            self.out.push('\n');
            match SPACES.get(..self.level * 2) {
                Some(spaces) => self.out.push_str(spaces),
                None => (0..self.level).for_each(|_| self.out.push_str("  ")),
            }
        }
    }

    #[inline(always)]
    fn before_value(&mut self) {
        if self.after_field {
            self.after_field = false;
            return;
        }
        self.separate(self.arrays_compact);
    }

    /// The comma (after an item) and indentation before an item of the innermost container;
    /// nothing at the top level (level 0), which `--ndjson` lines rely on.
    #[inline(always)]
    fn separate(&mut self, compact: bool) {
        if self.level > 0 {
            if self.has_items {
                self.out.push(',');
            }
            self.has_items = true;
            self.indent(compact);
        }
    }

    /// `{`
    #[inline]
    pub fn begin_object(&mut self) {
        self.before_value();
        self.out.push('{');
        self.level += 1;
        self.has_items = false;
    }

    /// `}`
    #[inline]
    pub fn end_object(&mut self) {
        self.close(self.objects_compact, '}');
    }

    /// `[`
    #[inline]
    pub fn begin_array(&mut self) {
        self.before_value();
        self.level += 1;
        self.out.push('[');
        self.has_items = false;
    }

    /// `]`
    #[inline]
    pub fn end_array(&mut self) {
        self.close(self.arrays_compact, ']');
    }

    /// Close the innermost container with `bracket`: after the indentation when it holds items,
    /// else after one space (pretty) or nothing (minimal). Every close follows its open (a
    /// close with nothing open is a caller's bug: its whitespace is not specified).
    #[inline(always)]
    fn close(&mut self, compact: bool, bracket: char) {
        self.level = self.level.saturating_sub(1);
        if self.has_items {
            self.indent(compact);
        } else if !self.minimal {
            self.out.push(' ');
        }
        self.out.push(bracket);
        // The closed container is an item of the one around it.
        self.has_items = true;
    }

    /// The separator before a field name.
    #[inline(always)]
    fn before_field(&mut self) {
        self.separate(self.objects_compact);
        self.after_field = true;
    }

    /// A field name; the next value belongs to it.
    pub fn field(&mut self, name: &str) {
        // Field names are identifiers: written between quotes as they are, unless one would
        // need an escape.
        if name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            self.before_field();
            self.out.push('"');
            self.out.push_str(name);
            self.out.push_str(if self.minimal { "\":" } else { "\" : " });
        } else {
            self.before_field();
            quote_json(name, &mut self.out);
            self.out.push_str(if self.minimal { ":" } else { " : " });
        }
    }

    /// A field name known to need no escape ([`field`](Self::field) without the check).
    #[inline(always)]
    pub fn key(&mut self, name: Name) {
        self.before_field();
        // Two calls, each of a length known where the name is a constant (no copy routine).
        if self.minimal {
            self.out.push_str(name.minimal);
        } else {
            self.out.push_str(name.pretty);
        }
    }

    /// A string value.
    pub fn string(&mut self, s: &str) {
        self.before_value();
        quote_json(s, &mut self.out);
    }

    /// A raw (already JSON) value.
    #[inline(always)]
    pub fn raw(&mut self, s: &str) {
        self.before_value();
        self.out.push_str(s);
    }

    /// The buffer to append one value to, formatted in place (its separators already written):
    /// the caller writes exactly one complete JSON value. A caller that fails to format it must
    /// not go on writing (`dump` then prints only the partitions it completed before).
    #[inline]
    pub fn value_buf(&mut self) -> &mut String {
        self.before_value();
        &mut self.out
    }

    /// A string value whose text the caller appends in place between the quotes; the text must
    /// need no JSON escape (digits and punctuation: timestamps).
    #[inline]
    pub fn plain_string_with(&mut self, write: impl FnOnce(&mut String)) {
        self.before_value();
        self.out.push('"');
        write(&mut self.out);
        self.out.push('"');
    }

    /// A number.
    #[inline]
    pub fn number(&mut self, n: impl itoa::Integer) {
        self.before_value();
        push_int(&mut self.out, n);
    }

    /// A boolean.
    #[inline]
    pub fn boolean(&mut self, b: bool) {
        if b {
            self.raw("true");
        } else {
            self.raw("false");
        }
    }

    /// `name : "value"`.
    #[inline(always)]
    pub fn field_string(&mut self, name: Name, v: &str) {
        self.key(name);
        self.string(v);
    }

    /// `name : number`.
    #[inline(always)]
    pub fn field_number(&mut self, name: Name, n: impl itoa::Integer) {
        self.key(name);
        self.number(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mirrors_jackson_compact_switching() {
        let mut j = JsonOut::pretty();
        j.begin_array();
        j.begin_object();
        j.key(crate::name!("key"));
        j.objects_compact = true;
        j.arrays_compact = true;
        j.begin_array();
        j.string("k1");
        j.end_array();
        j.objects_compact = false;
        j.arrays_compact = false;
        j.field_number(crate::name!("position"), 0);
        j.key(crate::name!("rows"));
        j.begin_array();
        j.end_array();
        j.end_object();
        j.end_array();
        assert_eq!(j.take(), "[\n  {\n    \"key\" : [ \"k1\" ],\n    \"position\" : 0,\n    \"rows\" : [ ]\n  }\n]");
    }

    #[test]
    fn commas_separate_items_at_every_level_and_none_lead_a_container() {
        let mut j = JsonOut::minimal();
        for _ in 0..2 {
            j.begin_object();
            j.key(crate::name!("a"));
            j.begin_array();
            j.begin_object();
            j.key(crate::name!("b"));
            j.begin_array();
            j.end_array();
            j.end_object();
            j.begin_object();
            j.end_object();
            j.number(7);
            j.end_array();
            j.field_number(crate::name!("c"), 1);
            j.end_object();
            j.newline();
        }
        assert_eq!(j.take(), "{\"a\":[{\"b\":[]},{},7],\"c\":1}\n".repeat(2));
    }

    #[test]
    fn pretty_containers_after_a_closed_sibling() {
        let mut j = JsonOut::pretty();
        j.begin_array();
        j.begin_object();
        j.key(crate::name!("a"));
        j.begin_array();
        j.end_array();
        j.end_object();
        j.begin_object();
        j.end_object();
        j.end_array();
        assert_eq!(j.take(), "[\n  {\n    \"a\" : [ ]\n  },\n  { }\n]");
    }

    #[test]
    fn field_names_are_escaped_only_when_they_need_it() {
        let mut j = JsonOut::minimal();
        j.begin_object();
        j.field_number(crate::name!("plain_1"), -7i64);
        j.field("a\"b c");
        j.string("x");
        j.field("plain_2");
        j.number(3);
        j.end_object();
        assert_eq!(j.take(), r#"{"plain_1":-7,"a\"b c":"x","plain_2":3}"#);
    }
}
