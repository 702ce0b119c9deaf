//! The real service behind a real Kamailio that record-routes and is the phones' registrar
//! (tests/kamailio/proxy.cfg), as in the field: the route point registers there
//! (`registrar.mode = "external"`), phones register there and call the route point through it,
//! and `sip.outbound_proxy` points at it. A SIPp phone over UDP and one over TCP (the proxy then
//! record-routes twice, TCP on one side and UDP on ours) provision themselves; selfprov's BYE
//! reaches them through the proxy; the NOTIFY check-sync goes to each phone's address-of-record
//! through the proxy, which hands it to the contact the phone registered. The calling device is
//! the one the proxy asserts (`P-Asserted-Identity`, believed from `registrar.trusted_proxies`
//! only). baresip, registered at
//! the proxy, provisions itself and hears the prompts. A caller's own requests reach the service
//! through the proxy too: INFO digits, hold and resume, its BYE, its CANCEL while ringing. A phone
//! registered at the proxy dials the activation DN through it, types a code and is provisioned.

mod common;

use common::baresip;
use common::*;
use selfprov_testkit::kamailio::Kamailio;
use selfprov_testkit::{free_udp_tcp_port, sipp_command, spawn_watched, TempDir};
use std::net::UdpSocket;
use std::time::Duration;

/// Kamailio, and selfprov registered behind it with it as outbound proxy.
struct Field {
    kam: Kamailio,
    _kdir: TempDir,
    s: Service,
    _svc: selfprov_testkit::ChildGuard,
}

/// `edits`: more changes to the configuration file (`from`, `to`).
fn field(tag: &str, edits: &[(&str, &str)]) -> Field {
    let kdir = TempDir::new(&format!("{tag}-kamailio"));
    let kam = Kamailio::start(
        &repo().join("tests/kamailio/proxy.cfg"),
        kdir.path(),
        free_udp_tcp_port(),
        &[("DOMAIN", "pbx.test"), ("FORWARD", "")],
    );
    let s = config(tag);
    // The proxy asserts each caller (P-Asserted-Identity): selfprov trusts it to.
    s.edit(
        "mode = \"builtin\"",
        &format!(
            "mode = \"external\"\naddress = \"{}\"\ntrusted_proxies = [\"127.0.0.1\"]",
            kam.addr()
        ),
    );
    s.edit("sip_password = \"\"", "sip_password = \"not-checked\"");
    s.edit(
        "# outbound_proxy = \"192.0.2.20:5060\"",
        &format!("outbound_proxy = \"{}\"", kam.addr()),
    );
    for (from, to) in edits {
        s.edit(from, to);
    }
    let (_svc, err) = start_service(&s);
    err.wait_for("state=registered", Duration::from_secs(20))
        .expect("the route point registers at the proxy");
    Field {
        kam,
        _kdir: kdir,
        s,
        _svc,
    }
}

/// A device the administrator created (phones registered elsewhere are not auto-registered here).
fn create_device(s: &Service, name: &str, dn: &str) {
    cli_ok(
        s,
        &[
            "device",
            "create",
            name,
            "--model",
            "Cisco 8845",
            "--dn",
            dn,
            "--auto-registered",
            "true",
        ],
    );
}

/// A phone of the test: device name, over TCP or UDP, and the user it is for (ID, PIN).
struct Phone {
    device: &'static str,
    tcp: bool,
    user: &'static str,
    id_and_pin: (&'static str, &'static str),
    dn: &'static str,
}

/// A SIPp phone running tests/scenarios/provision_via_proxy.xml through the proxy.
fn sipp_phone(f: &Field, p: &Phone, contact_port: u16) -> selfprov_testkit::ChildGuard {
    let csv = f.s.dir.path().join(format!("{}.csv", p.device));
    let (id, pin) = p.id_and_pin;
    std::fs::write(
        &csv,
        format!("SEQUENTIAL\n{};{id};{pin};{contact_port}\n", p.device),
    )
    .unwrap();
    let mut sc = sipp_command(f.s.dir.path(), &f.kam.addr(), Duration::from_secs(60));
    sc.arg("-sf")
        .arg(repo().join("tests/scenarios/provision_via_proxy.xml"))
        .arg("-inf")
        .arg(&csv)
        .args(["-s", "2000", "-m", "1"]);
    if p.tcp {
        sc.args(["-t", "t1"]);
    }
    spawn_watched("sipp", &mut sc).unwrap().0
}

