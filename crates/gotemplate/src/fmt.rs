//! The parts of Go's `fmt` that templates use: `print`, `println` and `printf`.

use std::fmt::Write as _;

use crate::float::format_float_g;
use crate::value::Value;

/// `fmt.Sprint`: operands joined, with a space between two operands when neither is a string.
pub(crate) fn sprint(args: &[Value]) -> String {
    let mut out = String::new();
    let mut prev_string = true;
    for (i, arg) in args.iter().enumerate() {
        let is_string = matches!(arg.basic(), Value::Str(_));
        if i > 0 && !is_string && !prev_string {
            out.push(' ');
        }
        arg.write_display(&mut out);
        prev_string = is_string;
    }
    out
}

/// `fmt.Sprintln`: operands always separated by spaces, newline at the end.
pub(crate) fn sprintln(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        arg.write_display(&mut out);
    }
    out.push('\n');
    out
}

/// Go's `strconv.Quote`.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if c.is_control() => {
                let v = u32::from(c);
                if v < 0x80 {
                    let _ = write!(out, "\\x{v:02x}");
                } else if v <= 0xffff {
                    let _ = write!(out, "\\u{v:04x}");
                } else {
                    let _ = write!(out, "\\U{v:08x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[derive(Default, Clone, Copy)]
struct Spec {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

fn pad(spec: Spec, body: &str) -> String {
    let len = body.chars().count();
    let Some(width) = spec.width else {
        return body.to_owned();
    };
    if len >= width {
        return body.to_owned();
    }
    let fill = width - len;
    if spec.minus {
        format!("{body}{}", " ".repeat(fill))
    } else if spec.zero {
        // Zeros go after a sign.
        let (sign, rest) = match body.chars().next() {
            Some(c @ ('-' | '+')) => (c.to_string(), &body[1..]),
            _ => (String::new(), body),
        };
        format!("{sign}{}{rest}", "0".repeat(fill))
    } else {
        format!("{}{body}", " ".repeat(fill))
    }
}

fn bad_verb(verb: char, arg: &Value) -> String {
    match arg {
        Value::Nil | Value::NoValue => format!("%!{verb}(<nil>)"),
        _ => format!("%!{verb}({}={})", arg.type_name(), arg.display()),
    }
}

fn with_sign(spec: Spec, negative: bool, digits: &str) -> String {
    if negative {
        format!("-{digits}")
    } else if spec.plus {
        format!("+{digits}")
    } else if spec.space {
        format!(" {digits}")
    } else {
        digits.to_owned()
    }
}

fn format_int(spec: Spec, verb: char, i: i64) -> String {
    let negative = i < 0;
    let abs = i.unsigned_abs();
    let mut digits = match verb {
        'x' => format!("{abs:x}"),
        'X' => format!("{abs:X}"),
        'o' => format!("{abs:o}"),
        'b' => format!("{abs:b}"),
        _ => abs.to_string(),
    };
    if let Some(p) = spec.precision
        && digits.len() < p
    {
        digits = format!("{}{digits}", "0".repeat(p - digits.len()));
    }
    if spec.sharp {
        match verb {
            'x' => digits = format!("0x{digits}"),
            'X' => digits = format!("0X{digits}"),
            'o' => digits = format!("0{digits}"),
            _ => {}
        }
    }
    pad(spec, &with_sign(spec, negative, &digits))
}

fn format_float(spec: Spec, verb: char, f: f64) -> String {
    let body = match verb {
        'f' | 'F' => format!("{:.*}", spec.precision.unwrap_or(6), f.abs()),
        'e' | 'E' => {
            let s = format!("{:.*e}", spec.precision.unwrap_or(6), f.abs());
            let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
            let e: i32 = e.parse().unwrap_or(0);
            let s = format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
            if verb == 'E' { s.to_uppercase() } else { s }
        }
        _ => format_float_g(f.abs(), spec.precision),
    };
    let negative = f.is_sign_negative() && f != 0.0;
    pad(spec, &with_sign(spec, negative, &body))
}

fn format_one(spec: Spec, verb: char, arg: &Value) -> String {
    let basic = arg.basic();
    match verb {
        'v' => match &basic {
            Value::Int(i) if spec.plus || spec.zero || spec.width.is_some() => {
                format_int(spec, 'd', *i)
            }
            Value::Float(f) => format_float(spec, 'g', *f),
            Value::Str(s) if spec.sharp => pad(spec, &go_quote(s)),
            _ => pad(spec, &arg.display()),
        },
        's' => match &basic {
            Value::Str(_) | Value::Object(_) | Value::List(_) | Value::Map(_) => {
                let text = arg.display();
                let text = match spec.precision {
                    Some(p) => text.chars().take(p).collect(),
                    None => text,
                };
                pad(spec, &text)
            }
            Value::Int(_) | Value::Float(_) | Value::Bool(_) | Value::Nil | Value::NoValue => {
                bad_verb(verb, arg)
            }
        },
        'q' => match &basic {
            Value::Str(s) => pad(spec, &go_quote(s)),
            Value::Int(i) => match u32::try_from(*i).ok().and_then(char::from_u32) {
                Some(c) => pad(spec, &format!("'{c}'")),
                None => bad_verb(verb, arg),
            },
            _ => bad_verb(verb, arg),
        },
        'd' | 'o' | 'b' => match basic {
            Value::Int(i) => format_int(spec, verb, i),
            _ => bad_verb(verb, arg),
        },
        'x' | 'X' => match &basic {
            Value::Int(i) => format_int(spec, verb, *i),
            Value::Str(s) => {
                let hex: String = s
                    .bytes()
                    .map(|b| {
                        if verb == 'x' {
                            format!("{b:02x}")
                        } else {
                            format!("{b:02X}")
                        }
                    })
                    .collect();
                pad(spec, &hex)
            }
            _ => bad_verb(verb, arg),
        },
        'c' => match basic {
            Value::Int(i) => pad(
                spec,
                &u32::try_from(i)
                    .ok()
                    .and_then(char::from_u32)
                    .unwrap_or('\u{fffd}')
                    .to_string(),
            ),
            _ => bad_verb(verb, arg),
        },
        't' => match basic {
            Value::Bool(b) => pad(spec, &b.to_string()),
            _ => bad_verb(verb, arg),
        },
        'f' | 'F' | 'e' | 'E' | 'g' | 'G' => match basic {
            Value::Float(f) => format_float(spec, verb, f),
            _ => bad_verb(verb, arg),
        },
        'T' => pad(spec, arg.type_name()),
        _ => bad_verb(verb, arg),
    }
}

/// Go's `fmt.Sprintf` for the verbs templates use: `%v %s %q %d %x %X %o %b %c %t %f %e %g
/// %T %%` with flags `-+# 0`, width and precision. Mismatches print like Go (`%!d(string=x)`,
/// `%!d(MISSING)`, `%!(EXTRA ...)`).
pub(crate) fn sprintf(format: &str, args: &[Value]) -> String {
    let mut out = String::new();
    let mut next = 0usize;
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut spec = Spec::default();
        while let Some(&f) = chars.peek() {
            match f {
                '-' => spec.minus = true,
                '+' => spec.plus = true,
                '#' => spec.sharp = true,
                ' ' => spec.space = true,
                '0' => spec.zero = true,
                _ => break,
            }
            chars.next();
        }
        let number = |chars: &mut std::iter::Peekable<std::str::Chars<'_>>| {
            let mut n: Option<usize> = None;
            while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
                n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize));
                chars.next();
            }
            n
        };
        spec.width = number(&mut chars).map(|w| w.min(10_000));
        if chars.peek() == Some(&'.') {
            chars.next();
            spec.precision = Some(number(&mut chars).unwrap_or(0).min(10_000));
        }
        let Some(verb) = chars.next() else {
            out.push_str("%!(NOVERB)");
            break;
        };
        if verb == '%' {
            out.push('%');
            continue;
        }
        let Some(arg) = args.get(next) else {
            let _ = write!(out, "%!{verb}(MISSING)");
            continue;
        };
        next += 1;
        out.push_str(&format_one(spec, verb, arg));
    }
    if next < args.len() {
        out.push_str("%!(EXTRA ");
        for (i, arg) in args[next..].iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{}={}", arg.type_name(), arg.display());
        }
        out.push(')');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printf_verbs() {
        let s = |v: &str| Value::from(v);
        assert_eq!(sprintf("%s-%d", &[s("a"), Value::Int(3)]), "a-3");
        assert_eq!(sprintf("%5s|%-5s|", &[s("ab"), s("cd")]), "   ab|cd   |");
        assert_eq!(
            sprintf(
                "%05d %x %X %o %b",
                &[
                    Value::Int(-42),
                    Value::Int(255),
                    Value::Int(255),
                    Value::Int(8),
                    Value::Int(5)
                ]
            ),
            "-0042 ff FF 10 101"
        );
        assert_eq!(
            sprintf(
                "%q %v %t",
                &[s("a\"b"), Value::Bool(true), Value::Bool(false)]
            ),
            "\"a\\\"b\" true false"
        );
        assert_eq!(
            sprintf(
                "%.2f %e %g",
                &[
                    Value::Float(2.5183),
                    Value::Float(1234.5),
                    Value::Float(0.000_01)
                ]
            ),
            "2.52 1.234500e+03 1e-05"
        );
        assert_eq!(sprintf("%d", &[s("x")]), "%!d(string=x)");
        assert_eq!(sprintf("%d %d", &[Value::Int(1)]), "1 %!d(MISSING)");
        assert_eq!(
            sprintf("%d", &[Value::Int(1), s("x")]),
            "1%!(EXTRA string=x)"
        );
        assert_eq!(sprintf("100%%", &[]), "100%");
        assert_eq!(sprintf("%.3s", &[s("abcdef")]), "abc");
        assert_eq!(sprintf("%T", &[s("a")]), "string");
    }

    #[test]
    fn sprint_spacing() {
        assert_eq!(
            sprint(&[
                Value::Int(1),
                Value::Int(2),
                Value::from("a"),
                Value::Int(3)
            ]),
            "1 2a3"
        );
        assert_eq!(sprintln(&[Value::from("a"), Value::Int(1)]), "a 1\n");
    }
}
