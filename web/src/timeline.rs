//! The expiry timeline the page draws for a bundle (the one it built, and one dropped on it):
//! one row per CA, certificate and kubeconfig, soonest first, each with its date, the days
//! left, a bar on a common time axis from now to the last expiry, and whether it is due (under
//! 30 days, as `kbundle certs` warns) or was kept from the previous bundle. Plain Rust, so the
//! arithmetic is tested natively; `app::timeline` draws it.

use kbundle_core::bundle::expiry::{Expiry, iso_date};

const DAY: i64 = 86_400;

/// One row.
#[derive(Debug, Clone, PartialEq)]
pub struct TimelineRow {
    /// Where it is (path on the node, `admin.conf`, or the CA's file).
    pub what: String,
    /// Whose; `None` for a CA and the operator's admin.conf.
    pub node: Option<String>,
    /// Its subject's common name.
    pub common_name: String,
    /// Its expiry date, `YYYY-MM-DD` (UTC).
    pub expires: String,
    /// Whole days left (negative once expired).
    pub days_left: i64,
    /// The bar's length, from now to the timeline's last expiry (0 to 1).
    pub fraction: f64,
    /// Expires within 30 days, or has.
    pub due: bool,
    /// A certificate authority.
    pub is_ca: bool,
    /// Kept from the previous bundle (else issued now).
    pub kept: bool,
}

/// The rows and what the heading says of them.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    /// Soonest first.
    pub rows: Vec<TimelineRow>,
    /// How many are due.
    pub due: usize,
    /// How many were kept from the previous bundle.
    pub kept: usize,
    /// The date the axis ends at (the last expiry).
    pub horizon: String,
}

impl Timeline {
    /// The timeline of `entries` (as [`kbundle_core::bundle::Bundle::expiries`] gives them),
    /// seen at `now` (unix seconds).
    pub fn of(entries: &[Expiry], now: i64) -> Self {
        let last = entries
            .iter()
            .map(|entry| entry.not_after)
            .max()
            .unwrap_or(now);
        let span = (last - now).max(1) as f64;
        let mut rows: Vec<TimelineRow> = entries
            .iter()
            .map(|entry| TimelineRow {
                what: entry.what.clone(),
                node: entry.node.clone(),
                common_name: entry.common_name.clone(),
                expires: iso_date(entry.not_after),
                days_left: (entry.not_after - now).div_euclid(DAY),
                fraction: ((entry.not_after - now) as f64 / span).clamp(0.0, 1.0),
                due: entry.is_due(now),
                is_ca: entry.is_ca,
                kept: entry.kept,
            })
            .collect();
        rows.sort_by_key(|row| row.days_left);
        Self {
            due: rows.iter().filter(|row| row.due).count(),
            kept: rows.iter().filter(|row| row.kept).count(),
            horizon: iso_date(last),
            rows,
        }
    }

    /// The soonest expiry, as the heading names it.
    pub fn soonest(&self) -> Option<&TimelineRow> {
        self.rows.first()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expiry(what: &str, not_after: i64, is_ca: bool, kept: bool) -> Expiry {
        Expiry {
            what: what.into(),
            node: (!is_ca).then(|| "cp1".into()),
            common_name: what.into(),
            not_after,
            is_ca,
            kept,
        }
    }

    #[test]
    fn rows_come_soonest_first_on_one_axis_with_what_is_due() {
        let now = 1_790_000_000;
        let timeline = Timeline::of(
            &[
                expiry("ca", now + 3650 * DAY, true, true),
                expiry("apiserver", now + 365 * DAY, false, false),
                expiry("old", now + 10 * DAY, false, true),
            ],
            now,
        );
        let order: Vec<&str> = timeline.rows.iter().map(|row| row.what.as_str()).collect();
        assert_eq!(order, ["old", "apiserver", "ca"]);
        assert_eq!(timeline.due, 1);
        assert_eq!(timeline.kept, 2);
        assert_eq!(timeline.soonest().map(|row| row.days_left), Some(10));
        assert!(timeline.rows[0].due && !timeline.rows[1].due);
        assert_eq!(timeline.rows[2].fraction, 1.0);
        assert!((timeline.rows[1].fraction - 0.1).abs() < 1e-9);
        assert_eq!(timeline.horizon, iso_date(now + 3650 * DAY));
        // An expired one is due, with days below zero and no bar.
        let expired = Timeline::of(&[expiry("gone", now - 2 * DAY, false, false)], now);
        assert_eq!(expired.rows[0].days_left, -2);
        assert_eq!(expired.rows[0].fraction, 0.0);
        assert!(expired.rows[0].due);
    }
}
