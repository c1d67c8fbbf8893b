//! The parts of Go's `fmt` that templates use: `print`, `println` and `printf`.

use std::fmt::Write as _;

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
        write_operand(arg, &mut out);
        prev_string = is_string;
    }
    out
}

/// An operand of `print`: a missing value (`<no value>` when printed by an action) reaches a
/// function as Go's `nil`.
fn write_operand(arg: &Value, out: &mut String) {
    match arg {
        Value::NoValue => out.push_str("<nil>"),
        other => other.write_display(out),
    }
}

/// `fmt.Sprintln`: operands always separated by spaces, newline at the end.
pub(crate) fn sprintln(args: &[Value]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        write_operand(arg, &mut out);
    }
    out.push('\n');
    out
}

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and the ASCII
/// space. Without Unicode category tables this knows the non-printable ranges (controls,
/// separators other than U+0020, format characters, private use); unassigned code points
/// count as printable.
pub(crate) fn go_is_print(c: char) -> bool {
    let v = u32::from(c);
    if c == ' ' {
        return true;
    }
    if c.is_control() || c.is_whitespace() {
        return false;
    }
    !matches!(v,
        0xad | 0x600..=0x605 | 0x61c | 0x6dd | 0x70f | 0x890..=0x891 | 0x8e2 | 0x180e
        | 0x200b..=0x200f | 0x202a..=0x202e | 0x2060..=0x2064 | 0x2066..=0x206f | 0xfeff
        | 0xfff9..=0xfffb | 0x110bd | 0x110cd | 0x13430..=0x1343f | 0x1bca0..=0x1bca3
        | 0x1d173..=0x1d17a | 0xe0001 | 0xe0020..=0xe007f | 0xe000..=0xf8ff
        | 0xf0000..=0xffffd | 0x10_0000..=0x10_fffd)
}

/// Go's `strconv` quoting of one rune inside `quote`-delimited text (`ascii`: `QuoteToASCII`).
fn push_escaped(out: &mut String, c: char, quote: char, ascii: bool) {
    if c == quote || c == '\\' {
        out.push('\\');
        out.push(c);
        return;
    }
    if if ascii {
        c.is_ascii() && go_is_print(c)
    } else {
        go_is_print(c)
    } {
        out.push(c);
        return;
    }
    let v = u32::from(c);
    match c {
        '\u{7}' => out.push_str("\\a"),
        '\u{8}' => out.push_str("\\b"),
        '\u{c}' => out.push_str("\\f"),
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        '\u{b}' => out.push_str("\\v"),
        _ if v < 0x20 || v == 0x7f => {
            let _ = write!(out, "\\x{v:02x}");
        }
        _ if v < 0x10000 => {
            let _ = write!(out, "\\u{v:04x}");
        }
        _ => {
            let _ = write!(out, "\\U{v:08x}");
        }
    }
}

fn quote_with(s: &str, ascii: bool) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        push_escaped(&mut out, c, '"', ascii);
    }
    out.push('"');
    out
}

/// Go's `strconv.CanBackquote`.
fn can_backquote(s: &str) -> bool {
    s.chars()
        .all(|c| c != '`' && c != '\u{feff}' && (c == '\t' || !(c < ' ' || c == '\u{7f}')))
}

#[derive(Default, Clone, Copy)]
struct Flags {
    minus: bool,
    plus: bool,
    sharp: bool,
    space: bool,
    zero: bool,
    sharp_v: bool,
    wid: Option<usize>,
    prec: Option<usize>,
}

/// Go's `fmt.pp` for one `Sprintf` call.
struct Printer {
    out: String,
    f: Flags,
    erroring: bool,
}

/// The `String` method of an object, as `fmt`'s `Stringer` check sees it.
fn stringer(value: &Value) -> Option<String> {
    let Value::Object(o) = value else { return None };
    match o.get("String", &[]) {
        Some(Ok(Value::Str(s))) => Some(s.to_string()),
        _ => None,
    }
}

const LOWER: &[u8; 16] = b"0123456789abcdef";
const UPPER: &[u8; 16] = b"0123456789ABCDEF";

impl Printer {
    fn write_padding(&mut self, n: usize) {
        let c = if self.f.zero { '0' } else { ' ' };
        self.out.extend(std::iter::repeat_n(c, n));
    }

    fn pad(&mut self, s: &str) {
        let len = s.chars().count();
        match self.f.wid {
            Some(w) if w > len => {
                if self.f.minus {
                    self.out.push_str(s);
                    self.write_padding(w - len);
                } else {
                    self.write_padding(w - len);
                    self.out.push_str(s);
                }
            }
            _ => self.out.push_str(s),
        }
    }

