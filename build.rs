//! Stamps the commit the binary is built from, and its date, into `--version`
//! (`PREFORK_COMMIT`, `PREFORK_COMMIT_DATE`).
//!
//! From `git` when the source is a checkout, else from `PREFORK_BUILD_COMMIT` in the build's
//! environment (a build from a source archive; with `PREFORK_BUILD_DATE`), else "unknown". Cargo reruns
//! this only when HEAD or the branch it names moves, so an ordinary rebuild pays nothing.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    (out.status.success() && !text.trim().is_empty()).then(|| text.trim().to_string())
}

fn main() {
    // Without this, a build outside a checkout would rerun on any change to the package.
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PREFORK_BUILD_COMMIT");
    println!("cargo:rerun-if-env-changed=PREFORK_BUILD_DATE");
    let from_env = std::env::var("PREFORK_BUILD_COMMIT")
        .ok()
        .filter(|c| !c.is_empty());
    let (commit, date) = from_env
        .map(|c| (c, std::env::var("PREFORK_BUILD_DATE").ok()))
        .or_else(|| {
            let commit = git(&["rev-parse", "--short=12", "HEAD"])?;
            // Rerun when HEAD moves: HEAD itself (a checkout), the branch's ref file (a commit),
            // and packed-refs (where a ref lives once packed). Only files that exist: cargo takes
            // a missing one as changed, and would rebuild every time.
            let mut watched = vec!["HEAD".to_string(), "packed-refs".to_string()];
            if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
                watched.push(branch);
            }
            for name in &watched {
                if let Some(path) = git(&["rev-parse", "--git-path", name]) {
                    if std::path::Path::new(&path).exists() {
                        println!("cargo:rerun-if-changed={path}");
                    }
                }
            }
            Some((commit, git(&["log", "-1", "--format=%cs", "HEAD"])))
        })
        .unwrap_or_else(|| ("unknown".into(), None));
    println!("cargo:rustc-env=PREFORK_COMMIT={commit}");
    println!(
        "cargo:rustc-env=PREFORK_COMMIT_DATE={}",
        date.unwrap_or_else(|| "unknown".into())
    );
}
