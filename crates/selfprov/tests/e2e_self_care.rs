//! The self-care portal in a real browser (`common/browser.rs`) against a running service with
//! the demo data: jsmith's phone claimed 1004 through the IVR. jsmith logs in with the
//! self-service ID and PIN, sees the phone (model, MAC, extension, registered now) in English
//! and in French, sees the activation code an administrator issued for a phone prepared for them
//! (the digits and a QR code), releases the phone — and the phone follows: NOTIFY check-sync, a new file, registered
//! again on a temporary DN — changes the PIN (a mismatch named beside its field, then the new PIN
//! logs in and the old does not), and types wrong PINs until the portal says the account is
//! locked. The audit has each step by `self-care:jsmith@127.0.0.1`.
//!
//! `SELFPROV_SCREENSHOTS=1` saves the pages to `docs/img/self-care-*.png` (docs/self-care.md).

mod common;

use common::api::{account, Client as Api};
use common::boot::*;
use common::browser::*;
use common::*;
use fantoccini::Client;

const PHONE_MAC: &str = "0A1B2C0000C1";

async fn log_in(c: &Client, id: &str, pin: &str) {
    el(c, "#login-form").await;
    fill(c, "#login-form", "self_service_id", id).await;
    fill(c, "#login-form", "pin", pin).await;
    submit(c, "#login-form").await;
}

async fn log_out(c: &Client) {
    el(c, "#logout").await.click().await.unwrap();
    el(c, "#login-form").await;
}

async fn user_story(c: Client, port: u16, code: String) {
    let device = format!("SEP{PHONE_MAC}");
    c.goto(&format!("http://127.0.0.1:{port}/self-care/"))
        .await
        .unwrap();
    el(&c, "#login-form").await;
    screenshot(&c, "self-care-login").await;
    log_in(&c, "1004", "12345").await;
    page(&c, "My phones").await;
    text_of(&c, "#who", "John Smith").await;
    let card = format!("li.phone[data-device=\"{device}\"]");
    let shown = text_of(&c, &card, "1004").await;
    for fact in ["0a:1b:2c:00:00:c1", "Registered now, from 127.0.0.1"] {
        assert!(shown.contains(fact), "{fact} not in {shown}");
    }
    assert!(
        cookie(&c, "selfprov_session").await.is_none(),
        "an administrator's cookie"
    );
    screenshot(&c, "self-care-phones").await;
    // The same page on a phone-sized screen.
    c.set_window_size(390, 844).await.unwrap();
    text_of(&c, &card, "1004").await;
    screenshot(&c, "self-care-phones-narrow").await;
    c.set_window_size(1366, 768).await.unwrap();
    // In French, and back.
    el(&c, "#language")
        .await
        .select_by_value("fr")
        .await
        .unwrap();
    page(&c, "Mes téléphones").await;
    text_of(&c, &card, "Poste").await;
    el(&c, "#language")
        .await
        .select_by_value("en")
        .await
        .unwrap();
    page(&c, "My phones").await;

    // The phone an administrator prepared: its code, grouped as printed, and its QR code.
    el(&c, "#nav a[data-route=codes]")
        .await
        .click()
        .await
        .unwrap();
    page(&c, "Activation codes").await;
    let grouped = format!(
        "{} {} {} {}",
        &code[..4],
        &code[4..8],
        &code[8..12],
        &code[12..]
    );
    text_of(&c, "li.code .digits", &grouped).await;
    text_of(&c, "li.code h2", "SEP0A1B2C0000C9").await;
    el(&c, "li.code .qr svg").await;
    screenshot(&c, "self-care-codes").await;
    el(&c, "#nav a[data-route=phones]")
        .await
        .click()
        .await
        .unwrap();
    page(&c, "My phones").await;

    // Release: asked first, then done; the page says where the phone went.
    el(&c, &format!("{card} button.release"))
        .await
        .click()
        .await
        .unwrap();
    let question = text_of(&c, &format!("{card} .confirm"), "temporary number").await;
    assert!(question.contains(&device), "{question}");
    screenshot(&c, "self-care-release").await;
    el(&c, &format!("{card} .confirm button.danger"))
        .await
        .click()
        .await
        .unwrap();
    text_of(&c, "#alert", "was released").await;
    text_of(&c, "main", "You have no phones.").await;

    // PIN: a mismatch is named beside its field; then the change.
    el(&c, "#nav a[data-route=pin]")
        .await
        .click()
        .await
        .unwrap();
    page(&c, "Change my PIN").await;
    for (k, v) in [
        ("old_pin", "12345"),
        ("new_pin", "13579"),
        ("new_pin_again", "13570"),
    ] {
        fill(&c, "#pin-form", k, v).await;
    }
    submit(&c, "#pin-form").await;
    text_of(&c, "#pin-form .field-error", "does not match").await;
    let again = el(&c, "#pin-form [name=new_pin_again]").await;
    assert_eq!(
        again.attr("aria-invalid").await.unwrap().as_deref(),
        Some("true")
    );
    screenshot(&c, "self-care-pin").await;
    fill(&c, "#pin-form", "new_pin_again", "13579").await;
    submit(&c, "#pin-form").await;
    text_of(&c, "#alert", "Your PIN was changed").await;
    log_out(&c).await;
    // The old PIN no longer logs in; the new one does.
    log_in(&c, "1004", "12345").await;
    text_of(&c, "#alert", "not valid").await;
    log_in(&c, "1004", "13579").await;
    page(&c, "My phones").await;
    log_out(&c).await;

    // Wrong PINs until the lockout (the sample policy: 5 from one place), said plainly.
    for _ in 0..4 {
        log_in(&c, "1004", "00000").await;
        text_of(&c, "#alert", "not valid").await;
    }
    log_in(&c, "1004", "00000").await;
    text_of(&c, "#alert", "locked").await;
    // The right PIN is refused too while locked.
    log_in(&c, "1004", "13579").await;
    text_of(&c, "#alert", "locked").await;
    assert!(
        el(&c, "#nav").await.attr("hidden").await.unwrap().is_some(),
        "no navigation while logged out"
    );
    screenshot(&c, "self-care-locked").await;
}

