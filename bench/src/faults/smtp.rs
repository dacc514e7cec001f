//! A mail server on loopback that keeps what it is given (the code in each
//! message's subject, by recipient) and can be told to refuse: then every
//! new connection and every command on an open one is answered `421`
//! ("service not available, closing"), which is what a mail relay under
//! maintenance says.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone, Default)]
pub struct Sink {
    refusing: Arc<AtomicBool>,
    /// Recipient → the codes it was sent, oldest first.
    codes: Arc<Mutex<HashMap<String, Vec<String>>>>,
}

impl Sink {
    /// Listens on a free loopback port; returns the sink and its port.
    pub async fn start() -> anyhow::Result<(Self, u16)> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let sink = Self::default();
        let serving = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let sink = serving.clone();
                tokio::spawn(async move {
                    let _ = sink.session(stream).await;
                });
            }
        });
        Ok((sink, port))
    }

    pub fn refuse(&self, refusing: bool) {
        self.refusing.store(refusing, Ordering::SeqCst);
    }

    fn refusing(&self) -> bool {
        self.refusing.load(Ordering::SeqCst)
    }

    /// The newest code sent to `to`.
    #[cfg(test)]
    pub fn latest_code(&self, to: &str) -> Option<String> {
        self.codes.lock().unwrap().get(to).and_then(|codes| codes.last().cloned())
    }

    /// How many messages `to` has received.
    pub fn received(&self, to: &str) -> usize {
        self.codes.lock().unwrap().get(to).map_or(0, Vec::len)
    }

    /// The code of the message after the first `after` that `to` received.
    pub fn code_after(&self, to: &str, after: usize) -> Option<String> {
        self.codes.lock().unwrap().get(to).and_then(|codes| codes.get(after..)?.last().cloned())
    }

    async fn session(&self, stream: TcpStream) -> std::io::Result<()> {
        const CLOSING: &[u8] = b"421 4.3.2 Service not available, closing transmission channel\r\n";
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        if self.refusing() {
            return write.write_all(CLOSING).await;
        }
        write.write_all(b"220 faults.passcode.test ESMTP\r\n").await?;
        let (mut to, mut subject, mut in_data) = (Vec::<String>::new(), None::<String>, false);
        while let Some(line) = lines.next_line().await? {
            if in_data {
                if line == "." {
                    in_data = false;
                    if self.refusing() {
                        return write.write_all(CLOSING).await;
                    }
                    // A message without a code in its subject is kept as
                    // nothing: the driver then counts it as lost.
                    if let Some(code) = subject.take().and_then(|s| s.split_whitespace().next().map(str::to_owned)) {
                        let mut codes = self.codes.lock().unwrap();
                        for rcpt in to.drain(..) {
                            codes.entry(rcpt).or_default().push(code.clone());
                        }
                    }
                    to.clear();
                    write.write_all(b"250 2.0.0 Ok: queued\r\n").await?;
                } else if subject.is_none()
                    && let Some(s) = line.strip_prefix("Subject: ")
                {
                    subject = Some(s.to_owned());
                }
                continue;
            }
            if self.refusing() {
                return write.write_all(CLOSING).await;
            }
            let upper = line.to_ascii_uppercase();
            let reply: &[u8] = if upper.starts_with("EHLO") {
                b"250-faults.passcode.test\r\n250 8BITMIME\r\n"
            } else if upper.starts_with("HELO") || upper.starts_with("MAIL FROM") || upper.starts_with("RSET") {
                b"250 2.0.0 Ok\r\n"
            } else if upper.starts_with("RCPT TO") {
                let addr = line.split_once(':').map(|(_, a)| a.trim().trim_start_matches('<')).unwrap_or("");
                to.push(addr.split('>').next().unwrap_or("").to_ascii_lowercase());
                b"250 2.1.5 Ok\r\n"
            } else if upper.starts_with("DATA") {
                in_data = true;
                subject = None;
                b"354 End data with <CR><LF>.<CR><LF>\r\n"
            } else if upper.starts_with("NOOP") {
                b"250 2.0.0 Ok\r\n"
            } else if upper.starts_with("QUIT") {
                return write.write_all(b"221 2.0.0 Bye\r\n").await;
            } else {
                b"502 5.5.2 Command not recognized\r\n"
            };
            write.write_all(reply).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

    use super::*;

    /// Says `lines` to the sink one at a time; returns every reply line.
    async fn converse(port: u16, lines: &[&str]) -> Vec<String> {
        let stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        let (read, mut write) = stream.into_split();
        let mut replies = BufReader::new(read).lines();
        let mut heard = vec![replies.next_line().await.unwrap().unwrap_or_default()];
        for line in lines {
            if write.write_all(format!("{line}\r\n").as_bytes()).await.is_err() {
                break;
            }
            // DATA's content gets no reply until its final dot.
            let in_data = heard.last().is_some_and(|l| l.starts_with("354")) && *line != ".";
            if in_data {
                continue;
            }
            loop {
                match replies.next_line().await {
                    Ok(Some(reply)) => {
                        let more = reply.as_bytes().get(3) == Some(&b'-');
                        heard.push(reply);
                        if !more {
                            break;
                        }
                    }
                    _ => return heard,
                }
            }
        }
        heard
    }

    const MESSAGE: &[&str] = &[
        "EHLO client",
        "MAIL FROM:<sign-in@passcode.test>",
        "RCPT TO:<Jane@Example.com>",
        "DATA",
        "Subject: 123456 is your Passcode sign-in code",
        "",
        "Your code is 123456.",
        ".",
        "QUIT",
    ];

    #[tokio::test]
    async fn keeps_the_code_from_the_subject_and_refuses_when_told() {
        let (sink, port) = Sink::start().await.unwrap();
        let heard = converse(port, MESSAGE).await;
        assert!(heard.iter().any(|l| l.starts_with("250 2.0.0 Ok: queued")), "{heard:?}");
        assert_eq!(sink.latest_code("jane@example.com").as_deref(), Some("123456"));

        sink.refuse(true);
        let heard = converse(port, MESSAGE).await;
        assert_eq!(heard.len(), 1, "{heard:?}");
        assert!(heard[0].starts_with("421"), "{heard:?}");
        sink.refuse(false);
        assert!(converse(port, MESSAGE).await.iter().any(|l| l.starts_with("250 2.0.0 Ok: queued")));
    }
}
