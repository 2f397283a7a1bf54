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
        self.shifts.is_empty() || self.is_working_local(&at.with_timezone(&tz))
    }

    /// Whether the local time `local` falls inside a shift. For callers that convert an instant
    /// once per time zone and test many reps against it (a decision over a large pool).
    pub fn is_working_local(&self, local: &DateTime<Tz>) -> bool {
        if self.shifts.is_empty() {
            return true;
        }
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

impl WorkingHours {
    /// The instant at which `work` of working time has passed since `start`, counting only time
    /// inside shifts, in time zone `tz` (an SLA clock that pauses outside working hours). With
    /// no shifts it is wall-clock time. A lead assigned on Friday at 16:50 to a rep working
    /// `mon-fri 09:00-17:00`, with 15 minutes to accept, is due on Monday at 09:05.
    pub fn add_working_time(
        &self,
        tz: Tz,
        start: DateTime<Utc>,
        work: chrono::Duration,
    ) -> DateTime<Utc> {
        if self.shifts.is_empty() || work <= chrono::Duration::zero() {
            return start + work;
        }
        let mut remaining = work;
        let mut t = start;
        // From the day before (an overnight shift may be running), a day at a time. Any
        // non-empty week has working time within 8 days; 400 days bounds absurd inputs.
        let Some(mut date) = start.with_timezone(&tz).date_naive().pred_opt() else {
            return start + work;
        };
        for _ in 0..400 {
            let mut spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = self
                .shifts
                .iter()
                .filter(|s| s.day == date.weekday())
                .filter_map(|s| {
                    let end_date = if s.end <= s.start {
                        date.succ_opt()?
                    } else {
                        date
                    };
                    Some((
                        local_instant(tz, date.and_time(s.start))?,
                        local_instant(tz, end_date.and_time(s.end))?,
                    ))
                })
                .collect();
            spans.sort();
            for (a, b) in spans {
                if b <= t {
                    continue;
                }
                let from = a.max(t);
                let available = b - from;
                if available >= remaining {
                    return from + remaining;
                }
                remaining -= available;
                t = b;
            }
            match date.succ_opt() {
                Some(d) => date = d,
                None => break,
            }
        }
        start + work
    }
}

/// A local wall-clock time as an instant; a time skipped by a DST change counts from the end of
/// the gap.
fn local_instant(tz: Tz, local: chrono::NaiveDateTime) -> Option<DateTime<Utc>> {
    use chrono::TimeZone;
    tz.from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(local + chrono::Duration::hours(1)))
                .earliest()
        })
        .map(|t| t.with_timezone(&Utc))
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
    fn working_time_pauses_outside_shifts() {
        let h = hours(&["mon-fri 09:00-17:00"]);
        let berlin: Tz = "Europe/Berlin".parse().expect("tz");
        let m = chrono::Duration::minutes;
        // Monday 10:00 Berlin (09:00 UTC) + 15 min, inside the shift.
        let mon = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        assert_eq!(h.add_working_time(berlin, mon, m(15)), mon + m(15));
        // Friday 16:50 Berlin + 15 min -> Monday 09:05 Berlin (08:05 UTC).
        let fri = Utc.with_ymd_and_hms(2026, 11, 27, 15, 50, 0).unwrap();
        assert_eq!(
            h.add_working_time(berlin, fri, m(15)),
            Utc.with_ymd_and_hms(2026, 11, 30, 8, 5, 0).unwrap()
        );
        // At night: due relative to 09:00 the next morning.
        let night = Utc.with_ymd_and_hms(2026, 11, 24, 1, 0, 0).unwrap();
        assert_eq!(
            h.add_working_time(berlin, night, m(30)),
            Utc.with_ymd_and_hms(2026, 11, 24, 8, 30, 0).unwrap()
        );
        // Two full days of work span three calendar days.
        assert_eq!(
            h.add_working_time(berlin, mon, chrono::Duration::hours(16)),
            Utc.with_ymd_and_hms(2026, 11, 25, 9, 0, 0).unwrap()
        );
        // No shifts: wall clock.
        assert_eq!(
            hours(&[]).add_working_time(berlin, night, m(30)),
            night + m(30)
        );
    }

    #[test]
    fn working_time_follows_overnight_shifts_and_dst() {
        let utc: Tz = "UTC".parse().expect("tz");
        let h = hours(&["fri 22:00-06:00"]);
        // Friday 23:00 + 8h of work: 7h tonight, then 1h into next Friday's shift.
        let t = Utc.with_ymd_and_hms(2026, 11, 27, 23, 0, 0).unwrap();
        assert_eq!(
            h.add_working_time(utc, t, chrono::Duration::hours(8)),
            Utc.with_ymd_and_hms(2026, 12, 4, 23, 0, 0).unwrap()
        );
        // New York springs forward on 2026-03-08 at 02:00: a 01:00-04:00 shift has 2 real hours.
        let ny: Tz = "America/New_York".parse().expect("tz");
        let night = hours(&["sun 01:00-04:00"]);
        let start = Utc.with_ymd_and_hms(2026, 3, 8, 6, 0, 0).unwrap(); // 01:00 EST
        assert_eq!(
            night.add_working_time(ny, start, chrono::Duration::minutes(90)),
            Utc.with_ymd_and_hms(2026, 3, 8, 7, 30, 0).unwrap() // 03:30 EDT
        );
    }

    #[test]
    fn wrapping_day_ranges_and_errors() {
        assert_eq!(hours(&["sat-mon 10:00-11:00"]).shifts.len(), 3);
        assert!(WorkingHours::parse(&["funday 09:00-10:00".into()]).is_err());
        assert!(WorkingHours::parse(&["mon 9-10".into()]).is_err());
        assert!(hours(&[]).is_working("UTC".parse().expect("tz"), Utc::now()));
    }
}
