//! The functions a template can call: Go's built-ins and the original's extras
//! (`ToUpper`, `ToLower`, `ToJSON`, `Title`).

use std::cmp::Ordering;
use std::fmt::Write as _;

use crate::fmt::{sprint, sprintf, sprintln};
use crate::value::Value;

const FUNCTIONS: &[&str] = &[
    "and", "or", "not", "len", "index", "slice", "print", "printf", "println", "eq", "ne", "lt",
    "le", "gt", "ge", "html", "js", "urlquery", "call", "ToUpper", "ToLower", "ToJSON", "Title",
];

pub(crate) fn is_function(name: &str) -> bool {
    FUNCTIONS.contains(&name)
}

fn exactly(name: &str, args: &[Value], n: usize) -> Result<(), String> {
    if args.len() == n {
        Ok(())
    } else {
        Err(format!(
            "wrong number of args for {name}: want {n} got {}",
            args.len()
        ))
    }
}

fn string_arg(name: &str, v: &Value) -> Result<String, String> {
    match v.basic() {
        Value::Str(s) => Ok(s.to_string()),
        _ => Err(format!(
            "wrong type for value in {name}; expected string; got {}",
            v.type_name()
        )),
    }
}

/// Go's `evalArgs` for the escapers: a single string as is, else `fmt.Sprint`.
fn escaper_input(args: &[Value]) -> String {
    if let [one] = args
        && let Value::Str(s) = one.basic()
    {
        return s.to_string();
    }
    // Go's printableValue: nil and a missing value both print as `<no value>` here.
    let args: Vec<Value> = args
        .iter()
        .map(|a| match a {
            Value::Nil | Value::NoValue => Value::from("<no value>"),
            other => other.clone(),
        })
        .collect();
    sprint(&args)
}

/// Calls function `name` (every function except the short-circuiting `and` and `or`).
pub(crate) fn call(name: &str, args: &[Value]) -> Result<Value, String> {
    match name {
        "and" | "or" => {
            // Reached only through `call_logic` callers that evaluated eagerly.
            if args.is_empty() {
                return Err(format!(
                    "wrong number of args for {name}: want at least 1 got 0"
                ));
            }
            let want = name == "or";
            Ok(args
                .iter()
                .find(|a| a.truthy() == want)
                .unwrap_or(&args[args.len() - 1])
                .clone())
        }
        "not" => {
            exactly(name, args, 1)?;
            Ok(Value::Bool(!args[0].truthy()))
        }
        "len" => {
            exactly(name, args, 1)?;
            let n = match args[0].basic() {
                Value::Str(s) => s.len(),
                Value::List(l) => l.len(),
                Value::Map(m) => m.len(),
                _ => return Err(format!("len of type {}", args[0].type_name())),
            };
            Ok(Value::Int(i64::try_from(n).unwrap_or(i64::MAX)))
        }
        "index" => {
            let Some((first, indexes)) = args.split_first() else {
                return Err("wrong number of args for index: want at least 1 got 0".to_owned());
            };
            let mut item = first.clone();
            for index in indexes {
                item = index_one(&item, index)?;
            }
            Ok(item)
        }
        "slice" => slice(args),
        "print" => Ok(Value::from(sprint(args))),
        "println" => Ok(Value::from(sprintln(args))),
        "printf" => {
            let Some((format, rest)) = args.split_first() else {
                return Err("wrong number of args for printf: want at least 1 got 0".to_owned());
            };
            Ok(Value::from(sprintf(&string_arg(name, format)?, rest)))
        }
        "eq" => {
            let Some((first, rest)) = args.split_first() else {
                return Err("missing argument for comparison".to_owned());
            };
            if rest.is_empty() {
                return Err("missing argument for comparison".to_owned());
            }
            for other in rest {
                if equal(first, other)? {
                    return Ok(Value::Bool(true));
                }
            }
            Ok(Value::Bool(false))
        }
        "ne" => {
            exactly(name, args, 2)?;
            Ok(Value::Bool(!equal(&args[0], &args[1])?))
        }
        "lt" | "le" | "gt" | "ge" => {
            exactly(name, args, 2)?;
            let ord = order(&args[0], &args[1])?;
            Ok(Value::Bool(match name {
                "lt" => ord == Ordering::Less,
                "le" => ord != Ordering::Greater,
                "gt" => ord == Ordering::Greater,
                _ => ord != Ordering::Less,
            }))
        }
        "html" => Ok(Value::from(html_escape(&escaper_input(args)))),
        "js" => Ok(Value::from(js_escape(&escaper_input(args)))),
        "urlquery" => Ok(Value::from(query_escape(&escaper_input(args)))),
        "call" => Err("call of a non-function: templates here have no function values".to_owned()),
        "ToUpper" => {
            exactly(name, args, 1)?;
            Ok(Value::from(go_to_upper(&string_arg(name, &args[0])?)))
        }
        "ToLower" => {
            exactly(name, args, 1)?;
            Ok(Value::from(go_to_lower(&string_arg(name, &args[0])?)))
        }
        "Title" => {
            exactly(name, args, 1)?;
            Ok(Value::from(title_case(&string_arg(name, &args[0])?)))
        }
        "ToJSON" => {
            exactly(name, args, 1)?;
            Ok(Value::from(args[0].to_json().to_indented()))
        }
        other => Err(format!("function {other:?} not defined")),
    }
}

