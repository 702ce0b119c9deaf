//! The on-screen claim's requests against a real store (SQLite in memory, the demo data): the
//! whole way from the idle URL to the claim and check-sync; every outcome code on screen and in
//! the audit; the lockout; the throttle; a phone cannot claim for another; the language.

use super::flow::{Reply, Request};
use super::{ScreenClaim, Settings};
use selfprov_operations::devices::DevicePatch;
use selfprov_operations::profiles::ProfilePatch;
use selfprov_operations::users::UserPatch;
use selfprov_operations::{Actor, DeviceSecrets, Operations};
use selfprov_provisioning::model::{AuditKind, DeviceName};
use selfprov_provisioning::settings::LanguagePreference;
use selfprov_provisioning::store::{AuditFilter, UnixMillis};
use selfprov_provisioning::{OutcomeCode, SqliteStore};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

struct Fixture {
    ops: Operations,
    secrets: DeviceSecrets,
    screen: ScreenClaim,
    settings: Settings,
    synced: Arc<Mutex<Vec<String>>>,
}

/// What a screen showed: its root element, status line (or the line under a Yealink text), text,
/// and the URLs of its keys or form.
#[derive(Debug)]
struct Shown {
    root: String,
    prompt: String,
    text: String,
    urls: Vec<String>,
}

fn fixture() -> Fixture {
    let ops = Operations::new(Arc::new(SqliteStore::in_memory().unwrap()));
    selfprov_operations::demo::load_demo_data(&ops, &Actor::system()).unwrap();
    let cfg = selfprov_config::Config::from_toml(
        selfprov_config::SAMPLE,
        Path::new("/etc/selfprov/selfprov.toml"),
    )
    .unwrap();
    let mut settings = Settings::of(&cfg, "http://192.0.2.10:6970").unwrap();
    settings.attempts_per_minute = 0;
    let secrets = DeviceSecrets::from_key([9; 32]);
    let synced = Arc::new(Mutex::new(Vec::new()));
    let s = synced.clone();
    let screen = ScreenClaim::new(
        ops.claims().clone(),
        secrets.clone(),
        Arc::new(move |d: Vec<String>| s.lock().unwrap().extend(d)),
    );
    Fixture {
        ops,
        secrets,
        screen,
        settings,
        synced,
    }
}

