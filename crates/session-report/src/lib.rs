//! What happened to each container in one watchtower session.
//!
//! The update engine records one outcome per container with a [`ReportBuilder`] and hands the
//! resulting [`Report`] to whoever tells the user: the HTTP API, notifications and
//! `--porcelain` all read the same value, so they all say the same thing.
//!
//! Every container ends in exactly one [`State`]:
//!
//! | state     | meaning | recorded with |
//! |-----------|---------|---------------|
//! | `Skipped` | not checked or not updated; `error` says why | [`ReportBuilder::skipped`] |
//! | `Fresh`   | checked, runs the newest image | [`ReportBuilder::fresh`], [`ReportBuilder::scanned`] |
//! | `Stale`   | checked, a newer image exists, left alone (monitor-only) | [`ReportBuilder::stale`], [`ReportBuilder::scanned`] |
//! | `Updated` | recreated from the newer image | [`ReportBuilder::updated`] |
//! | `Failed`  | an update step failed: `failedStep`, `error`, `restored` | [`ReportBuilder::failed`] |
//!
//! The *scanned* list holds every container that was not skipped. Unlike the original
//! (which overwrote the state of every container it considered for update, so skipped ones
//! were reported as fresh), a skipped container here is reported as skipped, with its reason,
//! and is neither scanned nor fresh.
//!
//! ```
//! use watchtower_session_report::{ContainerRef, FailedStep, ReportBuilder, State, short_id};
//!
//! let web = ContainerRef::new("c0ffee00aaaa1111", "/web", "nginx:1.27", "sha256:0123456789abcdef");
//! let api = ContainerRef::new("deadbeef22223333", "/api", "api:latest", "sha256:1111111111111111");
//! let old = ContainerRef::new("feed000044445555", "/old", "old:1", "sha256:2222222222222222");
//!
//! let mut b = ReportBuilder::new();
//! b.scanned(&web, "sha256:fedcba9876543210");
//! b.updated(&web, "sha256:fedcba9876543210");
//! b.fresh(&api);
//! b.skipped(&old, "registry answered 401 Unauthorized");
//! let report = b.build();
//!
//! assert_eq!(report.counts().scanned, 2);
//! assert_eq!(report.updated()[0].name(), "/web");
//! assert_eq!(short_id(report.updated()[0].latest_image_id()), "fedcba987654");
//! assert_eq!(report.skipped()[0].error(), Some("registry answered 401 Unauthorized"));
//! assert!(report.fresh().iter().all(|e| e.state() == State::Fresh));
//!
//! let json = serde_json::to_value(&report).unwrap();
//! assert_eq!(json["counts"]["updated"], 1);
//! assert_eq!(json["skipped"][0]["state"], "Skipped");
//! ```
//!
//! # JSON shape (stable)
//!
//! A [`Report`] serialises to one object. Keys are always present; lists are sorted by
//! container ID; `scanned` repeats the entries of `updated`, `failed`, `stale` and `fresh`.
//!
//! ```json
//! {
//!   "counts": { "scanned": 2, "updated": 1, "failed": 1, "restored": 1,
//!               "skipped": 1, "stale": 0, "fresh": 0 },
//!   "scanned": [ <entry>, ... ],
//!   "updated": [ <entry>, ... ],
//!   "failed":  [ <entry>, ... ],
//!   "skipped": [ <entry>, ... ],
//!   "stale":   [ <entry>, ... ],
//!   "fresh":   [ <entry>, ... ]
//! }
//! ```
//!
//! Each entry ([`ContainerReport`]):
//!
//! ```json
//! {
//!   "id": "<full container id>",
//!   "name": "/web",
//!   "imageName": "nginx:1.27",
//!   "currentImageId": "sha256:<64 hex>",
//!   "latestImageId": "sha256:<64 hex>",
//!   "state": "Skipped" | "Updated" | "Failed" | "Fresh" | "Stale",
//!   "error": null | "<why it was skipped / why the step failed>",
//!   "failedStep": null | "inspect" | "check" | "pull" | "dependency-cycle" | "pre-update-hook"
//!                 | "stop" | "rename" | "create" | "connect-network" | "start"
//!                 | "health-gate" | "post-update-hook" | "remove-old" | "restart-dependent"
//!                 | "self-update",
//!   "restored": false | true,
//!   "note": "<a remark on how the update went>"   (only when there is one)
//! }
//! ```
//!
//! IDs are full; [`short_id`] gives the 12-character form the original's templates print.
//! Compatibility promise: keys are never renamed or removed and their meaning never changes;
//! new keys and new `failedStep` values may be added, so readers must ignore unknown keys
//! and treat an unknown step as "some step". The same description, for users, is in
//! `docs/report-format.md`.
//!
//! # Dependencies
//!
//! serde and thiserror only: no Docker client, HTTP or async types, so every crate that talks
//! to users can depend on this one without pulling in the engine.

#![warn(missing_docs)]

mod builder;
mod entry;
mod error;
mod id;
mod report;
mod state;

pub use builder::ReportBuilder;
pub use entry::{ContainerRef, ContainerReport};
pub use error::Error;
pub use id::short_id;
pub use report::{Counts, Report};
pub use state::{FailedStep, State};
