//! HTTPS from the binary: SCIM over TLS with a client that trusts a generated certificate,
//! the redirect-only listener, the protocol floor (TLS 1.1 refused), and certificate reload
//! (in-process and through SIGHUP to the real binary).

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use scimgate::config::Config;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::support::*;

/// Writes a fresh self-signed pair for `localhost` as `{name}.crt` / `{name}.key`.
fn write_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let (c, k) = scimgate::tls::self_signed::generate(&["localhost".into()], 30 * 3).unwrap();
    let (cp, kp) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&cp, c).unwrap();
    std::fs::write(&kp, k).unwrap();
    (cp, kp)
}

fn der_of(cert_file: &Path) -> CertificateDer<'static> {
    CertificateDer::from_pem_file(cert_file).unwrap()
}

fn tls_config(dir: &Path, cert: &Path, key: &Path, redirect: bool) -> Config {
    let mut config = config_in(dir);
    config.tls.certificate = cert.to_owned();
    config.tls.private_key = key.to_owned();
    if redirect {
        config.tls.redirect_listen = Some("127.0.0.1:0".parse().unwrap());
    }
    config
}

/// A TLS client that trusts exactly `certs`, offering `versions`.
pub(crate) struct Client {
    connector: tokio_rustls::TlsConnector,
}

impl Client {
    fn new(certs: &[&Path], versions: &[&'static rustls::SupportedProtocolVersion]) -> Client {
        let mut roots = rustls::RootCertStore::empty();
        for c in certs {
            roots.add(der_of(c)).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        // Every connection does a full handshake, so the server shows its current certificate
        // (a resumed session presents none and reports the one it started with).
        let mut config = config;
        config.resumption = rustls::client::Resumption::disabled();
        Client {
            connector: tokio_rustls::TlsConnector::from(Arc::new(config)),
        }
    }

    pub(crate) fn trusting(certs: &[&Path]) -> Client {
        Self::new(certs, rustls::DEFAULT_VERSIONS)
    }

    pub(crate) async fn connect(&self, addr: SocketAddr) -> TlsStream<TcpStream> {
        let tcp = TcpStream::connect(addr).await.unwrap();
        self.connector
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await
            .unwrap()
    }
}

fn peer_cert(s: &TlsStream<TcpStream>) -> CertificateDer<'static> {
    s.get_ref().1.peer_certificates().unwrap()[0]
        .clone()
        .into_owned()
}

pub(crate) struct Response {
    pub(crate) status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// One HTTP/1.1 request on an open (keep-alive) connection; the response is read by its
/// Content-Length, so the connection can carry another request.
pub(crate) async fn request<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    s: &mut S,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&Value>,
) -> Response {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut req =
        format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\nAccept: application/scim+json\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() {
        req.push_str("Content-Type: application/scim+json\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    s.write_all(req.as_bytes()).await.unwrap();
    s.flush().await.unwrap();
    read_response(s).await
}

async fn read_response<S: tokio::io::AsyncRead + Unpin>(s: &mut S) -> Response {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed before a response: {buf:?}");
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk).await.unwrap();
        assert!(n > 0, "connection closed inside a body");
        body.extend_from_slice(&chunk[..n]);
    }
    Response {
        status,
        headers,
        body,
    }
}

#[actix_web::test]
async fn scim_over_https_with_hsts_and_modern_ciphers() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_pair(dir.path(), "server");
    let config = tls_config(dir.path(), &cert, &key, false);
    let app = TestApp::spawn_with(dir, config).await;
    assert!(
        app.base_url
            .starts_with(&format!("https://localhost:{}/scim/v2/", app.addr.port())),
        "{}",
        app.base_url
    );
    let path = format!("/scim/v2/{}/Users", app.integration_id);
    let auth = format!("Bearer {}", app.token);
    let client = Client::trusting(&[&cert]);

