//! A private certificate authority and a server certificate it signs for `localhost` and
//! 127.0.0.1, made with the `openssl` command: what a real deployment with its own CA has.

use std::path::PathBuf;
use std::process::{Command, Stdio};

pub struct Certs {
    _dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

pub fn private_ca() -> Certs {
    let dir = tempfile::tempdir().expect("cert dir");
    let p = |name: &str| dir.path().join(name);
    let (ca, ca_key, csr, ext) = (p("ca.pem"), p("ca.key"), p("leaf.csr"), p("leaf.ext"));
    let (cert, key) = (p("cert.pem"), p("key.pem"));
    std::fs::write(
        &ext,
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .expect("ext");
    let openssl = |args: &[&str], paths: &[(&str, &PathBuf)]| {
        let mut c = Command::new("openssl");
        c.args(args);
        for (flag, path) in paths {
            c.arg(flag).arg(path);
        }
        let ok = c
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl");
        assert!(ok.success(), "openssl {args:?}");
    };
    let rsa = ["-newkey", "rsa:2048", "-nodes"];
    openssl(
        &[
            &["req", "-x509"][..],
            &rsa,
            &["-days", "1", "-subj", "/CN=Test CA"],
        ]
        .concat(),
        &[("-keyout", &ca_key), ("-out", &ca)],
    );
    openssl(
        &[&["req"][..], &rsa, &["-subj", "/CN=localhost"]].concat(),
        &[("-keyout", &key), ("-out", &csr)],
    );
    openssl(
        &["x509", "-req", "-CAcreateserial", "-days", "1"],
        &[
            ("-in", &csr),
            ("-CA", &ca),
            ("-CAkey", &ca_key),
            ("-extfile", &ext),
            ("-out", &cert),
        ],
    );
    Certs {
        _dir: dir,
        ca,
        cert,
        key,
    }
}
