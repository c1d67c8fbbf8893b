//! The template engine against Go's own `text/template`: every case of `go/corpus.txt` is
//! rendered by watchtower-gotemplate over notify's real template data, and by `go/render.go`
//! (Go's standard library, with types shaped like the original's) over the same data; both
//! must agree on the outcome (parse error, run-time error or output) and on the output text.
//! Error message texts may differ (see "Deliberate differences from Go" in
//! watchtower-gotemplate's crate docs).
//!
//! Needs `go` (Debian's `golang-go`, Go 1.19; `cargo xtask deps` installs it). Without it the
//! test skips loudly; under `WATCHTOWER_E2E=required` (CI) it fails.
//!
//! Both sides run with `TZ=Europe/Berlin` (the test re-runs itself with it when needed), so
//! entry times print with the zone database's abbreviations (`CEST`, `CET`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use chrono::DateTime;
use serde_json::{Value as Json, json};
use watchtower_notify::model::{FieldValue, Level, LogEntry, TemplateData};
use watchtower_notify::template::Template;
use watchtower_session_report::{ContainerRef, ContainerReport, FailedStep, Report, ReportBuilder};

mod support;
use support::{hex, sha};

const ZONE: &str = "Europe/Berlin";
const TEST_NAME: &str = "templates_render_as_go_renders_them";

fn report() -> Report {
    let web = ContainerRef::new(hex('1'), "/web", "nginx:1.27", sha('a'));
    let api = ContainerRef::new(hex('2'), "/api", "api:2", sha('c'));
    let legacy = ContainerRef::new(hex('3'), "/legacy", "legacy:1", sha('9'));
    let cache = ContainerRef::new(hex('4'), "/cache", "redis:7", sha('e'));
    let db = ContainerRef::new(hex('5'), "/db", "postgres:17", sha('f'));
    let worker = ContainerRef::new(hex('6'), "/worker", "worker:3", sha('6'));
    let mut b = ReportBuilder::new();
    b.updated(&web, sha('b'));
    b.failed(
        &api,
        FailedStep::Start,
        "port 8080 is already allocated",
        true,
    );
    b.skipped(&legacy, "registry answered 401 Unauthorized");
    b.stale(&cache, "");
    b.fresh(&db);
    b.failed(&worker, FailedStep::Pull, "pull access denied", false);
    b.build()
}

fn entries() -> Vec<LogEntry> {
    let t = |s: &str| DateTime::parse_from_rfc3339(s).unwrap();
    let mut found = LogEntry::new(
        Level::Info,
        "Found new nginx:1.27 image (bbbbbbbbbbbb)",
        t("2024-07-01T12:00:00+02:00"),
    );
    found
        .fields
        .insert("container".to_owned(), FieldValue::Str("/web".to_owned()));
    found.fields.insert("count".to_owned(), FieldValue::Int(3));
    found
        .fields
        .insert("ratio".to_owned(), FieldValue::Float(0.5));
    found.fields.insert("ok".to_owned(), FieldValue::Bool(true));
    let stopping = LogEntry::new(
        Level::Warn,
        "Stopping /web (1111111111111) with SIGTERM",
        t("2024-07-01T12:00:01.5+02:00"),
    );
    let mut odd = LogEntry::new(
        Level::Error,
        "Ünïcödé ǆ straße <b>&\"'=</b>\n\u{2028}\ttab/?x=1&y",
        t("2024-07-01T23:59:02.123456789+02:00"),
    );
    odd.fields
        .insert("error".to_owned(), FieldValue::Str("x < y".to_owned()));
    let winter = LogEntry::new(
        Level::Debug,
        "a winter line",
        t("2024-01-15T08:30:00.1+01:00"),
    );
    vec![found, stopping, odd, winter]
}

fn data(report: Option<Report>) -> TemplateData {
    TemplateData {
        title: "Watchtower updates on host1".to_owned(),
        host: "host1".to_owned(),
        entries: entries(),
        report: report.map(Arc::new),
    }
}

