//! Golden tests: the original's built-in templates and templates from its documentation,
//! rendered against a fixed report and fixed log entries. The expected texts were derived
//! from the original's templates under Go's text/template rules.

use std::sync::Arc;

use chrono::DateTime;
use watchtower_notify::model::{FieldValue, Level, LogEntry, TemplateData};
use watchtower_notify::template::Template;
use watchtower_notify::templates::{self, built_in};
use watchtower_session_report::{ContainerRef, FailedStep, Report, ReportBuilder};

mod support;
use support::{hex, sha};

fn report() -> Report {
    let web = ContainerRef::new(hex('1'), "/web", "nginx:1.27", sha('a'));
    let api = ContainerRef::new(hex('2'), "/api", "api:2", sha('c'));
    let legacy = ContainerRef::new(hex('3'), "/legacy", "legacy:1", sha('9'));
    let cache = ContainerRef::new(hex('4'), "/cache", "redis:7", sha('e'));
    let db = ContainerRef::new(hex('5'), "/db", "postgres:17", sha('f'));
    let mut b = ReportBuilder::new();
    b.updated(&web, sha('b'));
    b.scanned(&api, sha('d'));
    b.failed(
        &api,
        FailedStep::Start,
        "port 8080 is already allocated",
        true,
    );
    b.skipped(&legacy, "registry answered 401 Unauthorized");
    b.stale(&cache, "");
    b.fresh(&db);
    b.build()
}

fn entries() -> Vec<LogEntry> {
    let t = DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z").unwrap();
    let mut found = LogEntry::new(Level::Info, "Found new nginx:1.27 image (bbbbbbbbbbbb)", t);
    found
        .fields
        .insert("container".to_owned(), FieldValue::Str("/web".to_owned()));
    let t2 = DateTime::parse_from_rfc3339("2024-05-01T12:00:01.5+02:00").unwrap();
    let stopping = LogEntry::new(
        Level::Warn,
        "Stopping /web (1111111111111) with SIGTERM",
        t2,
    );
    vec![found, stopping]
}

fn data(report: Option<Report>) -> TemplateData {
    TemplateData {
        title: "Watchtower updates on host1".to_owned(),
        host: "host1".to_owned(),
        entries: entries(),
        report: report.map(Arc::new),
    }
}

fn render_report_mode(template: &str, report: Option<Report>) -> String {
    Template::parse(template)
        .unwrap()
        .render(&data(report).to_value())
        .unwrap()
}

fn render_legacy_mode(template: &str) -> String {
    Template::parse(template)
        .unwrap()
        .render(&data(None).entries_value())
        .unwrap()
}

const DEFAULT_REPORT_OUTPUT: &str = "4 Scanned, 1 Updated, 1 Failed
- /web (nginx:1.27): aaaaaaaaaaaa updated to bbbbbbbbbbbb
- /db (postgres:17): Fresh
- /legacy (legacy:1): Skipped: registry answered 401 Unauthorized
- /api (api:2): Failed: port 8080 is already allocated";

#[test]
fn default_template_with_updates() {
    assert_eq!(
        render_report_mode(built_in("default").unwrap(), Some(report())),
        DEFAULT_REPORT_OUTPUT
    );
}

#[test]
fn default_template_is_empty_when_nothing_updated_or_failed() {
    let mut b = ReportBuilder::new();
    b.fresh(&ContainerRef::new(hex('5'), "/db", "postgres:17", sha('f')));
    b.skipped(
        &ContainerRef::new(hex('6'), "/x", "x:1", sha('6')),
        "no such image",
    );
    assert_eq!(
        render_report_mode(built_in("default").unwrap(), Some(b.build())),
        ""
    );
}

#[test]
fn default_template_without_report_lists_messages() {
    assert_eq!(
        render_report_mode(built_in("default").unwrap(), None),
        "Found new nginx:1.27 image (bbbbbbbbbbbb)\nStopping /web (1111111111111) with SIGTERM\n"
    );
}

#[test]
fn default_legacy_template() {
    assert_eq!(
        render_legacy_mode(built_in("default-legacy").unwrap()),
        "Found new nginx:1.27 image (bbbbbbbbbbbb)\nStopping /web (1111111111111) with SIGTERM\n"
    );
    assert_eq!(
        Template::parse(built_in("default-legacy").unwrap())
            .unwrap()
            .render(
                &TemplateData {
                    entries: vec![],
                    ..data(None)
                }
                .entries_value()
            )
            .unwrap(),
        ""
    );
}

