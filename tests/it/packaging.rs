//! The packaged files (issue 16 item 4) agree with the binary: `packaging/config.toml` loads
//! with the real configuration loader and has exactly the keys of `config.toml`, differing only
//! in the production paths and listeners; the unit's `ExecStart` is a command line the CLI
//! accepts, and every path the service writes lies in its `StateDirectory`; the cargo-deb
//! metadata installs files that exist. (`packaging/ci-package-test.sh` builds and installs the
//! package itself, in CI.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use clap::Parser;
use scimgate::cli::{Cli, Command};
use scimgate::config::Config;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// `section.key` -> value of a configuration file.
fn flat(rel: &str) -> BTreeMap<String, toml::Value> {
    let table: toml::Table = read(rel).parse().unwrap();
    let mut out = BTreeMap::new();
    for (section, value) in table {
        let toml::Value::Table(inner) = value else {
            panic!("{rel}: {section} is not a section");
        };
        for (key, v) in inner {
            out.insert(format!("{section}.{key}"), v);
        }
    }
    out
}

/// The values of `key=` lines of the unit's `[Service]` section.
fn unit_values(key: &str) -> Vec<String> {
    read("packaging/scimgate.service")
        .lines()
        .filter_map(|l| l.strip_prefix(&format!("{key}=")))
        .map(str::to_owned)
        .collect()
}

fn unit_value(key: &str) -> String {
    let v = unit_values(key);
    assert_eq!(v.len(), 1, "{key}= in the unit: {v:?}");
    v[0].clone()
}

#[test]
fn the_packaged_config_loads_and_differs_only_in_production_paths() {
    let packaged = flat("packaging/config.toml");
    let repo = flat("config.toml");
    assert_eq!(
        packaged.keys().collect::<Vec<_>>(),
        repo.keys().collect::<Vec<_>>(),
        "packaging/config.toml and config.toml must have the same keys"
    );
    let differ: Vec<&str> = packaged
        .iter()
        .filter(|(k, v)| repo.get(*k) != Some(v))
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(
        differ,
        [
            "backup.dir",
            "database.path",
            "secrets.key_file",
            "server.listen",
            "tls.certificate",
            "tls.private_key",
            "tls.redirect_listen",
        ],
        "only these keys are set for production (each with a 'Packaged:' comment)"
    );
    let text = read("packaging/config.toml");
    assert_eq!(text.matches("# Packaged:").count(), differ.len() + 2);

    // The real loader, as `scimgate --config /etc/scimgate/config.toml` reads it.
    let path = root().join("packaging/config.toml");
    let c = Config::load(Some(&path), &[]).unwrap();
    assert_eq!(c.server.listen.port(), 443);
    assert!(c.tls.enabled());
    assert_eq!(c.tls.redirect_listen.map(|a| a.port()), Some(80));
    assert_eq!(
        c.database.path,
        Path::new("/var/lib/scimgate/scimgate.db"),
        "{c:?}"
    );
    assert_eq!(
        c.secrets_key_file(),
        Path::new("/var/lib/scimgate/scimgate.key")
    );
}

#[test]
fn the_unit_runs_a_command_the_cli_accepts_and_writes_only_its_state_directory() {
    let exec = unit_value("ExecStart");
    let args: Vec<&str> = exec.split_whitespace().collect();
    assert_eq!(args[0], "/usr/bin/scimgate");
    let cli = Cli::try_parse_from(&args).unwrap_or_else(|e| panic!("ExecStart={exec}: {e}"));
    assert!(matches!(cli.command, Command::Serve), "{exec}");
    let config_path = cli.config.expect("ExecStart names the config file");
    assert_eq!(config_path, Path::new("/etc/scimgate/config.toml"));

    // What the service writes lies under /var/lib/<StateDirectory>, the one writable place
    // under ProtectSystem=strict; what it reads from /etc under ConfigurationDirectory.
    assert_eq!(unit_value("ProtectSystem"), "strict");
    let state = Path::new("/var/lib").join(unit_value("StateDirectory"));
    let conf = Path::new("/etc").join(unit_value("ConfigurationDirectory"));
    assert_eq!(
        Some(conf.as_path()),
        config_path.parent(),
        "the config file is in the ConfigurationDirectory"
    );
    let c = Config::load(Some(&root().join("packaging/config.toml")), &[]).unwrap();
    for written in [
        c.database.path.clone(),
        c.secrets_key_file(),
        c.backup.dir.clone(),
    ] {
        assert!(
            written.starts_with(&state),
            "{} is outside {}",
            written.display(),
            state.display()
        );
    }
    for read in [&c.tls.certificate, &c.tls.private_key] {
        assert!(read.starts_with(&conf), "{}", read.display());
    }
    assert_eq!(
        unit_value("WorkingDirectory"),
        state.display().to_string(),
        "relative paths resolve in the state directory"
    );
    // Binding 443 and 80 and nothing more.
    assert_eq!(unit_value("AmbientCapabilities"), "CAP_NET_BIND_SERVICE");
    assert_eq!(unit_value("CapabilityBoundingSet"), "CAP_NET_BIND_SERVICE");
    assert_eq!(unit_value("User"), "scimgate");
    assert_eq!(unit_value("ExecReload"), "/bin/kill -HUP $MAINPID");
}

#[test]
fn the_package_installs_files_that_exist() {
    let manifest: toml::Table = read("Cargo.toml").parse().unwrap();
    let deb = &manifest["package"]["metadata"]["deb"];
    let assets = deb["assets"].as_array().unwrap();
    let mut dests = Vec::new();
    for a in assets {
        let a = a.as_array().unwrap();
        let (src, dest) = (a[0].as_str().unwrap(), a[1].as_str().unwrap());
        dests.push(dest.to_owned());
        if src.starts_with("target/") {
            continue;
        }
        if let Some(dir) = src.strip_suffix("/*.md") {
            assert!(root().join(dir).is_dir(), "{src}");
        } else {
            assert!(root().join(src).is_file(), "asset {src} does not exist");
        }
    }
    for dest in [
        "usr/bin/",
        "lib/systemd/system/",
        "etc/scimgate/config.toml",
    ] {
        assert!(
            dests.iter().any(|d| d == dest),
            "nothing installed to {dest}"
        );
    }
    let conf_files = deb["conf-files"].as_array().unwrap();
    assert_eq!(conf_files[0].as_str(), Some("/etc/scimgate/config.toml"));
    let scripts = root().join(deb["maintainer-scripts"].as_str().unwrap());
    for script in ["postinst", "prerm", "postrm"] {
        let path = scripts.join(script);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .permissions(),
        );
        assert!(mode & 0o111 != 0, "{} is not executable", path.display());
        let syntax = std::process::Command::new("sh")
            .arg("-n")
            .arg(&path)
            .status()
            .unwrap();
        assert!(syntax.success(), "sh -n {}", path.display());
    }
}
