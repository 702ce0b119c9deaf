//! The configuration server's TFTP side with real clients: tftp-hpa's `tftp` and curl. The same
//! files as over HTTP; the options phones use (blksize, tsize); a missing file is an error
//! packet; a file of more than 65535 blocks goes through (block numbers roll over); a file with a
//! secret goes out only as a new phone's first fetch.

mod common;

use common::*;
use selfprov_testkit::require_tool;
use std::process::Command;

/// Run a client to completion (both clients bound their own time: tftp-hpa's retransmission
/// timeout, curl's --max-time); its exit status, stdout and stderr.
fn run(cmd: &mut Command) -> (bool, String, String) {
    let o = cmd.output().unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (o.status.success(), text(&o.stdout), text(&o.stderr))
}

fn tftp_get(s: &Service, file: &str, dest: &std::path::Path) -> (bool, String) {
    let mut c = Command::new(require_tool("tftp"));
    c.args([
        "-m",
        "binary",
        "127.0.0.1",
        &s.tftp_port.to_string(),
        "-c",
        "get",
        file,
    ])
    .arg(dest);
    let (ok, out, err) = run(&mut c);
    (
        ok && !out.contains("Error code") && !err.contains("Error code"),
        format!("{out}{err}"),
    )
}

fn curl_tftp(s: &Service, file: &str, blksize: u32) -> (bool, String, Vec<u8>) {
    let dest = s
        .dir
        .path()
        .join(format!("curl-{}", file.replace('/', "_")));
    let mut c = Command::new(require_tool("curl"));
    c.args([
        "-sS",
        "--max-time",
        "60",
        "--tftp-blksize",
        &blksize.to_string(),
        "-o",
    ])
    .arg(&dest)
    .arg(format!("tftp://127.0.0.1:{}/{file}", s.tftp_port));
    let (ok, out, err) = run(&mut c);
    (
        ok,
        format!("{out}{err}"),
        std::fs::read(&dest).unwrap_or_default(),
    )
}

#[test]
fn tftp_serves_the_same_files_with_the_options_phones_use() {
    let s = config("e2e-tftp");
    // A device template override big enough to need more than 65535 blocks of 8 bytes.
    let dir = s
        .dir
        .path()
        .join("templates/yealink/devices/SEP001565000001");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("device.cfg"), "#!version:1.0.0.1\n{% for i in range(40000) %}# rollover {{ i }}\n{% endfor %}account.1.password = {{ line.password }}\n").unwrap();
    let (_svc, err) = start_service(&s);
    let ready = ready_line(&err);
    assert!(
        ready.contains(&format!("tftp=127.0.0.1:{}", s.tftp_port)),
        "{ready}"
    );

    // The common file, byte for byte what HTTP serves.
    let out = s.dir.path().join("XmlDefault.cnf.xml");
    let (ok, log) = tftp_get(&s, "XmlDefault.cnf.xml", &out);
    assert!(ok, "{log}");
    let http = http_get(s.config_port, "/XmlDefault.cnf.xml");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        http.split("\r\n\r\n").nth(1).unwrap()
    );

    // A missing file is an error packet.
    let (ok, log) = tftp_get(&s, "nothing-here.cfg", &s.dir.path().join("x"));
    assert!(!ok && log.contains("Error code 1"), "{log}");

    // A new phone's first fetch (curl sends tsize and blksize): its file with its secret…
    let (ok, log, body) = curl_tftp(&s, "SEP0011223344CC.cnf.xml", 1428);
    let body = String::from_utf8(body).unwrap();
    assert!(
        ok && body.contains("<authName>SEP0011223344CC</authName>"),
        "{log}\n{body}"
    );
    // …and never again over TFTP, which cannot carry credentials.
    let (ok, log, _) = curl_tftp(&s, "SEP0011223344CC.cnf.xml", 1428);
    assert!(
        !ok,
        "a second TFTP fetch of a file with a secret must be refused: {log}"
    );

    // More than 65535 blocks: the block numbers roll over and the file arrives whole.
    let (ok, log, body) = curl_tftp(&s, "yealink/001565000001.cfg", 8);
    assert!(ok, "{log}");
    let text = String::from_utf8(body).unwrap();
    assert!(text.len() > 65_535 * 8, "{}", text.len());
    assert!(
        text.contains("# rollover 39999\n") && text.contains("account.1.password = "),
        "the end of the file arrived"
    );
}