#[test]
fn porcelain_v1_summary_no_log() {
    assert_eq!(
        render_report_mode(
            built_in("porcelain.v1.summary-no-log").unwrap(),
            Some(report())
        ),
        "/web (nginx:1.27): Updated
/api (api:2): Failed Error: port 8080 is already allocated
/legacy (legacy:1): Skipped Error: registry answered 401 Unauthorized
/cache (redis:7): Stale
/db (postgres:17): Fresh
"
    );
    assert_eq!(
        render_report_mode(
            built_in("porcelain.v1.summary-no-log").unwrap(),
            Some(ReportBuilder::new().build())
        ),
        "no containers matched filter"
    );
    assert_eq!(
        render_report_mode(built_in("porcelain.v1.summary-no-log").unwrap(), None),
        ""
    );
}

#[test]
// The golden text is long; splitting it would hide its shape.
#[allow(clippy::too_many_lines)]
fn json_v1() {
    let expected = r#"{
  "entries": [
    {
      "data": {
        "container": "/web"
      },
      "level": "info",
      "message": "Found new nginx:1.27 image (bbbbbbbbbbbb)",
      "time": "2024-05-01T12:00:00Z"
    },
    {
      "data": {},
      "level": "warning",
      "message": "Stopping /web (1111111111111) with SIGTERM",
      "time": "2024-05-01T12:00:01.5+02:00"
    }
  ],
  "host": "host1",
  "report": {
    "failed": [
      {
        "currentImageId": "cccccccccccc",
        "error": "port 8080 is already allocated",
        "id": "222222222222",
        "imageName": "api:2",
        "latestImageId": "dddddddddddd",
        "name": "/api",
        "state": "Failed"
      }
    ],
    "fresh": [
      {
        "currentImageId": "ffffffffffff",
        "id": "555555555555",
        "imageName": "postgres:17",
        "latestImageId": "ffffffffffff",
        "name": "/db",
        "state": "Fresh"
      }
    ],
    "scanned": [
      {
        "currentImageId": "aaaaaaaaaaaa",
        "id": "111111111111",
        "imageName": "nginx:1.27",
        "latestImageId": "bbbbbbbbbbbb",
        "name": "/web",
        "state": "Updated"
      },
      {
        "currentImageId": "cccccccccccc",
        "error": "port 8080 is already allocated",
        "id": "222222222222",
        "imageName": "api:2",
        "latestImageId": "dddddddddddd",
        "name": "/api",
        "state": "Failed"
      },
      {
        "currentImageId": "eeeeeeeeeeee",
        "id": "444444444444",
        "imageName": "redis:7",
        "latestImageId": "",
        "name": "/cache",
        "state": "Stale"
      },
      {
        "currentImageId": "ffffffffffff",
        "id": "555555555555",
        "imageName": "postgres:17",
        "latestImageId": "ffffffffffff",
        "name": "/db",
        "state": "Fresh"
      }
    ],
    "skipped": [
      {
        "currentImageId": "999999999999",
        "error": "registry answered 401 Unauthorized",
        "id": "333333333333",
        "imageName": "legacy:1",
        "latestImageId": "999999999999",
        "name": "/legacy",
        "state": "Skipped"
      }
    ],
    "stale": [
      {
        "currentImageId": "eeeeeeeeeeee",
        "id": "444444444444",
        "imageName": "redis:7",
        "latestImageId": "",
        "name": "/cache",
        "state": "Stale"
      }
    ],
    "updated": [
      {
        "currentImageId": "aaaaaaaaaaaa",
        "id": "111111111111",
        "imageName": "nginx:1.27",
        "latestImageId": "bbbbbbbbbbbb",
        "name": "/web",
        "state": "Updated"
      }
    ]
  },
  "title": "Watchtower updates on host1"
}"#;
    assert_eq!(
        render_report_mode(built_in("json.v1").unwrap(), Some(report())),
        expected
    );
    let startup = render_report_mode(built_in("json.v1").unwrap(), None);
    assert!(startup.contains("\"report\": null"), "{startup}");
}

/// docs/notifications.md, "Simple templates": timestamp and level before each message.
#[test]
fn documented_simple_template_with_time_format() {
    let t = "{{range .}}{{.Time.Format \"2006-01-02 15:04:05\"}} ({{.Level}}): {{.Message}}{{println}}{{end}}";
    assert_eq!(
        render_legacy_mode(t),
        "2024-05-01 12:00:00 (info): Found new nginx:1.27 image (bbbbbbbbbbbb)\n2024-05-01 12:00:01 (warning): Stopping /web (1111111111111) with SIGTERM\n"
    );
}

