//! A Go `text/template` interpreter, focused on what notification templates use.
//!
//! Why not an existing crate: `gtmpl` (the Rust port) calls only plain function pointers, so
//! it cannot express methods with arguments (`.Time.Format "15:04"`), methods on string-like
//! values (`.CurrentImageID.ShortID`) or the original's `ToJSON` of the notification data,
//! all of which the original's built-in and documented templates use.
//!
//! Supported: text and actions with `{{-`/`-}}` trimming, comments, pipelines, variables
//! (`$x :=`, `$x =`, `$`), field chains and method calls with arguments on the data model,
//! parenthesised pipelines, `if`/`else if`/`else`, `with`/`else with`, `range` (lists, maps,
//! integers; one or two variables; `else`; `break`/`continue`), `define`/`template`/`block`,
//! Go literals, and the functions `and or not len index slice print printf println eq ne lt
//! le gt ge html js urlquery` plus the original's `ToUpper ToLower ToJSON Title`.
//!
//! Every template, however malformed, gives a value or an error, never a panic; execution is
//! bounded in steps, output size and call depth.

mod exec;
pub(crate) mod fmt;
mod funcs;
pub(crate) mod gotime;
mod json;
mod lex;
mod parse;
mod value;

pub use json::Json;
pub use value::{Object, Value};

/// Why a template could not be parsed or run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TemplateError {
    /// The template text is not valid.
    #[error("template: line {line}: {message}")]
    Parse {
        /// 1-based line of the template.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Running the template failed (unknown field, wrong argument types, limits).
    #[error("template: line {line}: executing: {message}")]
    Exec {
        /// 1-based line of the template.
        line: usize,
        /// What went wrong.
        message: String,
    },
}

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
    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        Ok(Self {
            parsed: std::sync::Arc::new(parse::parse(text)?),
        })
    }

    /// Runs the template with `data` as dot.
    pub fn render(&self, data: &Value) -> Result<String, TemplateError> {
        exec::execute(&self.parsed, data)
    }
}

#[cfg(test)]
mod tests;
