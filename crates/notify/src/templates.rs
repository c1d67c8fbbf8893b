//! The original's built-in templates, and choosing the template to use.
//!
//! The texts below are laid out differently from the original's but render the same output
//! byte for byte (golden tests in `tests/templates.rs` pin that output).

use watchtower_gotemplate::{Error as TemplateError, Template};

/// `default-legacy`: each log entry's message on its own line.
pub const DEFAULT_LEGACY: &str = "{{range .}}{{.Message}}{{println}}{{end}}";

/// `default`: in report mode, a summary when something was updated or failed; without a report
/// (startup and out-of-session messages), the entries' messages one per line.
pub const DEFAULT: &str = concat!(
    "{{- if .Report -}}{{- with .Report -}}{{- if or .Updated .Failed -}}",
    "{{len .Scanned}} Scanned, {{len .Updated}} Updated, {{len .Failed}} Failed",
    "{{- range .Updated}}\n- {{.Name}} ({{.ImageName}}): {{.CurrentImageID.ShortID}} updated to {{.LatestImageID.ShortID}}{{end}}",
    "{{- range .Fresh}}\n- {{.Name}} ({{.ImageName}}): {{.State}}{{end}}",
    "{{- range .Skipped}}\n- {{.Name}} ({{.ImageName}}): {{.State}}: {{.Error}}{{end}}",
    "{{- range .Failed}}\n- {{.Name}} ({{.ImageName}}): {{.State}}: {{.Error}}{{end}}",
    "{{- end -}}{{- end -}}",
    "{{- else -}}",
    "{{range .Entries}}{{.Message}}\n{{end}}",
    "{{- end -}}",
);

/// `porcelain.v1.summary-no-log`: one line per container, or `no containers matched filter`.
pub const PORCELAIN_V1_SUMMARY_NO_LOG: &str = concat!(
    "{{- if .Report -}}",
    "{{- range .Report.All -}}",
    "{{.Name}} ({{.ImageName}}): {{.State}}{{with .Error}} Error: {{.}}{{end}}{{println}}",
    "{{- else -}}no containers matched filter{{- end -}}",
    "{{- end -}}",
);

/// `json.v1`: the whole data as indented JSON.
pub const JSON_V1: &str = "{{ . | ToJSON }}";

/// The built-in templates by name.
pub const BUILT_IN: [(&str, &str); 4] = [
    ("default-legacy", DEFAULT_LEGACY),
    ("default", DEFAULT),
    ("porcelain.v1.summary-no-log", PORCELAIN_V1_SUMMARY_NO_LOG),
    ("json.v1", JSON_V1),
];

/// The text of a built-in template, by name.
pub fn built_in(name: &str) -> Option<&'static str> {
    BUILT_IN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// What `--notification-template` resolved to.
#[derive(Debug, Clone)]
pub struct ChosenTemplate {
    /// The template to render.
    pub template: Template,
    /// The built-in's name, or `None` for the user's own text.
    pub built_in: Option<&'static str>,
    /// Why the user's template was not used (the default is used instead), as the original
    /// logs it.
    pub fallback_reason: Option<TemplateError>,
}

/// Resolves `--notification-template` as the original does: a built-in name selects that
/// built-in; other text is parsed as a template; empty text, or text that does not parse,
/// selects `default` (report mode) or `default-legacy`.
pub fn choose(text: &str, report_mode: bool) -> ChosenTemplate {
    let default_name = if report_mode {
        "default"
    } else {
        "default-legacy"
    };
    let default = || {
        Template::parse(built_in(default_name).unwrap_or(DEFAULT_LEGACY))
            .expect("built-in templates parse")
    };
    if let Some((name, body)) = BUILT_IN.iter().find(|(n, _)| *n == text) {
        return ChosenTemplate {
            template: Template::parse(body).expect("built-in templates parse"),
            built_in: Some(name),
            fallback_reason: None,
        };
    }
    if text.is_empty() {
        return ChosenTemplate {
            template: default(),
            built_in: Some(default_name),
            fallback_reason: None,
        };
    }
    match Template::parse(text) {
        Ok(template) => ChosenTemplate {
            template,
            built_in: None,
            fallback_reason: None,
        },
        Err(e) => ChosenTemplate {
            template: default(),
            built_in: Some(default_name),
            fallback_reason: Some(e),
        },
    }
}
