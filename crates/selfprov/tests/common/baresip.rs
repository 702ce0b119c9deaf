//! baresip (Debian package), headless, as a real softphone: no sound card — it plays a silent WAV
//! file as its microphone and its `sndfile` module records what it hears; digits go in as
//! RFC 4733 events through its TCP control interface.

use selfprov_testkit::{
    free_tcp_port, free_udp_tcp_port, require_tool, spawn_watched, ChildGuard, LineWatcher,
};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// baresip's account line as a new baresip fetches it: `baresip/<mac>/accounts` from the
/// configuration server (the first fetch auto-registers the device `SEP<MAC>` and carries its
/// credentials: `auth_user` is the device's name, `auth_pass` its secret), with `extra`
/// parameters appended (e.g. `;audio_codecs=PCMU`).
pub fn fetched_account(s: &super::Service, mac: &str, extra: &str) -> String {
    let f = selfprov_phone::config_file::fetch(
        &super::config_server(s),
        &format!("baresip/{}/accounts", mac.to_ascii_lowercase()),
        "baresip v1.0.0 (x86_64/linux)",
        None,
    )
    .unwrap_or_else(|e| panic!("baresip's accounts file: {e}"));
    let line = f
        .body
        .lines()
        .find(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .unwrap_or_else(|| panic!("no account in {}", f.body));
    assert!(
        line.contains(&format!(";auth_user=SEP{}", mac.to_ascii_uppercase())),
        "{line}"
    );
    format!("{line}{extra}")
}

pub struct Baresip {
    pub guard: ChildGuard,
    /// Its console output ("Call established", "session closed", ...).
    pub out: LineWatcher,
    dir: PathBuf,
    ctrl_port: u16,
    /// The audio sample rate it plays and records at.
    pub rate: u32,
}

/// Start baresip in `dir` with one account (an `accounts` line, e.g.
/// `<sip:SEP00000000BA01@127.0.0.1:5060>;regint=3600;audio_codecs=PCMU`), dialling `dial` at once.
pub fn start(dir: &Path, account: &str, dial: &str) -> Baresip {
    start_with_codec(dir, account, dial, 8000, "g711.so")
}

/// The same with another codec module (e.g. `g722.so`) and its audio sample rate; an empty
/// `dial` dials nothing (a phone waiting for calls: its account says how it answers).
pub fn start_with_codec(dir: &Path, account: &str, dial: &str, rate: u32, module: &str) -> Baresip {
    let baresip = require_tool("baresip");
    std::fs::create_dir_all(dir).unwrap();
    let silence = dir.join("silence.wav");
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&silence, spec).unwrap();
    for _ in 0..rate * 60 {
        w.write_sample(0i16).unwrap();
    }
    w.finalize().unwrap();
    let (sip, ctrl_port) = (free_udp_tcp_port(), free_tcp_port());
    std::fs::write(
        dir.join("config"),
        format!(
            "poll_method epoll\nsip_listen 127.0.0.1:{sip}\ncall_local_timeout 120\n\
             audio_player aubridge,nil\naudio_source aufile,{}\naudio_alert aubridge,nil\n\
             ausrc_srate {rate}\nauplay_srate {rate}\nrtp_ports 40000-40999\n\
             module_path /usr/lib/baresip/modules\nmodule {module}\nmodule aufile.so\n\
             module aubridge.so\nmodule sndfile.so\nmodule_app account.so\nmodule_app menu.so\n\
             module_app ctrl_tcp.so\nctrl_tcp_listen 127.0.0.1:{ctrl_port}\nsnd_path {}\n",
            silence.display(),
            dir.display()
        ),
    )
    .unwrap();
    std::fs::write(dir.join("accounts"), format!("{account}\n")).unwrap();
    // -n 127.0.0.1: the SDP address is the address the RTP comes from (no NAT in between).
    let mut cmd = Command::new(baresip);
    cmd.arg("-f").arg(dir).args(["-n", "127.0.0.1"]);
    if !dial.is_empty() {
        cmd.args(["-e", &format!("/dial {dial}")]);
    }
    let (guard, out, _e) = spawn_watched("baresip", &mut cmd).unwrap();
    Baresip {
        guard,
        out,
        dir: dir.to_owned(),
        ctrl_port,
        rate,
    }
}

