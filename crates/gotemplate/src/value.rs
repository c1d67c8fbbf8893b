//! Values a template works on: Go's basic kinds, lists, maps, and objects with fields and
//! methods (the notification data model).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use crate::json::Json;

/// A value seen by a template.
#[derive(Clone, Default)]
pub enum Value {
    /// What a missing map key gives (printed as `<no value>`).
    #[default]
    NoValue,
    /// Go's `nil` (printed as `<nil>`).
    Nil,
    /// A boolean.
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(Arc<str>),
    /// A slice.
    List(Arc<[Value]>),
    /// A map with string keys (iterated in key order, as Go's templates do).
    Map(Arc<BTreeMap<String, Value>>),
    /// A struct-like value with fields and methods.
    Object(Arc<dyn Object>),
}

/// A struct-like value: named fields, methods (with or without arguments), how it prints and
/// how `ToJSON` renders it.
pub trait Object: Send + Sync {
    /// The Go type name, for error messages and `%T`.
    fn type_name(&self) -> &'static str;
    /// Looks up a field or method `name` and applies it to `args` (empty for fields and
    /// argument-less methods). `None` when there is no such field or method.
    fn get(&self, name: &str, args: &[Value]) -> Option<Result<Value, String>>;
    /// How `{{.}}` prints it (Go's `String()` method, or the struct's default format).
    fn display(&self) -> String;
    /// The JSON form `ToJSON` writes.
    fn to_json(&self) -> Json;
    /// For named basic types (`type ImageID string`): the underlying value, used by
    /// comparisons, `len`, and printf verbs.
    fn basic(&self) -> Option<Value> {
        None
    }
    /// For named unsigned integers (`logrus.Level` is a `uint32`): `%#v` prints them in hex,
    /// as Go does.
    fn unsigned(&self) -> bool {
        false
    }
}

impl From<String> for Value {
    fn from(s: String) -> Self {
        Value::Str(Arc::from(s))
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Self {
        Value::Str(Arc::from(s))
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<i64> for Value {
    fn from(i: i64) -> Self {
        Value::Int(i)
    }
}

impl From<Vec<Value>> for Value {
    fn from(list: Vec<Value>) -> Self {
        Value::List(Arc::from(list))
    }
}

impl From<BTreeMap<String, Value>> for Value {
    fn from(map: BTreeMap<String, Value>) -> Self {
        Value::Map(Arc::new(map))
    }
}

impl Value {
    /// Wraps an object.
    pub fn object(object: impl Object + 'static) -> Self {
        Value::Object(Arc::new(object))
    }

    /// The underlying basic value of a named type, or the value itself.
    #[must_use]
    pub fn basic(&self) -> Value {
        match self {
            Value::Object(o) => o.basic().unwrap_or_else(|| self.clone()),
            other => other.clone(),
        }
    }

    /// Go's notion of truth for `if`, `with`, `and`, `or`, `not`.
    pub fn truthy(&self) -> bool {
        match self.basic() {
            Value::NoValue | Value::Nil => false,
            Value::Bool(b) => b,
            Value::Int(i) => i != 0,
            Value::Float(f) => f != 0.0,
            Value::Str(s) => !s.is_empty(),
            Value::List(l) => !l.is_empty(),
            Value::Map(m) => !m.is_empty(),
            Value::Object(_) => true,
        }
    }

    /// The Go type name (`string`, `[]interface {}`, ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::NoValue => "invalid",
            Value::Nil => "<nil>",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Float(_) => "float64",
            Value::Str(_) => "string",
            Value::List(_) => "[]interface {}",
            Value::Map(_) => "map[string]interface {}",
            Value::Object(o) => o.type_name(),
        }
    }

    /// `fmt.Sprint`-style text of the value (`%v`).
    pub fn display(&self) -> String {
        let mut out = String::new();
        self.write_display(&mut out);
        out
    }

    pub(crate) fn write_display(&self, out: &mut String) {
        match self {
            Value::NoValue => out.push_str("<no value>"),
            Value::Nil => out.push_str("<nil>"),
            Value::Bool(b) => {
                let _ = write!(out, "{b}");
            }
            Value::Int(i) => {
                let _ = write!(out, "{i}");
            }
            Value::Float(f) => out.push_str(&crate::float::format_float_g(*f, None)),
            Value::Str(s) => out.push_str(s),
            Value::List(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    item.write_display(out);
                }
                out.push(']');
            }
            Value::Map(map) => {
                out.push_str("map[");
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(k);
                    out.push(':');
                    v.write_display(out);
                }
                out.push(']');
            }
            Value::Object(o) => out.push_str(&o.display()),
        }
    }

    /// The JSON form (`ToJSON`).
    pub fn to_json(&self) -> Json {
        match self {
            Value::NoValue | Value::Nil => Json::Null,
            Value::Bool(b) => Json::Bool(*b),
            Value::Int(i) => Json::Int(*i),
            Value::Float(f) => Json::Float(*f),
            Value::Str(s) => Json::Str(s.to_string()),
            Value::List(items) => Json::Array(items.iter().map(Value::to_json).collect()),
            Value::Map(map) => {
                Json::Object(map.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
            Value::Object(o) => o.to_json(),
        }
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({})", self.type_name(), self.display())
    }
}