    let mut s = client.connect(app.addr).await;
    assert_eq!(peer_cert(&s), der_of(&cert));
    assert_eq!(
        s.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    let r = request(
        &mut s,
        "POST",
        &path,
        &[("Authorization", &auth)],
        Some(&okta_user("tls@example.com")),
    )
    .await;
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(
        r.header("strict-transport-security"),
        Some("max-age=31536000")
    );
    let created = r.json();
    let location = r.header("location").unwrap().to_owned();
    assert_eq!(
        location,
        format!("{}/Users/{}", app.base_url, created["id"].as_str().unwrap())
    );
    // The same connection carries the next request.
    let r = request(
        &mut s,
        "GET",
        &format!("{path}/{}", created["id"].as_str().unwrap()),
        &[("Authorization", &auth)],
        None,
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["userName"], "tls@example.com");
    assert_eq!(r.json()["meta"]["location"], location.as_str());

    // A TLS 1.2-only client gets TLS 1.2 with an ECDHE suite.
    let client12 = Client::new(&[&cert], &[&rustls::version::TLS12]);
    let mut s = client12.connect(app.addr).await;
    let conn = s.get_ref().1;
    assert_eq!(
        conn.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    let suite = format!("{:?}", conn.negotiated_cipher_suite().unwrap().suite());
    assert!(suite.starts_with("TLS_ECDHE_"), "{suite}");
    let r = request(&mut s, "GET", "/healthz", &[], None).await;
    assert_eq!((r.status, &r.body[..]), (200, &b"ok\n"[..]));

    // Plain HTTP on the HTTPS port is not served.
    let mut plain = TcpStream::connect(app.addr).await.unwrap();
    plain
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), plain.read_to_end(&mut got)).await;
    assert!(
        !got.starts_with(b"HTTP/"),
        "{}",
        String::from_utf8_lossy(&got)
    );
}

#[actix_web::test]
async fn the_redirect_listener_redirects_and_serves_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_pair(dir.path(), "server");
    let config = tls_config(dir.path(), &cert, &key, true);
    let app = TestApp::spawn_with(dir, config).await;
    let raddr = app.redirect_addr.unwrap();
    assert_ne!(raddr.port(), app.addr.port());
    let path = format!("/scim/v2/{}/Users", app.integration_id);
    let auth = format!("Bearer {}", app.token);

    let mut plain = TcpStream::connect(raddr).await.unwrap();
    let r = request(&mut plain, "GET", "/healthz?x=1", &[], None).await;
    assert_eq!(r.status, 308);
    assert_eq!(
        r.header("location"),
        Some(format!("https://localhost:{}/healthz?x=1", app.addr.port()).as_str())
    );
    assert!(!String::from_utf8_lossy(&r.body).contains("ok\n"));
    assert_eq!(r.header("strict-transport-security"), None);

    // A valid SCIM request is not served either: redirected, and nothing is created.
    let r = request(
        &mut plain,
        "POST",
        &path,
        &[("Authorization", &auth)],
        Some(&okta_user("plain@example.com")),
    )
    .await;
    assert_eq!(r.status, 308);
    assert_eq!(
        r.header("location"),
        Some(format!("https://localhost:{}{path}", app.addr.port()).as_str())
    );
    // (The unread body makes actix close that connection; a new one for the next request.)
    let mut plain = TcpStream::connect(raddr).await.unwrap();
    let r = request(&mut plain, "GET", &path, &[("Authorization", &auth)], None).await;
    assert_eq!(r.status, 308);

    let mut s = Client::trusting(&[&cert]).connect(app.addr).await;
    let r = request(&mut s, "GET", &path, &[("Authorization", &auth)], None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["totalResults"], 0);
}

