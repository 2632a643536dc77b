//! Settings shared by the property tests (issue 14 item 5).

use proptest::test_runner::Config;

/// Cases per property: `SCIMGATE_PROPTEST_CASES`, else `default` (each property picks a default
/// that keeps the whole `cargo test` run short). Failures are reported with their shrunk input;
/// nothing is written next to the sources.
pub fn config(default: u32) -> Config {
    let cases = std::env::var("SCIMGATE_PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}
