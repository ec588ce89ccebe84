//! Times for people: "in 4 min 12 s", "2 min ago".

/// `seconds` from now, in words.
pub fn relative(seconds: i64) -> String {
    let (future, s) = (seconds >= 0, seconds.unsigned_abs());
    let text = if s < 60 {
        format!("{s} s")
    } else if s < 3600 {
        format!("{} min {} s", s / 60, s % 60)
    } else if s < 86400 {
        format!("{} h {} min", s / 3600, (s % 3600) / 60)
    } else {
        format!("{} d {} h", s / 86400, (s % 86400) / 3600)
    };
    if future {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc(ts: i64) -> String {
    let days = ts.div_euclid(86400);
    let secs = ts.rem_euclid(86400);
    // civil-from-days (Howard Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        secs / 3600,
        (secs % 3600) / 60,
        secs % 60
    )
}

/// Unix seconds as an HTML `datetime` (`YYYY-MM-DDTHH:MM:SSZ`), from [`utc`]'s text (one
/// date algorithm; this one is used on the server only).
pub fn iso(ts: i64) -> String {
    let text = utc(ts);
    let (date, rest) = text.split_once(' ').unwrap_or((&text, ""));
    let time = rest.split_once(' ').map_or(rest, |(t, _)| t);
    format!("{date}T{time}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(relative(5), "in 5 s");
        assert_eq!(relative(-125), "2 min 5 s ago");
        assert_eq!(relative(7200), "in 2 h 0 min");
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc(1_764_000_000), "2025-11-24 16:00:00 UTC");
        assert_eq!(iso(1_764_000_000), "2025-11-24T16:00:00Z");
        assert_eq!(iso(-1), "1969-12-31T23:59:59Z");
    }
}
