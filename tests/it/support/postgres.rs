//! A private PostgreSQL server for tests (issue 18 item 5): one cluster per test binary run,
//! started on first use from Debian's `postgresql` package (the newest
//! `/usr/lib/postgresql/*/bin`), with `initdb` in a temporary directory, listening on
//! 127.0.0.1 on a free port and on a unix socket inside that directory, fsync off. Each test
//! gets its own database ([`database`]), dropped when the returned [`TestDb`] is dropped (also
//! when the test panics).
//!
//! The cluster is stopped and its directory removed when the test process ends, however it
//! ends: a watchdog shell waits on a pipe whose only writer is this process, and when the
//! pipe closes (exit, panic, `kill -9`) it stops the server and removes the directory.
//!
//! PostgreSQL refuses to run as root; a test run as root runs the server as `postgres` (the
//! user Debian's package creates) or else `nobody`, through `runuser`.
//!
//! With `CI=true` a missing installation fails the test; otherwise the test is skipped with a
//! printed reason. Shared by the integration tests (`tests/it`) and the library's unit tests
//! (included with `#[path]` from `src/store/pg/mod.rs`); std only, so it fits both.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

/// The superuser role the cluster is made with.
const ROLE: &str = "scimgate_test";

/// A database of the shared cluster, for one test.
#[derive(Debug)]
pub struct TestDb {
    /// `postgres://` URL with user and password, over TCP to 127.0.0.1.
    pub url: String,
    pub name: String,
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(Ok(c)) = CLUSTER.get() {
            // Best effort: the whole cluster goes at process exit anyway.
            let _ = c.psql(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

/// A new empty database (UTF-8, C collation) on the shared cluster, for the test `label`.
/// None when PostgreSQL is not installed and `CI` is not `true` (the reason is printed);
/// panics with the reason when it is, or when the cluster cannot start.
pub fn database(label: &str) -> Option<TestDb> {
    let cluster = match CLUSTER.get_or_init(Cluster::start) {
        Ok(c) => c,
        Err(Unavailable::NotInstalled(why)) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!(
                    "CI=true but PostgreSQL is missing ({why}): apt-get install --no-install-recommends postgresql"
                );
            }
            eprintln!("skipped {label}: PostgreSQL is not installed ({why})");
            return None;
        }
        Err(Unavailable::Failed(why)) => panic!("the test PostgreSQL cluster did not start: {why}"),
    };
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let clean: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let name = format!("t{n}_{clean}");
    if let Err(e) = cluster.psql(&format!(
        "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
    )) {
        panic!("CREATE DATABASE {name} failed: {e}");
    }
    Some(TestDb {
        url: format!(
            "postgres://{ROLE}:{}@127.0.0.1:{}/{name}",
            cluster.password, cluster.port
        ),
        name,
    })
}

enum Unavailable {
    NotInstalled(String),
    Failed(String),
}

static CLUSTER: OnceLock<Result<Cluster, Unavailable>> = OnceLock::new();

struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    password: String,
    /// `runuser -u USER --` before each server command when the tests run as root.
    run_as: Option<String>,
    /// The write end of the watchdog's pipe: closed by the OS when this process ends.
    _watchdog: Mutex<ChildStdin>,
    _watchdog_child: Child,
}

/// The newest `/usr/lib/postgresql/N/bin` that has `initdb`, `pg_ctl` and `psql`.
fn find_bin() -> Result<PathBuf, String> {
    let root = Path::new("/usr/lib/postgresql");
    let entries = std::fs::read_dir(root).map_err(|e| format!("{}: {e}", root.display()))?;
    let mut found: Vec<(u32, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let version: u32 = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            ["initdb", "pg_ctl", "psql"]
                .iter()
                .all(|b| bin.join(b).is_file())
                .then_some((version, bin))
        })
        .collect();
    found.sort();
    found
        .pop()
        .map(|(_, bin)| bin)
        .ok_or_else(|| format!("no {}/*/bin with initdb, pg_ctl and psql", root.display()))
}

fn output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn user_exists(name: &str) -> bool {
    Command::new("id")
        .arg("-u")
        .arg(name)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn free_port() -> Result<u16, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    Ok(l.local_addr().map_err(|e| e.to_string())?.port())
}

