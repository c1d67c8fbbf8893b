//! Behaviour of the builder and the report, seen from the engine and from readers.

use watchtower_session_report::{
    ContainerRef, ContainerReport, Counts, FailedStep, Report, ReportBuilder, State, short_id,
};

fn container(id: &str, name: &str, image_id: &str) -> ContainerRef {
    ContainerRef::new(id, format!("/{name}"), format!("{name}:latest"), image_id)
}

#[test]
fn skipped_containers_are_not_fresh_nor_scanned() {
    let c = container("aa", "web", "sha256:1111");
    let mut b = ReportBuilder::new();
    b.skipped(&c, "pinned image");
    let report = b.build();
    assert_eq!(report.skipped().len(), 1);
    assert!(report.fresh().is_empty());
    assert!(report.scanned().is_empty());
    assert_eq!(report.skipped()[0].state(), State::Skipped);
    assert_eq!(report.skipped()[0].error(), Some("pinned image"));
    assert_eq!(report.skipped()[0].latest_image_id(), "sha256:1111");
}

#[test]
fn scanned_resolves_to_fresh_or_stale_by_image_id() {
    let fresh = container("a1", "fresh", "sha256:1111");
    let stale = container("b2", "stale", "sha256:2222");
    let unknown = container("c3", "unknown", "sha256:3333");
    let mut b = ReportBuilder::new();
    b.scanned(&fresh, "sha256:1111")
        .scanned(&stale, "sha256:9999")
        .scanned(&unknown, "");
    let report = b.build();
    assert_eq!(report.get("a1").unwrap().state(), State::Fresh);
    assert_eq!(report.get("b2").unwrap().state(), State::Stale);
    assert_eq!(report.get("c3").unwrap().state(), State::Fresh);
    assert_eq!(report.get("c3").unwrap().latest_image_id(), "sha256:3333");
    assert_eq!(report.scanned().len(), 3);
    assert!(report.all().iter().all(|e| e.state() != State::Scanned));
}

#[test]
fn later_outcome_replaces_the_check_result() {
    let c = container("aa", "web", "sha256:1111");
    let mut b = ReportBuilder::new();
    b.scanned(&c, "sha256:2222");
    b.updated(&c, "sha256:2222");
    let report = b.build();
    assert_eq!(report.all().len(), 1);
    assert_eq!(report.updated().len(), 1);
    assert!(report.stale().is_empty());
    assert_eq!(report.updated()[0].current_image_id(), "sha256:1111");
    assert_eq!(report.updated()[0].latest_image_id(), "sha256:2222");
    assert_eq!(report.updated()[0].error(), None);
}

#[test]
fn failed_keeps_the_latest_image_and_records_step_and_restoration() {
    let a = container("aa", "web", "sha256:1111");
    let b_ = container("bb", "db", "sha256:3333");
    let mut b = ReportBuilder::new();
    b.scanned(&a, "sha256:2222");
    b.failed(&a, FailedStep::Create, "no such image", true);
    b.failed(
        &b_,
        FailedStep::DependencyCycle,
        "circular reference to /db",
        false,
    );
    let report = b.build();
    let web = report.get("aa").unwrap();
    assert_eq!(web.state(), State::Failed);
    assert_eq!(web.latest_image_id(), "sha256:2222");
    assert_eq!(web.failed_step(), Some(FailedStep::Create));
    assert!(web.restored());
    let db = report.get("bb").unwrap();
    assert_eq!(db.latest_image_id(), "sha256:3333");
    assert!(!db.restored());
    assert_eq!(report.restored().len(), 1);
    assert_eq!(report.counts().failed, 2);
    assert_eq!(report.counts().restored, 1);
}

#[test]
fn failed_container_with_same_image_is_still_failed() {
    // The original decided "fresh" from the image IDs before looking at the state, so a
    // dependent whose recreation failed was reported as fresh, its error hidden.
    let c = container("aa", "dependent", "sha256:1111");
    let mut b = ReportBuilder::new();
    b.fresh(&c);
    b.failed(&c, FailedStep::RestartDependent, "start: boom", false);
    let report = b.build();
    assert_eq!(report.failed().len(), 1);
    assert!(report.fresh().is_empty());
}

#[test]
fn lists_are_sorted_by_container_id_and_all_is_unique() {
    let mut b = ReportBuilder::new();
    for (i, id) in ["d4", "a1", "c3", "b2", "e5"].iter().enumerate() {
        let c = container(id, id, "sha256:1111");
        match i % 3 {
            0 => b.updated(&c, "sha256:2222"),
            1 => b.fresh(&c),
            _ => b.stale(&c, ""),
        };
    }
    let report = b.build();
    let ids: Vec<_> = report.all().iter().map(ContainerReport::id).collect();
    assert_eq!(ids, ["a1", "b2", "c3", "d4", "e5"]);
    let updated: Vec<_> = report.updated().iter().map(|e| e.id()).collect();
    assert_eq!(updated, ["b2", "d4"]);
    let scanned: Vec<_> = report.scanned().iter().map(|e| e.id()).collect();
    assert_eq!(scanned, ids);
    assert_eq!(
        report.counts(),
        Counts {
            scanned: 5,
            updated: 2,
            failed: 0,
            restored: 0,
            skipped: 0,
            stale: 1,
            fresh: 2,
        }
    );
}

#[test]
fn stale_without_pull_has_empty_latest_image() {
    let c = container("aa", "web", "sha256:0123456789abcdef");
    let mut b = ReportBuilder::new();
    b.stale(&c, "");
    let report = b.build();
    let e = &report.stale()[0];
    assert_eq!(e.latest_image_id(), "");
    assert_eq!(short_id(e.latest_image_id()), "");
    assert_eq!(short_id(e.current_image_id()), "0123456789ab");
}

#[test]
fn empty_report() {
    let report = ReportBuilder::new().build();
    assert!(report.is_empty());
    assert_eq!(report.counts(), Counts::default());
    assert_eq!(report, Report::default());
}

#[test]
fn json_round_trip_keeps_every_entry() {
    let mut b = ReportBuilder::new();
    b.updated(&container("a", "a", "sha256:1"), "sha256:2");
    b.failed(
        &container("b", "b", "sha256:1"),
        FailedStep::Start,
        "exit 1",
        true,
    );
    b.skipped(&container("c", "c", "sha256:1"), "no such image");
    b.stale(&container("d", "d", "sha256:1"), "sha256:3");
    b.fresh(&container("e", "e", "sha256:1"));
    let report = b.build();
    let text = serde_json::to_string(&report).unwrap();
    let back: Report = serde_json::from_str(&text).unwrap();
    assert_eq!(back, report);
}

#[test]
fn reading_json_with_unknown_keys_works() {
    let text = r#"{"counts":{"scanned":1,"updated":0,"failed":0,"restored":0,"skipped":0,"stale":0,"fresh":1,"future":3},
        "scanned":[{"id":"a","name":"/a","imageName":"a","currentImageId":"x","latestImageId":"x","state":"Fresh","error":null,"failedStep":null,"restored":false,"extra":1}],
        "updated":[],"failed":[],"skipped":[],"stale":[],
        "fresh":[{"id":"a","name":"/a","imageName":"a","currentImageId":"x","latestImageId":"x","state":"Fresh","error":null,"failedStep":null,"restored":false}]}"#;
    let report: Report = serde_json::from_str(text).unwrap();
    assert_eq!(report.all().len(), 1);
    assert_eq!(report.fresh()[0].name(), "/a");
}
