//! Demo parameters: their declared types and bounds, and validation of what a
//! request sends against them.
//!
//! Bounds are the safety net of the whole playground: they are what keeps a
//! run to a few seconds and a few dozen processes, so every value is checked
//! here, once, before anything runs (and again inside the runner).

use serde::Serialize;
use serde_json::{Map, Value};

/// The type, default and bounds of one parameter.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Kind {
    Int { default: i64, min: i64, max: i64 },
    Bool { default: bool },
    IntList { default: &'static [i64], min: i64, max: i64, min_len: usize, max_len: usize },
    Choice { default: &'static str, options: &'static [&'static str] },
}

/// One declared parameter of a demo.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Spec {
    pub name: &'static str,
    /// What it does, shown beside the field.
    pub help: &'static str,
    #[serde(flatten)]
    pub kind: Kind,
}

/// The kernel sampler's default pause between two looks at `/proc`: each
/// thread read costs the kernel about 5 µs, so 2 ms keeps the sampler under 3%
/// of one core for a run of 8 threads while still catching every state a
/// lesson demo stays in for a few milliseconds.
pub const DEFAULT_SAMPLE_INTERVAL_US: i64 = 2_000;

/// Parameters every demo has, appended to its own by the catalog (see
/// [`crate::demos::Demo::all_params`]): the kernel sampler's switch and
/// interval (`docs/events.md`, "The kernel sampler").
pub const COMMON: &[Spec] = &[
    Spec {
        name: "sample",
        help: "sample the kernel's view of every process and thread (state, CPU) from /proc during the run",
        kind: Kind::Bool { default: true },
    },
    Spec {
        name: "sample_interval_us",
        help: "how often the kernel sampler looks at /proc, in microseconds",
        kind: Kind::Int { default: DEFAULT_SAMPLE_INTERVAL_US, min: 200, max: 100_000 },
    },
];

/// Why a request's parameters were refused. Always names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("parameters must be a JSON object")]
    NotAnObject,
    #[error("unknown parameter {field:?}")]
    Unknown { field: String },
    #[error("{message}")]
    Invalid { field: &'static str, message: String },
}

impl ParamError {
    pub fn field(&self) -> Option<&str> {
        match self {
            ParamError::NotAnObject => None,
            ParamError::Unknown { field } => Some(field),
            ParamError::Invalid { field, .. } => Some(field),
        }
    }
}

/// Validated parameters with every default filled in.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Params(Map<String, Value>);

impl Params {
    pub fn to_json(&self) -> Value {
        Value::Object(self.0.clone())
    }

    /// An int parameter. Panics only if the demo asks for a name it did not
    /// declare, which is a programming error caught by every test run.
    pub fn int(&self, name: &str) -> i64 {
        self.0.get(name).and_then(Value::as_i64).unwrap_or_else(|| panic!("undeclared int parameter {name}"))
    }

    pub fn bool(&self, name: &str) -> bool {
        self.0.get(name).and_then(Value::as_bool).unwrap_or_else(|| panic!("undeclared bool parameter {name}"))
    }

    pub fn int_list(&self, name: &str) -> Vec<i64> {
        self.0
            .get(name)
            .and_then(Value::as_array)
            .map(|items| items.iter().filter_map(Value::as_i64).collect())
            .unwrap_or_else(|| panic!("undeclared list parameter {name}"))
    }

    pub fn choice(&self, name: &str) -> &str {
        self.0.get(name).and_then(Value::as_str).unwrap_or_else(|| panic!("undeclared choice parameter {name}"))
    }
}

/// Checks `raw` (a JSON object, or null for "all defaults") against `specs`.
pub fn validate(specs: &[Spec], raw: &Value) -> Result<Params, ParamError> {
    let empty = Map::new();
    let given = match raw {
        Value::Null => &empty,
        Value::Object(map) => map,
        _ => return Err(ParamError::NotAnObject),
    };
    if let Some(unknown) = given.keys().find(|k| !specs.iter().any(|s| s.name == k.as_str())) {
        return Err(ParamError::Unknown { field: unknown.clone() });
    }
    let mut out = Map::new();
    for spec in specs {
        let value = match given.get(spec.name) {
            None => default_of(spec),
            Some(v) => check(spec, v)?,
        };
        out.insert(spec.name.to_owned(), value);
    }
    Ok(Params(out))
}

/// Parameters written as text, as in a URL's query (`numbers=2,3&delay_ms=200`):
/// each is read by its declared type (a list is comma-separated, a bool is
/// `1`/`0`/`true`/`false`), then everything goes through [`validate`], so a
/// URL is held to exactly the bounds and messages of a JSON request. Text
/// that does not read as its type is passed on as a string, for `validate`
/// to refuse with the field's usual message.
pub fn from_text(specs: &[Spec], pairs: &[(String, String)]) -> Result<Params, ParamError> {
    let mut given = Map::new();
    for (name, text) in pairs {
        let as_text = || Value::String(text.clone());
        let value = match specs.iter().find(|s| s.name == name.as_str()).map(|s| s.kind) {
            Some(Kind::Int { .. }) => text.trim().parse::<i64>().map(Value::from).unwrap_or_else(|_| as_text()),
            Some(Kind::Bool { .. }) => match text.trim() {
                "1" | "true" | "yes" | "on" => Value::Bool(true),
                "0" | "false" | "no" | "off" => Value::Bool(false),
                _ => as_text(),
            },
            Some(Kind::IntList { .. }) => {
                let items: Option<Vec<i64>> = text.split(',').map(|t| t.trim().parse().ok()).collect();
                items.map(Value::from).unwrap_or_else(as_text)
            }
            Some(Kind::Choice { .. }) | None => as_text(),
        };
        given.insert(name.clone(), value);
    }
    validate(specs, &Value::Object(given))
}

fn default_of(spec: &Spec) -> Value {
    match spec.kind {
        Kind::Int { default, .. } => default.into(),
        Kind::Bool { default } => default.into(),
        Kind::IntList { default, .. } => default.to_vec().into(),
        Kind::Choice { default, .. } => default.into(),
    }
}

fn check(spec: &Spec, value: &Value) -> Result<Value, ParamError> {
    let field = spec.name;
    let invalid = |message: String| ParamError::Invalid { field, message };
    match spec.kind {
        Kind::Int { min, max, .. } => match value.as_i64() {
            Some(n) if (min..=max).contains(&n) => Ok(n.into()),
            _ => Err(invalid(format!("{field} must be an integer from {min} to {max}"))),
        },
        Kind::Bool { .. } => match value {
            Value::Bool(b) => Ok((*b).into()),
            _ => Err(invalid(format!("{field} must be true or false"))),
        },
        Kind::IntList { min, max, min_len, max_len, .. } => {
            let message = || format!("{field} must be a list of {min_len} to {max_len} integers, each from {min} to {max}");
            let items = value.as_array().ok_or_else(|| invalid(message()))?;
            if !(min_len..=max_len).contains(&items.len()) {
                return Err(invalid(message()));
            }
            let numbers: Option<Vec<i64>> =
                items.iter().map(|item| item.as_i64().filter(|n| (min..=max).contains(n))).collect();
            numbers.map(Value::from).ok_or_else(|| invalid(message()))
        }
        Kind::Choice { options, .. } => match value.as_str() {
            Some(s) if options.contains(&s) => Ok(s.into()),
            _ => Err(invalid(format!("{field} must be one of {}", options.join(", ")))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SPECS: &[Spec] = &[
        Spec { name: "delay_ms", help: "", kind: Kind::Int { default: 500, min: 0, max: 5000 } },
        Spec {
            name: "numbers",
            help: "",
            kind: Kind::IntList { default: &[2, 3], min: -1000, max: 1000, min_len: 1, max_len: 16 },
        },
        Spec { name: "use_lock", help: "", kind: Kind::Bool { default: true } },
    ];

    #[test]
    fn missing_parameters_take_their_defaults() {
        let params = validate(SPECS, &json!({})).unwrap();
        assert_eq!(params.int("delay_ms"), 500);
        assert_eq!(params.int_list("numbers"), vec![2, 3]);
        assert!(params.bool("use_lock"));
        assert_eq!(validate(SPECS, &Value::Null).unwrap(), params);
    }

    #[test]
    fn out_of_bounds_int_names_field_and_bounds() {
        let err = validate(SPECS, &json!({"delay_ms": 5001})).unwrap_err();
        assert_eq!(err.field(), Some("delay_ms"));
        assert_eq!(err.to_string(), "delay_ms must be an integer from 0 to 5000");
    }

    #[test]
    fn list_items_are_each_checked() {
        assert!(validate(SPECS, &json!({"numbers": [1, 2000]})).is_err());
        assert!(validate(SPECS, &json!({"numbers": []})).is_err());
        assert!(validate(SPECS, &json!({"numbers": [1.5]})).is_err());
        assert!(validate(SPECS, &json!({"numbers": "1,2"})).is_err());
    }

    #[test]
    fn unknown_parameter_is_refused_by_name() {
        let err = validate(SPECS, &json!({"rm -rf /": 1})).unwrap_err();
        assert_eq!(err.field(), Some("rm -rf /"));
    }

    #[test]
    fn text_parameters_are_read_by_type_and_validated_like_json() {
        let pairs = |list: &[(&str, &str)]| list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        let params = from_text(SPECS, &pairs(&[("numbers", "2, 3"), ("delay_ms", "200"), ("use_lock", "0")])).unwrap();
        assert_eq!(params.int_list("numbers"), vec![2, 3]);
        assert_eq!(params.int("delay_ms"), 200);
        assert!(!params.bool("use_lock"));
        let err = from_text(SPECS, &pairs(&[("delay_ms", "9999")])).unwrap_err();
        assert_eq!(err.to_string(), "delay_ms must be an integer from 0 to 5000");
        assert_eq!(from_text(SPECS, &pairs(&[("numbers", "2,x")])).unwrap_err().field(), Some("numbers"));
        assert_eq!(from_text(SPECS, &pairs(&[("bogus", "1")])).unwrap_err().field(), Some("bogus"));
    }

    #[test]
    fn wrong_types_are_refused() {
        assert!(validate(SPECS, &json!({"use_lock": "yes"})).is_err());
        assert!(validate(SPECS, &json!({"delay_ms": "5"})).is_err());
        assert!(validate(SPECS, &json!([1])).is_err());
    }
}
