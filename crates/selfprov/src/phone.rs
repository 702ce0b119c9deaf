//! `selfprov phone`: the built-in test phone (crate `selfprov-phone`) driven from the config file.

use crate::cli::PhoneArgs;
use anyhow::{anyhow, bail, Context, Result};
use selfprov_config::Config;
use selfprov_media::Codec;
use selfprov_phone::boot::{BootOptions, ScreenLogin, Step, Vendor};
use selfprov_phone::config_file::ConfigServer;
use selfprov_phone::{DtmfMode, PhoneOptions, Recognizer, Script};
use selfprov_prompts::Catalog;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;

fn codec(name: &str) -> Result<Codec> {
    Codec::ALL
        .into_iter()
        .find(|c| c.config_name().eq_ignore_ascii_case(name))
        .with_context(|| {
            let names: Vec<_> = Codec::ALL.iter().map(|c| c.config_name()).collect();
            format!("unknown codec {name:?}; use one of {}", names.join(", "))
        })
}

fn dtmf(name: &str) -> Result<DtmfMode> {
    Ok(match name.to_ascii_lowercase().as_str() {
        "rfc4733" | "rfc2833" => DtmfMode::Rfc4733,
        "info" | "sip-info" => DtmfMode::Info,
        "inband" | "in-band" => DtmfMode::Inband,
        _ => bail!("unknown DTMF method {name:?}; use rfc4733, info or inband"),
    })
}

pub fn run(cfg: &Config, a: PhoneArgs) -> Result<ExitCode> {
    let codec = codec(&a.codec)?;
    let dtmf = dtmf(&a.dtmf)?;
    let dtmf_rate = a.dtmf_rate.unwrap_or(codec.rtp_clock_rate());
    if !matches!(dtmf_rate, 8000 | 16000 | 48000) {
        bail!("--dtmf-rate: {dtmf_rate} Hz; use 8000, 16000 or 48000");
    }
    let digits: String = a.digits.chars().filter(|c| !c.is_whitespace()).collect();
    if let Some(bad) = digits
        .chars()
        .find(|c| !matches!(c, '0'..='9' | '*' | '#' | ',' | 'A'..='D'))
    {
        bail!("--digits: {bad:?} is not a DTMF key (0-9 * # A-D, commas between groups)");
    }
    let server = reachable(a.server.unwrap_or(cfg.raw.sip.listen));
    let bind = if server.ip().is_loopback() {
        server.ip()
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    };
    let route_point = match a.dial {
        Some(d) => d,
        None => cfg
            .self_provisioning
            .route_point
            .dns
            .first()
            .map(|d| d.as_str().to_owned())
            .context("the config file has no route-point DN; give --dial")?,
    };
    let device = a.device.unwrap_or_else(|| {
        let mac: u64 = rand_mac();
        format!("SEP{mac:012X}")
    });
    let langs: Vec<&str> = cfg
        .raw
        .self_provisioning
        .languages
        .iter()
        .map(String::as_str)
        .collect();
    let catalog = Catalog::load(&cfg.prompts_dir, &langs, &[codec], 20)
        .with_context(|| format!("loading prompts from {}", cfg.prompts_dir.display()))?;
    let mut recognizer = Recognizer::new(&catalog, codec);
    // Like a phone pointed at the configuration server: fetch the file first, unless the phone
    // is set up by hand (`--no-fetch`, or phones registering by binding).
    let config_server = match (
        &cfg.raw.phone_config.public_url,
        cfg.raw.phone_config.http_listen,
    ) {
        _ if a.no_fetch || cfg.raw.registrar.phone_auth == selfprov_config::PhoneAuth::Binding => {
            None
        }
        (Some(url), _) => Some(url.clone()),
        (None, Some(listen)) => Some(format!("http://{}", reachable(listen))),
        (None, None) => None,
    }
    .map(|u| ConfigServer::from_url(&u))
    .transpose()?;
    let opts = PhoneOptions {
        server,
        bind,
        device,
        user_agent: "Cisco-CP8845/14.2.1 (selfprov-phone)".into(),
        route_point,
        codec,
        dtmf,
        dtmf_rate,
        register: !a.no_register,
        config_server,
        password: a.password,
        send_audio: !a.vad,
        script: Script {
            groups: Script::groups_from(&digits),
            typing_delay: a.typing_delay.into(),
            hold_at: a.hold_at,
            hold_for: a.hold_for.into(),
            hangup_after_digits: a.hangup_after_digits,
        },
        call_limit: a.timeout.into(),
        notify_wait: std::time::Duration::from_secs(3),
        record: a.record,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    if let Some(vendor) = &a.boot {
        if opts.config_server.is_none() {
            bail!("--boot needs the configuration server (phone_config.http_listen or public_url; not --no-fetch)");
        }
        let vendor: Vendor = vendor.parse().map_err(|e: String| anyhow!("--boot: {e}"))?;
        if a.screen && vendor != Vendor::Cisco {
            bail!("--screen: the test phone's XML browser speaks Cisco's XML services; use --boot cisco");
        }
        if a.screen && a.user.is_none() && a.code.is_none() {
            bail!("--screen needs --user (and --pin) or --code");
        }
        let screen = a.screen.then(|| ScreenLogin {
            user: a.user.clone().unwrap_or_default(),
            pin: a.pin.clone().unwrap_or_default(),
            code: a.code.clone(),
        });
        let boot = BootOptions {
            vendor,
            syncs: a
                .syncs
                .unwrap_or(u32::from(!digits.is_empty() || screen.is_some())),
            screen,
            sync_wait: a.timeout.into(),
            tftp: cfg.raw.phone_config.tftp_listen.map(reachable),
            answer: a.answer.map(Into::into),
            phone: opts,
        };
        return boot_phone(&rt, &boot, &mut recognizer, a.json);
    }
    let report = rt.block_on(selfprov_phone::run(&opts, &mut recognizer))?;
    show(&report, a.json, true);
    Ok(exit(report.outcome == "provisioned"))
}

/// A report or step on stdout: text, or JSON (pretty, or on one line).
fn show(v: &(impl serde::Serialize + std::fmt::Display), json: bool, pretty: bool) {
    if !json {
        println!("{v}");
    } else if pretty {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
    } else {
        println!("{}", serde_json::to_string(v).unwrap_or_default());
    }
}

/// 0 when the phone did what it was asked, else 3.
fn exit(success: bool) -> ExitCode {
    if success {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    }
}

/// `--boot`: each step printed as it happens, then the report; success when it ends registered.
fn boot_phone(
    rt: &tokio::runtime::Runtime,
    boot: &BootOptions,
    recognizer: &mut Recognizer,
    json: bool,
) -> Result<ExitCode> {
    let mut print = |s: &Step| show(s, json, false);
    let report = rt.block_on(selfprov_phone::boot::boot(boot, recognizer, &mut print))?;
    show(&report, json, false);
    Ok(exit(report.outcome == "registered"))
}

/// A listener's address as a phone on this machine reaches it (`0.0.0.0`: loopback).
fn reachable(mut a: SocketAddr) -> SocketAddr {
    if a.ip().is_unspecified() {
        a.set_ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    a
}

/// A locally administered unicast MAC (first octet x2), so it never clashes with a real phone.
fn rand_mac() -> u64 {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos() as u64;
    let r =
        t ^ (u64::from(std::process::id()) << 20) ^ 0x9e37_79b9_7f4a_7c15u64.wrapping_mul(t | 1);
    (r & 0x00ff_ffff_ffff) | 0x0200_0000_0000
}