fn index_one(item: &Value, index: &Value) -> Result<Value, String> {
    match (item.basic(), index.basic()) {
        (Value::List(list), Value::Int(i)) => usize::try_from(i)
            .ok()
            .and_then(|i| list.get(i).cloned())
            .ok_or_else(|| format!("error calling index: index out of range: {i}")),
        (Value::Str(s), Value::Int(i)) => usize::try_from(i)
            .ok()
            .and_then(|i| s.as_bytes().get(i).copied())
            .map(|b| Value::Int(i64::from(b)))
            .ok_or_else(|| format!("error calling index: index out of range: {i}")),
        (Value::Map(map), Value::Str(key)) => Ok(map.get(&*key).cloned().unwrap_or(Value::NoValue)),
        (Value::Nil | Value::NoValue, _) => {
            Err("error calling index: index of untyped nil".to_owned())
        }
        _ => Err(format!(
            "error calling index: cannot index {} with {}",
            item.type_name(),
            index.type_name()
        )),
    }
}

/// Go's `slice`: `slice x i j` is `x[i:j]`; lists also take `x[i:j:k]` (here a list's
/// capacity is its length).
fn slice(args: &[Value]) -> Result<Value, String> {
    let Some((item, bounds)) = args.split_first() else {
        return Err("wrong number of args for slice: want at least 1 got 0".to_owned());
    };
    if bounds.len() > 3 {
        return Err(format!("too many slice indexes: {}", bounds.len()));
    }
    let len = match item.basic() {
        Value::Str(s) => {
            if bounds.len() == 3 {
                return Err("cannot 3-index slice a string".to_owned());
            }
            s.len()
        }
        Value::List(l) => l.len(),
        _ => return Err(format!("can't slice item of type {}", item.type_name())),
    };
    let mut idx = [0, len, len];
    for (slot, b) in idx.iter_mut().zip(bounds) {
        match b.basic() {
            Value::Int(i) => {
                *slot = usize::try_from(i)
                    .ok()
                    .filter(|&x| x <= len)
                    .ok_or_else(|| format!("index out of range: {i}"))?;
            }
            _ => {
                return Err(format!(
                    "cannot index slice/array with type {}",
                    b.type_name()
                ));
            }
        }
    }
    if idx[0] > idx[1] {
        return Err(format!("invalid slice index: {} > {}", idx[0], idx[1]));
    }
    if bounds.len() == 3 && idx[1] > idx[2] {
        return Err(format!("invalid slice index: {} > {}", idx[1], idx[2]));
    }
    match item.basic() {
        Value::Str(s) => s
            .get(idx[0]..idx[1])
            .map(Value::from)
            .ok_or_else(|| format!("slice [{}:{}] cuts a character apart", idx[0], idx[1])),
        Value::List(l) => Ok(Value::from(l[idx[0]..idx[1]].to_vec())),
        _ => Err(format!("can't slice item of type {}", item.type_name())),
    }
}

fn equal(a: &Value, b: &Value) -> Result<bool, String> {
    Ok(match (a.basic(), b.basic()) {
        (Value::Nil | Value::NoValue, Value::Nil | Value::NoValue) => true,
        (Value::Nil | Value::NoValue, _) | (_, Value::Nil | Value::NoValue) => false,
        (Value::Bool(x), Value::Bool(y)) => x == y,
        (Value::Int(x), Value::Int(y)) => x == y,
        (Value::Float(x), Value::Float(y)) => (x - y).abs() == 0.0,
        (Value::Str(x), Value::Str(y)) => x == y,
        _ => {
            return Err(format!(
                "incompatible types for comparison: {} and {}",
                a.type_name(),
                b.type_name()
            ));
        }
    })
}

