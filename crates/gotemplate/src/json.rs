//! JSON written the way Go's `encoding/json` `MarshalIndent(v, "", "  ")` writes it: object
//! keys sorted, `<`, `>`, `&`, U+2028 and U+2029 escaped, empty containers as `[]` / `{}`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A JSON value (objects keep their keys sorted, like Go's maps).
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    /// `null`
    Null,
    /// `true` / `false`
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(String),
    /// An array.
    Array(Vec<Json>),
    /// An object.
    Object(BTreeMap<String, Json>),
}

impl Json {
    /// Indented text, two spaces per level, as Go's `json.MarshalIndent(v, "", "  ")`.
    pub fn to_indented(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, Some(0));
        out
    }

    /// Compact text, as Go's `json.Marshal`.
    pub fn to_compact(&self) -> String {
        let mut out = String::new();
        self.write(&mut out, None);
        out
    }

    fn write(&self, out: &mut String, indent: Option<usize>) {
        let newline = |out: &mut String, level: usize| {
            if indent.is_some() {
                out.push('\n');
                for _ in 0..level {
                    out.push_str("  ");
                }
            }
        };
        let level = indent.unwrap_or(0);
        let inner = indent.map(|l| l + 1);
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => {
                let _ = write!(out, "{b}");
            }
            Json::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Json::Float(f) => out.push_str(&format_json_float(*f)),
            Json::Str(s) => write_string(out, s),
            Json::Array(items) => {
                if items.is_empty() {
                    out.push_str("[]");
                    return;
                }
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, level + 1);
                    item.write(out, inner);
                }
                newline(out, level);
                out.push(']');
            }
            Json::Object(map) => {
                if map.is_empty() {
                    out.push_str("{}");
                    return;
                }
                out.push('{');
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    newline(out, level + 1);
                    write_string(out, k);
                    out.push(':');
                    if indent.is_some() {
                        out.push(' ');
                    }
                    v.write(out, inner);
                }
                newline(out, level);
                out.push('}');
            }
        }
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Go's float encoding: `strconv.FormatFloat(f, 'f', -1, 64)` for 1e-6 <= |f| < 1e21,
/// else the shortest exponent form with a two-digit minimum exponent cleaned up (`1e-07` ->
/// `1e-7`).
fn format_json_float(f: f64) -> String {
    if !f.is_finite() {
        return "null".to_owned();
    }
    let abs = f.abs();
    if abs == 0.0 || (1e-6..1e21).contains(&abs) {
        let s = format!("{f}");
        return s;
    }
    let s = format!("{f:e}");
    // Rust writes `1e-7` / `1.5e21`; Go writes `1e-07` then trims to `1e-7`, and `1.5e+21`.
    match s.split_once('e') {
        Some((mantissa, exp)) if !exp.starts_with('-') => format!("{mantissa}e+{exp}"),
        _ => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indents_like_go() {
        let mut inner = BTreeMap::new();
        inner.insert("b".to_owned(), Json::Array(vec![]));
        inner.insert("a".to_owned(), Json::Array(vec![Json::Int(1), Json::Null]));
        let mut outer = BTreeMap::new();
        outer.insert("x".to_owned(), Json::Object(inner));
        outer.insert("e".to_owned(), Json::Object(BTreeMap::new()));
        let text = Json::Object(outer).to_indented();
        assert_eq!(
            text,
            "{\n  \"e\": {},\n  \"x\": {\n    \"a\": [\n      1,\n      null\n    ],\n    \"b\": []\n  }\n}"
        );
    }

    #[test]
    fn escapes_html_characters_like_go() {
        assert_eq!(
            Json::Str("<a href=\"x\">&\u{1}\n".to_owned()).to_compact(),
            r#""\u003ca href=\"x\"\u003e\u0026\u0001\n""#
        );
    }

    #[test]
    fn floats() {
        assert_eq!(Json::Float(1.5).to_compact(), "1.5");
        assert_eq!(Json::Float(100.0).to_compact(), "100");
        assert_eq!(Json::Float(1e21).to_compact(), "1e+21");
        assert_eq!(Json::Float(1e-7).to_compact(), "1e-7");
    }
}
