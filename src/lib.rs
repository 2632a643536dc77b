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
