//! Tool schemas as clients can use them. rmcp derives them from the
//! parameter and result types with schemars; two things are changed here:
//! definitions are inlined by the types themselves (`#[schemars(inline)]`,
//! since some clients do not follow `$ref`), and `format` values that only
//! Rust knows are dropped.

use rmcp::handler::server::tool::{schema_for_input, schema_for_output};
use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde_json::Value;
use std::sync::Arc;

/// JSON Schema `format` values that validators know. schemars also emits
/// Rust-specific ones ("uint64", "int32", "double"), which clients such as
/// Ajv warn about on every call: those are dropped.
const STANDARD_FORMATS: &[&str] = &[
    "date-time",
    "date",
    "time",
    "duration",
    "email",
    "idn-email",
    "hostname",
    "idn-hostname",
    "ipv4",
    "ipv6",
    "uri",
    "uri-reference",
    "iri",
    "iri-reference",
    "uuid",
    "uri-template",
    "json-pointer",
    "relative-json-pointer",
    "regex",
];

fn strip_formats(v: &mut Value) {
    match v {
        Value::Object(map) => {
            if map.get("format").and_then(Value::as_str).is_some_and(|f| !STANDARD_FORMATS.contains(&f)) {
                map.remove("format");
            }
            map.values_mut().for_each(strip_formats);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_formats),
        _ => {}
    }
}

fn plain(schema: &JsonObject) -> Arc<JsonObject> {
    let mut v = Value::Object(schema.clone());
    strip_formats(&mut v);
    match v {
        Value::Object(map) => Arc::new(map),
        _ => unreachable!("an object stays an object"),
    }
}

/// A tool's input schema, from its parameter type.
pub(crate) fn input_schema<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    // A parameter type whose schema is not an object is a programming error,
    // found by the unit test that lists every tool, never by a client.
    let schema = schema_for_input::<T>()
        .unwrap_or_else(|e| panic!("invalid input schema for {}: {e}", std::any::type_name::<T>()));
    plain(&schema)
}

/// A tool's output schema, from its result type.
pub(crate) fn output_schema<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    plain(&schema_for_output::<T>())
}
