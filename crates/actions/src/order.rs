//! Dependencies between containers and the order in which they are stopped and started.

use std::collections::{BTreeSet, HashMap};

use watchtower_container_client::{Container, NetworkMode};

use crate::labels;

/// The names of the containers `container` depends on: the `depends-on` label when it is set
/// (it replaces the rest, as in the original), else its links and the container whose network
/// stack it shares (`network_mode: container:<x>`). Links count both from `HostConfig.Links`
/// (the default bridge) and from each network endpoint (`--link` on a user-defined network,
/// which the original missed). Names are without the leading `/`.
pub fn dependencies_of(container: &Container) -> Vec<String> {
    if let Some(value) = container
        .labels
        .get(labels::DEPENDS_ON)
        .filter(|v| !v.trim().is_empty())
    {
        return value
            .split(',')
            .map(|n| n.trim().trim_start_matches('/'))
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
            .collect();
    }
    let endpoint_links = container
        .networks
        .iter()
        .flat_map(|n| &n.links)
        .map(|l| l.split(':').next().unwrap_or_default());
    let mut deps: Vec<String> = Vec::new();
    for link in container
        .links
        .iter()
        .map(String::as_str)
        .chain(endpoint_links)
    {
        let name = link.trim_start_matches('/');
        if !name.is_empty() && !deps.iter().any(|d| d == name) {
            deps.push(name.to_owned());
        }
    }
    if let NetworkMode::Container(name) = &container.network_mode {
        deps.push(name.trim_start_matches('/').to_owned());
    }
    deps
}

/// The containers of one session in dependency order, and the ones caught in cycles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Ordering {
    /// Indices into the container list, every dependency before its dependents. Members of a
    /// cycle appear together, in list order.
    pub(crate) order: Vec<usize>,
    /// Index -> a description of the cycle it is part of.
    pub(crate) cycles: HashMap<usize, String>,
    /// Index -> indices of the listed containers it depends on.
    pub(crate) deps: Vec<Vec<usize>>,
}

impl Ordering {
    /// Orders `containers`; only dependencies on containers in the list count.
    pub(crate) fn of(containers: &[Container]) -> Self {
        let by_name: HashMap<&str, usize> = containers
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.trim_start_matches('/'), i))
            .collect();
        let deps: Vec<Vec<usize>> = containers
            .iter()
            .map(|c| {
                let mut seen = BTreeSet::new();
                dependencies_of(c)
                    .iter()
                    .filter_map(|n| by_name.get(n.as_str()).copied())
                    .filter(|i| seen.insert(*i))
                    .collect()
            })
            .collect();

        let mut tarjan = Tarjan::new(&deps);
        for i in 0..containers.len() {
            if tarjan.index[i].is_none() {
                tarjan.visit(i);
            }
        }

        let mut order = Vec::with_capacity(containers.len());
        let mut cycles = HashMap::new();
        for mut component in tarjan.components {
            let self_loop = component.len() == 1 && deps[component[0]].contains(&component[0]);
            component.sort_unstable();
            if component.len() > 1 || self_loop {
                let names: Vec<&str> = component
                    .iter()
                    .map(|&i| containers[i].name.trim_start_matches('/'))
                    .collect();
                let description = if self_loop {
                    format!("{} depends on itself", names[0])
                } else {
                    format!("circular dependency between {}", names.join(", "))
                };
                for &i in &component {
                    cycles.insert(i, description.clone());
                }
            }
            order.extend(component);
        }
        Self {
            order,
            cycles,
            deps,
        }
    }

    /// Starting from the containers in `restart`, adds every container that depends
    /// (directly or not) on one of them and for which `eligible` holds. Cycle members never
    /// restart and never pass a restart on.
    pub(crate) fn propagate(&self, restart: &mut [bool], eligible: impl Fn(usize) -> bool) {
        for &i in &self.order {
            if restart[i] || self.cycles.contains_key(&i) || !eligible(i) {
                continue;
            }
            if self.deps[i]
                .iter()
                .any(|&d| restart[d] && !self.cycles.contains_key(&d))
            {
                restart[i] = true;
            }
        }
    }
}

/// Tarjan's strongly connected components; components come out dependencies first.
struct Tarjan<'a> {
    deps: &'a [Vec<usize>],
    next: usize,
    index: Vec<Option<usize>>,
    low: Vec<usize>,
    on_stack: Vec<bool>,
    stack: Vec<usize>,
    components: Vec<Vec<usize>>,
}

impl<'a> Tarjan<'a> {
    fn new(deps: &'a [Vec<usize>]) -> Self {
        let n = deps.len();
        Self {
            deps,
            next: 0,
            index: vec![None; n],
            low: vec![0; n],
            on_stack: vec![false; n],
            stack: Vec::new(),
            components: Vec::new(),
        }
    }

