//! `scimgate`: parse the command line, load the configuration, run the subcommand.

use std::process::ExitCode;

use clap::Parser;
use scimgate::cli::{self, Cli};

fn main() -> ExitCode {
    scimgate::tls::install_crypto_provider();
    let cli = Cli::parse();
    let config = match cli::load_config(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("scimgate: {e:#}");
            return ExitCode::from(2);
        }
    };
    cli::init_logging(&config);
    let result = actix_web::rt::System::new().block_on(cli::run(cli, config));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("scimgate: {}", report(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, each said once: most of our errors already name their cause in
/// their own message, which `{:#}` would repeat.
fn report(e: &anyhow::Error) -> String {
    let mut s = e.to_string();
    for cause in e.chain().skip(1) {
        let t = cause.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
    }
    s
}
