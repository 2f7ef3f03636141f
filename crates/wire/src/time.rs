//! Times a client sends: RFC 3339 (`2025-01-01T00:00:00Z`, `…+02:00`), or ISO 8601 without an
//! offset (`2025-01-01T00:00:00`, as the original design's clients send them), which is read
//! as UTC. A time that is neither is refused with its field named and the form expected.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer};

/// The forms a time may take, for error messages.
pub const TIME_FORMS: &str = "an ISO 8601 time such as 2025-01-01T00:00:00Z (with an offset, \
                              or without one for UTC)";

/// Read a client's time: RFC 3339, or ISO 8601 without an offset as UTC (`T` or a space
/// between date and time, seconds optional, fractions of a second kept).
pub fn parse_utc(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
    .map(|n| n.and_utc())
}

fn field<'de, D: Deserializer<'de>>(d: D, name: &str) -> Result<Option<DateTime<Utc>>, D::Error> {
    let Some(text) = Option::<String>::deserialize(d)? else {
        return Ok(None);
    };
    parse_utc(&text)
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom(format!("{name}: `{text}` is not {TIME_FORMS}")))
}

/// `start_time` as a client sends it (see the module).
pub fn start_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    field(d, "start_time")
}

/// `end_time` as a client sends it (see the module).
pub fn end_time<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    field(d, "end_time")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_and_offsetless_times_read_as_utc() {
        let utc = |s: &str| parse_utc(s).map(|d| d.to_rfc3339());
        assert_eq!(
            utc("2025-01-01T00:00:00Z").as_deref(),
            Some("2025-01-01T00:00:00+00:00")
        );
        assert_eq!(
            utc("2025-01-01T02:00:00+02:00").as_deref(),
            Some("2025-01-01T00:00:00+00:00")
        );
        assert_eq!(
            utc("2025-01-01T00:00:00").as_deref(),
            Some("2025-01-01T00:00:00+00:00")
        );
        assert_eq!(
            utc("2025-01-01 00:00:00.250").as_deref(),
            Some("2025-01-01T00:00:00.250+00:00")
        );
        assert_eq!(
            utc("2025-01-01T09:30").as_deref(),
            Some("2025-01-01T09:30:00+00:00")
        );
        for bad in [
            "2025-01-01",
            "yesterday",
            "2025-13-01T00:00:00",
            "",
            "1735689600",
        ] {
            assert_eq!(utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_bad_time_names_its_field_and_the_form() {
        #[derive(Deserialize, Debug)]
        struct Body {
            #[serde(default, deserialize_with = "start_time")]
            #[allow(dead_code)]
            start_time: Option<DateTime<Utc>>,
        }
        let ok: Body = serde_json::from_str(r#"{"start_time":"2025-01-01T00:00:00"}"#).unwrap();
        assert!(ok.start_time.is_some());
        let none: Body = serde_json::from_str(r#"{"start_time":null}"#).unwrap();
        assert!(none.start_time.is_none());
        let e = serde_json::from_str::<Body>(r#"{"start_time":"2025-01-01"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("start_time") && e.contains("2025-01-01T00:00:00Z"),
            "{e}"
        );
        let e = serde_json::from_str::<Body>(r#"{"start_time":5}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("string"), "{e}");
    }
}
