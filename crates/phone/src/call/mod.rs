//! One phone, one call: fetch its configuration file (its line and digest credentials), register,
//! dial the route point (answering the registrar's digest challenges), listen, answer the IVR
//! with DTMF when it asks, and report what happened.
//!
//! This file holds [`run`], the call from REGISTER to the report, and its error. What the caller
//! asks for is in `options`, what comes back in `report`, the SIP requests the phone sends and
//! retransmits in `signalling`, and the SDP offer, RTP and digit sending in `media`.

mod media;
mod options;
mod report;
mod signalling;

pub use media::{offer, payload_type, rtp_packet, AudioOffer};
pub use options::{DtmfMode, PhoneOptions, Script};
pub use report::{HeardAt, Report, RtpSummary};

use crate::config_file::{cisco_line, fetch, FetchError};
use crate::recognize::{Heard, Recognizer};
use crate::sipmsg::{branch, mac_of, token, with_header, Identity, Msg};
use crate::stats::RtpStats;
use media::{queue_digits, write_wav, Media, Tx, TE_PT};
use selfprov_media::{Codec, Decoder, Encoder};
use selfprov_sip::digest::DigestClient;
pub(crate) use signalling::register;
use signalling::{transact, Dialog, Pending};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

#[derive(Debug, thiserror::Error)]
pub enum PhoneError {
    #[error("network: {0}")]
    Io(#[from] std::io::Error),
    #[error("no answer to {0} from {1} (is selfprov running there?)")]
    NoAnswer(&'static str, SocketAddr),
    #[error("registration refused: {0}")]
    Register(String),
    #[error("configuration file")]
    ConfigFile(#[from] crate::config_file::FetchError),
    #[error("the 200 OK carries no usable SDP answer: {0}")]
    Sdp(String),
    #[error("{0:?} is not supported here: {1}")]
    Codec(Codec, String),
    #[error("in-band DTMF needs PCMU or PCMA, not {0:?}")]
    InbandCodec(Codec),
}

/// Prompts after which the IVR waits for digits.
const ASKING: &[&str] = &[
    "language_select",
    "enter_self_service_id",
    "enter_pin",
    "enter_pin_or_auth_code",
    "enter_activation_code",
    "confirm_press",
];

/// Place one call as described by `opts`; `recognizer` must be built for `opts.codec`.
pub async fn run(opts: &PhoneOptions, recognizer: &mut Recognizer) -> Result<Report, PhoneError> {
    if opts.dtmf == DtmfMode::Inband && !matches!(opts.codec, Codec::Pcmu | Codec::Pcma) {
        return Err(PhoneError::InbandCodec(opts.codec));
    }
    let mut encoder =
        Encoder::new(opts.codec).map_err(|e| PhoneError::Codec(opts.codec, e.to_string()))?;
    let mut decoder =
        Decoder::new(opts.codec).map_err(|e| PhoneError::Codec(opts.codec, e.to_string()))?;
    let sip = UdpSocket::bind((opts.bind, 0)).await?;
    let rtp = UdpSocket::bind((opts.bind, 0)).await?;
    let mut report = Report {
        device: opts.device.clone(),
        codec: format!("{:?}", opts.codec),
        ..Report::default()
    };

    // The configuration file first, as a phone boots: its line and credentials.
    let mut user = opts.device.clone();
    let mut credentials = opts.password.clone().map(|p| (opts.device.clone(), p));
    if let Some(server) = opts.config_server.clone() {
        let file = format!("{}.cnf.xml", opts.device);
        let (ua, device, password) = (
            opts.user_agent.clone(),
            opts.device.clone(),
            opts.password.clone(),
        );
        let fetched = tokio::task::spawn_blocking(move || {
            fetch(
                &server,
                &file,
                &ua,
                password.as_deref().map(|p| (device.as_str(), p)),
            )
        })
        .await
        .map_err(|e| PhoneError::Io(std::io::Error::other(e)))??;
        report.config_file = Some(fetched.path.trim_start_matches('/').to_owned());
        report.config_bytes = Some(fetched.body.len());
        report.config_with_digest = fetched.with_digest;
        let line =
            cisco_line(&fetched.body).ok_or_else(|| FetchError::NoLine(fetched.path.clone()))?;
        report.line = Some(line.number.clone());
        user = line.number;
        credentials = Some((line.auth_user, line.password));
    }
    let mut digest = credentials.as_ref().map(|(u, p)| DigestClient::new(u, p));
    let id = Identity {
        user,
        instance: mac_of(&opts.device).map(str::to_owned),
        user_agent: opts.user_agent.clone(),
        local: sip.local_addr()?,
        server: opts.server,
    };
    let tag = token();

    if opts.register {
        let (r, with_digest) = register(&sip, &id, digest.as_mut(), &tag).await?;
        report.register_digest = with_digest;
        report.registered = r.status;
        if r.status != Some(200) {
            return Err(PhoneError::Register(format!(
                "{} {}",
                r.status.unwrap_or(0),
                r.reason
            )));
        }
    }

    // INVITE; a challenge is answered once (CSeq 2), as phones do.
    let call_id = format!("{}@selfprov-phone", token());
    let session = rand::random::<u32>() as u64;
    let rtp_local = rtp.local_addr()?;
    let audio = AudioOffer {
        codec: opts.codec,
        dtmf: opts.dtmf,
        event_rate: opts.dtmf_rate,
    };
    let body = offer(audio, rtp_local, session, 1, "sendrecv");
    let t_invite = Instant::now();
    let mut invite_cseq = 1;
    let caller = Caller {
        sip: &sip,
        opts,
        id: &id,
        call_id: &call_id,
        tag: &tag,
    };
    let (mut answer, mut inv_branch) = caller.invite(invite_cseq, body.as_bytes(), None).await?;
    if let (Some(401 | 407), Some(client)) = (answer.status, digest.as_mut()) {
        caller
            .ack_failure(invite_cseq, &answer, &inv_branch)
            .await?;
        if let Some(auth) =
            answer.answer_any_challenge(client, "INVITE", &id.target_uri(&opts.route_point))
        {
            invite_cseq = 2;
            (answer, inv_branch) = caller
                .invite(invite_cseq, body.as_bytes(), Some(&auth))
                .await?;
        }
    }
    let status = answer.status.unwrap_or(0);
    report.call_status = Some(status);
    let to_tag = answer.to_tag().unwrap_or_default();
    if status >= 300 {
        caller
            .ack_failure(invite_cseq, &answer, &inv_branch)
            .await?;
        report.ended_by = format!("refused ({status} {})", answer.reason);
        report.conclude();
        return Ok(report);
    }
    report.setup_ms = Some(t_invite.elapsed().as_secs_f64() * 1000.0);
    let mut dlg = Dialog {
        id: &id,
        target: &opts.route_point,
        call_id,
        tag: tag.clone(),
        to_tag,
        cseq: invite_cseq,
        audio,
        rtp: rtp_local,
        session,
        sdp_version: 1,
        routes: crate::sipmsg::record_routes(&answer),
        remote_target: crate::sipmsg::contact_uri(&answer),
    };
    sip.send_to(&dlg.ack(invite_cseq), opts.server).await?;
    let answered = Instant::now();

    let sd = selfprov_sip::sdp::parse(&answer.body).map_err(|e| PhoneError::Sdp(e.to_string()))?;
    let m = sd
        .media
        .iter()
        .find(|m| m.media == "audio" && m.port != 0)
        .ok_or_else(|| PhoneError::Sdp("no audio stream".into()))?;
    let ip = m
        .connection
        .or(sd.connection)
        .ok_or_else(|| PhoneError::Sdp("no c= line".into()))?;
    let pt = m
        .formats
        .first()
        .and_then(|f| f.parse().ok())
        .unwrap_or(payload_type(opts.codec));
    let te = m
        .rtpmaps
        .iter()
        .find(|(_, n, _)| n.eq_ignore_ascii_case("telephone-event"));
    report.telephone_event = te.map(|(p, _, rate)| format!("{p}/{rate}"));
    let step = opts.codec.timestamp_step(20);
    let mut silence = Vec::new();
    encoder
        .encode(&vec![0i16; opts.codec.samples_per_frame(20)], &mut silence)
        .map_err(|e| PhoneError::Codec(opts.codec, e.to_string()))?;
    let mut media = Media {
        sock: rtp,
        remote: SocketAddr::new(ip, m.port),
        pt,
        te_pt: te.map(|(p, _, _)| *p),
        te_rate: te.map_or(opts.dtmf_rate, |(_, _, rate)| *rate),
        ssrc: rand::random(),
        seq: rand::random(),
        ts: rand::random(),
        step,
        event_ts: 0,
        silence,
        queue: VecDeque::new(),
    };

    let mut stats = RtpStats::default();
    let mut recorded: Vec<i16> = Vec::new();
    let mut pcm = Vec::new();
    let mut pending: Vec<Pending> = Vec::new();
    let mut next_group = 0usize;
    // When the server could first see the last digit typed, and when it was complete.
    let mut last_digit_start: Option<Instant> = None;
    let mut last_digit_end: Option<Instant> = None;
    let mut awaiting_reaction = false;
    let mut typing_at: Option<Instant> = None;
    let mut hold_done = false;
    let mut held_until: Option<Instant> = None;
    let mut hangup_at: Option<Instant> = None;
    let mut bye_sent = false;
    let mut ended: Option<String> = None;
    let mut notify_deadline: Option<Instant> = None;
    let limit = answered + opts.call_limit;
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sbuf = vec![0u8; 65_536];
    let mut rbuf = vec![0u8; 2048];

    loop {
        tokio::select! {
            r = media.sock.recv_from(&mut rbuf), if ended.is_none() => {
                let Ok((n, _)) = r else { continue };
                let Ok(p) = selfprov_media::rtp::parse(&rbuf[..n]) else { continue };
                if p.payload_type != media.pt { continue; }
                let now = Instant::now();
                report.first_rtp_ms.get_or_insert(now.duration_since(t_invite).as_secs_f64() * 1000.0);
                stats.on_packet(p.sequence, p.timestamp, p.marker, now.duration_since(t_invite).as_micros() as u64, opts.codec.rtp_clock_rate());
                if opts.record.is_some() {
                    pcm.clear();
                    if decoder.decode(p.payload, &mut pcm).is_ok() {
                        recorded.extend_from_slice(&pcm);
                    }
                }
                if let Some(Heard { name, language, first_frame }) = recognizer.feed(p.payload) {
                    let began = now - Duration::from_millis(20 * first_frame as u64);
                    if awaiting_reaction {
                        if let Some(t) = last_digit_end {
                            report.reaction_ms.push(began.saturating_duration_since(t).as_secs_f64() * 1000.0);
                        }
                        awaiting_reaction = false;
                    }
                    // A prompt that began before our last digit could be seen was queued before it.
                    let fresh = last_digit_start.is_none_or(|t| began > t);
                    if held_until.is_none() && !hold_done && opts.script.hold_at.as_deref() == Some(name.as_str()) {
                        hold_done = true;
                        let p = dlg.reoffer("sendonly", now);
                        sip.send_to(&p.bytes, opts.server).await?;
                        pending.push(p);
                        held_until = Some(now + opts.script.hold_for);
                    } else if ASKING.contains(&name.as_str()) && fresh && typing_at.is_none() && held_until.is_none() && next_group < opts.script.groups.len() {
                        typing_at = Some(now + opts.script.typing_delay);
                    }
                    report.prompts.push(HeardAt { name, language, at_ms: began.saturating_duration_since(answered).as_millis() as u64 });
                }
            }
            r = sip.recv_from(&mut sbuf) => {
                let Ok((n, from)) = r else { continue };
                let Some(msg) = Msg::parse(&sbuf[..n]) else { continue };
                match msg.status {
                    None => {
                        if msg.method == "ACK" { continue; }
                        sip.send_to(&msg.response(200, "OK", &tag), from).await?;
                        match msg.method.as_str() {
                            "BYE" if msg.call_id() == dlg.call_id => {
                                ended.get_or_insert_with(|| "server BYE".into());
                                pending.clear();
                            }
                            "NOTIFY" if msg.header("event").is_some_and(|e| e.trim().eq_ignore_ascii_case("check-sync")) => {
                                report.check_sync = true;
                            }
                            _ => {}
                        }
                    }
                    Some(code) if code >= 200 && msg.call_id() == dlg.call_id => {
                        let (n, method) = msg.cseq();
                        pending.retain(|p| !(p.cseq == n && p.method == method));
                        if method == "INVITE" {
                            let ack = dlg.ack(n);
                            sip.send_to(&ack, opts.server).await?;
                        } else if method == "BYE" {
                            ended.get_or_insert_with(|| "phone BYE".into());
                        }
                    }
                    _ => {}
                }
            }
            _ = tick.tick() => {
                let now = Instant::now();
                for p in pending.iter_mut().filter(|p| now >= p.next) {
                    let _ = sip.send_to(&p.bytes, opts.server).await;
                    p.interval = (p.interval * 2).min(Duration::from_secs(4));
                    p.next = now + p.interval;
                }
                if let Some(p) = pending.iter().find(|p| now >= p.give_up) {
                    let why = format!("no answer to {}; gave up", p.method);
                    pending.clear();
                    ended.get_or_insert(why);
                }
                if let Some(ended_by) = &ended {
                    // After the call: wait for check-sync if provisioning succeeded.
                    if report.check_sync || !report.prompts.iter().any(|p| p.name == "success") {
                        report.ended_by = ended_by.clone();
                        break;
                    }
                    let d = *notify_deadline.get_or_insert(now + opts.notify_wait);
                    if now >= d {
                        report.ended_by = ended_by.clone();
                        break;
                    }
                    continue;
                }
                if let Some(t) = held_until {
                    if now >= t {
                        held_until = None;
                        let p = dlg.reoffer("sendrecv", now);
                        sip.send_to(&p.bytes, opts.server).await?;
                        pending.push(p);
                    } else {
                        media.ts = media.ts.wrapping_add(media.step);
                        continue;
                    }
                }
                if typing_at.is_some_and(|t| now >= t) {
                    typing_at = None;
                    let group = opts.script.groups[next_group].clone();
                    next_group += 1;
                    queue_digits(&mut media, opts.dtmf, &group, &mut encoder);
                    report.digits_sent.push(group);
                    if opts.script.hangup_after_digits && next_group == opts.script.groups.len() {
                        let packets = media.queue.iter().filter(|t| !matches!(t, Tx::DigitStart | Tx::DigitEnd)).count();
                        hangup_at = Some(now + Duration::from_millis(300 + 20 * packets as u64));
                    }
                }
                if !bye_sent && (hangup_at.is_some_and(|t| now >= t) || now >= limit) {
                    bye_sent = true;
                    if now >= limit { ended = Some("time limit".into()); }
                    let mut p = dlg.next("BYE", None, b"", now);
                    sip.send_to(&p.bytes, opts.server).await?;
                    // A phone hanging up does not wait long for the 200.
                    p.give_up = now + Duration::from_secs(4);
                    pending.push(p);
                }
                // Digit markers take no packet time.
                while let Some(Tx::DigitStart | Tx::DigitEnd) = media.queue.front() {
                    if let Some(Tx::DigitStart) = media.queue.pop_front() {
                        last_digit_start = Some(now);
                    } else {
                        last_digit_end = Some(now);
                        awaiting_reaction = true;
                    }
                }
                // One packet time of media.
                let ts = media.ts;
                media.ts = media.ts.wrapping_add(media.step);
                match media.queue.pop_front() {
                    Some(Tx::Audio(a)) => media.send(media.pt, false, ts, &a).await,
                    Some(Tx::Event { code, duration, end, first }) => {
                        if first { media.event_ts = ts; }
                        let te = media.te_pt.unwrap_or(TE_PT);
                        let d = (u32::from(duration) * media.te_rate / 8000) as u16;
                        let payload = [code, if end { 0x80 | 10 } else { 10 }, (d >> 8) as u8, d as u8];
                        let ets = media.event_ts;
                        media.send(te, first, ets, &payload).await;
                    }
                    Some(Tx::Info(c)) => {
                        let body = format!("Signal={c}\r\nDuration=160\r\n");
                        let p = dlg.next("INFO", Some("application/dtmf-relay"), body.as_bytes(), now);
                        sip.send_to(&p.bytes, opts.server).await?;
                        pending.push(p);
                    }
                    Some(Tx::Gap | Tx::DigitStart | Tx::DigitEnd) | None => {
                        if opts.send_audio {
                            let s = media.silence.clone();
                            media.send(media.pt, false, ts, &s).await;
                        }
                    }
                }
            }
        }
    }
    report.rtp = RtpSummary::from_stats(&stats);
    if let Some(path) = &opts.record {
        write_wav(path, opts.codec.sample_rate(), &recorded)?;
    }
    report.conclude();
    Ok(report)
}

/// What the call's first INVITE (and a retry after a challenge) share.
struct Caller<'a> {
    sip: &'a UdpSocket,
    opts: &'a PhoneOptions,
    id: &'a Identity,
    call_id: &'a str,
    tag: &'a str,
}

impl Caller<'_> {
    /// Send an INVITE (with `authorization` when answering a challenge) and wait for its final
    /// answer; the answer and the INVITE's branch (its ACK for a failure reuses it).
    async fn invite(
        &self,
        cseq: u32,
        body: &[u8],
        authorization: Option<&str>,
    ) -> Result<(Msg, String), PhoneError> {
        let b = branch();
        let mut req = self.id.request(
            "INVITE",
            &self.opts.route_point,
            self.call_id,
            cseq,
            self.tag,
            None,
            &b,
            Some("application/sdp"),
            body,
        );
        if let Some(a) = authorization {
            req = with_header(&req, a);
        }
        Ok((
            transact(
                self.sip,
                self.opts.server,
                req,
                self.call_id,
                cseq,
                "INVITE",
                self.tag,
            )
            .await?,
            b,
        ))
    }

    /// ACK a failure answer to an INVITE: same branch as the INVITE.
    async fn ack_failure(&self, cseq: u32, answer: &Msg, branch: &str) -> Result<(), PhoneError> {
        let to_tag = answer.to_tag().unwrap_or_default();
        let ack = self.id.request(
            "ACK",
            &self.opts.route_point,
            self.call_id,
            cseq,
            self.tag,
            Some(&to_tag),
            branch,
            None,
            b"",
        );
        self.sip.send_to(&ack, self.opts.server).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
