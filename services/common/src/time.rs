//! [`Timestamp`]: an instant as the API shows it, RFC 3339 in UTC with a `Z`
//! (`2026-11-24T08:06:13.269Z`). Input may carry any offset; it is converted to UTC.
//!
//! chrono's own OpenAPI mapping writes `+00:00`, which the contract does not allow.

use std::borrow::Cow;

use chrono::{DateTime, SecondsFormat, Utc};
use poem_openapi::{
    registry::{MetaSchema, MetaSchemaRef},
    types::{ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type},
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// An instant, shown in UTC.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

impl Timestamp {
    /// `2026-11-24T08:06:13.269Z`: milliseconds, the precision MongoDB stores.
    pub fn to_rfc3339(&self) -> String {
        self.0.to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// Parses RFC 3339 with any offset.
    pub fn parse(raw: &str) -> Result<Self, chrono::ParseError> {
        DateTime::parse_from_rfc3339(raw).map(|t| Self(t.with_timezone(&Utc)))
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(time: DateTime<Utc>) -> Self {
        Self(time)
    }
}

impl Type for Timestamp {
    const IS_REQUIRED: bool = true;
    type RawValueType = Self;
    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string_date-time".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new_with_format("string", "date-time")))
    }

    fn as_raw_value(&self) -> Option<&Self> {
        Some(self)
    }

    fn raw_element_iter<'a>(&'a self) -> Box<dyn Iterator<Item = &'a Self> + 'a> {
        Box::new(std::iter::once(self))
    }
}

impl ToJSON for Timestamp {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.to_rfc3339()))
    }
}

impl ParseFromJSON for Timestamp {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(raw) => Ok(Self::parse(&raw)?),
            other => Err(ParseError::expected_type(other)),
        }
    }
}

impl ParseFromParameter for Timestamp {
    fn parse_from_parameter(raw: &str) -> ParseResult<Self> {
        Ok(Self::parse(raw)?)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(de)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_utc_with_a_z() {
        let t = Timestamp::parse("2026-11-24T09:06:13.269+01:00").unwrap();
        assert_eq!(t.to_rfc3339(), "2026-11-24T08:06:13.269Z");
        assert_eq!(
            t.to_json(),
            Some(Value::String("2026-11-24T08:06:13.269Z".into()))
        );
    }

    #[test]
    fn input_without_an_offset_is_refused() {
        assert!(Timestamp::parse("2026-11-24T08:06:13").is_err());
        assert!(serde_json::from_str::<Timestamp>("\"tomorrow\"").is_err());
    }
}
