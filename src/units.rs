//! Durations (`15m`, `24h`, `7d`) and sizes (`1KiB`, `5MB`) as written in `dr.yml`, parsed with
//! `humantime` and `bytesize`, keeping the text the user wrote so details can quote it back.

use std::fmt;
use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A duration written as text in the config (`24h`, `7d`, `1h30m`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dur {
    pub duration: Duration,
    text: String,
}

impl Dur {
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let duration = humantime::parse_duration(trimmed).map_err(|e| {
            format!("invalid duration `{text}`: {e} (write it like `15m`, `24h` or `7d`)")
        })?;
        if duration.is_zero() {
            return Err(format!("invalid duration `{text}`: must be more than zero"));
        }
        Ok(Dur {
            duration,
            text: trimmed.to_string(),
        })
    }

    pub fn secs(&self) -> u64 {
        self.duration.as_secs()
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Dur::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl JsonSchema for Dur {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A duration: a number and a unit, e.g. `15m`, `24h`, `7d`, `1h30m`.",
            "pattern": "^\\s*([0-9]+\\s*[a-zA-Z]+\\s*)+$"
        })
    }
}

/// A size written as text in the config (`1KiB`, `5MB`, `512`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Size {
    pub bytes: u64,
    text: String,
}

impl Size {
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let parsed: bytesize::ByteSize = trimmed.parse().map_err(|e| {
            format!("invalid size `{text}`: {e} (write it like `1KiB`, `5MB` or `512`)")
        })?;
        Ok(Size {
            bytes: parsed.as_u64(),
            text: trimmed.to_string(),
        })
    }
}

impl fmt::Display for Size {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A bare number in YAML is a number of bytes.
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Num(n) => Ok(Size {
                bytes: n,
                text: n.to_string(),
            }),
            Raw::Text(t) => Size::parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl JsonSchema for Size {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Size".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A size in bytes, or with a unit: `512`, `1KiB`, `5MB`, `2GiB`.",
            "type": ["string", "integer"]
        })
    }
}

/// A short human form of a number of seconds: `50m`, `3h 5m`, `2d 4h`, `12s`.
pub fn short_duration(secs: u64) -> String {
    let (d, h, m, s) = (
        secs / 86_400,
        secs % 86_400 / 3600,
        secs % 3600 / 60,
        secs % 60,
    );
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m"),
        (0, _, 0) => format!("{h}h"),
        (0, _, _) => format!("{h}h {m}m"),
        (_, 0, _) => format!("{d}d"),
        _ => format!("{d}d {h}h"),
    }
}

/// A short human form of a byte count, in binary units (`1.5 MiB`).
pub fn short_size(bytes: u64) -> String {
    bytesize::ByteSize::b(bytes).display().iec().to_string()
}

/// `1.234s` under a minute, `3m 12s`-style above.
pub fn human_seconds(d: std::time::Duration) -> String {
    if d.as_secs() < 10 {
        format!("{:.2}s", d.as_secs_f64())
    } else if d.as_secs() < 60 {
        format!("{:.1}s", d.as_secs_f64())
    } else {
        let s = d.as_secs();
        if s < 3600 {
            format!("{}m {}s", s / 60, s % 60)
        } else {
            short_duration(s)
        }
    }
}

/// `1 backup`, `3 backups`: a count with its noun (plural by an `s`).
pub fn count(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// RFC 3339 timestamps to the second, UTC (`2026-11-30T04:23:00Z`), for serde and for text.
pub mod rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn format(t: &DateTime<Utc>) -> String {
        t.to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    pub fn serialize<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }

    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(
            t: &Option<DateTime<Utc>>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match t {
                Some(t) => s.serialize_some(&format(t)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            let text = Option::<String>::deserialize(d)?;
            text.map(|t| {
                DateTime::parse_from_rfc3339(&t)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(serde::de::Error::custom)
            })
            .transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_count_of_one_is_singular() {
        assert_eq!(super::count(1u64, "backup"), "1 backup");
        assert_eq!(super::count(0u64, "backup"), "0 backups");
        assert_eq!(super::count(40u64, "check"), "40 checks");
    }

    use super::*;

    #[test]
    fn durations_parse_the_forms_the_spec_names() {
        assert_eq!(Dur::parse("15m").unwrap().secs(), 900);
        assert_eq!(Dur::parse("24h").unwrap().secs(), 86_400);
        assert_eq!(Dur::parse("7d").unwrap().secs(), 7 * 86_400);
        assert_eq!(Dur::parse("1h30m").unwrap().secs(), 5_400);
        assert_eq!(Dur::parse("24h").unwrap().to_string(), "24h");
    }

    #[test]
    fn bad_durations_say_how_to_write_one() {
        let err = Dur::parse("24 hourz").unwrap_err();
        assert!(err.contains("invalid duration `24 hourz`"), "{err}");
        assert!(err.contains("`24h`"), "{err}");
        assert!(Dur::parse("0s").unwrap_err().contains("more than zero"));
        assert!(Dur::parse("").is_err());
    }

    #[test]
    fn sizes_parse_binary_and_decimal_units() {
        assert_eq!(Size::parse("1KiB").unwrap().bytes, 1024);
        assert_eq!(Size::parse("5MB").unwrap().bytes, 5_000_000);
        assert_eq!(Size::parse("512").unwrap().bytes, 512);
        assert!(
            Size::parse("lots")
                .unwrap_err()
                .contains("invalid size `lots`")
        );
    }

    #[test]
    fn short_duration_picks_the_two_largest_units() {
        assert_eq!(short_duration(3000), "50m");
        assert_eq!(short_duration(8040), "2h 14m");
        assert_eq!(short_duration(7200), "2h");
        assert_eq!(short_duration(3 * 86_400 + 7200 + 5), "3d 2h");
        assert_eq!(short_duration(12), "12s");
    }
}
