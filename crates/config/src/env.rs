//! Where configuration variables come from: the process environment, or a map in tests.

use std::collections::{BTreeMap, HashMap};

/// Where configuration variables are read from (the process environment, or a map in tests).
pub trait Env {
    /// The variable's value, if set.
    fn var(&self, key: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok()
    }
}

impl Env for BTreeMap<String, String> {
    fn var(&self, key: &str) -> Option<String> {
        self.get(key).cloned()
    }
}

impl<S: std::hash::BuildHasher> Env for HashMap<String, String, S> {
    fn var(&self, key: &str) -> Option<String> {
        self.get(key).cloned()
    }
}
