//! The real `metachaind` binary on free loopback ports, shared by the
//! integration tests. (Each test crate uses part of it.)
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running metachaind; killed when dropped.
pub struct Daemon {
    pub child: Child,
    pub datadir: PathBuf,
    pub grpc: String,
    pub http: String,
    pub ws: String,
}

impl Daemon {
    /// Starts it on `datadir` with `extra` flags; returns once it listens.
    pub fn start(datadir: &Path, extra: &[&str]) -> Daemon {
        let mut child = Command::new(env!("CARGO_BIN_EXE_metachaind"))
            .arg("--datadir")
            .arg(datadir)
            .args([
                "--grpc-addr",
                "127.0.0.1:0",
                "--rpc-addr",
                "127.0.0.1:0",
                "--log-level",
                "warn",
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn metachaind");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let urls: Vec<String> = line.split_whitespace().skip(1).map(String::from).collect();
        assert_eq!(urls.len(), 3, "unexpected first line {line:?}");
        Daemon {
            child,
            datadir: datadir.to_path_buf(),
            grpc: urls[0].clone(),
            http: urls[1].clone(),
            ws: urls[2].clone(),
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