/// A ClientHello as a TLS 1.1 (0x0302) or TLS 1.2 (0x0303) client sends it: no
/// supported_versions extension, ECDHE suites (GCM and the CBC ones TLS 1.1 clients use),
/// the groups, point formats and signature algorithms rustls needs to answer a TLS 1.2 hello.
fn client_hello(version: u16) -> Vec<u8> {
    fn ext(out: &mut Vec<u8>, ty: u16, data: &[u8]) {
        out.extend_from_slice(&ty.to_be_bytes());
        out.extend_from_slice(&(data.len() as u16).to_be_bytes());
        out.extend_from_slice(data);
    }
    let mut exts = Vec::new();
    let host = b"localhost";
    let mut sni = Vec::new();
    sni.extend_from_slice(&((host.len() + 3) as u16).to_be_bytes());
    sni.push(0);
    sni.extend_from_slice(&(host.len() as u16).to_be_bytes());
    sni.extend_from_slice(host);
    ext(&mut exts, 0x0000, &sni);
    ext(&mut exts, 0x000a, &[0, 4, 0x00, 0x1d, 0x00, 0x17]); // x25519, secp256r1
    ext(&mut exts, 0x000b, &[1, 0]); // uncompressed points
    ext(
        &mut exts,
        0x000d,
        &[0, 6, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01],
    ); // sig algs
    let mut body = Vec::new();
    body.extend_from_slice(&version.to_be_bytes());
    body.extend_from_slice(&[7u8; 32]); // random
    body.push(0); // no session id
    let suites: [u16; 4] = [0xc02b, 0xc02f, 0xc009, 0xc013];
    body.extend_from_slice(&((suites.len() * 2) as u16).to_be_bytes());
    for s in suites {
        body.extend_from_slice(&s.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // null compression
    body.extend_from_slice(&(exts.len() as u16).to_be_bytes());
    body.extend_from_slice(&exts);
    let mut hs = vec![1u8]; // client_hello
    hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
    hs.extend_from_slice(&body);
    let mut rec = vec![0x16, 0x03, 0x01];
    rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
    rec.extend_from_slice(&hs);
    rec
}

/// Sends `hello` and returns the first record's (content type, first two payload bytes).
async fn first_record(addr: SocketAddr, hello: &[u8]) -> (u8, [u8; 2]) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(hello).await.unwrap();
    let mut head = [0u8; 5];
    s.read_exact(&mut head).await.unwrap();
    let mut first = [0u8; 2];
    s.read_exact(&mut first).await.unwrap();
    (head[0], first)
}

#[actix_web::test]
async fn tls_1_1_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_pair(dir.path(), "server");
    let config = tls_config(dir.path(), &cert, &key, false);
    let app = TestApp::spawn_with(dir, config).await;

    // Control: the same hello claiming TLS 1.2 gets a ServerHello (handshake record, type 2),
    // so the bytes are a well-formed hello and only the version decides below.
    assert_eq!(
        first_record(app.addr, &client_hello(0x0303)).await,
        (22, [2, 0])
    );
    // TLS 1.1: a fatal alert (record 21, level 2), protocol_version (70), and no ServerHello.
    assert_eq!(
        first_record(app.addr, &client_hello(0x0302)).await,
        (21, [2, 70])
    );
    // TLS 1.0 likewise.
    assert_eq!(
        first_record(app.addr, &client_hello(0x0301)).await,
        (21, [2, 70])
    );

    // And a real TLS 1.1 client, if the machine has one: OpenSSL's s_client with TLS 1.1
    // allowed (SECLEVEL=0) fails the handshake.
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &app.addr.to_string(),
            "-tls1_1",
            "-cipher",
            "DEFAULT@SECLEVEL=0",
        ])
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{text}");
            assert!(text.contains("alert"), "{text}");
            assert!(text.contains("Cipher is (NONE)"), "{text}");
        }
        Err(e) => eprintln!("openssl not found ({e}); checked with hand-made hellos only"),
    }
}

#[actix_web::test]
async fn reload_swaps_the_certificate_and_a_bad_file_keeps_the_old_one() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = write_pair(dir.path(), "server");
    let (cert_b, key_b) = write_pair(dir.path(), "renewed");
    let (cert_c, _) = write_pair(dir.path(), "other");
    let config = tls_config(dir.path(), &cert, &key, false);
    let app = TestApp::spawn_with(dir, config).await;
    let tls = app.tls.clone().unwrap();
    let client = Client::trusting(&[&cert, &cert_b, &cert_c]);
    let (der_a, der_b) = (der_of(&cert), der_of(&cert_b));

    let mut open = client.connect(app.addr).await;
    assert_eq!(peer_cert(&open), der_a);
    assert_eq!(
        request(&mut open, "GET", "/healthz", &[], None)
            .await
            .status,
        200
    );

    // Renewal: new files in place, then the reload SIGHUP triggers.
    std::fs::copy(&cert_b, &cert).unwrap();
    std::fs::copy(&key_b, &key).unwrap();
    let status = tls.reload().unwrap();
    assert_eq!(status.certificate, cert);
    let new = client.connect(app.addr).await;
    assert_eq!(peer_cert(&new), der_b);
    // The connection opened before the reload is still served.
    assert_eq!(
        request(&mut open, "GET", "/healthz", &[], None)
            .await
            .status,
        200
    );
    assert_eq!(peer_cert(&open), der_a);

    // A bad certificate file: reload fails, naming the file; the renewed one keeps serving.
    let saved = std::fs::read(&cert).unwrap();
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\ntruncated").unwrap();
    let e = tls.reload().unwrap_err().to_string();
    assert!(e.contains(&*cert.display().to_string()), "{e}");
    assert_eq!(peer_cert(&client.connect(app.addr).await), der_b);
    // A certificate whose key is not the key file's: refused, the renewed one keeps serving.
    std::fs::copy(&cert_c, &cert).unwrap();
    let e = tls.reload().unwrap_err().to_string();
    assert!(e.contains("does not belong"), "{e}");
    assert_eq!(peer_cert(&client.connect(app.addr).await), der_b);
    // A missing key file.
    std::fs::write(&cert, &saved).unwrap();
    std::fs::remove_file(&key).unwrap();
    let e = tls.reload().unwrap_err().to_string();
    assert!(
        e.contains("private key file") && e.contains("cannot read"),
        "{e}"
    );
    let mut s = client.connect(app.addr).await;
    assert_eq!(peer_cert(&s), der_b);
    assert_eq!(
        request(&mut s, "GET", "/healthz", &[], None).await.status,
        200
    );
    assert_eq!(tls.status().sha256_fingerprint, status.sha256_fingerprint);
}