impl Baresip {
    /// Send digits as RFC 4733 events (ctrl_tcp: JSON in a netstring).
    pub fn send_digits(&self, digits: &str) {
        let mut c = std::net::TcpStream::connect(("127.0.0.1", self.ctrl_port)).unwrap();
        let j =
            serde_json::json!({"command": "sndcode", "params": digits, "token": "t"}).to_string();
        c.write_all(format!("{}:{j},", j.len()).as_bytes()).unwrap();
    }

    /// Type a group of digits and wait until baresip says it sent the last one. On a busy
    /// machine baresip has dropped a control command now and then (it then sends no digit at
    /// all); such a group is sent again, once.
    pub fn type_group(&self, digits: &str) {
        let last = digits.chars().last().unwrap_or('#');
        let ended = format!("send DTMF digit end: '{last}'");
        let count = || {
            self.out
                .lines()
                .iter()
                .filter(|l| l.contains(&ended))
                .count()
        };
        for _ in 0..2 {
            let before = count();
            self.send_digits(digits);
            let until = std::time::Instant::now() + Duration::from_secs(10);
            while std::time::Instant::now() < until {
                if count() > before {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("baresip did not send {digits}");
    }

    /// The IVR flow of a phone whose user is jsmith (ID 1004, PIN 12345): wait for the answer,
    /// type the ID, the PIN and the confirmation, wait for the IVR to hang up.
    pub fn provision_as_jsmith(&self) {
        self.out
            .wait_for("Call established", Duration::from_secs(30))
            .expect("call established");
        // Human pacing; the IVR takes type-ahead, so the result does not depend on it.
        self.type_group("1004#");
        std::thread::sleep(Duration::from_millis(2500));
        self.type_group("12345#");
        std::thread::sleep(Duration::from_millis(4000));
        self.type_group("1");
        self.out
            .wait_for("session closed", Duration::from_secs(60))
            .expect("the IVR hangs up");
    }

    /// What baresip heard, decoded (its `sndfile` recording), and the recording's sample rate.
    pub fn recording_at_rate(&self) -> (Vec<i16>, u32) {
        let recording = std::fs::read_dir(&self.dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.to_string_lossy().ends_with("-dec.wav"))
            .expect("baresip's recording");
        let r = hound::WavReader::open(&recording).unwrap();
        let rate = r.spec().sample_rate;
        (r.into_samples::<i16>().map(Result::unwrap).collect(), rate)
    }

    /// What baresip heard, decoded.
    pub fn recording(&self) -> Vec<i16> {
        self.recording_at_rate().0
    }
}

impl Baresip {
    /// How many of five pieces of `prompt` (en_US, PCMU) are in the last 10 s baresip heard
    /// (see [`pieces_found`]): where the success prompt and goodbye play.
    pub fn pieces_heard_at_the_end(&self, prompt: &str) -> usize {
        let got = self.recording();
        let tail = &got[got.len().saturating_sub(80_000)..];
        pieces_found(
            tail,
            &super::decoded_prompt(prompt, selfprov_media::Codec::Pcmu),
        )
    }
}

/// How many of five 100 ms pieces of `reference` (spread over its length, skipping quiet ones)
/// appear in `got`, each matched at its best sample lag with a normalised correlation > 0.9.
pub fn pieces_found(got: &[i16], reference: &[i16]) -> usize {
    let best = |piece: &[i16]| {
        let eb: f64 = piece.iter().map(|x| f64::from(*x).powi(2)).sum();
        (0..got.len().saturating_sub(piece.len()))
            .map(|lag| {
                let a = &got[lag..lag + piece.len()];
                let dot: i64 = a
                    .iter()
                    .zip(piece)
                    .map(|(x, y)| i64::from(*x) * i64::from(*y))
                    .sum();
                let ea: i64 = a.iter().map(|x| i64::from(*x) * i64::from(*x)).sum();
                if ea == 0 || eb == 0.0 {
                    0.0
                } else {
                    dot as f64 / (ea as f64 * eb).sqrt()
                }
            })
            .fold(0.0, f64::max)
    };
    let loud = |p: &[i16]| {
        p.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / p.len() as f64 > 500.0f64.powi(2)
    };
    let starts: Vec<usize> = (0..reference.len().saturating_sub(800))
        .step_by(400)
        .filter(|&i| loud(&reference[i..i + 800]))
        .collect();
    assert!(starts.len() >= 5, "reference too short");
    (0..5)
        .map(|k| starts[k * starts.len() / 5])
        .filter(|&at| best(&reference[at..at + 800]) > 0.9)
        .count()
}
