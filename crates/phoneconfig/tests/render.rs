//! The shipped templates render, for an auto-registered and a claimed phone of every family, to
//! exactly the golden files in `tests/golden/` (`UPDATE_GOLDEN=1` rewrites them after a deliberate
//! change: review the diff), every file parses in its format, values are escaped, and the
//! administrator's overrides apply most specific first.

use selfprov_phoneconfig::context::samples;
use selfprov_phoneconfig::{Family, Mac, Templates};
use selfprov_testkit::TempDir;
use std::path::Path;

fn golden_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// Key = value lines (Yealink): every line a comment, blank, the version header, or `key = value`.
fn assert_key_values(text: &str) {
    for (i, l) in text.lines().enumerate() {
        let ok = l.is_empty()
            || l.starts_with('#')
            || l.split_once(" = ")
                .is_some_and(|(k, _)| !k.is_empty() && !k.contains(' '));
        assert!(ok, "line {}: {l:?}", i + 1);
    }
}

#[test]
fn every_family_renders_to_its_golden_files_and_parses() {
    let t = Templates::shipped();
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut checked = 0;
    for family in Family::ALL {
        for (template, secret) in family.templates() {
            for (state, ctx) in ["autoregistered", "claimed"].into_iter().zip(samples()) {
                let r = t
                    .render(
                        family,
                        template,
                        "Sample",
                        ctx.device.as_ref().map(|d| d.name.as_str()),
                        &ctx,
                    )
                    .unwrap();
                assert_eq!(r.source, format!("shipped:{family}/{template}"));
                let path = golden_dir().join(format!("{family}/{template}.{state}"));
                if update {
                    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                    std::fs::write(&path, &r.text).unwrap();
                }
                let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
                    panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display())
                });
                assert_eq!(
                    r.text,
                    want,
                    "{family}/{template} ({state}) differs from {}",
                    path.display()
                );
                // The same inputs give the same bytes (phones reboot on a changed file).
                assert_eq!(
                    t.render(family, template, "Sample", None, &ctx)
                        .unwrap()
                        .text,
                    r.text
                );
                let line = ctx.line.as_ref().unwrap();
                assert_eq!(
                    r.text.contains(&line.password),
                    *secret,
                    "{family}/{template}: secret present = {secret}"
                );
                match family {
                    Family::Yealink => assert_key_values(&r.text),
                    Family::Baresip => {}
                    _ => {
                        roxmltree::Document::parse(&r.text)
                            .unwrap_or_else(|e| panic!("{family}/{template}: {e}"));
                    }
                }
                if *secret {
                    assert!(
                        r.text.contains(&line.number) && r.text.contains(&line.auth_user),
                        "{family}/{template}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 22);
}

#[test]
fn an_auto_registered_phone_gets_the_route_point_key_and_idle_url_a_claimed_one_does_not() {
    let t = Templates::shipped();
    let [auto, claimed] = samples();
    let cisco = |ctx| {
        t.render(Family::Cisco, "device.cnf.xml", "Cisco 8845", None, ctx)
            .unwrap()
            .text
    };
    let a = cisco(&auto);
    assert!(
        a.contains("<speedDialNumber>2000</speedDialNumber>")
            && a.contains("Dial 2000 to assign an extension"),
        "{a}"
    );
    assert!(
        a.contains("<idleURL>http://192.0.2.10:6970/screen/SEP001122AABBCC/0123456789abcdef0123456789abcdef</idleURL>"),
        "{a}"
    );
    let c = cisco(&claimed);
    assert!(
        !c.contains("speedDialNumber")
            && c.contains("<name>1004</name>")
            && c.contains("<displayName>John Smith</displayName>"),
        "{c}"
    );
    assert!(c.contains("<idleURL></idleURL>"));
    // Yealink: an idle-screen soft key opening the XML browser at the idle URL, reset once claimed.
    let yealink = |ctx| {
        t.render(Family::Yealink, "device.cfg", "Yealink T46U", None, ctx)
            .unwrap()
            .text
    };
    let a = yealink(&auto);
    assert!(
        a.contains("programablekey.2.type = 27\n")
            && a.contains("programablekey.2.value = http://192.0.2.10:6970/screen/SEP001122AABBCC/0123456789abcdef0123456789abcdef\n"),
        "{a}"
    );
    let c = yealink(&claimed);
    assert!(c.contains("programablekey.2.type = %NULL%\n") && !c.contains("/screen/"), "{c}");
}

#[test]
fn values_are_escaped_for_each_format() {
    let t = Templates::shipped();
    let [mut ctx, _] = samples();
    if let Some(l) = ctx.line.as_mut() {
        // U+FFFF and NUL are not XML characters: dropped, the file stays well-formed.
        l.display_name = "A&B <Sales> \"x\"\u{FFFF}\u{0}".into();
        l.label = "two\nlines = injected".into();
    }
    let xml = t
        .render(Family::Cisco, "device.cnf.xml", "Cisco 8845", None, &ctx)
        .unwrap()
        .text;
    let doc = roxmltree::Document::parse(&xml).unwrap();
    let shown = doc
        .descendants()
        .find(|n| n.has_tag_name("displayName"))
        .and_then(|n| n.text())
        .unwrap();
    assert_eq!(shown, "A&B <Sales> \"x\"");
    let cfg = t
        .render(Family::Yealink, "device.cfg", "Yealink T46U", None, &ctx)
        .unwrap()
        .text;
    assert!(
        cfg.contains("account.1.label = two lines = injected\n"),
        "{cfg}"
    );
    assert!(
        !cfg.lines().any(|l| l.starts_with("lines")),
        "a newline in a value must not start a key: {cfg}"
    );
}

/// Write an override file (and its folders).
fn write(dir: &TempDir, rel: &str, text: &str) {
    let p = dir.path().join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

#[test]
fn overrides_apply_per_device_then_model_then_family() {
    let dir = TempDir::new("tpl-override");
    let w = |rel: &str, text: &str| write(&dir, rel, text);
    w(
        "yealink/device.cfg",
        "#!version:1.0.0.1\nfamily = {{ line.number }}\n",
    );
    w(
        "yealink/models/yealink-t46u/device.cfg",
        "#!version:1.0.0.1\nmodel = {{ line.number }}\n",
    );
    w(
        "yealink/devices/SEP001122AABBCC/device.cfg",
        "#!version:1.0.0.1\ndevice = {{ line.number }}\n",
    );
    let t = Templates::load(dir.path()).unwrap();
    let [ctx, _] = samples();
    let r = |model: &str, device: Option<&str>| {
        t.render(Family::Yealink, "device.cfg", model, device, &ctx)
            .unwrap()
    };
    assert_eq!(
        r("Yealink T46U", Some("SEP001122AABBCC")).text,
        "#!version:1.0.0.1\ndevice = 1000\n"
    );
    assert_eq!(
        r("Yealink T46U", Some("SEP0000000000AA")).text,
        "#!version:1.0.0.1\nmodel = 1000\n"
    );
    let fam = r("Yealink T54W", None);
    assert_eq!(
        (fam.text.as_str(), fam.source.as_str()),
        ("#!version:1.0.0.1\nfamily = 1000\n", "yealink/device.cfg")
    );
    // Other families are untouched.
    assert!(t
        .render(Family::Cisco, "device.cnf.xml", "Cisco 8845", None, &ctx)
        .unwrap()
        .source
        .starts_with("shipped:"));
    assert!(t.check().is_empty(), "{:?}", t.check());
}

#[test]
fn broken_overrides_are_reported_with_file_and_line() {
    let dir = TempDir::new("tpl-broken");
    let w = |rel: &str, text: &str| write(&dir, rel, text);
    w(
        "cisco/device.cnf.xml",
        "<device>\n<name>{{ line.number }</name>\n</device>\n",
    );
    w("snom/phone.xml", "x");
    w("acme/device.cfg", "x");
    let problems = Templates::load(dir.path()).unwrap_err();
    let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
    assert!(
        text.iter()
            .any(|p| p.starts_with("cisco/device.cnf.xml:2: syntax error")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|p| p.starts_with("snom/phone.xml: `phone.xml` is not a snom template")),
        "{text:?}"
    );
    assert!(
        text.iter()
            .any(|p| p.starts_with("acme/device.cfg: not under a family folder")),
        "{text:?}"
    );
    // Loads, but renders wrong: an unknown variable, and XML that is not well-formed.
    let dir = TempDir::new("tpl-render");
    std::fs::create_dir_all(dir.path().join("grandstream")).unwrap();
    std::fs::write(
        dir.path().join("grandstream/device.xml"),
        "<a>\n{{ line.nmber }}</a>\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("linphone")).unwrap();
    std::fs::write(dir.path().join("linphone/device.xml"), "<a><b></a>\n").unwrap();
    let t = Templates::load(dir.path()).unwrap();
    let problems: Vec<String> = t.check().iter().map(|p| p.to_string()).collect();
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("grandstream/device.xml:2: undefined value")),
        "{problems:?}"
    );
    assert!(
        problems
            .iter()
            .any(|p| p.starts_with("linphone/device.xml: renders to XML that is not well-formed")),
        "{problems:?}"
    );
    assert!(Templates::shipped().check().is_empty());
    let mac: Mac = "001122aabbcc".parse().unwrap();
    assert_eq!(
        Family::Polycom.file_name("device.cfg", &mac),
        "001122aabbcc-selfprov.cfg"
    );
}