/// The data file render.go reads: the same entries and report, field by field.
fn data_file(data: &TemplateData, report: &Report) -> Json {
    let field = |v: &FieldValue| match v {
        FieldValue::Str(s) => json!({ "str": s }),
        FieldValue::Int(i) => json!({ "int": i }),
        FieldValue::Uint(u) => json!({ "int": u }),
        FieldValue::Float(f) => json!({ "float": f }),
        FieldValue::Bool(b) => json!({ "bool": b }),
    };
    let entries: Vec<Json> = data
        .entries
        .iter()
        .map(|e| {
            json!({
                "level": e.level.as_str(),
                "message": e.message,
                "time": e.time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false),
                "fields": e.fields.iter().map(|(k, v)| (k.clone(), field(v))).collect::<BTreeMap<_, _>>(),
            })
        })
        .collect();
    let list = |items: Vec<&ContainerReport>| -> Json {
        items
            .into_iter()
            .map(|c| {
                json!({
                    "id": c.id(),
                    "name": c.name(),
                    "image_name": c.image_name(),
                    "current_image_id": c.current_image_id(),
                    "latest_image_id": c.latest_image_id(),
                    "state": c.state().as_str(),
                    "error": c.error().unwrap_or(""),
                    "failed_step": c.failed_step().map_or("", |s| s.as_str()),
                    "restored": c.restored(),
                })
            })
            .collect()
    };
    json!({
        "title": data.title,
        "host": data.host,
        "entries": entries,
        "report": {
            "scanned": list(report.scanned()),
            "updated": list(report.updated()),
            "failed": list(report.failed()),
            "skipped": list(report.skipped()),
            "stale": list(report.stale()),
            "fresh": list(report.fresh()),
            "all": list(report.all().iter().collect()),
            "restored": list(report.restored()),
        },
    })
}

struct Case {
    name: String,
    mode: String,
    known: bool,
    text: String,
}

/// The corpus format render.go reads too (see the head of corpus.txt).
fn read_corpus(text: &str) -> Vec<Case> {
    let mut cases: Vec<Case> = Vec::new();
    let mut body: Vec<&str> = Vec::new();
    let flush = |cases: &mut Vec<Case>, body: &mut Vec<&str>| {
        if let Some(last) = cases.last_mut() {
            last.text = body.join("\n");
        }
        body.clear();
    };
    for line in text.split('\n') {
        if let Some(header) = line.strip_prefix("=== ") {
            flush(&mut cases, &mut body);
            let words: Vec<&str> = header.split_whitespace().collect();
            assert!(words.len() >= 2, "bad case header {line:?}");
            cases.push(Case {
                name: words[0].to_owned(),
                mode: words[1].to_owned(),
                known: words.get(2) == Some(&"known"),
                text: String::new(),
            });
        } else {
            body.push(line);
        }
    }
    // The file's final newline ends the last line; it is not part of the last template.
    if body.last() == Some(&"") {
        body.pop();
    }
    flush(&mut cases, &mut body);
    cases
}

#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Output(Vec<u8>),
    Parse,
    Exec,
}

fn ours(case: &Case, data: &TemplateData, no_report: &TemplateData) -> (Outcome, String) {
    let dot = match case.mode.as_str() {
        "entries" => data.entries_value(),
        "report" => data.to_value(),
        "noreport" => no_report.to_value(),
        other => panic!("case {}: unknown mode {other}", case.name),
    };
    match Template::parse(&case.text) {
        Err(e) => (Outcome::Parse, e.to_string()),
        Ok(t) => match t.render(&dot) {
            Ok(s) => (Outcome::Output(s.into_bytes()), String::new()),
            Err(e) => (Outcome::Exec, e.to_string()),
        },
    }
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex from render.go"))
        .collect()
}

