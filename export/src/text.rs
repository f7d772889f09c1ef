//! Text formats: CSV and NDJSON rows. CSV has a header line and values as cqlsh prints them
//! (RFC 4180 quoting, an empty field for null, `""` for an empty string, as PostgreSQL's and
//! DuckDB's CSV readers tell them apart); NDJSON has one JSON object per row, keyed by
//! column name, values as CQL's JSON (`SELECT JSON`) renders them, null for null. Both come from
//! [`cairn_format::types::render`].

use cairn_format::types::value::Value;

use crate::columns::Column;

/// A CSV field, quoted when it holds a comma, a quote or a line break, or is empty (an empty
/// field is a null).
pub(crate) fn csv_field(s: &str) -> String {
    if s.is_empty() || s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// `n` rows given column by column, as CSV lines (`csv`) or NDJSON lines.
pub(crate) fn render_text(cols: &[Column], values: &[Vec<Option<Value<'_>>>], n: usize, csv: bool) -> String {
    use cairn_format::types::render;
    let mut out = String::new();
    for r in 0..n {
        if csv {
            let fields: Vec<String> = cols
                .iter()
                .zip(values)
                .map(|(c, v)| match v.get(r) {
                    Some(Some(Value::Null | Value::Empty)) | Some(None) | None => String::new(),
                    Some(Some(x)) => csv_field(&render::to_cql_string(&c.ty, x)),
                })
                .collect();
            out.push_str(&fields.join(","));
            out.push('\n');
        } else {
            out.push('{');
            let mut first = true;
            for (c, v) in cols.iter().zip(values) {
                if !first {
                    out.push(',');
                }
                first = false;
                render::quote_json(&c.name, &mut out);
                out.push(':');
                match v.get(r) {
                    Some(Some(Value::Null | Value::Empty)) | Some(None) | None => out.push_str("null"),
                    Some(Some(x)) => render::write_json(&c.ty, x, &mut out),
                }
            }
            out.push_str("}\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::columns::Source;
    use cairn_format::types::CqlType;

    #[test]
    fn csv_tells_an_empty_string_from_a_null() {
        let field = arrow_schema::Field::new("t", arrow_schema::DataType::Utf8, true);
        let col = Column { name: "t".into(), ty: CqlType::Text, source: Source::Regular(0), field };
        let values = vec![vec![Some(Value::Text("")), None, Some(Value::Text("a,b"))]];
        assert_eq!(render_text(&[col], &values, 3, true), "\"\"\n\n\"a,b\"\n");
    }
}
