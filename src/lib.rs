//! scimgate: a single-binary SCIM 2.0 user directory for a multi-factor authentication
//! service. Layers, dependencies pointing one way (DESIGN.md, *Architecture*):
//! `web → directory → store → scim`, with `auth` and `tls` beside them; `app` wires them for
//! `main` and the tests alike. `private_fs` (files `0600`, directories `0700`) and `log_levels`
//! (client faults logged below ERROR) are leaves any layer may use.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod directory;
pub mod log_levels;
pub mod mail;
pub mod private_fs;
pub mod scim;
pub mod store;
pub mod tls;
pub mod web;

/// The property tests' settings (issue 14 item 5): `SCIMGATE_PROPTEST_CASES` cases per property,
/// else 256; failures are reported with their shrunk input and nothing is written next to the
/// sources.
#[cfg(test)]
pub(crate) fn proptest_config() -> proptest::test_runner::Config {
    let cases = std::env::var("SCIMGATE_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256);
    proptest::test_runner::Config {
        cases,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    }
}