/// The NOTIFY that reached the phone's registered contact, answered 200 like a phone does.
fn notify_at(contact: &UdpSocket) -> String {
    let mut buf = [0u8; 4096];
    let (n, from) = contact.recv_from(&mut buf).expect("no NOTIFY check-sync");
    let notify = String::from_utf8_lossy(&buf[..n]).into_owned();
    let keep = |h: &str| {
        notify
            .lines()
            .filter(|l| l.starts_with(h))
            .map(|l| format!("{l}\r\n"))
            .collect::<String>()
    };
    let ok = format!(
        "SIP/2.0 200 OK\r\n{}{}{}{}{}Content-Length: 0\r\n\r\n",
        keep("Via:"),
        keep("From:"),
        keep("To:"),
        keep("Call-ID:"),
        keep("CSeq:")
    );
    contact.send_to(ok.as_bytes(), from).unwrap();
    notify
}

#[test]
fn phones_behind_a_record_routing_registrar_provision_and_get_check_sync() {
    let f = field("e2e-proxy", &[]);
    let phones = [
        Phone {
            device: "SEP0011223344C1",
            tcp: false,
            user: "jsmith",
            id_and_pin: ("1004", "12345"),
            dn: "1990",
        },
        Phone {
            device: "SEP0011223344C2",
            tcp: true,
            user: "mdupont",
            id_and_pin: ("1005", "54321"),
            dn: "1991",
        },
    ];
    for p in &phones {
        create_device(&f.s, p.device, p.dn);
    }
    // Where each phone's registered Contact points: its NOTIFY check-sync arrives there.
    let contacts: Vec<UdpSocket> = phones
        .iter()
        .map(|_| {
            let c = UdpSocket::bind("127.0.0.1:0").unwrap();
            c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
            c
        })
        .collect();
    let mut running: Vec<_> = phones
        .iter()
        .zip(&contacts)
        .map(|(p, c)| sipp_phone(&f, p, c.local_addr().unwrap().port()))
        .collect();
    for (p, sipp) in phones.iter().zip(&mut running) {
        let st = sipp
            .wait_timeout(Duration::from_secs(90))
            .expect("sipp did not finish");
        assert!(
            st.success(),
            "{} (tcp: {}): the call through the proxy failed",
            p.device,
            p.tcp
        );
    }

    for (p, c) in phones.iter().zip(&contacts) {
        let (device, port) = (p.device, c.local_addr().unwrap().port());
        let notify = notify_at(c);
        // The proxy looked the AOR up and sent it to the registered contact...
        assert!(
            notify.starts_with(&format!("NOTIFY sip:{device}@127.0.0.1:{port} SIP/2.0")),
            "{notify}"
        );
        assert!(notify.contains("Event: check-sync"), "{notify}");
        assert!(
            notify.contains(&format!("To: <sip:{device}@pbx.test>")),
            "{notify}"
        );
        // ...and its Via is on top of selfprov's: the NOTIFY went through it.
        let vias: Vec<&str> = notify.lines().filter(|l| l.starts_with("Via:")).collect();
        assert_eq!(vias.len(), 2, "{notify}");
        assert!(
            vias[0].contains(&format!("127.0.0.1:{}", f.kam.port)),
            "{notify}"
        );
        // What selfprov sent: to the AOR, with the proxy as its Route.
        let line = f
            .kam
            .log
            .wait_for(
                &format!("proxy got NOTIFY sip:{device}@pbx.test "),
                Duration::from_secs(5),
            )
            .expect("the proxy got selfprov's NOTIFY");
        assert!(
            line.contains(&format!("route=[<sip:127.0.0.1:{};lr>]", f.kam.port)),
            "{line}"
        );
        let d = device_of(&f.s, device);
        assert_eq!(d["owner"], p.user, "{device} (tcp: {}): {d}", p.tcp);
    }
    assert_eq!(audit_count(&f.s, "SUCCESS"), 2);
    assert_eq!(audit_count(&f.s, "ABANDONED"), 0);
}

fn device_of(s: &Service, name: &str) -> serde_json::Value {
    device(s, name).unwrap_or_else(|| panic!("no device {name}"))
}

#[test]
fn baresip_registered_at_the_proxy_provisions_itself() {
    let f = field("e2e-proxy-baresip", &[]);
    create_device(&f.s, "SEP00000000BA02", "1992");
    let phone = baresip::start(
        &f.s.dir.path().join("baresip"),
        &format!(
            "<sip:SEP00000000BA02@pbx.test>;outbound=\"sip:{};lr\";regint=3600;audio_codecs=PCMU",
            f.kam.addr()
        ),
        "2000",
    );
    phone.provision_as_jsmith();
    let d = device_of(&f.s, "SEP00000000BA02");
    assert_eq!(
        (d["owner"].as_str(), d["dn"].as_str()),
        (Some("jsmith"), Some("1004")),
        "{d}"
    );
    // The IVR's BYE came through the proxy with its route.
    let line = f
        .kam
        .log
        .wait_for_match(
            |l| {
                l.contains("proxy got BYE ")
                    && l.contains(&format!("from 127.0.0.1:{}/", f.s.sip_port))
            },
            Duration::from_secs(5),
        )
        .expect("selfprov's BYE reached the proxy");
    assert!(
        line.contains(&format!("route=[<sip:127.0.0.1:{};lr", f.kam.port)),
        "{line}"
    );
    let found = phone.pieces_heard_at_the_end("success");
    assert!(
        found >= 4,
        "only {found} of 5 pieces of the success prompt in baresip's audio"
    );
}

