//! A real SMTP server for tests (crates.md §5): a hand-rolled tokio sink on 127.0.0.1 that
//! captures each message, and can be switched to answer 4xx or 5xx, or be shut down so that
//! connections are refused, then brought back on the same port.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Accept,
    /// `451` to every RCPT TO: a temporary failure.
    TempFail,
    /// `550` to every RCPT TO: a permanent failure.
    PermFail,
}

/// A captured message: its envelope recipients and its text (headers and body).
#[derive(Debug, Clone)]
pub struct Captured {
    pub rcpt: Vec<String>,
    pub data: String,
}

pub struct SmtpSink {
    pub addr: SocketAddr,
    mode: Arc<Mutex<Mode>>,
    messages: Arc<Mutex<Vec<Captured>>>,
    tasks: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: Option<JoinHandle<()>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut sink = SmtpSink {
            addr,
            mode: Arc::new(Mutex::new(Mode::Accept)),
            messages: Arc::default(),
            tasks: Arc::default(),
            accept: None,
        };
        sink.serve(listener);
        sink
    }

    fn serve(&mut self, listener: TcpListener) {
        let (mode, messages, tasks) =
            (self.mode.clone(), self.messages.clone(), self.tasks.clone());
        self.accept = Some(tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let t = tokio::spawn(session(stream, mode.clone(), messages.clone()));
                tasks.lock().unwrap().push(t);
            }
        }));
    }

    pub fn set_mode(&self, m: Mode) {
        *self.mode.lock().unwrap() = m;
    }

    /// Closes the listener and every open connection: new connections are refused.
    pub async fn shut_down(&mut self) {
        if let Some(a) = self.accept.take() {
            a.abort();
            let _ = a.await;
        }
        let tasks: Vec<_> = std::mem::take(&mut *self.tasks.lock().unwrap());
        for t in tasks {
            t.abort();
            let _ = t.await;
        }
    }

    /// Listens again on the same port.
    pub async fn bring_up(&mut self) {
        let listener = TcpListener::bind(self.addr).await.unwrap();
        self.serve(listener);
    }

    pub fn messages(&self) -> Vec<Captured> {
        self.messages.lock().unwrap().clone()
    }

    /// How many messages went to `rcpt`.
    pub fn count_to(&self, rcpt: &str) -> usize {
        self.messages()
            .iter()
            .filter(|m| m.rcpt.iter().any(|r| r.eq_ignore_ascii_case(rcpt)))
            .count()
    }
}

async fn session(stream: TcpStream, mode: Arc<Mutex<Mode>>, messages: Arc<Mutex<Vec<Captured>>>) {
    let (r, mut w) = stream.into_split();
    let mut lines = BufReader::new(r).lines();
    if w.write_all(b"220 sink ESMTP\r\n").await.is_err() {
        return;
    }
    let mut rcpt = Vec::new();
    while let Ok(Some(line)) = lines.next_line().await {
        let upper = line.to_ascii_uppercase();
        let reply: String = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            "250-sink\r\n250 8BITMIME\r\n".into()
        } else if upper.starts_with("MAIL FROM") {
            rcpt.clear();
            "250 2.1.0 Ok\r\n".into()
        } else if upper.starts_with("RCPT TO") {
            let m = *mode.lock().unwrap();
            match m {
                Mode::Accept => {
                    let addr = line[8..]
                        .trim()
                        .trim_start_matches('<')
                        .trim_end_matches('>');
                    rcpt.push(addr.to_owned());
                    "250 2.1.5 Ok\r\n".into()
                }
                Mode::TempFail => "451 4.3.0 Mailbox temporarily unavailable\r\n".into(),
                Mode::PermFail => "550 5.1.1 No such user here\r\n".into(),
            }
        } else if upper == "DATA" {
            if w.write_all(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                .await
                .is_err()
            {
                return;
            }
            let mut data = String::new();
            while let Ok(Some(l)) = lines.next_line().await {
                if l == "." {
                    break;
                }
                data.push_str(l.strip_prefix('.').unwrap_or(&l));
                data.push('\n');
            }
            messages.lock().unwrap().push(Captured {
                rcpt: std::mem::take(&mut rcpt),
                data,
            });
            "250 2.0.0 Ok: queued as 1\r\n".into()
        } else if upper == "QUIT" {
            let _ = w.write_all(b"221 2.0.0 Bye\r\n").await;
            return;
        } else {
            "250 2.0.0 Ok\r\n".into()
        };
        if w.write_all(reply.as_bytes()).await.is_err() {
            return;
        }
    }
}
