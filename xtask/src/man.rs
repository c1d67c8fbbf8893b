//! `cargo xtask man [--out DIR]`: the man page `watchtower.1` and shell completions, generated
//! from the binary's own clap command, declared in `watchtower-config` (so they list exactly
//! the flags it accepts, with their variables and defaults), written to `target/man/` unless
//! `--out` names another folder.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap_complete::Shell;
use clap_mangen::roff::{Roff, bold, roman};

/// Writes `watchtower.1`, a page per subcommand, and `completions/` (bash, zsh, fish, elvish,
/// PowerShell).
pub(crate) fn run(args: &[String]) -> anyhow::Result<()> {
    let out = match args {
        [] => workspace_root().join("target").join("man"),
        [flag, dir] if flag == "--out" => PathBuf::from(dir),
        _ => anyhow::bail!("usage: cargo xtask man [--out DIR]"),
    };
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;

    let page = out.join("watchtower.1");
    let mut text = Vec::new();
    render_man_page(&mut text)?;
    std::fs::write(&page, text).with_context(|| format!("writing {}", page.display()))?;
    eprintln!("wrote {}", page.display());
    // The main page's SEE ALSO names `watchtower-<subcommand>(1)`: write those pages too.
    let main = watchtower_config::cli::command();
    for sub in main.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("watchtower-{}", sub.get_name());
        let page = out.join(format!("{name}.1"));
        let mut text = Vec::new();
        clap_mangen::Man::new(sub.clone().display_name(&name).bin_name(&name))
            .title(name.to_uppercase())
            .manual("Watchtower")
            .render(&mut text)?;
        std::fs::write(&page, text).with_context(|| format!("writing {}", page.display()))?;
        eprintln!("wrote {}", page.display());
    }

    let completions = out.join("completions");
    std::fs::create_dir_all(&completions)
        .with_context(|| format!("creating {}", completions.display()))?;
    for shell in [
        Shell::Bash,
        Shell::Zsh,
        Shell::Fish,
        Shell::Elvish,
        Shell::PowerShell,
    ] {
        let mut cmd = watchtower_config::cli::command();
        let path = clap_complete::generate_to(shell, &mut cmd, "watchtower", &completions)
            .with_context(|| format!("writing {shell} completions"))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// The man page: clap's sections, then ENVIRONMENT (settings read only from variables) and
/// SIGNALS.
fn render_man_page(w: &mut Vec<u8>) -> anyhow::Result<()> {
    let man = clap_mangen::Man::new(watchtower_config::cli::command()).manual("Watchtower");
    man.render(w)?;
    let mut roff = Roff::default();
    roff.control("SH", ["ENVIRONMENT"]);
    roff.text([roman(
        "Every option can also be set through the variable named in its description; a flag \
         wins over its variable, an empty variable counts as unset. These settings exist only \
         as variables:",
    )]);
    for (name, what) in watchtower_config::flags::ENV_ONLY {
        roff.control("TP", []);
        roff.text([bold(*name)]);
        roff.text([roman(*what)]);
    }
    roff.control("SH", ["SIGNALS"]);
    roff.text([roman(
        "SIGTERM and SIGINT stop the schedule; a running session finishes the container it is \
         updating (or restores it) and watchtower exits with status 0.",
    )]);
    roff.control("SH", ["EXIT STATUS"]);
    roff.text([roman(
        "0 when done or stopped by a signal; 1 when watchtower cannot start (the message names \
         the flag, variable, file or host at fault) or a --run-once session could not run; 2 \
         for command-line usage errors.",
    )]);
    roff.to_writer(w)?;
    Ok(())
}

fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace root")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_man_page_lists_flags_variables_and_sections() {
        let mut page = Vec::new();
        render_man_page(&mut page).unwrap();
        let page = String::from_utf8(page).unwrap();
        for needle in [
            ".TH watchtower",
            "http\\-api\\-token",
            "WATCHTOWER_POLL_INTERVAL",
            ".SH ENVIRONMENT",
            "REPO_USER",
            ".SH SIGNALS",
            "completions",
        ] {
            assert!(page.contains(needle), "{needle} missing in the man page");
        }
    }

    #[test]
    fn writes_page_and_completions() {
        let dir = std::env::temp_dir().join(format!("xtask-man-{}", std::process::id()));
        run(&["--out".to_owned(), dir.to_str().unwrap().to_owned()]).unwrap();
        assert!(dir.join("watchtower.1").is_file());
        let bash =
            std::fs::read_to_string(dir.join("completions").join("watchtower.bash")).unwrap();
        assert!(bash.contains("--registry-ca"));
        assert!(dir.join("completions").join("_watchtower").is_file());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
