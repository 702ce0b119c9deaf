//! Every screen of the on-screen claim in every vendor's XML is exactly its golden file in
//! `tests/golden/screen/<vendor>/` (`UPDATE_GOLDEN=1` rewrites them after a deliberate change:
//! review the diff), every screen of every outcome in every language is well-formed XML showing
//! the outcome's text and code, and values are escaped.

use super::screen::{self, Screen, Urls};
use super::texts::{self, EN_US};
use super::xml::{render, Vendor};
use selfprov_provisioning::OutcomeCode;
use std::path::PathBuf;

fn urls() -> Urls {
    Urls {
        base: "http://192.0.2.10:6970/screen/SEP001122AABBCC/0123456789abcdef0123456789abcdef"
            .into(),
    }
}

fn golden(vendor: Vendor, name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/screen")
        .join(vendor.name())
        .join(format!("{name}.xml"))
}

/// The screens a user sees, by name.
fn screens() -> Vec<(&'static str, Screen)> {
    let u = urls();
    vec![
        ("login", screen::login(&EN_US, &u, true)),
        (
            "confirm",
            screen::confirm(&EN_US, &u, "1004", "user=jsmith&until=1700000300&sig=00ff"),
        ),
        (
            "success",
            screen::outcome(&EN_US, &u, OutcomeCode::Success, "1004"),
        ),
        (
            "invalid_credentials",
            screen::outcome(&EN_US, &u, OutcomeCode::InvalidCredentials, ""),
        ),
        (
            "device_limit",
            screen::outcome(&EN_US, &u, OutcomeCode::SelfprovDeviceLimit, ""),
        ),
        ("try_later", screen::try_later(&EN_US)),
    ]
}

#[test]
fn every_screen_of_every_vendor_is_its_golden_file() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut checked = 0;
    for vendor in Vendor::ALL {
        for (name, s) in screens() {
            let xml = render(vendor, &s);
            roxmltree::Document::parse(&xml).unwrap_or_else(|e| panic!("{name}: {e}\n{xml}"));
            let path = golden(vendor, name);
            if update {
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &xml).unwrap();
            }
            let want = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
            assert_eq!(xml, want, "{} differs", path.display());
            checked += 1;
        }
    }
    assert_eq!(checked, 24);
}

/// The text of the first element named `tag` (any depth); in Polycom's XHTML, of the element
/// whose class is `tag` in lower case (`Text` → `class="text"`, `Prompt` → `class="status"`).
fn text_of(doc: &roxmltree::Document<'_>, tag: &str) -> Option<String> {
    let class = match tag {
        "Prompt" => "status".to_owned(),
        t => t.to_ascii_lowercase(),
    };
    doc.descendants()
        .find(|n| n.has_tag_name(tag) || n.attribute("class") == Some(class.as_str()))
        .map(|n| n.text().unwrap_or("").to_owned())
}

/// Every URL a screen leads to: its keys' and form's (`URL`/`URI` elements, XHTML links and
/// form actions).
fn urls_of<'a>(doc: &'a roxmltree::Document<'_>) -> Vec<&'a str> {
    doc.descendants()
        .filter_map(|n| {
            if n.has_tag_name("URL") || n.has_tag_name("URI") {
                n.text()
            } else {
                n.attribute("href").or(n.attribute("action"))
            }
        })
        .collect()
}

#[test]
fn every_outcome_in_every_language_and_vendor_shows_its_text_and_code() {
    for t in texts::ALL {
        for code in OutcomeCode::ALL {
            for vendor in Vendor::ALL {
                let xml = render(vendor, &screen::outcome(t, &urls(), code, "1004"));
                let doc = roxmltree::Document::parse(&xml)
                    .unwrap_or_else(|e| panic!("{vendor:?} {code} {}: {e}", t.language));
                let body = text_of(&doc, "Text").unwrap();
                let shown = match code {
                    OutcomeCode::AccountLocked => OutcomeCode::InvalidCredentials,
                    c => c,
                };
                assert!(
                    body.starts_with(&t.outcome(shown).replace("{ext}", "1004")),
                    "{vendor:?} {code} {}: {body}",
                    t.language
                );
                // The code on the status line (Yealink has none: under the text).
                let status = text_of(&doc, "Prompt").unwrap_or(body);
                assert!(status.contains(shown.as_str()), "{vendor:?} {code}: {xml}");
            }
        }
    }
}

#[test]
fn values_are_escaped_and_urls_keep_their_query() {
    let u = Urls {
        base: "http://h/screen/SEP1/t".into(),
    };
    let s = screen::confirm(&EN_US, &u, "<1004&>", "user=a%26b&until=1&sig=2");
    for vendor in Vendor::ALL {
        let xml = render(vendor, &s);
        let doc = roxmltree::Document::parse(&xml).unwrap();
        assert!(text_of(&doc, "Text").unwrap().contains("<1004&>"), "{xml}");
        let urls = urls_of(&doc);
        assert!(
            urls.contains(&"http://h/screen/SEP1/t/confirm?user=a%26b&until=1&sig=2"),
            "{vendor:?}: {urls:?}"
        );
    }
    // Snom's form puts each input where its token stands in the URL.
    let xml = render(Vendor::Snom, &screen::login(&EN_US, &u, true));
    assert!(
        xml.contains(
            "<URL>http://h/screen/SEP1/t/submit?user=__SP0__&amp;pin=__SP1__&amp;code=__SP2__</URL>"
        ),
        "{xml}"
    );
}
