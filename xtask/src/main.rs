//! Project automation, in Rust rather than shell scripts.
//!
//! ```text
//! cargo xtask ci      format, lint, docs, every test (Docker-backed ones required), cargo-deny
//! cargo xtask deps    install what the tests need when it is missing (registry, busybox, engine)
//! cargo xtask bench <name>   print benchmark figures (see `cargo xtask bench` for the list)
//! cargo xtask man     the man page and shell completions, into target/man/
//! cargo xtask dist    the static release binary and the image watchtower-rs/watchtower
//! cargo xtask engine-26 [-- CMD]   the engine and end-to-end tests (or CMD) against Docker
//!                     Engine 26.1, started beside the machine's engine for the run
//! cargo xtask engine-28 [-- CMD]   the same against Docker 28+ from Debian unstable, set up as
//!                     Docker 29 ships (API 1.44 at the oldest, containerd image store)
//!                     (both are part of `cargo xtask ci`)
//! ```
//!
//! `cargo xtask ci` is the test command named in the README and called by `.ci/run`.

mod bench_cycle;
mod bench_memory;
mod bench_registry;
mod ci;
mod deps;
mod dist;
mod engine;
mod man;
mod second_engine;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  ci      run every check CI runs: fmt, clippy, rustdoc, tests (Docker-backed tests
          required), cargo-deny; installs missing test dependencies first
  deps    install missing test dependencies (docker-registry, busybox-static, a Docker
          Engine where none answers, cargo-deny)
  bench <name>
          print benchmark figures; `cargo xtask bench` lists the benches
  man [--out DIR]
          write the man page watchtower.1 and shell completions (default target/man/)
  dist [--binary-only]
          build the static release binary and the FROM scratch image
          watchtower-rs/watchtower:<version> (and :latest) from dist/Dockerfile
  engine-26 [-- COMMAND [ARG...]]
          start Docker Engine 26.1 (API 1.45, from Debian trixie) beside the machine's
          engine, run the engine and end-to-end tests (or COMMAND) with DOCKER_HOST
          pointing at it, stop it
  engine-28 [-- COMMAND [ARG...]]
          the same with Docker Engine 28 or later from Debian unstable, set up as Docker 29
          ships: API 1.44 at the oldest (DOCKER_MIN_API_VERSION), containerd image store";

/// The benches `cargo xtask bench <name>` knows, with a one-line description each.
const BENCHES: &[(&str, &str)] = &[
    (
        "registry",
        "freshness check of 50 repositories on a local token-auth registry: requests, \
         connections, wall time; cold and warm cache and a naive loop",
    ),
    (
        "cycle",
        "one session over 100 containers and 25 images: nothing new, then 5 images new; \
         wall time, registry requests, pulls, engine calls, peak memory",
    ),
    (
        "memory",
        "the real binary as a daemon (--interval 5) over 20 containers: VmRSS after start-up, \
         after 1, 3 and 10 sessions, VmHWM [--release] [--containers N] [--images K] [--sessions S]",
    ),
];

fn bench(name: Option<&str>, args: &[String]) -> anyhow::Result<()> {
    match name {
        Some("memory") => bench_memory::run(args),
        Some("registry") => bench_registry::run(),
        Some("cycle") => bench_cycle::run(),
        other => {
            let list: Vec<String> = BENCHES
                .iter()
                .map(|(name, what)| format!("  {name:<10} {what}"))
                .collect();
            let head = match other {
                Some(unknown) => format!("unknown bench `{unknown}`"),
                None => "no bench named".to_owned(),
            };
            Err(anyhow::anyhow!(
                "{head}; available benches:\n{}",
                list.join("\n")
            ))
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci::run(),
        Some("deps") => deps::ensure_all(),
        Some("bench") => bench(
            args.get(1).map(String::as_str),
            args.get(2..).unwrap_or(&[]),
        ),
        Some("man") => man::run(&args[1..]),
        Some("dist") => dist::run(&args[1..]),
        Some("engine-26") => second_engine::run(second_engine::ENGINE_26, &args[1..]),
        Some("engine-28") => second_engine::run(second_engine::ENGINE_28, &args[1..]),
        Some("-h" | "--help" | "help") => {
            eprintln!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some(other) => Err(anyhow::anyhow!(
            "unknown xtask command `{other}`\n\n{USAGE}"
        )),
        None => Err(anyhow::anyhow!("no xtask command given\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("xtask: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
