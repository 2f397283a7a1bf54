//! Working hours: weekly shifts in a rep's own time zone.

use chrono::{DateTime, Datelike, NaiveTime, Utc, Weekday};
use chrono_tz::Tz;

/// One weekly shift: on `day`, from `start` to `end` local time. An `end` at or before `start`
/// runs past midnight into the next day (night shifts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shift {
    /// Day the shift starts on.
    pub day: Weekday,
    /// Local start time.
    pub start: NaiveTime,
    /// Local end time (exclusive).
    pub end: NaiveTime,
}

/// A rep's weekly working hours. Empty means "always working".
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkingHours {
    /// The shifts; any one of them being active means the rep is working.
    pub shifts: Vec<Shift>,
}

impl WorkingHours {
    /// Parses entries such as `"mon-fri 09:00-17:30"`, `"sat,sun 10:00-14:00"`, `"fri 22:00-06:00"`.
    pub fn parse(entries: &[String]) -> Result<WorkingHours, String> {
        let mut shifts = Vec::new();
        for entry in entries {
            let (days, times) = entry
                .trim()
                .split_once(' ')
                .ok_or_else(|| format!("`{entry}` should look like `mon-fri 09:00-17:00`"))?;
            let (start, end) = times
                .trim()
                .split_once('-')
                .ok_or_else(|| format!("`{times}` should be a time range like `09:00-17:00`"))?;
            let start = parse_time(start)?;
            let end = parse_time(end)?;
            for day in parse_days(days)? {
                shifts.push(Shift { day, start, end });
            }
        }
        Ok(WorkingHours { shifts })
    }

    /// Whether `at` falls inside a shift, in time zone `tz`.
    pub fn is_working(&self, tz: Tz, at: DateTime<Utc>) -> bool {
        if self.shifts.is_empty() {
            return true;
        }
        let local = at.with_timezone(&tz);
        let today = local.weekday();
        let yesterday = today.pred();
        let time = local.time();
        self.shifts.iter().any(|s| {
            if s.start < s.end {
                s.day == today && time >= s.start && time < s.end
            } else {
                // Overnight: the evening part today, or the morning part of yesterday's shift.
                (s.day == today && time >= s.start) || (s.day == yesterday && time < s.end)
            }
        })
    }
}

fn parse_time(s: &str) -> Result<NaiveTime, String> {
    let s = s.trim();
    if s == "24:00" {
        return NaiveTime::from_hms_opt(23, 59, 59).ok_or_else(|| "bad time".to_owned());
    }
    NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| format!("`{s}` is not a time like 09:00"))
}

fn parse_weekday(s: &str) -> Result<Weekday, String> {
    Ok(match s.trim().to_ascii_lowercase().as_str() {
        "mon" | "monday" => Weekday::Mon,
        "tue" | "tuesday" => Weekday::Tue,
        "wed" | "wednesday" => Weekday::Wed,
        "thu" | "thursday" => Weekday::Thu,
        "fri" | "friday" => Weekday::Fri,
        "sat" | "saturday" => Weekday::Sat,
        "sun" | "sunday" => Weekday::Sun,
        other => return Err(format!("`{other}` is not a weekday (mon..sun)")),
    })
}

fn parse_days(s: &str) -> Result<Vec<Weekday>, String> {
    let mut days = Vec::new();
    for part in s.split(',') {
        if let Some((a, b)) = part.split_once('-') {
            let (mut d, end) = (parse_weekday(a)?, parse_weekday(b)?);
            loop {
                days.push(d);
                if d == end {
                    break;
                }
                d = d.succ();
            }
        } else {
            days.push(parse_weekday(part)?);
        }
    }
    Ok(days)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn hours(e: &[&str]) -> WorkingHours {
        WorkingHours::parse(&e.iter().map(|s| s.to_string()).collect::<Vec<_>>()).expect("parses")
    }

    #[test]
    fn weekday_shift_in_local_time() {
        let h = hours(&["mon-fri 09:00-17:00"]);
        let berlin: Tz = "Europe/Berlin".parse().expect("tz");
        // Monday 2026-11-23 08:30 UTC = 09:30 Berlin (CET, UTC+1).
        assert!(h.is_working(
            berlin,
            Utc.with_ymd_and_hms(2026, 11, 23, 8, 30, 0).unwrap()
        ));
        // 07:30 UTC = 08:30 Berlin: not yet.
        assert!(!h.is_working(
            berlin,
            Utc.with_ymd_and_hms(2026, 11, 23, 7, 30, 0).unwrap()
        ));
        // Saturday.
        assert!(!h.is_working(
            berlin,
            Utc.with_ymd_and_hms(2026, 11, 28, 10, 0, 0).unwrap()
        ));
    }

    #[test]
    fn overnight_shift_spans_midnight() {
        let h = hours(&["fri 22:00-06:00"]);
        let utc: Tz = "UTC".parse().expect("tz");
        assert!(h.is_working(utc, Utc.with_ymd_and_hms(2026, 11, 27, 23, 0, 0).unwrap()));
        assert!(h.is_working(utc, Utc.with_ymd_and_hms(2026, 11, 28, 5, 59, 0).unwrap()));
        assert!(!h.is_working(utc, Utc.with_ymd_and_hms(2026, 11, 28, 6, 0, 0).unwrap()));
        assert!(!h.is_working(utc, Utc.with_ymd_and_hms(2026, 11, 27, 21, 0, 0).unwrap()));
    }

    #[test]
    fn wrapping_day_ranges_and_errors() {
        assert_eq!(hours(&["sat-mon 10:00-11:00"]).shifts.len(), 3);
        assert!(WorkingHours::parse(&["funday 09:00-10:00".into()]).is_err());
        assert!(WorkingHours::parse(&["mon 9-10".into()]).is_err());
        assert!(hours(&[]).is_working("UTC".parse().expect("tz"), Utc::now()));
    }
}
