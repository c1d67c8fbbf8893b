//! The JSON shape is a promise to API clients and scripts: this test pins it byte for byte.

use watchtower_session_report::{ContainerRef, FailedStep, ReportBuilder};

const GOLDEN: &str = r#"{
  "counts": {
    "scanned": 4,
    "updated": 1,
    "failed": 1,
    "restored": 1,
    "skipped": 1,
    "stale": 1,
    "fresh": 1
  },
  "scanned": [
    {
      "id": "1111111111111111111111111111111111111111111111111111111111111111",
      "name": "/web",
      "imageName": "nginx:1.27",
      "currentImageId": "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "latestImageId": "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
      "state": "Updated",
      "error": null,
      "failedStep": null,
      "restored": false
    },
    {
      "id": "2222222222222222222222222222222222222222222222222222222222222222",
      "name": "/api",
      "imageName": "registry.local/api:2",
      "currentImageId": "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
      "latestImageId": "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd",
      "state": "Failed",
      "error": "port 8080 is already allocated",
      "failedStep": "start",
      "restored": true
    },
    {
      "id": "4444444444444444444444444444444444444444444444444444444444444444",
      "name": "/cache",
      "imageName": "redis:7",
      "currentImageId": "sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
      "latestImageId": "",
      "state": "Stale",
      "error": null,
      "failedStep": null,
      "restored": false
    },
    {
      "id": "5555555555555555555555555555555555555555555555555555555555555555",
      "name": "/db",
      "imageName": "postgres:17",
      "currentImageId": "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
      "latestImageId": "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
      "state": "Fresh",
      "error": null,
      "failedStep": null,
      "restored": false
    }
  ],
  "updated": [
    {
      "id": "1111111111111111111111111111111111111111111111111111111111111111",
      "name": "/web",
      "imageName": "nginx:1.27",
      "currentImageId": "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      "latestImageId": "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
      "state": "Updated",
      "error": null,
      "failedStep": null,
      "restored": false
    }
  ],
  "failed": [
    {
      "id": "2222222222222222222222222222222222222222222222222222222222222222",
      "name": "/api",
      "imageName": "registry.local/api:2",
      "currentImageId": "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
      "latestImageId": "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd",
      "state": "Failed",
      "error": "port 8080 is already allocated",
      "failedStep": "start",
      "restored": true
    }
  ],
  "skipped": [
    {
      "id": "3333333333333333333333333333333333333333333333333333333333333333",
      "name": "/legacy",
      "imageName": "legacy@sha256:0000000000000000000000000000000000000000000000000000000000000000",
      "currentImageId": "sha256:9999999999999999999999999999999999999999999999999999999999999999",
      "latestImageId": "sha256:9999999999999999999999999999999999999999999999999999999999999999",
      "state": "Skipped",
      "error": "registry answered 401 Unauthorized",
      "failedStep": null,
      "restored": false
    }
  ],
  "stale": [
    {
      "id": "4444444444444444444444444444444444444444444444444444444444444444",
      "name": "/cache",
      "imageName": "redis:7",
      "currentImageId": "sha256:eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee",
      "latestImageId": "",
      "state": "Stale",
      "error": null,
      "failedStep": null,
      "restored": false
    }
  ],
  "fresh": [
    {
      "id": "5555555555555555555555555555555555555555555555555555555555555555",
      "name": "/db",
      "imageName": "postgres:17",
      "currentImageId": "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
      "latestImageId": "sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
      "state": "Fresh",
      "error": null,
      "failedStep": null,
      "restored": false
    }
  ]
}"#;

fn hex(c: char) -> String {
    std::iter::repeat_n(c, 64).collect()
}

fn sha(c: char) -> String {
    format!("sha256:{}", hex(c))
}

#[test]
fn report_json_matches_the_documented_shape() {
    let web = ContainerRef::new(hex('1'), "/web", "nginx:1.27", sha('a'));
    let api = ContainerRef::new(hex('2'), "/api", "registry.local/api:2", sha('c'));
    let legacy = ContainerRef::new(
        hex('3'),
        "/legacy",
        format!("legacy@{}", sha('0')),
        sha('9'),
    );
    let cache = ContainerRef::new(hex('4'), "/cache", "redis:7", sha('e'));
    let db = ContainerRef::new(hex('5'), "/db", "postgres:17", sha('f'));

    let mut b = ReportBuilder::new();
    // Recorded out of order on purpose: the lists come out sorted by ID.
    b.fresh(&db);
    b.stale(&cache, "");
    b.skipped(&legacy, "registry answered 401 Unauthorized");
    b.scanned(&api, sha('d'));
    b.failed(
        &api,
        FailedStep::Start,
        "port 8080 is already allocated",
        true,
    );
    b.scanned(&web, sha('b'));
    b.updated(&web, sha('b'));
    let report = b.build();

    let json = serde_json::to_string_pretty(&report).unwrap();
    assert_eq!(json, GOLDEN, "JSON shape changed:\n{json}");
}
