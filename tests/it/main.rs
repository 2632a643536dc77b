//! The integration tests: one binary that starts the real appliance on port 0 against a
//! temporary SQLite file and talks to it over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod admin;
mod admin_mfa;
mod aliases;
mod backup;
mod binary;
mod bounds;
mod bulk_props;
mod concurrency;
mod conformance;
mod discovery;
mod docs;
mod enroll;
mod errors;
mod groups;
mod limits;
mod log_format;
mod logs;
mod mail;
mod metrics;
mod okta;
mod ownership;
mod packaging;
mod patch;
mod patch_answer;
mod patch_props;
mod pg_store;
mod query;
mod restart;
mod secrets;
mod support;
mod tls;
mod tokens;
mod upgrade;
mod verifier_keys;
