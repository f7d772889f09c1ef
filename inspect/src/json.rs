//! A JSON writer that lays text out the way `sstabledump` does.
//!
//! `sstabledump` uses Jackson's `DefaultPrettyPrinter` with two indenters that it switches
//! between "compact" (one space) and "line" (newline + two spaces per level) at fixed points,
//! which is why liveness, deletion and clustering objects stay on one line while rows break.
//! [`JsonOut`] reproduces that state machine; in minimal mode (`--ndjson`) it writes no
//! whitespace at all, like Jackson's `MinimalPrettyPrinter`.

use cairn_format::types::render::{push_int, quote_json};

#[derive(Clone, Copy)]
struct Frame {
    count: usize,
}

/// Streaming JSON text builder.
pub struct JsonOut {
    out: String,
    level: usize,
    /// Objects compact (one space instead of a new line).
    pub objects_compact: bool,
    /// Arrays compact.
    pub arrays_compact: bool,
    minimal: bool,
    stack: Vec<Frame>,
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
            stack: Vec::new(),
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

    fn indent(&mut self, compact: bool) {
        if self.minimal {
            return;
        }
        if compact {
            self.out.push(' ');
        } else {
            self.out.push('\n');
            for _ in 0..self.level {
                self.out.push_str("  ");
            }
        }
    }

    fn before_value(&mut self) {
        if self.after_field {
            self.after_field = false;
            return;
        }
        let compact = self.arrays_compact;
        if let Some(f) = self.stack.last_mut() {
            let first = f.count == 0;
            f.count += 1;
            if !first {
                self.out.push(',');
            }
            self.indent(compact);
        }
    }

    /// `{`
    pub fn begin_object(&mut self) {
        self.before_value();
        self.out.push('{');
        self.level += 1;
        self.stack.push(Frame { count: 0 });
    }

    /// `}`
    pub fn end_object(&mut self) {
        self.level = self.level.saturating_sub(1);
        let f = self.stack.pop().unwrap_or(Frame { count: 0 });
        if f.count > 0 {
            let c = self.objects_compact;
            self.indent(c);
        } else if !self.minimal {
            self.out.push(' ');
        }
        self.out.push('}');
    }

    /// `[`
    pub fn begin_array(&mut self) {
        self.before_value();
        self.level += 1;
        self.out.push('[');
        self.stack.push(Frame { count: 0 });
    }

    /// `]`
    pub fn end_array(&mut self) {
        self.level = self.level.saturating_sub(1);
        let f = self.stack.pop().unwrap_or(Frame { count: 0 });
        if f.count > 0 {
            let c = self.arrays_compact;
            self.indent(c);
        } else if !self.minimal {
            self.out.push(' ');
        }
        self.out.push(']');
    }

    /// A field name; the next value belongs to it.
    pub fn field(&mut self, name: &str) {
        let compact = self.objects_compact;
        if let Some(f) = self.stack.last_mut() {
            let first = f.count == 0;
            f.count += 1;
            if !first {
                self.out.push(',');
            }
            self.indent(compact);
        }
        // Field names are identifiers: written between quotes as they are, unless one would
        // need an escape.
        if name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            self.out.push('"');
            self.out.push_str(name);
            self.out.push_str(if self.minimal { "\":" } else { "\" : " });
        } else {
            quote_json(name, &mut self.out);
            self.out.push_str(if self.minimal { ":" } else { " : " });
        }
        self.after_field = true;
    }

    /// A string value.
    pub fn string(&mut self, s: &str) {
        self.before_value();
        quote_json(s, &mut self.out);
    }

    /// A raw (already JSON) value.
    pub fn raw(&mut self, s: &str) {
        self.before_value();
        self.out.push_str(s);
    }

    /// The buffer to append one value to, formatted in place (its separators already written):
    /// the caller writes exactly one complete JSON value.
    pub fn value_buf(&mut self) -> &mut String {
        self.before_value();
        &mut self.out
    }

    /// A string value whose text the caller appends in place between the quotes; the text must
    /// need no JSON escape (digits and punctuation: timestamps).
    pub fn plain_string_with(&mut self, write: impl FnOnce(&mut String)) {
        self.before_value();
        self.out.push('"');
        write(&mut self.out);
        self.out.push('"');
    }

    /// A number.
    pub fn number(&mut self, n: impl itoa::Integer) {
        self.before_value();
        push_int(&mut self.out, n);
    }

    /// A boolean.
    pub fn boolean(&mut self, b: bool) {
        self.raw(if b { "true" } else { "false" });
    }

    /// `name : "value"`.
    pub fn field_string(&mut self, name: &str, v: &str) {
        self.field(name);
        self.string(v);
    }

    /// `name : number`.
    pub fn field_number(&mut self, name: &str, n: impl itoa::Integer) {
        self.field(name);
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
        j.field("key");
        j.objects_compact = true;
        j.arrays_compact = true;
        j.begin_array();
        j.string("k1");
        j.end_array();
        j.objects_compact = false;
        j.arrays_compact = false;
        j.field_number("position", 0);
        j.field("rows");
        j.begin_array();
        j.end_array();
        j.end_object();
        j.end_array();
        assert_eq!(j.take(), "[\n  {\n    \"key\" : [ \"k1\" ],\n    \"position\" : 0,\n    \"rows\" : [ ]\n  }\n]");
    }

    #[test]
    fn field_names_are_escaped_only_when_they_need_it() {
        let mut j = JsonOut::minimal();
        j.begin_object();
        j.field_number("plain_1", -7i64);
        j.field_string("a\"b c", "x");
        j.end_object();
        assert_eq!(j.take(), r#"{"plain_1":-7,"a\"b c":"x"}"#);
    }
}
