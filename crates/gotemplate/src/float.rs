//! Go's `strconv.FormatFloat(f, 'g', ...)`: the one float-to-text rule that both `{{.}}`
//! (value display) and `printf` use, kept apart so that neither depends on the other.

/// `%v` / `%g` of a float: shortest representation, exponent form when the exponent is < -4
/// or >= the precision (6 for the shortest form, as Go's `strconv` decides for `%v`).
pub(crate) fn format_float_g(f: f64, precision: Option<usize>) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    let sci = match precision {
        Some(p) => format!("{:.*e}", p.saturating_sub(1), f),
        None => format!("{f:e}"),
    };
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let mut mantissa = mantissa.to_owned();
    if precision.is_some() && mantissa.contains('.') {
        mantissa = mantissa
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_owned();
    }
    let limit = precision.map_or(6, |p| i32::try_from(p.max(1)).unwrap_or(i32::MAX));
    if exp < -4 || exp >= limit {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    } else {
        // Plain decimal with the digits of the mantissa.
        let negative = mantissa.starts_with('-');
        let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
        let point = exp + 1; // digits before the decimal point
        let mut s = String::new();
        if negative {
            s.push('-');
        }
        let len = i32::try_from(digits.len()).unwrap_or(i32::MAX);
        if point <= 0 {
            s.push_str("0.");
            for _ in 0..(-point) {
                s.push('0');
            }
            s.push_str(&digits);
        } else if point >= len {
            s.push_str(&digits);
            for _ in 0..(point - len) {
                s.push('0');
            }
        } else {
            let (a, b) = digits.split_at(usize::try_from(point).unwrap_or(0));
            s.push_str(a);
            s.push('.');
            s.push_str(b);
        }
        s
    }
}

/// Go's `strconv.FormatFloat(v, format, prec, 64)` for the formats `printf` uses
/// (`e E f F g G x X b`); `None` is Go's `-1`, the shortest form that reads back exactly.
pub(crate) fn append_float(v: f64, format: char, prec: Option<usize>) -> String {
    if v.is_nan() {
        return "NaN".to_owned();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    match format {
        'e' | 'E' => {
            let s = match prec {
                Some(p) => format!("{v:.p$e}"),
                None => format!("{v:e}"),
            };
            let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
            let e: i32 = e.parse().unwrap_or(0);
            let s = format!("{m}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
            if format == 'E' { s.to_uppercase() } else { s }
        }
        'f' | 'F' => match prec {
            Some(p) => format!("{v:.p$}"),
            None => format!("{v}"),
        },
        'G' => format_float_g(v, prec.map(|p| p.max(1))).replace('e', "E"),
        'x' | 'X' => hex_float(v, format, prec),
        'b' => {
            let bits = v.to_bits();
            let exp = i64::try_from((bits >> 52) & 0x7ff).unwrap_or(0);
            let mut mant = bits & ((1 << 52) - 1);
            let exp = if exp == 0 {
                1 - 1023 - 52
            } else {
                mant |= 1 << 52;
                exp - 1023 - 52
            };
            let sign = if v.is_sign_negative() { "-" } else { "" };
            format!("{sign}{mant}p{}{exp}", if exp >= 0 { "+" } else { "" })
        }
        _ => format_float_g(v, prec.map(|p| p.max(1))),
    }
}

/// Go's `%x` of a float: `-0x1.yyyyp±dd`.
fn hex_float(v: f64, format: char, prec: Option<usize>) -> String {
    let bits = v.to_bits();
    let biased = i64::try_from((bits >> 52) & 0x7ff).unwrap_or(0);
    let mut mant = bits & ((1 << 52) - 1);
    let mut exp = if biased == 0 {
        1 - 1023
    } else {
        mant |= 1 << 52;
        biased - 1023
    };
    if mant == 0 {
        exp = 0;
    }
    mant <<= 60 - 52;
    while mant != 0 && mant & (1 << 60) == 0 {
        mant <<= 1;
        exp -= 1;
    }
    if let Some(p) = prec.filter(|&p| p < 15) {
        let shift = u32::try_from(p * 4).unwrap_or(0);
        let extra = (mant << shift) & ((1 << 60) - 1);
        mant >>= 60 - shift;
        if extra | (mant & 1) > 1 << 59 {
            mant += 1;
        }
        mant <<= 60 - shift;
        if mant & (1 << 61) != 0 {
            mant >>= 1;
            exp += 1;
        }
    }
    let digits: &[u8; 16] = if format == 'X' {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut out = String::new();
    if v.is_sign_negative() {
        out.push('-');
    }
    out.push('0');
    out.push(format);
    out.push(if (mant >> 60) & 1 == 1 { '1' } else { '0' });
    mant <<= 4;
    let hex = |m: u64| char::from(digits[usize::try_from((m >> 60) & 15).unwrap_or(0)]);
    match prec {
        None if mant != 0 => {
            out.push('.');
            while mant != 0 {
                out.push(hex(mant));
                mant <<= 4;
            }
        }
        Some(p) if p > 0 => {
            out.push('.');
            for _ in 0..p {
                out.push(hex(mant));
                mant <<= 4;
            }
        }
        _ => {}
    }
    out.push(if format == 'X' { 'P' } else { 'p' });
    out.push(if exp < 0 { '-' } else { '+' });
    let _ = std::fmt::Write::write_fmt(&mut out, format_args!("{:02}", exp.abs()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn float_v_like_go() {
        assert_eq!(format_float_g(1.0, None), "1");
        assert_eq!(format_float_g(1.5, None), "1.5");
        assert_eq!(format_float_g(1e6, None), "1e+06");
        assert_eq!(format_float_g(1_234_567.0, None), "1.234567e+06");
        assert_eq!(format_float_g(100_000.0, None), "100000");
        assert_eq!(format_float_g(1e21, None), "1e+21");
        assert_eq!(format_float_g(0.0001, None), "0.0001");
        assert_eq!(format_float_g(0.000_01, None), "1e-05");
    }
}
