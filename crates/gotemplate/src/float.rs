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