/// docs/notifications.md: "wrap your template with {{if .}} and {{end}}" to skip empty ones.
#[test]
fn documented_skip_empty_wrapper() {
    let t = "{{if .}}{{range .}}{{.Message}}{{println}}{{end}}{{end}}";
    let empty = TemplateData {
        entries: vec![],
        ..data(None)
    };
    assert_eq!(
        Template::parse(t)
            .unwrap()
            .render(&empty.entries_value())
            .unwrap(),
        ""
    );
}

/// docs/notifications.md, the docker-compose example that always sends a report.
const ALWAYS_REPORT: &str = r#"{{- if .Report -}}
  {{- with .Report -}}
{{len .Scanned}} Scanned, {{len .Updated}} Updated, {{len .Failed}} Failed
      {{- range .Updated}}
- {{.Name}} ({{.ImageName}}): {{.CurrentImageID.ShortID}} updated to {{.LatestImageID.ShortID}}
      {{- end -}}
      {{- range .Fresh}}
- {{.Name}} ({{.ImageName}}): {{.State}}
    {{- end -}}
    {{- range .Skipped}}
- {{.Name}} ({{.ImageName}}): {{.State}}: {{.Error}}
    {{- end -}}
    {{- range .Failed}}
- {{.Name}} ({{.ImageName}}): {{.State}}: {{.Error}}
    {{- end -}}
  {{- end -}}
{{- else -}}
  {{range .Entries -}}{{.Message}}{{"\n"}}{{- end -}}
{{- end -}}
"#;

#[test]
fn documented_always_report_template() {
    assert_eq!(
        render_report_mode(ALWAYS_REPORT, Some(report())),
        DEFAULT_REPORT_OUTPUT
    );
    let mut b = ReportBuilder::new();
    b.fresh(&ContainerRef::new(hex('5'), "/db", "postgres:17", sha('f')));
    assert_eq!(
        render_report_mode(ALWAYS_REPORT, Some(b.build())),
        "1 Scanned, 0 Updated, 0 Failed\n- /db (postgres:17): Fresh"
    );
    // Without a report the entries are listed; `{{"\n"}}` is an action's output, which
    // trim markers do not touch.
    assert_eq!(
        render_report_mode(ALWAYS_REPORT, None),
        "Found new nginx:1.27 image (bbbbbbbbbbbb)\nStopping /web (1111111111111) with SIGTERM\n"
    );
}

#[test]
fn user_template_with_funcs_and_fields() {
    let t = "{{.Title | ToUpper}}|{{Title \"found new image\"}}|{{range .Report.Updated}}{{.Name | ToLower}} {{.ID.ShortID}} {{.CurrentImageID}}{{end}}|{{with index .Entries 0}}{{.Data.container}} {{.Level}}{{end}}";
    assert_eq!(
        render_report_mode(t, Some(report())),
        format!(
            "WATCHTOWER UPDATES ON HOST1|Found New Image|/web 111111111111 {}|/web info",
            sha('a')
        )
    );
}

#[test]
fn choosing_templates() {
    assert_eq!(templates::choose("", true).built_in, Some("default"));
    assert_eq!(
        templates::choose("", false).built_in,
        Some("default-legacy")
    );
    assert_eq!(
        templates::choose("json.v1", false).built_in,
        Some("json.v1")
    );
    let broken = templates::choose("{{if}", true);
    assert_eq!(broken.built_in, Some("default"));
    assert!(broken.fallback_reason.is_some());
    assert!(templates::choose("{{.Title}}", true).built_in.is_none());
}

#[test]
fn a_health_gate_rollback_and_an_update_note_reach_templates() {
    let web = ContainerRef::new(hex('1'), "/web", "nginx:1.27", sha('a'));
    let api = ContainerRef::new(hex('2'), "/api", "api:2", sha('c'));
    let mut b = ReportBuilder::new();
    b.scanned(&web, sha('b'));
    b.failed(
        &web,
        FailedStep::HealthGate,
        "rolled back: the new container exited with code 3",
        true,
    );
    b.updated(&api, sha('d'));
    b.note(&api, "updated stop-first: it publishes host ports");
    let out = render_report_mode(
        "{{range .Report.All}}{{.Name}} rolled-back={{.RolledBack}} step={{.FailedStep}} \
         note={{.Note}}; {{end}}",
        Some(b.build()),
    );
    assert_eq!(
        out,
        "/web rolled-back=true step=health-gate note=; \
         /api rolled-back=false step= note=updated stop-first: it publishes host ports; "
    );
}
