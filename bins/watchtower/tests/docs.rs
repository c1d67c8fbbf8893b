//! `docs/flags.md` names every option, its short form and its variable, so the reference
//! cannot drift from the flag table.

#[test]
fn flags_md_lists_every_option_and_variable() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/flags.md");
    let doc = std::fs::read_to_string(path).expect("docs/flags.md exists");
    let cmd = watchtower_config::cli::command();
    for spec in watchtower_config::flags::FLAGS {
        assert!(
            doc.contains(&format!("`--{}`", spec.long)),
            "--{} missing",
            spec.long
        );
        if let Some(env) = spec.env {
            assert!(doc.contains(&format!("`{env}`")), "{env} missing");
        }
        let arg = cmd
            .get_arguments()
            .find(|a| a.get_long() == Some(spec.long))
            .expect("declared");
        if let Some(short) = arg.get_short() {
            assert!(doc.contains(&format!("`-{short}`")), "-{short} missing");
        }
    }
    for (env, _) in watchtower_config::flags::ENV_ONLY {
        assert!(doc.contains(&format!("`{env}`")), "{env} missing");
    }
}
