//! `--upgrade-timeout` and `--upgrade-mode`: how SIGUSR2 replaces the running binary.

use std::time::Duration;

use clap::ValueEnum;

use crate::config::UpgradeMode;

#[derive(Debug, Clone, clap::Args)]
pub struct UpgradeArgs {
    /// SIGUSR2: a new master (or the new binary's --check) that has not reported ready by then
    /// is killed, and this one carries on.
    #[arg(long, env = "PREFORK_UPGRADE_TIMEOUT", default_value = "30s", value_parser = super::parse_duration)]
    pub upgrade_timeout: Duration,

    /// SIGUSR2: "exec" re-executes the master in place (same pid; what a service manager needs),
    /// "fork" starts a new master beside this one (nginx's way), "auto" is exec under systemd
    /// (NOTIFY_SOCKET set) and fork otherwise.
    #[arg(long, env = "PREFORK_UPGRADE_MODE", value_enum, default_value_t = UpgradeModeArg::Auto)]
    pub upgrade_mode: UpgradeModeArg,
}

/// `--upgrade-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UpgradeModeArg {
    Auto,
    Exec,
    Fork,
}

impl UpgradeArgs {
    pub fn mode(&self) -> UpgradeMode {
        match self.upgrade_mode {
            UpgradeModeArg::Auto => UpgradeMode::Auto,
            UpgradeModeArg::Exec => UpgradeMode::Exec,
            UpgradeModeArg::Fork => UpgradeMode::Fork,
        }
    }
}