/// Runs render.go: each case's outcome and Go's error message, by name.
fn go(
    go: &Path,
    data_path: &Path,
    corpus: &Path,
    work: &Path,
) -> BTreeMap<String, (Outcome, String)> {
    let render = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/go/render.go");
    let out = Command::new(go)
        .arg("run")
        .arg(&render)
        .arg(data_path)
        .arg(corpus)
        .env("TZ", ZONE)
        .env("GOCACHE", work.join("gocache"))
        .env("GOPATH", work.join("gopath"))
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("GO111MODULE", "off")
        .env("GOFLAGS", "")
        .output()
        .expect("go runs");
    assert!(
        out.status.success(),
        "go run render.go failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("render.go prints UTF-8 JSON")
        .lines()
        .map(|line| {
            let v: Json = serde_json::from_str(line).expect("render.go prints JSON lines");
            let field = |k: &str| v[k].as_str().unwrap_or_default().to_owned();
            let outcome = match field("class").as_str() {
                "output" => Outcome::Output(unhex(&field("hex"))),
                "parse" => Outcome::Parse,
                "exec" => Outcome::Exec,
                other => panic!("render.go printed class {other}"),
            };
            (field("name"), (outcome, field("error")))
        })
        .collect()
}

fn find_go() -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join("go"))
        .find(|path| path.is_file())
}

fn show(outcome: &Outcome, message: &str) -> String {
    match outcome {
        Outcome::Output(bytes) => format!("output {:?}", String::from_utf8_lossy(bytes)),
        Outcome::Parse => format!("parse error ({message})"),
        Outcome::Exec => format!("run-time error ({message})"),
    }
}

#[test]
fn templates_render_as_go_renders_them() {
    let Some(go_path) = find_go() else {
        assert!(
            std::env::var("WATCHTOWER_E2E").as_deref() != Ok("required"),
            "go is not installed and WATCHTOWER_E2E=required: install golang-go (cargo xtask deps)"
        );
        println!(
            "SKIP templates_render_as_go_renders_them: go is not installed (apt-get install golang-go)"
        );
        return;
    };
    // Time zone abbreviations come from the zone database, for the zone TZ names: run
    // ourselves again under the zone the Go side uses.
    if std::env::var("TZ").as_deref() != Ok(ZONE) {
        let status = Command::new(std::env::current_exe().unwrap())
            .args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
            .env("TZ", ZONE)
            .status()
            .expect("the test re-runs itself");
        assert!(status.success(), "the run under TZ={ZONE} failed");
        return;
    }

    let corpus_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/go/corpus.txt");
    let corpus = std::fs::read_to_string(&corpus_path).unwrap();
    let cases = read_corpus(&corpus);
    assert!(cases.len() >= 120, "the corpus has {} cases", cases.len());

    let work = tempfile::tempdir().unwrap();
    let report = report();
    let full = data(Some(report.clone()));
    let no_report = data(None);
    let data_path = work.path().join("data.json");
    std::fs::write(&data_path, data_file(&full, &report).to_string()).unwrap();
    let theirs = go(&go_path, &data_path, &corpus_path, work.path());

    let mut differences = String::new();
    let mut known = Vec::new();
    for case in &cases {
        let (our, our_message) = ours(case, &full, &no_report);
        let (go, go_message) = theirs
            .get(&case.name)
            .unwrap_or_else(|| panic!("render.go printed nothing for {}", case.name));
        if our == *go {
            if case.known {
                println!("note: {} is marked known but matches Go", case.name);
            }
            continue;
        }
        let line = format!(
            "{} ({}): {:?}\n  go:   {}\n  ours: {}\n",
            case.name,
            case.mode,
            case.text,
            show(go, go_message),
            show(&our, &our_message)
        );
        if case.known {
            known.push(line);
        } else {
            differences.push_str(&line);
        }
    }
    for line in &known {
        println!("known difference: {line}");
    }
    let count = differences.matches("\n  go:").count();
    let _ = write!(
        differences,
        "{count} of {} cases differ from Go",
        cases.len()
    );
    assert!(count == 0, "{differences}");
    println!(
        "{} cases agree with Go ({} known differences)",
        cases.len() - known.len(),
        known.len()
    );
}