    fn truncate<'a>(&self, s: &'a str) -> &'a str {
        match self.f.prec {
            Some(p) => s.char_indices().nth(p).map_or(s, |(i, _)| &s[..i]),
            None => s,
        }
    }

    fn fmt_s(&mut self, s: &str) {
        let s = self.truncate(s);
        self.pad(s);
    }

    fn fmt_sx(&mut self, s: &str, digits: &[u8; 16]) {
        let bytes = s.as_bytes();
        let length = self.f.prec.map_or(bytes.len(), |p| p.min(bytes.len()));
        let x = char::from(if digits[10] == b'a' { b'x' } else { b'X' });
        let mut width = 2 * length;
        if width > 0 {
            if self.f.space {
                if self.f.sharp {
                    width *= 2;
                }
                width += length - 1;
            } else if self.f.sharp {
                width += 2;
            }
        } else {
            if let Some(w) = self.f.wid {
                self.write_padding(w);
            }
            return;
        }
        let wid = self.f.wid.unwrap_or(0);
        if wid > width && !self.f.minus {
            self.write_padding(wid - width);
        }
        if self.f.sharp {
            self.out.push('0');
            self.out.push(x);
        }
        for (i, b) in bytes[..length].iter().enumerate() {
            if self.f.space && i > 0 {
                self.out.push(' ');
                if self.f.sharp {
                    self.out.push('0');
                    self.out.push(x);
                }
            }
            self.out.push(char::from(digits[usize::from(b >> 4)]));
            self.out.push(char::from(digits[usize::from(b & 15)]));
        }
        if wid > width && self.f.minus {
            self.write_padding(wid - width);
        }
    }

    fn fmt_q(&mut self, s: &str) {
        let s = self.truncate(s);
        if self.f.sharp && can_backquote(s) {
            self.pad(&format!("`{s}`"));
        } else {
            self.pad(&quote_with(s, self.f.plus));
        }
    }

    fn fmt_string(&mut self, s: &str, verb: char, arg: &Value) {
        match verb {
            'v' if self.f.sharp_v => self.fmt_q(s),
            'v' | 's' => self.fmt_s(s),
            'x' => self.fmt_sx(s, LOWER),
            'X' => self.fmt_sx(s, UPPER),
            'q' => self.fmt_q(s),
            _ => self.bad_verb(verb, arg),
        }
    }

    fn fmt_bool(&mut self, b: bool, verb: char, arg: &Value) {
        match verb {
            't' | 'v' => self.pad(if b { "true" } else { "false" }),
            _ => self.bad_verb(verb, arg),
        }
    }

    fn integer(&mut self, u: u64, base: u64, signed: bool, verb: char, digits: &[u8; 16]) {
        #[allow(clippy::cast_possible_wrap)] // Go's int64(u): the same bits
        let negative = signed && (u as i64) < 0;
        #[allow(clippy::cast_possible_wrap)]
        let mut u = if negative {
            (u as i64).unsigned_abs()
        } else {
            u
        };
        let mut prec = 0;
        if let Some(p) = self.f.prec {
            prec = p;
            if p == 0 && u == 0 {
                let zero = self.f.zero;
                self.f.zero = false;
                let w = self.f.wid.unwrap_or(0);
                self.write_padding(w);
                self.f.zero = zero;
                return;
            }
        } else if let (true, Some(w)) = (self.f.zero, self.f.wid) {
            prec = w;
            if negative || self.f.plus || self.f.space {
                prec = prec.saturating_sub(1);
            }
        }
        let mut rev: Vec<u8> = Vec::new();
        loop {
            rev.push(digits[usize::try_from(u % base).unwrap_or(0)]);
            u /= base;
            if u == 0 {
                break;
            }
        }
        while rev.len() < prec {
            rev.push(b'0');
        }
        if self.f.sharp {
            match base {
                2 => rev.extend_from_slice(b"b0"),
                8 if rev.last() != Some(&b'0') => rev.push(b'0'),
                16 => {
                    rev.push(if digits[10] == b'a' { b'x' } else { b'X' });
                    rev.push(b'0');
                }
                _ => {}
            }
        }
        if verb == 'O' {
            rev.extend_from_slice(b"o0");
        }
        if negative {
            rev.push(b'-');
        } else if self.f.plus {
            rev.push(b'+');
        } else if self.f.space {
            rev.push(b' ');
        }
        rev.reverse();
        let text = String::from_utf8(rev).unwrap_or_default();
        let zero = self.f.zero;
        self.f.zero = false;
        self.pad(&text);
        self.f.zero = zero;
    }

    fn fmt_integer(&mut self, u: u64, signed: bool, verb: char, arg: &Value) {
        match verb {
            'v' if self.f.sharp_v && !signed => {
                let sharp = self.f.sharp;
                self.f.sharp = true;
                self.integer(u, 16, false, 'v', LOWER);
                self.f.sharp = sharp;
            }
            'v' | 'd' => self.integer(u, 10, signed, verb, LOWER),
            'b' => self.integer(u, 2, signed, verb, LOWER),
            'o' | 'O' => self.integer(u, 8, signed, verb, LOWER),
            'x' => self.integer(u, 16, signed, verb, LOWER),
            'X' => self.integer(u, 16, signed, verb, UPPER),
            'c' => {
                let c = rune(u, signed);
                self.pad(&c.to_string());
            }
            'q' => {
                let mut s = String::from("'");
                push_escaped(&mut s, rune(u, signed), '\'', self.f.plus);
                s.push('\'');
                self.pad(&s);
            }
            'U' => {
                let prec = self.f.prec.map_or(4, |p| p.max(4));
                let mut s = format!("U+{u:0prec$X}");
                if self.f.sharp
                    && let Some(c) = u32::try_from(u).ok().and_then(char::from_u32)
                    && go_is_print(c)
                {
                    let _ = write!(s, " '{c}'");
                }
                let zero = self.f.zero;
                self.f.zero = false;
                self.pad(&s);
                self.f.zero = zero;
            }
            _ => self.bad_verb(verb, arg),
        }
    }

    fn fmt_float(&mut self, v: f64, verb: char, arg: &Value) {
        let (format, prec) = match verb {
            'v' => ('g', None),
            'b' | 'g' | 'G' | 'x' | 'X' => (verb, None),
            'f' | 'e' | 'E' | 'F' => (verb, Some(6)),
            _ => return self.bad_verb(verb, arg),
        };
        let prec = self.f.prec.or(prec);
        let mut num = crate::float::append_float(v, format, prec);
        if !num.starts_with(['-', '+']) {
            num.insert(0, '+');
        }
        if self.f.space && num.starts_with('+') && !self.f.plus {
            num.replace_range(0..1, " ");
        }
        if num[1..].starts_with(['I', 'N']) {
            let zero = self.f.zero;
            self.f.zero = false;
            if num[1..].starts_with('N') && !self.f.space && !self.f.plus {
                num.remove(0);
            }
            self.pad(&num);
            self.f.zero = zero;
            return;
        }
        if self.f.plus || !num.starts_with('+') {
            if let (true, Some(w)) = (self.f.zero, self.f.wid)
                && w > num.len()
            {
                self.out.push_str(&num[..1]);
                self.write_padding(w - num.len());
                self.out.push_str(&num[1..]);
                return;
            }
            self.pad(&num);
            return;
        }
        self.pad(&num[1..]);
    }

    fn bad_verb(&mut self, verb: char, arg: &Value) {
        self.erroring = true;
        self.out.push_str("%!");
        self.out.push(verb);
        self.out.push('(');
        if matches!(arg, Value::Nil | Value::NoValue) {
            self.out.push_str("<nil>");
        } else {
            self.out.push_str(arg.type_name());
            self.out.push('=');
            self.print_value(arg, 'v', 0);
        }
        self.out.push(')');
        self.erroring = false;
    }

    /// `printArg` (depth 0) and `printValue` (inside lists and maps).
    fn print_value(&mut self, arg: &Value, verb: char, depth: usize) {
        match arg {
            Value::Nil | Value::NoValue => {
                if depth > 0 && self.f.sharp_v {
                    self.out.push_str("interface {}(nil)");
                } else if verb == 'v' || (verb == 'T' && depth == 0) {
                    self.pad("<nil>");
                } else {
                    self.bad_verb(verb, arg);
                }
            }
            _ if verb == 'T' && depth == 0 => {
                let name = arg.type_name();
                self.fmt_s(name);
            }
            Value::Bool(b) => self.fmt_bool(*b, verb, arg),
            #[allow(clippy::cast_sign_loss)] // Go's uint64(i): the same bits
            Value::Int(i) => self.fmt_integer(*i as u64, true, verb, arg),
            Value::Float(f) => self.fmt_float(*f, verb, arg),
            Value::Str(s) => self.fmt_string(s, verb, arg),
            Value::List(items) => {
                if self.f.sharp_v {
                    self.out.push_str(arg.type_name());
                    self.out.push('{');
                } else {
                    self.out.push('[');
                }
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(if self.f.sharp_v { ", " } else { " " });
                    }
                    self.print_value(item, verb, depth + 1);
                }
                self.out.push(if self.f.sharp_v { '}' } else { ']' });
            }
            Value::Map(map) => {
                if self.f.sharp_v {
                    self.out.push_str(arg.type_name());
                    self.out.push('{');
                } else {
                    self.out.push_str("map[");
                }
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(if self.f.sharp_v { ", " } else { " " });
                    }
                    self.print_value(&Value::from(k.as_str()), verb, depth + 1);
                    self.out.push(':');
                    self.print_value(v, verb, depth + 1);
                }
                self.out.push(if self.f.sharp_v { '}' } else { ']' });
            }
            Value::Object(o) => {
                if !self.erroring
                    && !self.f.sharp_v
                    && matches!(verb, 'v' | 's' | 'x' | 'X' | 'q')
                    && let Some(s) = stringer(arg)
                {
                    return self.fmt_string(&s, verb, arg);
                }
                match o.basic() {
                    #[allow(clippy::cast_sign_loss)]
                    Some(Value::Int(i)) => self.fmt_integer(i as u64, !o.unsigned(), verb, arg),
                    Some(basic @ (Value::Str(_) | Value::Float(_) | Value::Bool(_))) => match basic
                    {
                        Value::Str(s) => self.fmt_string(&s, verb, arg),
                        Value::Float(f) => self.fmt_float(f, verb, arg),
                        Value::Bool(b) => self.fmt_bool(b, verb, arg),
                        _ => {}
                    },
                    _ => {
                        let text = o.display();
                        self.pad(&text);
                    }
                }
            }
        }
    }
}

