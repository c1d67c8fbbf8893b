//! Time zone abbreviations (`MST` in a layout) from the zone database, as Go's `time.Local`
//! finds them: the zone `TZ` names (`Europe/Berlin`, `:Europe/Berlin` or a file path), else
//! `/etc/localtime`; `TZ=""` is UTC. The zone file (`TZif`, RFC 8536) is read once.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One local time type of a zone file.
#[derive(Debug, Clone)]
struct TimeType {
    offset: i32,
    abbreviation: String,
}

#[derive(Debug, Default)]
struct Zone {
    /// Transition times (Unix seconds) and the type in force from each.
    transitions: Vec<(i64, usize)>,
    types: Vec<TimeType>,
    /// The footer rule's standard and daylight-saving names and offsets
    /// (`CET-1CEST,M3.5.0,M10.5.0/3`), for times after the last transition.
    rule: Vec<TimeType>,
}

const SOURCES: [&str; 3] = [
    "/usr/share/zoneinfo/",
    "/usr/share/lib/zoneinfo/",
    "/usr/lib/locale/TZ/",
];

fn local_zone() -> Option<&'static Zone> {
    static LOCAL: OnceLock<Option<Zone>> = OnceLock::new();
    LOCAL
        .get_or_init(|| {
            let path = match std::env::var("TZ") {
                Err(_) => PathBuf::from("/etc/localtime"),
                Ok(tz) => {
                    let name = tz.strip_prefix(':').unwrap_or(&tz);
                    if name.is_empty() || name == "UTC" {
                        return None;
                    }
                    if Path::new(name).is_absolute() {
                        PathBuf::from(name)
                    } else {
                        SOURCES
                            .iter()
                            .map(|dir| Path::new(dir).join(name))
                            .find(|p| p.is_file())?
                    }
                }
            };
            parse(&std::fs::read(path).ok()?)
        })
        .as_ref()
}