#[test]
fn self_care_in_a_browser() {
    let s = config("e2e-self-care");
    // The story logs in and changes things a dozen times within a minute, from one address.
    s.edit("# logins_per_minute = 10", "logins_per_minute = 60");
    let (_svc, _err) = start_service(&s);
    cli_ok(&s, &["demo", "load"]);
    // jsmith's phone: claimed 1004 through the IVR, then follows one more check-sync.
    let phone = boot(
        &s,
        "cisco",
        PHONE_MAC,
        &["--digits", "1004#12345#1", "--syncs", "2"],
    );
    phone.registered("1004");
    let issued = cli(
        &s,
        &[
            "activation",
            "issue",
            "jsmith",
            "--device",
            "SEP0A1B2C0000C9",
            "--json",
        ],
    );
    let code = issued["code"].as_str().expect("the code").to_owned();
    let port = s.admin_port;
    in_browser("e2e-self-care", move |c| user_story(c, port, code));

    // The phone followed the release: check-sync, and registered again on the temporary DN.
    let d = device(&s, &phone.device).expect("the device");
    assert!(
        d["owner"].is_null() && d["auto_registered"] == true,
        "{d:#}"
    );
    let dn = d["dn"].as_str().unwrap();
    assert_ne!(dn, "1004");
    let r = phone.report();
    assert_eq!(r["outcome"], "registered", "{r}");
    assert_eq!(r["check_syncs"], 2, "{r}");
    let last = *steps(&r, "register").last().unwrap();
    assert_eq!(
        (last["dn_before"].as_str(), last["dn"].as_str()),
        (Some("1004"), Some(dn)),
        "{r}"
    );

    // Each step is in the audit, by the user and the address.
    let api = Api::token(s.admin_port, &account(&s, "op", "read-only"));
    let audit = api.get("/audit?actor=self-care&limit=100").json();
    let entries = audit.as_array().expect("audit entries");
    let did = |action: &str, actor: &str| {
        entries
            .iter()
            .any(|e| e["action"] == action && e["actor"] == actor)
    };
    let me = "self-care:jsmith@127.0.0.1";
    assert!(did("self_care_login", me), "{audit:#}");
    assert!(did("release", me), "{audit:#}");
    assert!(did("change_pin", me), "{audit:#}");
    assert!(did("self_care_login", "self-care:@127.0.0.1"), "{audit:#}");
    assert!(
        entries.iter().any(|e| e["code"] == "ACCOUNT_LOCKED"),
        "{audit:#}"
    );
}