/// The character `%c` and `%q` print for an integer (U+FFFD when it is none).
fn rune(u: u64, signed: bool) -> char {
    #[allow(clippy::cast_possible_wrap)]
    let v = if signed && (u as i64) < 0 {
        u64::MAX
    } else {
        u
    };
    u32::try_from(v)
        .ok()
        .and_then(char::from_u32)
        .unwrap_or('\u{fffd}')
}

/// Go's `parsenum`: a decimal number at `i`, refused when over a million.
fn parse_num(b: &[u8], mut i: usize, end: usize) -> (Option<usize>, usize) {
    let mut n: Option<usize> = None;
    while i < end && b[i].is_ascii_digit() {
        if n.is_some_and(|n| n > 1_000_000) {
            return (None, end);
        }
        n = Some(n.unwrap_or(0) * 10 + usize::from(b[i] - b'0'));
        i += 1;
    }
    (n, i)
}

/// Go's `intFromArg` for `*` widths and precisions.
fn int_from_arg(args: &[Value], arg_num: usize) -> (Option<i64>, usize) {
    match args.get(arg_num) {
        None => (None, arg_num),
        Some(a) => {
            let n = match a.basic() {
                Value::Int(i) if (-1_000_000..=1_000_000).contains(&i) => Some(i),
                _ => None,
            };
            (n, arg_num + 1)
        }
    }
}

