//! The web console in a real browser: headless Chromium from Debian driven over WebDriver
//! (`common/browser.rs`) against a running service. An administrator logs in, creates a user
//! (and sees a wrong field named beside its input), imports a CSV with a bad row and sees the
//! line error, then a good one with its progress, finds a phone by its MAC, sees its timeline,
//! releases it, finds the release in the audit, and logs out (the session is dead on the server
//! too). A helpdesk account sees no settings page, is refused it by address, and the API refuses
//! its settings change.
//!
//! `SELFPROV_SCREENSHOTS=1` saves the main pages to `docs/img/console-*.png` (docs/console.md).

mod common;

use common::api::{account, login, Client as Api, PASSWORD};
use common::browser::*;
use common::*;
use fantoccini::{Client, Locator};
use serde_json::json;

/// The console's session cookie, if the browser holds one.
async fn session_cookie(c: &Client) -> Option<String> {
    cookie(c, "selfprov_session").await
}

async fn log_in(c: &Client, name: &str) {
    el(c, "#login-form").await;
    fill(c, "#login-form", "name", name).await;
    fill(c, "#login-form", "password", PASSWORD).await;
    submit(c, "#login-form").await;
    page(c, "Dashboard").await;
    text_of(c, "#who", name).await;
}

struct World {
    port: u16,
    api: Api,
    device: String,
    dir: std::path::PathBuf,
}

