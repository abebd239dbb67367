//! The integration tests, one module per file, in one crate: one binary to link instead of one
//! per file (`cargo test --test it`; one file: `cargo test --test it accept::`).
//! `tests/alloc.rs` (its own global allocator) and `tests/layers.rs` stay crates of their own.

mod common;

mod accept;
mod access_log_full_disk;
mod balancer;
mod check;
mod churn;
mod clients;
mod commands;
mod conformance;
mod controls;
mod cors;
mod echo;
mod echo_options;
mod fairness;
mod files;
mod files_compress;
mod files_large;
mod files_listing;
mod files_pages;
mod files_ranges;
mod h2spec;
mod health;
mod hostile;
mod http;
mod http2;
mod http2_limits;
mod http2_memory;
mod httpbin_auth;
mod httpbin_data;
mod httpbin_inspect;
mod httpbin_shape;
mod httpbin_status;
mod httpbin_timers;
mod inspect;
mod lifecycle;
mod memory;
mod metrics;
mod notify_upgrade;
mod pacing;
mod privileges;
mod proxy_protocol;
mod scale;
mod supervise;
mod timeouts;
mod tls;
mod tls_lifecycle;
mod upgrade;
mod upgrade_in_place;
mod websocket;
mod whole_requests;
