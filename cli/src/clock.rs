//! The one place the CLI reads the clock (core never does: it takes the time as an input).

/// Seconds since the Unix epoch; 0 if the clock is before 1970.
pub(crate) fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or_default()
}