/// The abbreviation of the local zone at `unix` seconds, if the local zone's offset then is
/// `offset` (a time from elsewhere keeps its numeric form).
pub(crate) fn abbreviation(unix: i64, offset: i32) -> Option<String> {
    let zone = local_zone()?;
    let at = zone.transitions.partition_point(|&(t, _)| t <= unix);
    let current = match at.checked_sub(1) {
        Some(i) => zone.types.get(zone.transitions[i].1),
        // Before the first transition: the first type (RFC 8536 3.2).
        None => zone.types.first(),
    };
    let after_last = at == zone.transitions.len() && !zone.rule.is_empty();
    let candidates = current
        .into_iter()
        .filter(|_| !after_last)
        .chain(zone.rule.iter());
    candidates
        .filter(|t| t.offset == offset)
        .map(|t| t.abbreviation.clone())
        .next()
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn be64(b: &[u8], at: usize) -> Option<i64> {
    Some(i64::from_be_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

/// Parses a `TZif` file: the 64-bit data block of version 2+ (else the 32-bit one) and the
/// footer rule.
fn parse(data: &[u8]) -> Option<Zone> {
    let header = |at: usize| -> Option<[usize; 6]> {
        if data.get(at..at + 4)? != b"TZif" {
            return None;
        }
        let mut counts = [0usize; 6];
        for (i, c) in counts.iter_mut().enumerate() {
            *c = usize::try_from(be32(data, at + 20 + 4 * i)?).ok()?;
        }
        Some(counts)
    };
    let block_len = |c: [usize; 6], time: usize| {
        // isutcnt isstdcnt leapcnt timecnt typecnt charcnt
        c[3] * time + c[3] + c[4] * 6 + c[5] + c[2] * (time + 4) + c[1] + c[0]
    };
    let first = header(0)?;
    let version = *data.get(4)?;
    let (start, counts, time_size) = if version >= b'2' {
        let second = 44 + block_len(first, 4);
        (second + 44, header(second)?, 8)
    } else {
        (44, first, 4)
    };
    let [_, _, _, timecnt, typecnt, charcnt] = counts;
    let mut zone = Zone::default();
    let times = start;
    let indexes = times + timecnt * time_size;
    let infos = indexes + timecnt;
    let chars = infos + typecnt * 6;
    let abbreviations = data.get(chars..chars + charcnt)?;
    for i in 0..typecnt {
        let at = infos + 6 * i;
        let offset = i32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?);
        let index = usize::from(*data.get(at + 5)?);
        let name = abbreviations.get(index..)?;
        let end = name.iter().position(|&b| b == 0).unwrap_or(name.len());
        zone.types.push(TimeType {
            offset,
            abbreviation: String::from_utf8_lossy(&name[..end]).into_owned(),
        });
    }
    for i in 0..timecnt {
        let t = if time_size == 8 {
            be64(data, times + 8 * i)?
        } else {
            #[allow(clippy::cast_possible_wrap)] // TZif v1 times are signed 32-bit
            let t = i64::from(be32(data, times + 4 * i)? as i32);
            t
        };
        let index = usize::from(*data.get(indexes + i)?);
        zone.transitions.push((t, index));
    }
    if time_size == 8 {
        let footer = data.get(start + block_len(counts, 8)..)?;
        let text = String::from_utf8_lossy(footer);
        let rule = text.trim_matches('\n').split('\n').next().unwrap_or("");
        zone.rule = parse_rule(rule);
    }
    Some(zone)
}

/// The names and offsets of a POSIX TZ rule (`CET-1CEST,...`, `<+03>-3`); the offsets are
/// hours west of UTC, daylight saving one hour ahead unless given.
fn parse_rule(rule: &str) -> Vec<TimeType> {
    let mut out = Vec::new();
    let mut rest = rule;
    let mut std_offset = None;
    for _ in 0..2 {
        let (name, after) = if let Some(r) = rest.strip_prefix('<') {
            match r.split_once('>') {
                Some((n, a)) => (n, a),
                None => break,
            }
        } else {
            let end = rest
                .find(|c: char| !c.is_ascii_alphabetic())
                .unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        };
        if name.len() < 3 {
            break;
        }
        let end = after
            .find(|c: char| !(c.is_ascii_digit() || matches!(c, '+' | '-' | ':')))
            .unwrap_or(after.len());
        let west = parse_hms(&after[..end]);
        let offset = match (west, std_offset) {
            (Some(w), _) => -w,
            (None, Some(s)) => s + 3600,
            (None, None) => break,
        };
        std_offset.get_or_insert(offset);
        out.push(TimeType {
            offset,
            abbreviation: name.to_owned(),
        });
        rest = &after[end..];
        if rest.is_empty() || rest.starts_with(',') {
            break;
        }
    }
    out
}

fn parse_hms(s: &str) -> Option<i32> {
    if s.is_empty() {
        return None;
    }
    let (sign, body) = match s.as_bytes()[0] {
        b'-' => (-1, &s[1..]),
        b'+' => (1, &s[1..]),
        _ => (1, s),
    };
    let mut total = 0;
    for (part, scale) in body.split(':').zip([3600, 60, 1]) {
        total += part.parse::<i32>().ok()? * scale;
    }
    Some(sign * total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posix_rules() {
        let names = |r: &str| {
            parse_rule(r)
                .into_iter()
                .map(|t| (t.abbreviation, t.offset))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names("CET-1CEST,M3.5.0,M10.5.0/3"),
            [("CET".to_owned(), 3600), ("CEST".to_owned(), 7200)]
        );
        assert_eq!(names("<+03>-3"), [("+03".to_owned(), 10800)]);
        assert_eq!(
            names("EST5EDT,M3.2.0,M11.1.0"),
            [("EST".to_owned(), -18000), ("EDT".to_owned(), -14400)]
        );
    }

    #[test]
    fn berlin_from_the_zone_database() {
        // Skipped where the system has no zone database (the crate never needs one).
        let Ok(data) = std::fs::read("/usr/share/zoneinfo/Europe/Berlin") else {
            return;
        };
        let zone = parse(&data).expect("a TZif file");
        let summer = 1_719_828_000; // 2024-07-01 10:00 UTC
        let at = zone.transitions.partition_point(|&(t, _)| t <= summer);
        let current = &zone.types[zone.transitions[at - 1].1];
        assert_eq!(
            (current.abbreviation.as_str(), current.offset),
            ("CEST", 7200)
        );
    }
}