impl Cluster {
    fn start() -> Result<Cluster, Unavailable> {
        let bin = find_bin().map_err(Unavailable::NotInstalled)?;
        Self::start_with(bin).map_err(Unavailable::Failed)
    }

    fn start_with(bin: PathBuf) -> Result<Cluster, String> {
        let root = output(Command::new("id").arg("-u"))?.trim() == "0";
        let run_as = if !root {
            None
        } else if user_exists("postgres") {
            Some("postgres".to_owned())
        } else {
            Some("nobody".to_owned())
        };
        let dir = std::env::temp_dir().join(format!(
            "scimgate-pg-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        // The watchdog first, so that every later failure also cleans up.
        let stop = format!(
            "{} {} -D {} stop -m immediate",
            run_as
                .as_deref()
                .map(|u| format!("runuser -u {u} --"))
                .unwrap_or_default(),
            bin.join("pg_ctl").display(),
            dir.join("data").display()
        );
        let mut watchdog_child = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "cat >/dev/null; {stop} >/dev/null 2>&1; rm -rf '{}'",
                dir.display()
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("watchdog: {e}"))?;
        let watchdog = watchdog_child
            .stdin
            .take()
            .ok_or("watchdog: no stdin pipe")?;
        if let Some(u) = &run_as {
            output(Command::new("chown").arg(format!("{u}:")).arg(&dir))?;
        }
        let password = uuid::Uuid::new_v4().simple().to_string();
        let pwfile = dir.join("pw");
        std::fs::File::create(&pwfile)
            .and_then(|mut f| f.write_all(password.as_bytes()))
            .map_err(|e| format!("{}: {e}", pwfile.display()))?;
        if let Some(u) = &run_as {
            output(Command::new("chown").arg(format!("{u}:")).arg(&pwfile))?;
        }
        let mut cluster = Cluster {
            bin,
            dir,
            port: 0,
            password,
            run_as,
            _watchdog: Mutex::new(watchdog),
            _watchdog_child: watchdog_child,
        };
        let data = cluster.dir.join("data");
        output(
            cluster
                .command("initdb")
                .arg("-D")
                .arg(&data)
                .args(["-U", ROLE, "--encoding=UTF8", "--locale=C", "--no-sync"])
                .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
                .arg(format!("--pwfile={}", pwfile.display())),
        )?;
        let _ = std::fs::remove_file(&pwfile);
        // A free port can be taken between the probe and the start: try a few.
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port()?;
            let options = format!(
                "-c port={port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='{}' \
                 -c unix_socket_permissions=0700 -c fsync=off -c synchronous_commit=off \
                 -c full_page_writes=off -c max_connections=200",
                cluster.dir.display()
            );
            let started = output(
                cluster
                    .command("pg_ctl")
                    .arg("-D")
                    .arg(&data)
                    .arg("-l")
                    .arg(cluster.dir.join("server.log"))
                    .args(["-w", "-t", "60", "-o", &options, "start"]),
            );
            match started {
                Ok(_) => {
                    cluster.port = port;
                    return Ok(cluster);
                }
                Err(e) => {
                    let log =
                        std::fs::read_to_string(cluster.dir.join("server.log")).unwrap_or_default();
                    last = format!("{e}\n{log}");
                }
            }
        }
        Err(last)
    }

    /// A server program, run as the cluster's user, in the cluster's directory.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        let mut cmd = match &self.run_as {
            Some(u) => {
                let mut c = Command::new("runuser");
                c.args(["-u", u, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        };
        cmd.current_dir(&self.dir);
        cmd
    }

    /// Runs one SQL statement as the superuser, over the unix socket.
    fn psql(&self, sql: &str) -> Result<String, String> {
        let mut cmd = Command::new(self.bin.join("psql"));
        cmd.arg("-X")
            .args(["-v", "ON_ERROR_STOP=1", "-q", "-h"])
            .arg(&self.dir)
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                ROLE,
                "-d",
                "postgres",
                "-c",
                sql,
            ])
            .current_dir(&self.dir);
        output(&mut cmd)
    }
}
