#![no_main]
//! Whatever names and descriptions the database holds, every shipped file renders: the XML ones
//! stay well-formed (the renderer checks), and the key = value ones keep their lines (a value
//! cannot add a setting).
use libfuzzer_sys::fuzz_target;
use selfprov_phoneconfig::context::samples;
use selfprov_phoneconfig::{Context, Family, Templates};

fn with_values(base: &Context, v: &[&str]) -> Context {
    let mut c = base.clone();
    if let Some(d) = c.device.as_mut() {
        d.description = v[0].to_owned();
        d.model = v[1].to_owned();
    }
    if let Some(l) = c.line.as_mut() {
        l.display_name = v[2].to_owned();
        l.label = v[3].to_owned();
    }
    if let Some(u) = c.user.as_mut() {
        u.first_name = v[4].to_owned();
        u.last_name = v[5].to_owned();
    }
    if let Some(u) = c.udt.as_mut() {
        u.name = v[6].to_owned();
    }
    c.route_point.label = v[7].to_owned();
    c
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut hostile: Vec<&str> = text.split('\u{1}').collect();
    hostile.resize(8, "");
    // The same shape with harmless values: empty stays empty, anything else becomes "x".
    let benign: Vec<&str> = hostile
        .iter()
        .map(|v| if v.is_empty() { "" } else { "x" })
        .collect();
    let t = Templates::shipped();
    for base in samples() {
        let (h, b) = (with_values(&base, &hostile), with_values(&base, &benign));
        for family in Family::ALL {
            for (template, _) in family.templates() {
                let model = h
                    .device
                    .as_ref()
                    .map(|d| d.model.clone())
                    .unwrap_or_default();
                let r = t.render(family, template, &model, None, &h);
                let r = r.unwrap_or_else(|p| panic!("{family}/{template}: {p}"));
                if matches!(family, Family::Yealink | Family::Baresip) {
                    let plain = t.render(family, template, "x", None, &b).unwrap();
                    assert_eq!(
                        r.text.lines().count(),
                        plain.text.lines().count(),
                        "{family}/{template}:\n{}",
                        r.text
                    );
                }
            }
        }
    }
});
