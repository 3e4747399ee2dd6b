//! A counting HTTP/1.1 proxy in front of a real S3 server (moto): every request is forwarded
//! unchanged, and its method, path and `X-Amz-Target` are logged, so a test can prove how many
//! requests an operation costs. Request bodies must carry `Content-Length` (object_store and
//! the AWS SDK send it).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

/// A running proxy; it stops with the test process.
pub struct CountingProxy {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl CountingProxy {
    /// Starts a proxy to `upstream` (`http://host:port`).
    pub fn start(upstream: &str) -> CountingProxy {
        let up = upstream
            .strip_prefix("http://")
            .expect("an http:// upstream")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let log = Arc::new(Mutex::new(Vec::new()));
        let l2 = log.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let (up, log) = (up.clone(), l2.clone());
                std::thread::spawn(move || relay(client, &up, &log));
            }
        });
        CountingProxy { endpoint, log }
    }

    /// The requests logged since the last call ("GET /bucket/key", "POST / TrentService.Decrypt").
    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }
}

fn relay(client: TcpStream, upstream: &str, log: &Mutex<Vec<String>>) {
    let Ok(server) = TcpStream::connect(upstream) else {
        return;
    };
    let (mut c_out, mut s_in) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    // Responses flow back untouched.
    let back = std::thread::spawn(move || {
        let _ = std::io::copy(&mut s_in, &mut c_out);
        let _ = c_out.shutdown(std::net::Shutdown::Write);
    });
    let mut reader = BufReader::new(client);
    let mut server = server;
    loop {
        let mut head = Vec::new();
        loop {
            let mut line = Vec::new();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => {
                    let _ = server.shutdown(std::net::Shutdown::Write);
                    let _ = back.join();
                    return;
                }
                Ok(_) => {}
            }
            head.extend_from_slice(&line);
            if line == b"\r\n" {
                break;
            }
        }
        let text = String::from_utf8_lossy(&head).into_owned();
        let mut lines = text.split("\r\n");
        let start: Vec<&str> = lines.next().unwrap_or("").split(' ').collect();
        let (mut len, mut target) = (0usize, String::new());
        for h in lines {
            if let Some((k, v)) = h.split_once(':') {
                match k.trim().to_ascii_lowercase().as_str() {
                    "content-length" => len = v.trim().parse().unwrap_or(0),
                    "x-amz-target" => target = format!(" {}", v.trim()),
                    "transfer-encoding" => panic!("the counting proxy cannot relay chunked bodies"),
                    _ => {}
                }
            }
        }
        let path = start
            .get(1)
            .copied()
            .unwrap_or("")
            .split('?')
            .next()
            .unwrap_or("");
        log.lock().unwrap().push(format!(
            "{} {path}{target}",
            start.first().copied().unwrap_or("")
        ));
        let mut body = vec![0u8; len];
        if reader.read_exact(&mut body).is_err()
            || server.write_all(&head).is_err()
            || server.write_all(&body).is_err()
        {
            let _ = back.join();
            return;
        }
    }
}
