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
//! - **Error messages** are this crate's own (`template: line 3: ...`), not Go's
//!   (`template: name:3:7: ...`); whether an error happens at parse time or at run time
//!   matches Go. A run-time error gives no partial output (Go's `Execute` has written what
//!   came before the error).
//! - **Bounded execution**: more than a million steps, 4 MiB of output or 50 nested
//!   `template` calls stop with an error where Go would go on.
//! - **`call`** cannot be used: the data model has no function values.
//! - **Pointers and interfaces** do not exist: a value is never a pointer, so `%p` and the
//!   `&{...}`/`0xc000...` forms of `%v` on pointers have no equivalent.
//! - **Maps have string keys** only; they iterate and print in key order as Go's do.
//! - **Time zone names**: [`gotime::format`] has only a UTC offset, so `MST` prints `UTC` or
//!   the numeric offset (`+0200`) where Go prints the zone database's abbreviation (`CEST`).
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
