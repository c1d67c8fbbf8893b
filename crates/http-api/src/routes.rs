//! The routes the API serves: path, methods and whether the token is needed, in one table
//! that the handlers answer from (401, 405 with `Allow`) and that the `OpenAPI` document
//! (`openapi.json`) is tested against.

/// One path of the API.
#[derive(Debug)]
pub(crate) struct Route {
    /// The path.
    pub(crate) path: &'static str,
    /// The methods served; others get 405.
    pub(crate) methods: &'static [&'static str],
    /// Whether `Authorization: Bearer <token>` is required.
    pub(crate) token: bool,
}

pub(crate) const UPDATE: Route = Route {
    path: "/v1/update",
    methods: &["GET", "POST"],
    token: true,
};
pub(crate) const METRICS: Route = Route {
    path: "/v1/metrics",
    methods: &["GET", "HEAD"],
    token: true,
};
pub(crate) const CHECK: Route = Route {
    path: "/v1/check",
    methods: &["POST"],
    token: true,
};
pub(crate) const CONTAINERS: Route = Route {
    path: "/v1/containers",
    methods: &["GET"],
    token: true,
};
pub(crate) const HISTORY: Route = Route {
    path: "/v1/history",
    methods: &["GET"],
    token: true,
};
pub(crate) const OPENAPI: Route = Route {
    path: "/v1/openapi.json",
    methods: &["GET"],
    token: true,
};
pub(crate) const LIVEZ: Route = Route {
    path: "/livez",
    methods: &["GET"],
    token: false,
};
pub(crate) const READYZ: Route = Route {
    path: "/readyz",
    methods: &["GET"],
    token: false,
};

/// Every route, for the document test.
#[cfg(test)]
pub(crate) const ALL: [&Route; 8] = [
    &UPDATE,
    &METRICS,
    &CHECK,
    &CONTAINERS,
    &HISTORY,
    &OPENAPI,
    &LIVEZ,
    &READYZ,
];