    fn visit(&mut self, v: usize) {
        self.index[v] = Some(self.next);
        self.low[v] = self.next;
        self.next += 1;
        self.stack.push(v);
        self.on_stack[v] = true;
        for k in 0..self.deps[v].len() {
            let w = self.deps[v][k];
            match self.index[w] {
                None => {
                    self.visit(w);
                    self.low[v] = self.low[v].min(self.low[w]);
                }
                Some(wi) if self.on_stack[w] => self.low[v] = self.low[v].min(wi),
                Some(_) => {}
            }
        }
        if Some(self.low[v]) == self.index[v] {
            let mut component = Vec::new();
            while let Some(w) = self.stack.pop() {
                self.on_stack[w] = false;
                component.push(w);
                if w == v {
                    break;
                }
            }
            self.components.push(component);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str) -> Container {
        Container {
            id: format!("id-{name}"),
            name: name.into(),
            ..Container::default()
        }
    }

    fn linked(name: &str, links: &[&str]) -> Container {
        let mut c = c(name);
        c.links = links.iter().map(|l| (*l).to_owned()).collect();
        c
    }

    fn depends(name: &str, on: &str) -> Container {
        let mut c = c(name);
        c.labels.insert(labels::DEPENDS_ON.into(), on.into());
        c
    }

    fn names(cs: &[Container], order: &[usize]) -> Vec<String> {
        order.iter().map(|&i| cs[i].name.clone()).collect()
    }

    #[test]
    fn depends_on_replaces_links_and_network_mode() {
        let mut x = linked("x", &["a"]);
        x.network_mode = NetworkMode::Container("b".into());
        assert_eq!(dependencies_of(&x), ["a", "b"]);
        x.labels
            .insert(labels::DEPENDS_ON.into(), " /c , d,,".into());
        assert_eq!(dependencies_of(&x), ["c", "d"]);
    }

    #[test]
    fn links_on_user_defined_networks_count() {
        let mut web = c("web");
        web.networks = vec![watchtower_container_client::NetworkAttachment {
            network: "backend".into(),
            links: vec!["db:database".into(), "/cache:cache".into()],
            ..Default::default()
        }];
        web.links = vec!["db".into()];
        assert_eq!(dependencies_of(&web), ["db", "cache"]);
    }

    #[test]
    fn dependencies_come_first() {
        let cs = vec![
            linked("web", &["api"]),
            depends("api", "db,cache"),
            c("db"),
            c("cache"),
            c("other"),
        ];
        let o = Ordering::of(&cs);
        assert!(o.cycles.is_empty());
        assert_eq!(names(&cs, &o.order), ["db", "cache", "api", "web", "other"]);
    }

    #[test]
    fn network_mode_container_is_a_dependency() {
        let mut vpn_client = c("client");
        vpn_client.network_mode = NetworkMode::Container("vpn".into());
        let cs = vec![vpn_client, c("vpn")];
        let o = Ordering::of(&cs);
        assert_eq!(names(&cs, &o.order), ["vpn", "client"]);
    }

    #[test]
    fn links_to_containers_outside_the_list_are_ignored() {
        let cs = vec![linked("web", &["gone"]), c("db")];
        let o = Ordering::of(&cs);
        assert_eq!(names(&cs, &o.order), ["web", "db"]);
        assert!(o.deps[0].is_empty());
    }

    #[test]
    fn a_cycle_marks_only_its_members() {
        let cs = vec![
            linked("a", &["b"]),
            linked("b", &["c"]),
            linked("c", &["a"]),
            linked("d", &["a"]),
            c("e"),
            linked("self", &["self"]),
        ];
        let o = Ordering::of(&cs);
        let mut in_cycle: Vec<_> = o.cycles.keys().map(|&i| cs[i].name.clone()).collect();
        in_cycle.sort();
        assert_eq!(in_cycle, ["a", "b", "c", "self"]);
        assert_eq!(o.cycles[&0], "circular dependency between a, b, c");
        assert_eq!(o.cycles[&5], "self depends on itself");
        assert_eq!(o.order.len(), cs.len());
        // d still comes after the cycle it depends on.
        let pos = |n: &str| names(&cs, &o.order).iter().position(|x| x == n).unwrap();
        assert!(pos("d") > pos("a"));
    }

    #[test]
    fn restarts_propagate_to_dependents_transitively() {
        let cs = vec![
            linked("web", &["api"]),
            linked("api", &["db"]),
            c("db"),
            linked("monitor", &["db"]),
            c("alone"),
        ];
        let o = Ordering::of(&cs);
        let mut restart = vec![false, false, true, false, false];
        // "monitor" is not eligible (e.g. monitor-only).
        o.propagate(&mut restart, |i| cs[i].name != "monitor");
        assert_eq!(restart, [true, true, true, false, false]);
    }

    #[test]
    fn cycles_do_not_pass_restarts_on() {
        let cs = vec![
            linked("a", &["b", "db"]),
            linked("b", &["a"]),
            c("db"),
            linked("x", &["a"]),
        ];
        let o = Ordering::of(&cs);
        let mut restart = vec![false, false, true, false];
        o.propagate(&mut restart, |_| true);
        assert_eq!(restart, [false, false, true, false]);
    }
}
