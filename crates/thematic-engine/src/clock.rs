//! The clock, as runs and reports read it.

/// The time now, RFC 3339 in UTC, as runs and reports record it.
pub fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