#[test]
fn an_activation_code_through_the_proxy_provisions_the_phone() {
    // The activation DN is registered at the proxy with the route point's DNs.
    let f = field(
        "e2e-proxy-activation",
        &[("# activation_dn = \"2001\"", "activation_dn = \"2001\"")],
    );
    create_device(&f.s, "SEP00000000BA03", "1993");
    let issued = cli(
        &f.s,
        &[
            "activation",
            "issue",
            "jsmith",
            "--device",
            "SEP00000000BA03",
            "--json",
        ],
    );
    let code = issued["code"].as_str().expect("the code").to_owned();
    let phone = baresip::start(
        &f.s.dir.path().join("baresip"),
        &format!(
            "<sip:SEP00000000BA03@pbx.test>;outbound=\"sip:{};lr\";regint=3600;audio_codecs=PCMU",
            f.kam.addr()
        ),
        "2001",
    );
    phone
        .out
        .wait_for("Call established", Duration::from_secs(30))
        .expect("the activation DN answers through the proxy");
    f.kam
        .log
        .wait_for("proxy got INVITE sip:2001@", Duration::from_secs(5))
        .expect("the call went through the proxy");
    phone.type_group(&format!("{code}#"));
    phone
        .out
        .wait_for("session closed", Duration::from_secs(60))
        .expect("the IVR hangs up");
    let d = device_of(&f.s, "SEP00000000BA03");
    assert_eq!(
        (d["owner"].as_str(), d["dn"].as_str()),
        (Some("jsmith"), Some("1004")),
        "{d}"
    );
    let codes = cli(&f.s, &["activation", "list", "jsmith", "--json"]);
    assert_eq!(codes[0]["state"], "used", "{codes:#}");
    assert_eq!(codes[0]["used_by"], "SEP00000000BA03", "{codes:#}");
}

#[test]
fn the_callers_info_hold_resume_bye_and_cancel_reach_the_service_through_the_proxy() {
    // Ringing for a second first, so a caller can cancel.
    let f = field(
        "e2e-proxy-caller",
        &[("# answer_delay = \"0s\"", "answer_delay = \"1s\"")],
    );
    let sip_tests = repo().join("crates/sip/tests/scenarios");
    let features = sip_tests.join("call_features.xml");
    let cancel = repo().join("tests/scenarios/cancel_ringing.xml");
    // The caller's name and password (cancel_ringing.xml's fields): the proxy asserts who is
    // calling, so selfprov never challenges and the password is not used. The phone is new and
    // has fetched its first file (auto-registered): a phone that could not claim would be told
    // so at once, before any digit.
    // (call_features.xml calls as SEP001122334455, cancel_ringing.xml as the injection file says.)
    for phone in ["SEP001122334455", "SEP00000000CA01"] {
        phone_password(&f.s, phone);
    }
    let caller = f.s.dir.path().join("caller.csv");
    std::fs::write(&caller, "SEQUENTIAL\nSEP00000000CA01;not-used\n").unwrap();
    for tcp in [false, true] {
        for (scenario, what) in [(&features, "INFO, hold, resume, BYE"), (&cancel, "CANCEL")] {
            let mut sc = sipp_command(f.s.dir.path(), &f.kam.addr(), Duration::from_secs(30));
            sc.arg("-sf")
                .arg(scenario)
                .arg("-inf")
                .arg(&caller)
                .args(["-s", "2000", "-m", "1"]);
            if tcp {
                sc.args(["-t", "t1"]);
            }
            let (mut p, _o, _e) = spawn_watched("sipp", &mut sc).unwrap();
            let st = p
                .wait_timeout(Duration::from_secs(60))
                .expect("sipp did not finish");
            assert!(st.success(), "{what} through the proxy (tcp: {tcp})");
        }
    }
    // The calls ended as the callers ended them, each audited once.
    let until = std::time::Instant::now() + Duration::from_secs(10);
    while audit_count(&f.s, "ABANDONED") < 4 {
        assert!(
            std::time::Instant::now() < until,
            "4 calls abandoned by their callers"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(active_calls(&f.s), 0);
    // The digits the callers sent as INFO reached the IVR.
    assert!(
        metric(&f.s, "selfprov_dtmf_digits_total{method=\"sip_info\"}") >= 4.0,
        "{}",
        http_get(f.s.admin_port, "/metrics")
    );
}
