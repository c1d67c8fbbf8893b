//! A Go `text/template` interpreter: the language and built-in functions of Go 1.19's
//! `text/template`, plus the four functions Watchtower adds (`ToUpper`, `ToLower`, `ToJSON`,
//! `Title`), over a data model of Go-like values and objects with fields and methods.
//!
//! Why not an existing crate: `gtmpl` (the Rust port) calls only plain function pointers, so
//! it cannot express methods with arguments (`.Time.Format "15:04"`), methods on string-like
//! values (`.CurrentImageID.ShortID`) or `ToJSON` of the notification data, all of which the
//! original's built-in and documented templates use.
//!
//! ```
//! use std::collections::BTreeMap;
//! use watchtower_gotemplate::{Template, Value};
//!
//! let mut data = BTreeMap::new();
//! data.insert("Name".to_owned(), Value::from("web"));
//! data.insert("Tags".to_owned(), Value::from(vec![Value::from("a"), Value::from("b")]));
//! let template = Template::parse("{{.Name}}:{{range $i, $t := .Tags}} {{$i}}={{$t}}{{end}}")?;
//! assert_eq!(template.render(&Value::from(data))?, "web: 0=a 1=b");
//!
//! // Parse-time and run-time errors are told apart, as Go does.
//! assert!(Template::parse("{{ .Broken").unwrap_err().is_parse());
//! let run = Template::parse("{{ len 3 }}")?.render(&Value::Nil).unwrap_err();
//! assert!(!run.is_parse());
//! # Ok::<(), watchtower_gotemplate::Error>(())
//! ```
//!
//! Supported: text and actions with `{{-`/`-}}` trimming, comments, pipelines, variables
//! (`$x :=`, `$x =`, `$`), field chains and method calls with arguments on the data model
//! ([`Object`]), parenthesised pipelines, `if`/`else if`/`else`, `with`/`else`, `range`
//! (lists and maps; one or two variables; `else`; `break`/`continue`),
//! `define`/`template`/`block`, Go literals, and the functions `and or not len index slice
//! print printf println eq ne lt le gt ge html js urlquery call`. Every template, however
//! malformed, gives a value or an error, never a panic; execution is bounded in steps, output
//! size and call depth.
//!
//! # Deliberate differences from Go
//!
//! `watchtower-notify`'s test `go_differential` renders a corpus of templates with this
//! crate and with Go 1.19's own `text/template` and compares them; these are the only
//! differences it allows:
//!
//! - **Error messages** are this crate's own (`template: line 3: ...`), not Go's
//!   (`template: name:3:7: ...`); whether an error happens at parse time or at run time
//!   matches Go. A run-time error gives no partial output (Go's `Execute` has written what
//!   came before the error).
//! - **Bounded execution**: more than a million steps, 4 MiB of output or 50 nested
//!   `template` calls stop with an error where Go would go on.
//! - **`call`** cannot be used: the data model has no function values.
//! - **Pointers and interfaces** do not exist: a value is never a pointer, so `%p` and the
//!   `&{...}`/`0xc000...` forms of `%v` on pointers have no equivalent, and `%T` of an
//!   object prints the type name the object gives (the original's, `*logrus.Entry`).
//! - **Maps have string keys** only; they iterate and print in key order as Go's do.
//! - **Strings are UTF-8**: `slice` of a string that would cut a character apart is an
//!   error, where Go returns the bytes; a list's capacity is its length (`slice x 1 2 9`
//!   is out of range here even where Go's slice had room).
//! - **Complex numbers** (`1i`) and `printf`'s `%#g`-style `#` flag on floats are not
//!   supported.
//! - **Unicode tables**: `ToUpper`/`ToLower`/`Title` and `%q`'s printable test use Rust's
//!   Unicode version and simple mappings (not Go 1.19's Unicode 13); code points that are
//!   unassigned count as printable.
//! - **Time zone names** (`MST`) come from the zone database of the local zone (`TZ`, else
//!   `/etc/localtime`), as Go's do, for times at the local zone's offset; a time at offset
//!   zero prints `UTC` (Go prints the zone's name, such as `GMT` in London's winter) and a
//!   time at any other foreign offset prints the offset (`+0530`).
//! - **`ToJSON` of the notification data's parts** (watchtower-notify's model, not this
//!   crate): a report or a container prints its fields, where the original's unexported
//!   struct fields give `{}` (docs/notifications.md documents this), and a log entry prints
//!   `level`, `message`, `data` and `time` as in `json.v1`, where the original encodes the
//!   whole `*logrus.Entry`, logger included (which `encoding/json` cannot encode).
//!
//! # Dependencies
//!
//! chrono (for [`gotime`]) and thiserror only; this crate knows nothing of notifications.

#![warn(missing_docs)]

mod error;
mod exec;
mod float;
mod fmt;
mod funcs;
pub mod gotime;
mod json;
mod lex;
mod parse;
mod value;
mod zone;

pub use error::Error;
pub use json::Json;
pub use value::{Object, Value};

/// A parsed template.
#[derive(Clone)]
pub struct Template {
    parsed: std::sync::Arc<parse::Parsed>,
}

impl std::fmt::Debug for Template {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Template").finish_non_exhaustive()
    }
}

impl Template {
    /// Parses template text.
    pub fn parse(text: &str) -> Result<Self, Error> {
        Ok(Self {
            parsed: std::sync::Arc::new(parse::parse(text)?),
        })
    }

    /// Runs the template with `data` as dot.
    pub fn render(&self, data: &Value) -> Result<String, Error> {
        exec::execute(&self.parsed, data)
    }
}

#[cfg(test)]
mod tests;