fn order(a: &Value, b: &Value) -> Result<Ordering, String> {
    match (a.basic(), b.basic()) {
        (Value::Int(x), Value::Int(y)) => Ok(x.cmp(&y)),
        (Value::Float(x), Value::Float(y)) => x
            .partial_cmp(&y)
            .ok_or_else(|| "NaN in comparison".to_owned()),
        (Value::Str(x), Value::Str(y)) => Ok(x.cmp(&y)),
        _ => Err(format!(
            "incompatible types for comparison: {} and {}",
            a.type_name(),
            b.type_name()
        )),
    }
}

fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\0' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

fn js_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c if !c.is_ascii() && !crate::fmt::go_is_print(c) => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out
}

/// Go's `unicode.ToUpper` of one character: the simple (one-character) mapping, so `ß` and
/// `ﬁ` stay as they are where Rust's full mapping gives `SS` and `FI`.
fn go_upper(c: char) -> char {
    let v = u32::from(c);
    match v {
        // Greek with ypogegrammeni: the simple mapping is the titlecase letter.
        0x1f80..=0x1f87 | 0x1f90..=0x1f97 | 0x1fa0..=0x1fa7 => char::from_u32(v + 8).unwrap_or(c),
        0x1fb3 => '\u{1fbc}',
        0x1fc3 => '\u{1fcc}',
        0x1ff3 => '\u{1ffc}',
        _ => {
            let mut up = c.to_uppercase();
            match (up.next(), up.next()) {
                (Some(u), None) => u,
                _ => c,
            }
        }
    }
}

/// Go's `unicode.ToLower` of one character (simple mapping; `İ` gives `i`).
fn go_lower(c: char) -> char {
    if c == '\u{130}' {
        return 'i';
    }
    let mut low = c.to_lowercase();
    match (low.next(), low.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Go's `unicode.ToTitle` of one character: as upper case, except the digraphs.
fn go_title(c: char) -> char {
    match c {
        '\u{1c4}'..='\u{1c6}' => '\u{1c5}',
        '\u{1c7}'..='\u{1c9}' => '\u{1c8}',
        '\u{1ca}'..='\u{1cc}' => '\u{1cb}',
        '\u{1f1}'..='\u{1f3}' => '\u{1f2}',
        _ => go_upper(c),
    }
}

/// Go's `strings.ToUpper`: rune by rune, no context (no final sigma, no `SS`).
fn go_to_upper(s: &str) -> String {
    s.chars().map(go_upper).collect()
}

/// Go's `strings.ToLower`.
fn go_to_lower(s: &str) -> String {
    s.chars().map(go_lower).collect()
}

/// Go's `url.QueryEscape`.
pub(crate) fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            b => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

/// Title case as `cases.Title(language.AmericanEnglish)`: the first letter of each word in
/// title case, the rest lower case. Letters, digits, `_` and an apostrophe between letters
/// continue a word.
fn title_case(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let chars: Vec<char> = s.chars().collect();
    let mut in_word = false;
    for (i, &c) in chars.iter().enumerate() {
        let word_char = c.is_alphanumeric() || c == '_';
        let joiner = (c == '\'' || c == '’' || c == '.' || c == ':')
            && in_word
            && chars.get(i + 1).is_some_and(|n| n.is_alphabetic());
        if word_char {
            out.push(if in_word { go_lower(c) } else { go_title(c) });
            in_word = true;
        } else {
            out.push(c);
            in_word = joiner;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_case_like_x_text() {
        assert_eq!(title_case("hello wORLD"), "Hello World");
        assert_eq!(title_case("don't stop-me now"), "Don't Stop-Me Now");
        assert_eq!(title_case("snake_case word"), "Snake_case Word");
        assert_eq!(title_case(""), "");
    }

    #[test]
    fn escapers() {
        assert_eq!(
            html_escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&#34;&lt;/a&gt;"
        );
        assert_eq!(query_escape("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
        assert_eq!(js_escape("it's <b>"), "it\\'s \\u003Cb\\u003E");
    }
}
