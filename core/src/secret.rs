//! Secrets in the configuration (API keys, tokens): a string that never
//! shows itself, neither in `Debug` output, logs and errors, nor in the
//! message of a config value of the wrong type.

use serde::Deserialize;

/// A string that never shows itself in `Debug` output, logs or errors.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

/// Deserializing: a value of the wrong type is refused without showing it
/// (serde's own message would quote it: `invalid type: integer 1234`).
impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Secret, D::Error> {
        d.deserialize_any(SecretVisitor { list: false }).map(|mut v| v.pop().unwrap_or_default())
    }
}

/// A list of secrets; a single string is refused, like any other wrong type,
/// without showing it.
pub(crate) fn secret_list<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Vec<Secret>, D::Error> {
    d.deserialize_any(SecretVisitor { list: true })
}

struct SecretVisitor {
    list: bool,
}

impl SecretVisitor {
    fn refuse<E: serde::de::Error>(&self) -> E {
        E::custom(if self.list {
            "expected a list of strings (the value given is not shown: it holds secrets)"
        } else {
            "expected a string (the value given is not shown: it is a secret)"
        })
    }
}

impl<'de> serde::de::Visitor<'de> for SecretVisitor {
    type Value = Vec<Secret>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(if self.list { "a list of strings" } else { "a string" })
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> std::result::Result<Self::Value, E> {
        if self.list {
            return Err(self.refuse());
        }
        Ok(vec![Secret(v.to_string())])
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Self::Value, A::Error> {
        if !self.list {
            return Err(self.refuse());
        }
        let mut out = Vec::new();
        while let Some(s) = seq.next_element::<Secret>()? {
            out.push(s);
        }
        Ok(out)
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> std::result::Result<Self::Value, E> {
        Err(self.refuse())
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> std::result::Result<Self::Value, E> {
        Err(self.refuse())
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> std::result::Result<Self::Value, E> {
        Err(self.refuse())
    }
    fn visit_i128<E: serde::de::Error>(self, _: i128) -> std::result::Result<Self::Value, E> {
        Err(self.refuse())
    }
    fn visit_u128<E: serde::de::Error>(self, _: u128) -> std::result::Result<Self::Value, E> {
        Err(self.refuse())
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> std::result::Result<Self::Value, E> {
        Err(self.refuse())
    }
    fn visit_bytes<E: serde::de::Error>(self, _: &[u8]) -> std::result::Result<Self::Value, E> {
        Err(self.refuse())
    }
    fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<Self::Value, E> {
        Err(self.refuse())
    }
    fn visit_none<E: serde::de::Error>(self) -> std::result::Result<Self::Value, E> {
        Err(self.refuse())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, _: A) -> std::result::Result<Self::Value, A::Error> {
        Err(self.refuse())
    }
    fn visit_enum<A: serde::de::EnumAccess<'de>>(self, _: A) -> std::result::Result<Self::Value, A::Error> {
        Err(self.refuse())
    }
}

impl Secret {
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The secret itself, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_empty() { "\"\"" } else { "\"<redacted>\"" })
    }
}
