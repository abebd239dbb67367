//! `prefork-server`: parse the command line, set up logging, run the master, exit with the
//! documented code (see `error.rs`).

use clap::Parser;
use tracing::error;

use prefork_server::cli::{Cli, Command};
use prefork_server::{logging, master};

fn main() {
    // Before any large buffer exists: large buffers go back to the system when freed.
    prefork_server::sys::alloc::return_large_blocks_to_the_system();
    // clap prints usage errors and exits 2; --help and --version exit 0.
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::Status { port, host }) => {
            std::process::exit(prefork_server::status_cmd::run(*host, *port));
        }
        Some(Command::Healthcheck {
            port,
            host,
            timeout,
        }) => {
            std::process::exit(prefork_server::status_cmd::healthcheck(
                *host, *port, *timeout,
            ));
        }
        Some(Command::Generate { dir }) => {
            std::process::exit(prefork_server::cli::manual::generate(dir));
        }
        None => {}
    }
    let check_only = cli.check;
    let config = match cli.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("prefork-server: {e}");
            std::process::exit(e.exit_code());
        }
    };
    if let Some(spec) = &config.access_log {
        // Fail here, once, rather than in every worker.
        let json = config.log_format == prefork_server::config::LogFormat::Json;
        if let Err(e) = prefork_server::access_log::AccessLog::open(spec, json) {
            eprintln!("prefork-server: could not open the access log {spec}: {e}");
            std::process::exit(prefork_server::error::exit::CONFIG);
        }
    }
    if check_only {
        // Like `nginx -t`: validate, try the bind (or the passed sockets), say so, exit with the
        // code a start would.
        if let Err(e) = master::tls::check(&config) {
            eprintln!("prefork-server: {e}");
            std::process::exit(e.exit_code());
        }
        match master::startup::check(&config) {
            Ok(checked) => {
                eprintln!("prefork-server: configuration ok; {checked}");
                std::process::exit(prefork_server::error::exit::OK);
            }
            Err(e) => {
                eprintln!("prefork-server: {e}");
                std::process::exit(e.exit_code());
            }
        }
    }
    if let Err(e) = logging::init(config.log_format, config.lifecycle.log_file.as_deref()) {
        eprintln!("prefork-server: could not open the log file: {e}");
        std::process::exit(prefork_server::error::exit::CONFIG);
    }
    match master::run(config) {
        Ok(()) => std::process::exit(prefork_server::error::exit::OK),
        Err(e) => {
            error!("{e}");
            std::process::exit(e.exit_code());
        }
    }
}
