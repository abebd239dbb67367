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
            // and packed-refs (where a ref lives once packed).
            for path in ["HEAD", "packed-refs"] {
                if let Some(p) = git(&["rev-parse", "--git-path", path]) {
                    println!("cargo:rerun-if-changed={p}");
                }
            }
            if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
                if let Some(p) = git(&["rev-parse", "--git-path", &branch]) {
                    println!("cargo:rerun-if-changed={p}");
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
