//! A real softphone: baresip (Debian package), headless — no sound card: it plays a silent WAV
//! file as its microphone and its `sndfile` module records what it hears. It registers (the
//! built-in registrar auto-registers it), dials the route point, sends the ID, PIN and
//! confirmation as RFC 4733 events through its TCP control interface, and is provisioned; the
//! audio it recorded contains the IVR's prompts.

mod common;

use common::*;
use selfprov_media::Codec;
use selfprov_testkit::{free_tcp_port, free_udp_tcp_port, require_tool, spawn_watched};
use std::io::Write;
use std::process::Command;
use std::time::Duration;

/// One baresip control command (ctrl_tcp: JSON in a netstring).
fn ctrl(port: u16, command: &str, params: &str) {
    let mut c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let j = serde_json::json!({"command": command, "params": params, "token": "t"}).to_string();
    c.write_all(format!("{}:{j},", j.len()).as_bytes()).unwrap();
}

/// How many of five 100 ms pieces of `reference` (spread over its length, skipping quiet ones)
/// appear in `got` (both at 8 kHz), each matched at its best sample lag with a normalised
/// correlation > 0.9.
fn pieces_found(got: &[i16], reference: &[i16]) -> usize {
    let piece = 800;
    let best = |piece: &[i16]| {
        let eb: f64 = piece.iter().map(|x| f64::from(*x).powi(2)).sum();
        (0..got.len().saturating_sub(piece.len()))
            .map(|lag| {
                let a = &got[lag..lag + piece.len()];
                let dot: i64 = a.iter().zip(piece).map(|(x, y)| i64::from(*x) * i64::from(*y)).sum();
                let ea: i64 = a.iter().map(|x| i64::from(*x) * i64::from(*x)).sum();
                if ea == 0 || eb == 0.0 { 0.0 } else { dot as f64 / (ea as f64 * eb).sqrt() }
            })
            .fold(0.0, f64::max)
    };
    let loud = |p: &[i16]| p.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>() / p.len() as f64 > 500.0f64.powi(2);
    let starts: Vec<usize> = (0..reference.len().saturating_sub(piece)).step_by(piece / 2).filter(|&i| loud(&reference[i..i + piece])).collect();
    assert!(starts.len() >= 5, "reference too short");
    (0..5)
        .map(|k| starts[k * starts.len() / 5])
        .filter(|&at| best(&reference[at..at + piece]) > 0.9)
        .count()
}

/// 16 kHz audio at 8 kHz, each pair of samples from `phase` on averaged.
fn halve(x: &[i16], phase: usize) -> Vec<i16> {
    x[phase..].chunks_exact(2).map(|p| ((i32::from(p[0]) + i32::from(p[1])) / 2) as i16).collect()
}

#[test]
fn baresip_provisions_itself_and_hears_the_prompts() {
    provision_with_baresip("e2e-baresip", "SEP00000000BA01", Codec::Pcmu, "g711.so");
}

/// G.722 against an independent implementation: baresip's g722 module is spandsp's codec.
#[test]
fn baresip_with_g722_hears_the_prompts_in_wideband() {
    provision_with_baresip("e2e-baresip-g722", "SEP00000000BA02", Codec::G722, "g722.so");
}

/// baresip offering only `codec` (its `module`) registers, dials, types the ID, PIN and
/// confirmation as RFC 4733 events, is provisioned, and its recording holds the success prompt.
fn provision_with_baresip(tag: &str, device: &str, codec: Codec, module: &str) {
    let baresip = require_tool("baresip");
    let s = config(tag);
    let (_svc, _err) = start_service(&s);

    let dir = s.dir.path().join("baresip");
    std::fs::create_dir_all(&dir).unwrap();
    let silence = dir.join("silence.wav");
    let rate = codec.sample_rate();
    let spec = hound::WavSpec { channels: 1, sample_rate: rate, bits_per_sample: 16, sample_format: hound::SampleFormat::Int };
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
    std::fs::write(
        dir.join("accounts"),
        format!("<sip:{device}@127.0.0.1:{}>;regint=3600;audio_codecs={}\n", s.sip_port, codec.encoding_name()),
    )
    .unwrap();

    // -n 127.0.0.1: the SDP address is the address the RTP comes from (no NAT in between).
    let mut cmd = Command::new(baresip);
    cmd.arg("-f").arg(&dir).args(["-n", "127.0.0.1", "-e", "/dial 2000"]);
    let (_phone, out, _e) = spawn_watched("baresip", &mut cmd).unwrap();
    out.wait_for("Call established", Duration::from_secs(30)).expect("call established");
    // Human pacing; the IVR takes type-ahead, so the result does not depend on it.
    ctrl(ctrl_port, "sndcode", "1004#");
    std::thread::sleep(Duration::from_millis(2500));
    ctrl(ctrl_port, "sndcode", "12345#");
    std::thread::sleep(Duration::from_millis(4000));
    ctrl(ctrl_port, "sndcode", "1");
    out.wait_for("session closed", Duration::from_secs(60)).expect("the IVR hangs up");

    let d = common::device(&s, device).expect("auto-registered");
    assert_eq!((d["owner"].as_str(), d["dn"].as_str()), (Some("jsmith"), Some("1004")), "{d}");
    assert_eq!(cli(&s, &["audit", "--json"])[0]["code"], "SUCCESS");

    // What baresip heard, decoded. The typed digits cut the first prompts short (barge-in);
    // the success prompt plays whole.
    let recording = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with("-dec.wav"))
        .expect("baresip's recording");
    let got: Vec<i16> = hound::WavReader::open(&recording).unwrap().samples::<i16>().map(Result::unwrap).collect();
    let spec = hound::WavReader::open(&recording).unwrap().spec();
    assert_eq!(spec.sample_rate, rate, "{codec:?}: baresip decoded at {} Hz", spec.sample_rate);
    // The last 10 s hold the success prompt and goodbye.
    let tail = &got[got.len().saturating_sub(10 * rate as usize)..];
    // The search is quadratic: wideband audio is compared at 8 kHz, pairs of samples averaged,
    // pairing the recording's samples the way that lines it up with the success prompt.
    let (tail, phases) = if rate == 8000 { (tail.to_vec(), 1) } else { (halve(tail, 0), 2) };
    let pieces = |prompt: &str, phase: usize| {
        let reference = decoded_prompt(prompt, codec);
        pieces_found(&tail, &if phases == 1 { reference } else { halve(&reference, phase) })
    };
    let (success, phase) = (0..phases).map(|p| (pieces("success", p), p)).max().unwrap_or_default();
    assert!(success >= 4, "{codec:?}: only {success} of 5 pieces of the success prompt are in baresip's audio");
    // And the measure can fail: account_locked was never played.
    assert!(pieces("account_locked", phase) <= 1);
}