/// Go's `fmt.Sprintf`, following `fmt.(*pp).doPrintf`: flags `-+# 0`, width and precision
/// (also `*`), argument indexes (`%[2]d`), and Go's texts for mismatches (`%!d(string=x)`,
/// `%!d(MISSING)`, `%!d(BADINDEX)`, `%!(BADWIDTH)`, `%!(EXTRA ...)`).
#[allow(clippy::too_many_lines)] // one loop, as Go's doPrintf, so the two read side by side
pub(crate) fn sprintf(format: &str, args: &[Value]) -> String {
    let mut pr = Printer {
        out: String::new(),
        f: Flags::default(),
        erroring: false,
    };
    let bytes = format.as_bytes();
    let end = bytes.len();
    let mut arg_num = 0usize;
    let mut reordered = false;
    let mut i = 0usize;
    // Go's argNumber: an optional `[n]` at `i`.
    let arg_number = |arg_num: usize, i: usize, reordered: &mut bool, good: &mut bool| {
        if i >= end || bytes[i] != b'[' {
            return (arg_num, i, false);
        }
        *reordered = true;
        if end - i < 3 {
            *good = false;
            return (arg_num, i + 1, false);
        }
        for j in i + 1..end {
            if bytes[j] == b']' {
                let (n, next) = parse_num(bytes, i + 1, j);
                return match n {
                    Some(n) if next == j && n >= 1 && n - 1 < args.len() => (n - 1, j + 1, true),
                    Some(_) if next == j => {
                        *good = false;
                        (arg_num, j + 1, true)
                    }
                    _ => {
                        *good = false;
                        (arg_num, j + 1, false)
                    }
                };
            }
        }
        *good = false;
        (arg_num, i + 1, false)
    };
    while i < end {
        let mut good = true;
        let start = i;
        while i < end && bytes[i] != b'%' {
            i += 1;
        }
        pr.out.push_str(&format[start..i]);
        if i >= end {
            break;
        }
        i += 1;
        pr.f = Flags::default();
        while i < end {
            match bytes[i] {
                b'#' => pr.f.sharp = true,
                b'0' => pr.f.zero = !pr.f.minus,
                b'+' => pr.f.plus = true,
                b'-' => {
                    pr.f.minus = true;
                    pr.f.zero = false;
                }
                b' ' => pr.f.space = true,
                _ => break,
            }
            i += 1;
        }
        let (n, ni, mut after_index) = arg_number(arg_num, i, &mut reordered, &mut good);
        arg_num = n;
        i = ni;
        if i < end && bytes[i] == b'*' {
            i += 1;
            let (w, n) = int_from_arg(args, arg_num);
            arg_num = n;
            match w {
                None => pr.out.push_str("%!(BADWIDTH)"),
                Some(w) if w < 0 => {
                    pr.f.wid = usize::try_from(-w).ok();
                    pr.f.minus = true;
                    pr.f.zero = false;
                }
                Some(w) => pr.f.wid = usize::try_from(w).ok(),
            }
            after_index = false;
        } else {
            let (w, ni) = parse_num(bytes, i, end);
            pr.f.wid = w;
            i = ni;
            if after_index && w.is_some() {
                good = false;
            }
        }
        if i + 1 < end && bytes[i] == b'.' {
            i += 1;
            if after_index {
                good = false;
            }
            let (n, ni, ai) = arg_number(arg_num, i, &mut reordered, &mut good);
            arg_num = n;
            i = ni;
            after_index = ai;
            if i < end && bytes[i] == b'*' {
                i += 1;
                let (precision, n) = int_from_arg(args, arg_num);
                arg_num = n;
                match precision {
                    Some(v) if v >= 0 => pr.f.prec = usize::try_from(v).ok(),
                    // Go drops a negative precision and says so, as for a missing one.
                    Some(_) | None => {
                        pr.f.prec = None;
                        pr.out.push_str("%!(BADPREC)");
                    }
                }
                after_index = false;
            } else {
                let (precision, ni) = parse_num(bytes, i, end);
                pr.f.prec = Some(precision.unwrap_or(0));
                i = ni;
            }
        }
        if !after_index {
            let (n, ni, ai) = arg_number(arg_num, i, &mut reordered, &mut good);
            arg_num = n;
            i = ni;
            after_index = ai;
        }
        let _ = after_index;
        if i >= end {
            pr.out.push_str("%!(NOVERB)");
            break;
        }
        let verb = format[i..].chars().next().unwrap_or('?');
        i += verb.len_utf8();
        if verb == '%' {
            pr.out.push('%');
        } else if !good {
            let _ = write!(pr.out, "%!{verb}(BADINDEX)");
        } else if arg_num >= args.len() {
            let _ = write!(pr.out, "%!{verb}(MISSING)");
        } else {
            if verb == 'v' {
                pr.f.sharp_v = pr.f.sharp;
                pr.f.sharp = false;
                pr.f.plus = false;
            }
            pr.print_value(&args[arg_num], verb, 0);
            arg_num += 1;
        }
    }
    if !reordered && arg_num < args.len() {
        pr.f = Flags::default();
        pr.out.push_str("%!(EXTRA ");
        for (i, arg) in args[arg_num..].iter().enumerate() {
            if i > 0 {
                pr.out.push_str(", ");
            }
            if matches!(arg, Value::Nil | Value::NoValue) {
                pr.out.push_str("<nil>");
            } else {
                pr.out.push_str(arg.type_name());
                pr.out.push('=');
                pr.print_value(arg, 'v', 0);
            }
        }
        pr.out.push(')');
    }
    pr.out
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
