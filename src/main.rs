//! `prefork-server`: parse the command line, set up logging, run the master, exit with the
//! documented code (see `error.rs`).

use clap::Parser;
use tracing::error;

use prefork_server::cli::Cli;
use prefork_server::{logging, master};

fn main() {
    // clap prints usage errors and exits 2; --help and --version exit 0.
    let cli = Cli::parse();
    let config = match cli.into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("prefork-server: {e}");
            std::process::exit(e.exit_code());
        }
    };
    logging::init(config.log_format);
    match master::run(config) {
        Ok(()) => std::process::exit(prefork_server::error::exit::OK),
        Err(e) => {
            error!("{e}");
            std::process::exit(e.exit_code());
        }
    }
}