async fn administrator_scenario(c: &Client, w: &World) {
    let base = format!("http://127.0.0.1:{}/", w.port);
    c.goto(&base).await.unwrap();
    log_in(c, "alice").await;
    // The Secure cookie was kept over plain HTTP on loopback, and a reload keeps the session.
    assert!(
        session_cookie(c).await.is_some(),
        "no session cookie in the browser"
    );
    c.refresh().await.unwrap();
    page(c, "Dashboard").await;
    text_of(c, ".readiness h2", "Ready").await;
    // The phone's claim is in the chart and among the recent outcomes.
    text_of(c, "main", "SUCCESS").await;
    el(c, "svg.chart rect.bar.ok").await;
    screenshot(c, "console-dashboard").await;

    // A new user; first with a wrong extension, named beside its input.
    nav(c, "users").await;
    page(c, "Users").await;
    el(c, "a[href=\"#/users/+new\"]")
        .await
        .click()
        .await
        .unwrap();
    page(c, "New user").await;
    for (k, v) in [
        ("user_id", "cwong"),
        ("first_name", "Carol"),
        ("last_name", "Wong"),
        ("primary_extension", "10x4"),
        ("pin", "24680"),
    ] {
        fill(c, "#user-form", k, v).await;
    }
    submit(c, "#user-form").await;
    text_of(c, "#user-form .field-error", "digits").await;
    let bad = el(c, "#user-form [name=primary_extension]").await;
    assert_eq!(
        bad.attr("aria-invalid").await.unwrap().as_deref(),
        Some("true")
    );
    text_of(c, "#alert", "primary_extension").await;
    fill(c, "#user-form", "primary_extension", "1010").await;
    submit(c, "#user-form").await;
    page(c, "User cwong").await;
    let u = w.api.get("/users/cwong");
    assert_eq!(u.status, 200, "{}", u.body);
    assert_eq!(
        (
            u.json()["last_name"].as_str(),
            u.json()["primary_extension"].as_str()
        ),
        (Some("Wong"), Some("1010"))
    );
    // Found by a wildcard search, server-side.
    nav(c, "users").await;
    fill(c, "form.search", "search", "*ong").await;
    submit(c, "form.search").await;
    text_of(c, "main table", "cwong").await;
    text_of(c, ".pager", "1–1 of 1").await;
    screenshot(c, "console-users").await;

    // Import: a file with a bad row is previewed with its line; nothing is written.
    let bad_csv = w.dir.join("bad.csv");
    std::fs::write(
        &bad_csv,
        "user_id,first_name,last_name,self_service_id,pin,primary_extension,user_profile\n\
         dlee,Dana,Lee,,13579,1020,\n\
         ebad,Eve,Bad,,12a4,1021,\n",
    )
    .unwrap();
    nav(c, "import").await;
    page(c, "Import users").await;
    let file = el(c, "#import-form input[type=file]").await;
    file.send_keys(bad_csv.to_str().unwrap()).await.unwrap();
    submit(c, "#import-form").await;
    let errors = text_of(c, "#import-errors", "3").await;
    assert!(errors.to_lowercase().contains("pin"), "{errors}");
    text_of(c, "#import-summary", "1 with errors").await;
    assert!(
        c.find_all(Locator::Css("#import-commit"))
            .await
            .unwrap()
            .is_empty(),
        "a file with errors offers no import"
    );
    screenshot(c, "console-import").await;
    assert_eq!(w.api.get("/users/dlee").status, 404, "the preview wrote");
    // The corrected file is imported, with its progress shown.
    let good_csv = w.dir.join("good.csv");
    std::fs::write(
        &good_csv,
        "user_id,first_name,last_name,self_service_id,pin,primary_extension,user_profile\n\
         dlee,Dana,Lee,,13579,1020,\n\
         ebad,Eve,Bad,,24681,1021,\n",
    )
    .unwrap();
    // A file input without `multiple` takes the new file in place of the old.
    let file = el(c, "#import-form input[type=file]").await;
    file.send_keys(good_csv.to_str().unwrap()).await.unwrap();
    submit(c, "#import-form").await;
    text_of(c, "#import-summary", "2 to create").await;
    el(c, "#import-commit").await.click().await.unwrap();
    text_of(c, "#import-done", "2 created").await;
    text_of(c, "#import-progress-label", "Done").await;
    assert_eq!(w.api.get("/users/dlee").status, 200);

    // Paging goes on with the list's cursor (a seek, however deep), Previous by offset.
    let many: String = (1..=55)
        .map(|i| {
            format!(
                "pager{i:02},Page,Number{i:02},,{},{},\n",
                20000 + i,
                5100 + i
            )
        })
        .collect();
    let imported = w.api.csv(
        "/import/users",
        &format!("user_id,first_name,last_name,self_service_id,pin,primary_extension,user_profile\n{many}"),
    );
    assert_eq!(imported.status, 200, "{}", imported.body);
    nav(c, "users").await;
    fill(c, "form.search", "search", "pager*").await;
    submit(c, "form.search").await;
    text_of(c, ".pager", "1–50 of 55").await;
    text_of(c, "main table", "pager50").await;
    el(c, ".pager a:last-child").await.click().await.unwrap();
    text_of(c, ".pager", "51–55 of 55").await;
    text_of(c, "main table", "pager55").await;
    let url = c.current_url().await.unwrap();
    assert!(
        url.fragment()
            .is_some_and(|f| f.contains("after=") && !f.contains("offset=")),
        "{url}"
    );
    assert!(
        c.find_all(Locator::Css(".pager a")).await.unwrap().len() == 1,
        "the last page offers no Next"
    );
    el(c, ".pager a").await.click().await.unwrap();
    text_of(c, ".pager", "1–50 of 55").await;

    // The phone, found by its MAC written with colons; its timeline has the claim.
    let mac = &w.device[3..];
    let pattern = format!("{}:{}:{}*", &mac[0..2], &mac[2..4], &mac[4..6]);
    nav(c, "devices").await;
    fill(c, "form.search", "search", &pattern).await;
    submit(c, "form.search").await;
    el(c, &format!("main table a[href=\"#/devices/{}\"]", w.device))
        .await
        .click()
        .await
        .unwrap();
    page(c, &format!("Device {}", w.device)).await;
    text_of(c, "#device-facts", "jsmith").await;
    text_of(c, "#timeline", "claim: SUCCESS").await;
    el(c, "#release").await.click().await.unwrap();
    text_of(c, "#device-facts", "auto-registered").await;
    text_of(c, "#timeline", "by api:alice").await;
    text_of(c, "#alert", "released").await;
    // The picture shows the actions and the timeline.
    c.execute(
        "document.getElementById('actions-h').scrollIntoView()",
        vec![],
    )
    .await
    .unwrap();
    screenshot(c, "console-devices").await;
    let d = w.api.get(&format!("/devices/{}", w.device)).json();
    assert!(
        d["owner"].is_null() && d["auto_registered"] == true,
        "{d:#}"
    );

    // The release, in the audit, filtered by the device.
    nav(c, "audit").await;
    page(c, "Audit").await;
    fill(c, "form.search", "device", &w.device).await;
    submit(c, "form.search").await;
    let audit = text_of(c, "main table", "release").await;
    assert!(audit.contains("api:alice"), "{audit}");
    screenshot(c, "console-audit").await;

    // Settings: the administrator sees them.
    nav(c, "settings").await;
    page(c, "Settings").await;
    el(c, "#settings-form [name=ivr_enabled]").await;
    screenshot(c, "console-settings").await;
    // A change is saved at run time (the page says so, the API shows it), then dropped again.
    el(c, "#settings-form [name=languages]").await;
    fill(c, "#settings-form", "languages", "en_US, fr_FR").await;
    submit(c, "#settings-form").await;
    text_of(c, "#alert", "Save successful").await;
    let languages = |api: &Api| {
        api.get("/settings").json()["settings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["name"] == "languages")
            .cloned()
            .unwrap()
    };
    let l = languages(&w.api);
    assert_eq!(
        (l["value"].clone(), l["source"].as_str()),
        (json!(["en_US", "fr_FR"]), Some("database"))
    );
    el(c, "#settings-reset").await.click().await.unwrap();
    text_of(c, "#alert", "Save successful").await;
    assert_eq!(languages(&w.api)["source"], "file");

    // Log out: back to the login, and the session is dead on the server too.
    let cookie = session_cookie(c).await.expect("a session cookie");
    el(c, "#logout").await.click().await.unwrap();
    el(c, "#login-form").await;
    let old = Api::anonymous(w.port).with("cookie", &format!("selfprov_session={cookie}"));
    assert_eq!(
        old.get("/session").status,
        401,
        "the session outlived logout"
    );
    assert!(session_cookie(c).await.is_none(), "the cookie stayed");
    c.goto(&format!("{base}#/users")).await.unwrap();
    el(c, "#login-form").await;
}

async fn helpdesk_scenario(c: &Client, w: &World) {
    c.goto(&format!("http://127.0.0.1:{}/", w.port))
        .await
        .unwrap();
    log_in(c, "harry").await;
    // No settings in the navigation, and refused by address.
    el(c, "#nav a[data-route=users]").await;
    assert!(
        c.find_all(Locator::Css("#nav a[data-route=settings]"))
            .await
            .unwrap()
            .is_empty(),
        "the helpdesk sees the settings page"
    );
    c.goto(&format!("http://127.0.0.1:{}/#/settings", w.port))
        .await
        .unwrap();
    text_of(c, "main .refused", "administrator role").await;
    assert!(c
        .find_all(Locator::Css("#settings-form"))
        .await
        .unwrap()
        .is_empty());
    // The helpdesk may still unlock a user, but not create one.
    c.goto(&format!("http://127.0.0.1:{}/#/users/cwong", w.port))
        .await
        .unwrap();
    page(c, "User cwong").await;
    el(c, "#unlock").await.click().await.unwrap();
    text_of(c, "#alert", "unlocked").await;
    nav(c, "users").await;
    page(c, "Users").await;
    let shown = text_of(c, "main", "jsmith").await;
    assert!(!shown.contains("null"), "{shown}");
    assert!(c
        .find_all(Locator::Css("a[href=\"#/users/+new\"]"))
        .await
        .unwrap()
        .is_empty());
}

#[test]
fn the_console_in_a_browser() {
    let s = config("e2e-console");
    let (_service, _err) = start_service(&s);
    let token = account(&s, "alice", "administrator");
    account(&s, "harry", "helpdesk");
    // A phone that claimed jsmith's line through the IVR: a device with a history.
    let (code, report) = phone(&s, &["--digits", "1004#12345#1"]);
    assert_eq!(code, 0, "{report:#}");
    let world = World {
        port: s.admin_port,
        api: Api::token(s.admin_port, &token),
        device: report["device"].as_str().unwrap().to_owned(),
        dir: s.dir.path().to_owned(),
    };
    // The API itself refuses the helpdesk's settings change, with a valid session and CSRF token.
    let (_, session) = login(s.admin_port, "harry", PASSWORD);
    let (cookie, csrf) = session.expect("a helpdesk session");
    let refused = Api::anonymous(s.admin_port)
        .with("cookie", &format!("selfprov_session={cookie}"))
        .with("x-csrf-token", &csrf)
        .json("PATCH", "/settings", &json!({"ivr_enabled": false}));
    assert_eq!(refused.status, 403, "{}", refused.body);

    in_browser("e2e-console", |c| async move {
        administrator_scenario(&c, &world).await;
        helpdesk_scenario(&c, &world).await;
    });
}
