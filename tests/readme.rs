//! The README stays true: it documents every training flag, opens with the two commands, and CI
//! runs the test one.

use clap::{Args, Command};

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

#[test]
fn every_train_flag_is_in_the_readme_flag_table() {
    let cmd = cli::DeviceArgs::augment_args(train::config::Config::augment_args(Command::new("train")));
    let readme = readme();
    let table: Vec<&str> = readme.lines().filter(|l| l.starts_with("| `--")).collect();
    let mut flags: Vec<String> = cmd.get_arguments().filter_map(|a| a.get_long()).map(|l| format!("--{l}")).collect();
    flags.push("--resume".into());
    assert!(flags.len() > 15, "{flags:?}");
    for flag in flags {
        assert!(table.iter().any(|row| row.contains(&format!("`{flag}"))), "README's flag table lacks {flag}");
    }
}

#[test]
fn the_readme_opens_with_the_two_commands_and_ci_runs_the_test_one() {
    let readme = readme();
    let block = readme.split("```").nth(1).expect("README starts with a code block");
    let commands: Vec<&str> =
        block.lines().map(|l| l.split('#').next().unwrap().trim()).filter(|l| !l.is_empty()).collect();
    assert_eq!(commands, ["scripts/train", "scripts/test"]);
    let ci = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/run")).unwrap();
    let ci_commands: Vec<&str> = ci.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).collect();
    assert!(ci_commands.contains(&"scripts/test"), ".ci/run does not run scripts/test");
}

/// Every relative link and image in the README and docs/*.md, resolved from the page's directory.
#[test]
fn every_link_in_the_readme_and_docs_resolves() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut pages = vec![root.join("README.md")];
    pages.extend(
        std::fs::read_dir(root.join("docs"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "md")),
    );
    let mut checked = 0;
    for page in pages {
        let text = std::fs::read_to_string(&page).unwrap();
        for target in text.split("](").skip(1).filter_map(|rest| rest.split(')').next()) {
            if target.starts_with("http") || target.starts_with('#') {
                continue;
            }
            let path = page.parent().unwrap().join(target.split('#').next().unwrap());
            assert!(path.exists(), "{} links to {target}, which does not exist", page.display());
            checked += 1;
        }
    }
    assert!(checked > 20, "only {checked} links found");
}
