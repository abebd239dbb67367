//! `prefork-server generate DIR`: the man page and shell completions, rendered from the same
//! `clap` definition as `--help` (so a package built from this binary cannot ship a page that
//! disagrees with it), plus what `--help` has no room for: the signals, the exit codes, the
//! environment and the files.

use std::fs;
use std::io;
use std::path::Path;

use clap::CommandFactory;
use clap_complete::Shell;
use clap_mangen::roff::{bold, italic, roman, Roff};
use clap_mangen::Man;

use super::Cli;
use crate::error::exit;
use crate::signals;

const NAME: &str = "prefork-server";

/// Writes `prefork-server.1` and the bash, zsh and fish completions into `dir`; prints each
/// path. Returns the exit code: 0, or 73 (EX_CANTCREAT) if a file cannot be written.
pub fn generate(dir: &Path) -> i32 {
    match write_all(dir) {
        Ok(paths) => {
            for p in paths {
                println!("{}", p.display());
            }
            exit::OK
        }
        Err(e) => {
            eprintln!("{NAME} generate: {}: {e}", dir.display());
            exit::CANTCREAT
        }
    }
}

fn write_all(dir: &Path) -> io::Result<Vec<std::path::PathBuf>> {
    fs::create_dir_all(dir)?;
    // Every command's own page (prefork-server-status.1, ...), which the main page names; then
    // the main page, written over clap's with the operator's sections added.
    let mut written = Vec::new();
    clap_mangen::generate_to(Cli::command(), dir)?;
    for sub in Cli::command().get_subcommands() {
        written.push(dir.join(format!("{NAME}-{}.1", sub.get_name())));
    }
    let page = dir.join(format!("{NAME}.1"));
    fs::write(&page, man_page()?)?;
    written.insert(0, page);
    for (shell, file) in [
        (Shell::Bash, format!("{NAME}.bash")),
        (Shell::Zsh, format!("_{NAME}")),
        (Shell::Fish, format!("{NAME}.fish")),
    ] {
        let mut out = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), NAME, &mut out);
        let path = dir.join(file);
        fs::write(&path, out)?;
        written.push(path);
    }
    Ok(written)
}

/// The whole page: clap's sections (name, synopsis, description, every option with its
/// `PREFORK_*` variable and default, the commands), then the operator's sections.
pub fn man_page() -> io::Result<Vec<u8>> {
    let cmd = Cli::command()
        .long_about(DESCRIPTION)
        .disable_help_subcommand(true);
    // The commit's date (from `--version`), so the page changes only with the source.
    let date = env!("PREFORK_COMMIT_DATE");
    let man = Man::new(cmd)
        .date(date)
        .source(format!("{NAME} {}", env!("CARGO_PKG_VERSION")))
        .manual("System Administration");
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    man.render_subcommands_section(&mut out)?;
    operator_sections().to_writer(&mut out)?;
    man.render_version_section(&mut out)?;
    Ok(out)
}

const DESCRIPTION: &str = "A master/worker HTTP/1.1 (and HTTPS) and TCP echo server in the \
shape of nginx's core. The master raises the open-file limit, binds one SO_REUSEPORT socket per \
worker, forks the workers and respawns any that dies; each worker serves its connections from \
its own epoll loop. It answers a hello page, httpbin's routes, request controls (delays, status \
codes, faults), /healthz, /metrics and /status, and files under --root. Started as root with \
--user, the workers serve as that user. Every option may also be set in the environment as \
PREFORK_<OPTION>; the command line wins.";

fn operator_sections() -> Roff {
    let mut r = Roff::new();
    r.control("SH", ["SIGNALS"]);
    r.text([roman(
        "Sent to the master (the pid in --pid-file, or systemd's MainPID). Workers are \
         signalled by the master; signalled directly they do what the last column says.",
    )]);
    for s in signals::TABLE {
        r.control("TP", []);
        r.text([bold(s.names)]);
        r.text([roman(format!("{}. Worker: {}.", s.master, s.worker))]);
    }
    r.control("SH", ["EXIT STATUS"]);
    for (code, meaning) in exit::TABLE {
        r.control("TP", []);
        r.text([bold(code.to_string())]);
        r.text([roman(*meaning)]);
    }
    r.control("SH", ["ENVIRONMENT"]);
    r.control("TP", []);
    r.text([bold("PREFORK_<OPTION>")]);
    r.text([roman(
        "Each option's variable is named beside it above (--workers is PREFORK_WORKERS); \
         a value on the command line overrides it.",
    )]);
    r.control("TP", []);
    r.text([bold("RUST_LOG")]);
    r.text([roman(
        "The log level and filters (default info), e.g. debug or prefork_server=debug.",
    )]);
    r.control("TP", []);
    r.text([bold("NOTIFY_SOCKET, WATCHDOG_USEC, LISTEN_FDS, LISTEN_PID")]);
    r.text([roman(
        "Set by systemd: readiness and watchdog notifications, and socket activation \
         (sockets passed by systemd are served instead of binding).",
    )]);
    r.control("SH", ["FILES"]);
    for (path, what) in [
        (
            "/etc/default/prefork-server",
            "The packaged service's settings, as PREFORK_* variables (a conffile: kept on \
             upgrade and on removal, deleted on purge).",
        ),
        (
            "/lib/systemd/system/prefork-server.service",
            "The packaged unit: Type=notify, a watchdog, DynamicUser=, reload with \
             systemctl reload (SIGHUP), binary upgrade with systemctl kill -s USR2 \
             --kill-whom=main prefork-server.",
        ),
        (
            "/lib/systemd/system/prefork-server.socket",
            "Socket activation on port 8080.",
        ),
    ] {
        r.control("TP", []);
        r.text([italic(path)]);
        r.text([roman(what)]);
    }
    r.control("SH", ["EXAMPLES"]);
    for (command, what) in [
        (
            "prefork-server --workers 4 --port 8080",
            "Serve the hello page and httpbin's routes on port 8080.",
        ),
        (
            "prefork-server --root /srv/www --user www-data --group www-data",
            "Serve files as www-data (the master keeps root to bind and to reopen logs).",
        ),
        (
            "prefork-server --tls-cert site.crt --tls-key site.key --tls-port 8443",
            "HTTPS on 8443 beside HTTP on 8080.",
        ),
        (
            "prefork-server status --port 8080",
            "A running server's per-worker figures.",
        ),
    ] {
        r.control("TP", []);
        r.text([bold(command)]);
        r.text([roman(what)]);
    }
    r.control("SH", ["SEE ALSO"]);
    r.text([roman(
        "systemd.service(5), systemctl(1), curl(1); README.md and docs/ in the source, \
         also under /usr/share/doc/prefork-server in the package.",
    )]);
    r
}
