//! `--interval` and `--schedule` into one [`Schedule`].

use super::Resolver;
use crate::error::Error;
use crate::flags::Flags;
use crate::flags::spec;
use crate::schedule::{Schedule, ScheduleError};

impl Resolver<'_> {
    pub(crate) fn schedule(&mut self, f: &Flags) -> Result<Schedule, Error> {
        let interval_raw = self.raw("interval", f.interval.as_ref());
        let interval: u64 = match interval_raw.value.trim().parse::<i64>() {
            Ok(v) if v >= 1 => v.unsigned_abs(),
            _ => {
                return Err(interval_raw.invalid("expected a whole number of seconds, at least 1"));
            }
        };
        let schedule_raw = self.string_with_source("schedule", f.schedule.as_ref());
        let default_interval: u64 = spec("interval").default.parse().expect("numeric default");
        let schedule = if schedule_raw.value.is_empty() {
            Schedule::from_interval(interval)
        } else {
            if interval != default_interval {
                return Err(Error::IntervalWithSchedule {
                    interval,
                    schedule: schedule_raw.value,
                });
            }
            let parsed =
                Schedule::parse(&schedule_raw.value).map_err(|source| Error::Schedule {
                    origin: schedule_raw.origin(),
                    source,
                })?;
            if parsed.next_after(&chrono::Local::now()).is_none() {
                return Err(Error::Schedule {
                    origin: schedule_raw.origin(),
                    source: ScheduleError {
                        spec: schedule_raw.value,
                        reason: "it never fires".to_owned(),
                    },
                });
            }
            parsed
        };
        self.record("interval", interval.to_string());
        self.record("schedule", schedule.spec());
        Ok(schedule)
    }
}