fn scimgate(dir: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_scimgate"));
    c.current_dir(dir)
        .env("SCIMGATE_DATABASE", dir.join("appliance.db"))
        .env("SCIMGATE_LISTEN", "127.0.0.1:0")
        .env("SCIMGATE_TLS_CERTIFICATE", dir.join("cert.pem"))
        .env("SCIMGATE_TLS_PRIVATE_KEY", dir.join("key.pem"));
    c
}

/// A running `scimgate serve`, killed if the test fails before stopping it.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// `scimgate serve`; returns the child, its HTTPS address and the channel of log lines.
fn serve(dir: &Path) -> (Served, SocketAddr, std::sync::mpsc::Receiver<String>) {
    let mut child = scimgate(dir)
        .arg("serve")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no 'listening on https://' line");
        };
        if let Some(rest) = line.split("listening on https://").nth(1) {
            let addr = rest.split_whitespace().next().unwrap().parse().unwrap();
            return (Served(child), addr, rx);
        }
    }
}

fn signal(child: &Served, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

#[actix_web::test]
async fn sighup_reloads_the_certificate_of_the_running_binary() {
    let dir = tempfile::tempdir().unwrap();
    let out = scimgate(dir.path())
        .args(["tls", "self-signed", "--host", "localhost"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("[tls]") && stdout.contains("cert.pem"),
        "{stdout}"
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let first = der_of(&cert);
    // Existing files are kept without --force.
    let again = scimgate(dir.path())
        .args(["tls", "self-signed", "--host", "localhost"])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert_eq!(der_of(&cert), first);

    let (mut child, addr, logs) = serve(dir.path());
    let old_copy = dir.path().join("old.pem");
    std::fs::copy(&cert, &old_copy).unwrap();
    let out = scimgate(dir.path())
        .args(["tls", "self-signed", "--host", "localhost", "--force"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let second = der_of(&cert);
    assert_ne!(first, second);
    let client = Client::trusting(&[&old_copy, &cert]);
    assert_eq!(peer_cert(&client.connect(addr).await), first);

    signal(&child, "-HUP");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let mut s = client.connect(addr).await;
        if peer_cert(&s) == second {
            assert_eq!(
                request(&mut s, "GET", "/healthz", &[], None).await.status,
                200
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not swap the certificate"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A bad file on the next SIGHUP: the error is logged, the process keeps serving.
    std::fs::write(&key, "not a key").unwrap();
    signal(&child, "-HUP");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let line = logs
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("no reload failure logged");
        if line.contains("TLS reload failed") {
            assert!(
                line.contains("key.pem") && line.contains("no private key"),
                "{line}"
            );
            break;
        }
    }
    let mut s = client.connect(addr).await;
    assert_eq!(peer_cert(&s), second);
    assert_eq!(
        request(&mut s, "GET", "/healthz", &[], None).await.status,
        200
    );

    signal(&child, "-TERM");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.0.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "scimgate did not stop on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_bad_certificate_stops_start_up_with_the_file_named() {
    let dir = tempfile::tempdir().unwrap();
    // No files at all.
    let out = scimgate(dir.path()).arg("serve").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cert.pem") && err.contains("cannot read"),
        "{err}"
    );
    assert!(
        !dir.path().join("appliance.db").exists(),
        "start-up touched the database"
    );

    // Certificate and key of different pairs.
    let (c1, _) = write_pair(dir.path(), "one");
    let (_, k2) = write_pair(dir.path(), "two");
    std::fs::copy(&c1, dir.path().join("cert.pem")).unwrap();
    std::fs::copy(&k2, dir.path().join("key.pem")).unwrap();
    let out = scimgate(dir.path()).arg("serve").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("key.pem") && err.contains("does not belong"),
        "{err}"
    );
}