fn params(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

impl Fixture {
    /// An auto-registered phone of `model`; its idle URL's token.
    fn phone(&self, name: &str, model: &str) -> String {
        let dn: DeviceName = name.parse().unwrap();
        let ar = selfprov_config::Config::from_toml(
            selfprov_config::SAMPLE,
            Path::new("/etc/selfprov/selfprov.toml"),
        )
        .unwrap()
        .auto_registration;
        self.ops
            .claims()
            .auto_register(&dn, model, &ar, &Actor::registrar(), UnixMillis::now())
            .unwrap();
        self.token(name)
    }

    fn token(&self, name: &str) -> String {
        let g = self
            .ops
            .claims()
            .credential(name)
            .unwrap()
            .unwrap()
            .generation;
        self.secrets.screen_token(name, g)
    }

    fn ask(&self, device: &str, token: &str, page: &str, query: &str, lang: Option<&str>) -> Reply {
        self.ask_with(Some(&self.settings), device, token, page, query, lang)
    }

    fn ask_with(
        &self,
        settings: Option<&Settings>,
        device: &str,
        token: &str,
        page: &str,
        query: &str,
        lang: Option<&str>,
    ) -> Reply {
        self.screen.handle(
            settings,
            &Request {
                device,
                token,
                page,
                params: &params(query),
                user_agent: None,
                accept_language: lang,
                source: "192.0.2.50".parse().unwrap(),
            },
        )
    }

    fn show(&self, device: &str, token: &str, page: &str, query: &str) -> Shown {
        shown(self.ask(device, token, page, query, None))
    }

    /// The login form sent with `user` and `pin`.
    fn login(&self, device: &str, token: &str, user: &str, pin: &str) -> Shown {
        self.show(device, token, "submit", &format!("user={user}&pin={pin}"))
    }

    /// Log in and press Continue.
    fn claim(&self, device: &str, token: &str, user: &str, pin: &str) -> Shown {
        let c = self.login(device, token, user, pin);
        assert!(c.text.contains("will be provisioned"), "{c:?}");
        self.press(device, token, &c.urls[0])
    }

    /// Follow a key's URL (of this phone's pages).
    fn press(&self, device: &str, token: &str, url: &str) -> Shown {
        let rest = url
            .split_once(&format!("/{device}/{token}"))
            .map(|(_, r)| r)
            .unwrap();
        let (page, query) = rest
            .trim_start_matches('/')
            .split_once('?')
            .unwrap_or((rest.trim_start_matches('/'), ""));
        self.show(device, token, page, query)
    }

    fn audit(&self) -> Vec<(String, Option<String>, Option<OutcomeCode>)> {
        self.ops
            .audit_log(&AuditFilter {
                kind: Some(AuditKind::Claim),
                ..Default::default()
            })
            .unwrap()
            .into_iter()
            .map(|a| (a.actor, a.device, a.code))
            .collect()
    }

    fn codes_for(&self, device: &str) -> Vec<OutcomeCode> {
        let mut c: Vec<OutcomeCode> = self
            .audit()
            .into_iter()
            .filter(|(_, d, _)| d.as_deref() == Some(device))
            .filter_map(|(_, _, c)| c)
            .collect();
        c.reverse();
        c
    }
}

fn shown(r: Reply) -> Shown {
    let Reply::Screen(xml, _) = r else {
        panic!("not a screen: {r:?}")
    };
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let text = |tag: &str| {
        doc.descendants()
            .find(|n| n.has_tag_name(tag))
            .and_then(|n| n.text())
            .unwrap_or("")
            .to_owned()
    };
    Shown {
        root: doc.root_element().tag_name().name().to_owned(),
        prompt: text("Prompt"),
        text: text("Text"),
        urls: doc
            .descendants()
            .filter(|n| n.has_tag_name("URL") || n.has_tag_name("URI"))
            .filter_map(|n| n.text().map(str::to_owned))
            .collect(),
    }
}

#[test]
fn a_phone_claims_itself_on_screen_then_is_synced_and_cannot_claim_again() {
    let f = fixture();
    let t = f.phone("SEP0011223344A1", "Cisco 8845");
    let form = f.show("SEP0011223344A1", &t, "", "");
    assert_eq!(form.root, "CiscoIPPhoneInput");
    assert!(form.urls[0].ends_with(&format!("/screen/SEP0011223344A1/{t}/submit")));
    let confirm = f.login("SEP0011223344A1", &t, "1004", "12345");
    assert_eq!(confirm.root, "CiscoIPPhoneText");
    assert_eq!(
        confirm.text,
        "This phone will be provisioned with extension 1004."
    );
    assert!(
        f.synced.lock().unwrap().is_empty(),
        "nothing before Continue"
    );
    let done = f.press("SEP0011223344A1", &t, &confirm.urls[0]);
    assert_eq!(done.prompt, "SUCCESS", "{done:?}");
    assert!(done.text.contains("1004"));
    assert_eq!(*f.synced.lock().unwrap(), ["SEP0011223344A1"]);
    let d = f.ops.device("SEP0011223344A1").unwrap();
    assert_eq!(d.owner.map(|o| o.to_string()).as_deref(), Some("jsmith"));
    assert_eq!(
        f.audit(),
        [(
            "screen".to_owned(),
            Some("SEP0011223344A1".to_owned()),
            Some(OutcomeCode::Success)
        )]
    );
    // The claim gave the device a new credential generation: the old idle URL is refused; the
    // new one says the phone is provisioned.
    assert_eq!(f.ask("SEP0011223344A1", &t, "", "", None), Reply::Forbidden);
    let t2 = f.token("SEP0011223344A1");
    assert_eq!(
        f.show("SEP0011223344A1", &t2, "", "").prompt,
        "NOT_AUTOREGISTERED"
    );
}

/// A code issued for `device` (by name) or, with `model`, for that model.
fn issue(f: &Fixture, device: Option<&str>, model: Option<&str>) -> String {
    f.ops
        .issue_activation_code(
            &Actor::system(),
            &selfprov_operations::activation::CodeRequest {
                user_id: "jsmith".into(),
                device: device.map(str::to_owned),
                model: model.map(str::to_owned),
                lifetime: None,
            },
            UnixMillis::now(),
        )
        .unwrap()
        .code
}

#[test]
fn an_activation_code_typed_on_screen_claims_the_phone_at_once() {
    let f = fixture();
    let t = f.phone("SEP0011223344C1", "Cisco 8845");
    let form = f.show("SEP0011223344C1", &t, "", "");
    assert_eq!(form.root, "CiscoIPPhoneInput");
    let code = issue(&f, Some("SEP0011223344C1"), None);
    // A wrong code: its own outcome, a way back to the form, nothing synced.
    let wrong = f.show(
        "SEP0011223344C1",
        &t,
        "submit",
        "user=&pin=&code=1111222233334444",
    );
    assert_eq!(wrong.prompt, "ACTIVATION_CODE_INVALID", "{wrong:?}");
    assert!(
        wrong.urls[0].ends_with(&format!("/screen/SEP0011223344C1/{t}")),
        "{wrong:?}"
    );
    assert!(f.synced.lock().unwrap().is_empty());
    // The right one, typed in groups as printed, whatever the ID and PIN fields hold.
    let grouped = format!(
        "{}-{}-{}-{}",
        &code[..4],
        &code[4..8],
        &code[8..12],
        &code[12..]
    );
    let done = f.show(
        "SEP0011223344C1",
        &t,
        "submit",
        &format!("user=1005&pin=&code={grouped}"),
    );
    assert_eq!(done.prompt, "SUCCESS", "{done:?}");
    assert!(done.text.contains("1004"), "{done:?}");
    assert_eq!(*f.synced.lock().unwrap(), ["SEP0011223344C1"]);
    let d = f.ops.device("SEP0011223344C1").unwrap();
    assert_eq!(d.owner.map(|o| o.to_string()).as_deref(), Some("jsmith"));
    assert_eq!(
        f.codes_for("SEP0011223344C1"),
        [OutcomeCode::ActivationCodeInvalid, OutcomeCode::Success]
    );
    // Used: another phone of the same model cannot use it again; a code for another phone is
    // refused as such and stays usable there.
    let t2 = f.phone("SEP0011223344C2", "Cisco 8845");
    let again = f.show("SEP0011223344C2", &t2, "submit", &format!("code={code}"));
    assert_eq!(again.prompt, "ACTIVATION_CODE_USED", "{again:?}");
    let other = issue(&f, Some("SEP0011223344C3"), None);
    let elsewhere = f.show("SEP0011223344C2", &t2, "submit", &format!("code={other}"));
    assert_eq!(
        elsewhere.prompt, "ACTIVATION_CODE_WRONG_DEVICE",
        "{elsewhere:?}"
    );
}

#[test]
fn wrong_codes_on_screen_lock_the_phone_and_the_screen_says_only_invalid() {
    let f = fixture();
    let t = f.phone("SEP0011223344C4", "Cisco 8845");
    let code = issue(&f, None, Some("Cisco 8845"));
    let threshold = f.settings.policy.failed_attempts_threshold.max(1);
    for _ in 0..threshold {
        let s = f.show("SEP0011223344C4", &t, "submit", "code=9999888877776666");
        assert_eq!(s.prompt, "ACTIVATION_CODE_INVALID");
    }
    // Locked: even the right code is refused, shown as invalid, audited as locked.
    let s = f.show("SEP0011223344C4", &t, "submit", &format!("code={code}"));
    assert_eq!(s.prompt, "ACTIVATION_CODE_INVALID", "{s:?}");
    assert_eq!(
        f.codes_for("SEP0011223344C4").last(),
        Some(&OutcomeCode::AccountLocked)
    );
    assert!(f.synced.lock().unwrap().is_empty());
    assert!(f.ops.device("SEP0011223344C4").unwrap().owner.is_none());
}

#[test]
fn a_phone_cannot_claim_for_another() {
    let f = fixture();
    let mine = f.phone("SEP0011223344B1", "Cisco 8845");
    let other = f.phone("SEP0011223344B2", "Cisco 8845");
    // Another device's token, a made-up one, an unknown device: refused before anything.
    for (device, token) in [
        ("SEP0011223344B2", mine.as_str()),
        ("SEP0011223344B2", "00000000000000000000000000000000"),
        ("SEP0011223344B2", ""),
        ("SEP00112233FFFF", mine.as_str()),
    ] {
        assert_eq!(
            f.ask(device, token, "submit", "user=1004&pin=12345", None),
            Reply::Forbidden
        );
    }
    // A Continue ticket of one phone on the other's pages: not a claim (back to the login).
    let confirm = f.login("SEP0011223344B1", &mine, "1004", "12345");
    let query = confirm.urls[0].split_once('?').unwrap().1;
    let moved = f.show("SEP0011223344B2", &other, "confirm", query);
    assert_eq!(moved.root, "CiscoIPPhoneInput", "{moved:?}");
    // Nor a ticket changed to name another user.
    let forged = query.replace("user=jsmith", "user=mdupont");
    assert_eq!(
        f.show("SEP0011223344B1", &mine, "confirm", &forged).root,
        "CiscoIPPhoneInput"
    );
    for d in ["SEP0011223344B1", "SEP0011223344B2"] {
        assert!(f.ops.device(d).unwrap().auto_registered, "{d} changed");
    }
    assert!(f.synced.lock().unwrap().is_empty());
    assert!(f
        .audit()
        .iter()
        .all(|(_, _, c)| *c != Some(OutcomeCode::Success)));
}

#[test]
fn wrong_pins_lock_the_user_out_of_this_phone_and_the_screen_says_only_invalid() {
    let f = fixture();
    let t = f.phone("SEP0011223344C1", "Cisco 8845");
    let threshold = f.settings.policy.failed_attempts_threshold as usize;
    for _ in 0..threshold {
        let s = f.login("SEP0011223344C1", &t, "1004", "99999");
        assert_eq!(s.prompt, "INVALID_CREDENTIALS");
        assert!(
            s.urls[0].ends_with(&t),
            "Try again leads to the form: {s:?}"
        );
    }
    // Locked: the right PIN now gets the same screen; the audit tells.
    let s = f.login("SEP0011223344C1", &t, "1004", "12345");
    assert_eq!(
        (s.prompt.as_str(), s.text.as_str()),
        ("INVALID_CREDENTIALS", "The user ID or PIN is not valid.")
    );
    let codes = f.codes_for("SEP0011223344C1");
    assert_eq!(codes.len(), threshold + 1);
    assert_eq!(
        codes[threshold - 1],
        OutcomeCode::AccountLocked,
        "{codes:?}"
    );
    assert_eq!(codes[threshold], OutcomeCode::AccountLocked, "{codes:?}");
    assert!(f.ops.device("SEP0011223344C1").unwrap().auto_registered);
}

#[test]
fn logins_per_phone_and_minute_are_throttled_before_any_check() {
    let mut f = fixture();
    f.settings.attempts_per_minute = 2;
    let t = f.phone("SEP0011223344D1", "Cisco 8845");
    let u = f.phone("SEP0011223344D2", "Cisco 8845");
    for _ in 0..2 {
        assert_eq!(
            f.login("SEP0011223344D1", &t, "1004", "1").prompt,
            "INVALID_CREDENTIALS"
        );
    }
    let later = f.login("SEP0011223344D1", &t, "1004", "12345");
    assert!(later.text.contains("Too many attempts"), "{later:?}");
    assert_eq!(
        f.codes_for("SEP0011223344D1").len(),
        2,
        "the third was not checked"
    );
    // Another phone is not affected.
    let other = f.login("SEP0011223344D2", &u, "1005", "54321");
    assert!(other.text.contains("will be provisioned"), "{other:?}");
}

#[test]
fn every_outcome_code_reaches_the_screen_and_the_audit() {
    let f = fixture();
    let a = Actor::system();
    let expect = |device: &str, s: &Shown, code: OutcomeCode| {
        assert_eq!(s.prompt, code.as_str(), "{device}: {s:?}");
        assert_eq!(f.codes_for(device).last(), Some(&code), "{device}");
    };
    // NO_INPUT: nothing typed. CANCELLED: Exit at the confirmation.
    let t = f.phone("SEP0011223344E1", "Cisco 8845");
    expect(
        "SEP0011223344E1",
        &f.login("SEP0011223344E1", &t, "", ""),
        OutcomeCode::NoInput,
    );
    let c = f.login("SEP0011223344E1", &t, "1004", "12345");
    expect(
        "SEP0011223344E1",
        &f.press("SEP0011223344E1", &t, &c.urls[1]),
        OutcomeCode::Cancelled,
    );
    // SELFPROV_NOT_ALLOWED: the user is disabled.
    let patch = |p: UserPatch| f.ops.update_user(&a, "mdupont", &p).unwrap();
    patch(UserPatch {
        enabled: Some(false),
        ..Default::default()
    });
    let t = f.phone("SEP0011223344E2", "Cisco 8845");
    expect(
        "SEP0011223344E2",
        &f.login("SEP0011223344E2", &t, "1005", "54321"),
        OutcomeCode::SelfprovNotAllowed,
    );
    // NO_PRIMARY_EXTENSION.
    patch(UserPatch {
        enabled: Some(true),
        self_service_id: Some("1005".into()),
        primary_extension: Some(String::new()),
        ..Default::default()
    });
    expect(
        "SEP0011223344E2",
        &f.login("SEP0011223344E2", &t, "1005", "54321"),
        OutcomeCode::NoPrimaryExtension,
    );
    // SECURE_DEVICE_NOT_SUPPORTED and INVALID_DEVICE_MODEL: told at the form already; at a
    // login too (audited).
    let t = f.phone("SEP0011223344E3", "Cisco 8845");
    let device = |p: DevicePatch| f.ops.update_device(&a, "SEP0011223344E3", &p).unwrap();
    device(DevicePatch {
        secure: Some(true),
        ..Default::default()
    });
    assert_eq!(
        f.show("SEP0011223344E3", &t, "", "").prompt,
        "SECURE_DEVICE_NOT_SUPPORTED"
    );
    expect(
        "SEP0011223344E3",
        &f.login("SEP0011223344E3", &t, "1004", "12345"),
        OutcomeCode::SecureDeviceNotSupported,
    );
    device(DevicePatch {
        secure: Some(false),
        model: Some("Cisco 9999".into()),
        ..Default::default()
    });
    expect(
        "SEP0011223344E3",
        &f.login("SEP0011223344E3", &t, "1004", "12345"),
        OutcomeCode::InvalidDeviceModel,
    );
    // MODEL_PHONETEMPLATE_NOT_FOUND: the profile has no template for desk phones.
    let profile = |p: ProfilePatch| f.ops.update_profile(&a, "Standard Employee", &p).unwrap();
    let udt = f.ops.profile("Standard Employee").unwrap().udt_desk_phone;
    profile(ProfilePatch {
        udt_desk_phone: Some(String::new()),
        ..Default::default()
    });
    let t = f.phone("SEP0011223344E4", "Cisco 8845");
    expect(
        "SEP0011223344E4",
        &f.login("SEP0011223344E4", &t, "1004", "12345"),
        OutcomeCode::ModelPhonetemplateNotFound,
    );
    // SELFPROV_DEVICE_LIMIT: one phone allowed, jsmith claims one, then another.
    profile(ProfilePatch {
        udt_desk_phone: udt.map(|u| u.to_string()),
        device_limit: Some(1),
        ..Default::default()
    });
    let t5 = f.phone("SEP0011223344E5", "Cisco 8845");
    assert_eq!(
        f.claim("SEP0011223344E5", &t5, "1004", "12345").prompt,
        "SUCCESS"
    );
    expect(
        "SEP0011223344E4",
        &f.login("SEP0011223344E4", &t, "1004", "12345"),
        OutcomeCode::SelfprovDeviceLimit,
    );
    // INVALID_CREDENTIALS, ACCOUNT_LOCKED: `wrong_pins_lock…`; NOT_AUTOREGISTERED: `a_phone_claims…`.
}

#[test]
fn each_vendor_gets_its_browsers_xml_and_the_phone_its_language() {
    let mut f = fixture();
    let langs = ["en_US", "fr_FR", "de_DE"]
        .map(|l| l.parse().unwrap())
        .to_vec();
    f.settings.self_provisioning.languages = LanguagePreference::new(langs).unwrap();
    let y = f.phone("SEP0011223344F1", "Yealink T46U");
    assert_eq!(
        f.show("SEP0011223344F1", &y, "", "").root,
        "YealinkIPPhoneInputScreen"
    );
    let c = shown(f.ask(
        "SEP0011223344F1",
        &y,
        "submit",
        "user=1004&pin=12345",
        Some("fr-FR,fr;q=0.9"),
    ));
    assert_eq!(c.root, "YealinkIPPhoneTextScreen");
    // Yealink has no status line: the prompt is under the text.
    assert_eq!(
        c.text,
        "Ce téléphone sera approvisionné avec le poste 1004.\nAppuyez sur Continuer pour confirmer"
    );
    let s = f.phone("SEP0011223344F2", "Snom D785");
    let form = shown(f.ask("SEP0011223344F2", &s, "", "", Some("de")));
    assert_eq!(form.root, "SnomIPPhoneText");
    // Snom D785 is not among the models selfprov provisions: told so, in German.
    assert_eq!(form.prompt, "INVALID_DEVICE_MODEL");
    assert_eq!(
        form.text,
        "Dieses Telefonmodell kann nicht eingerichtet werden."
    );
    // Polycom's microbrowser: XHTML, served as such.
    let p = f.phone("SEP0011223344F3", "Polycom VVX 450");
    let page = f.ask("SEP0011223344F3", &p, "", "", None);
    let Reply::Screen(_, content_type) = &page else {
        panic!("{page:?}")
    };
    assert!(content_type.starts_with("application/xhtml+xml"));
    let form = shown(page);
    assert_eq!(form.root, "html");
    // A family without screens here, a page that does not exist, the on-screen claim off.
    let g = f.phone("SEP0011223344F4", "Grandstream GXP2170");
    assert_eq!(f.ask("SEP0011223344F4", &g, "", "", None), Reply::NotFound);
    assert_eq!(
        f.ask("SEP0011223344F1", &y, "nothing", "", None),
        Reply::NotFound
    );
    let off = f.ask_with(None, "SEP0011223344F1", &y, "", "", None);
    assert_eq!(off, Reply::NotFound);
}

#[test]
fn off_in_the_configuration_or_without_a_url_there_are_no_screens_and_no_idle_url() {
    let text = selfprov_config::SAMPLE.replace("screen_claim = true", "screen_claim = false");
    let cfg = selfprov_config::Config::from_toml(&text, Path::new("/etc/selfprov/selfprov.toml"))
        .unwrap();
    assert!(Settings::of(&cfg, "http://192.0.2.10:6970").is_none());
    let view =
        crate::phone_config::view(&cfg, selfprov_phoneconfig::Templates::shipped(), "http://h");
    assert!(view.screen.is_none() && view.server.idle_url_base.is_none());
    let cfg = selfprov_config::Config::from_toml(
        selfprov_config::SAMPLE,
        Path::new("/etc/selfprov/selfprov.toml"),
    )
    .unwrap();
    assert!(Settings::of(&cfg, "").is_none());
    let view = crate::phone_config::view(
        &cfg,
        selfprov_phoneconfig::Templates::shipped(),
        "http://h/",
    );
    assert_eq!(
        view.server.idle_url_base.as_deref(),
        Some("http://h/screen")
    );
}
