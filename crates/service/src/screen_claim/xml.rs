//! The screens in each vendor's XML: Cisco's XML services (`CiscoIPPhoneInput`,
//! `CiscoIPPhoneText`), Yealink's XML browser (`YealinkIPPhoneInputScreen`,
//! `YealinkIPPhoneTextScreen`), Snom's minibrowser (`SnomIPPhoneInput`, `SnomIPPhoneText`) and
//! Polycom's microbrowser (XHTML, [`super::xhtml`]). Every text and URL is escaped.

use super::screen::{Field, Screen, SoftKey, Target};
use std::fmt::Write as _;

/// The phones whose browsers the on-screen claim speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Vendor {
    Cisco,
    Yealink,
    Snom,
    Polycom,
}

impl Vendor {
    #[cfg(test)]
    pub const ALL: [Vendor; 4] = [
        Vendor::Cisco,
        Vendor::Yealink,
        Vendor::Snom,
        Vendor::Polycom,
    ];

    pub fn of_family(f: selfprov_phoneconfig::Family) -> Option<Vendor> {
        use selfprov_phoneconfig::Family;
        match f {
            Family::Cisco => Some(Vendor::Cisco),
            Family::Yealink => Some(Vendor::Yealink),
            Family::Snom => Some(Vendor::Snom),
            Family::Polycom => Some(Vendor::Polycom),
            _ => None,
        }
    }

    #[cfg(test)]
    pub fn name(self) -> &'static str {
        match self {
            Vendor::Cisco => "cisco",
            Vendor::Yealink => "yealink",
            Vendor::Snom => "snom",
            Vendor::Polycom => "polycom",
        }
    }

    /// What the page is served as.
    pub fn content_type(self) -> &'static str {
        match self {
            Vendor::Polycom => super::xhtml::CONTENT_TYPE,
            _ => "text/xml; charset=utf-8",
        }
    }
}

/// XML text or attribute value.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if c.is_control() && c != '\n' => {}
            c => out.push(c),
        }
    }
    out
}

/// `screen` as `vendor`'s browser reads it.
pub(crate) fn render(vendor: Vendor, screen: &Screen) -> String {
    let mut x = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    match (vendor, screen) {
        (Vendor::Cisco, Screen::Input { url, .. }) => {
            input(&mut x, "CiscoIPPhoneInput", screen, url, cisco_item)
        }
        (Vendor::Cisco, Screen::Text { .. }) => text(&mut x, "CiscoIPPhoneText", screen, cisco_key),
        (Vendor::Yealink, Screen::Input { .. }) => yealink_input(&mut x, screen),
        (Vendor::Yealink, Screen::Text { .. }) => yealink_text(&mut x, screen),
        (Vendor::Snom, Screen::Input { url, fields, .. }) => input(
            &mut x,
            "SnomIPPhoneInput",
            screen,
            &snom_url(url, fields),
            snom_item,
        ),
        (Vendor::Snom, Screen::Text { .. }) => text(&mut x, "SnomIPPhoneText", screen, snom_key),
        (Vendor::Polycom, _) => super::xhtml::render(&mut x, screen),
    }
    x
}

fn line(x: &mut String, indent: usize, tag: &str, text: &str) {
    let _ = writeln!(x, "{:indent$}<{tag}>{}</{tag}>", "", esc(text));
}

/// The phone's own exit key, in Cisco's and Yealink's URI scheme.
fn uri(t: &Target) -> &str {
    match t {
        Target::Url(u) => u,
        Target::Exit => "SoftKey:Exit",
    }
}

/// A form of Cisco's or Snom's shape: title, prompt, the URL, one `InputItem` per field.
fn input(x: &mut String, root: &str, s: &Screen, url: &str, item: fn(&mut String, usize, &Field)) {
    let Screen::Input {
        title,
        prompt,
        fields,
        ..
    } = s
    else {
        return;
    };
    let _ = writeln!(x, "<{root}>");
    line(x, 2, "Title", title);
    line(x, 2, "Prompt", prompt);
    line(x, 2, "URL", url);
    for (i, f) in fields.iter().enumerate() {
        x.push_str("  <InputItem>\n");
        item(x, i, f);
        x.push_str("  </InputItem>\n");
    }
    let _ = writeln!(x, "</{root}>");
}

/// A text of Cisco's or Snom's shape: title, prompt (the status line), text, the soft keys.
fn text(x: &mut String, root: &str, s: &Screen, key: fn(&mut String, usize, &SoftKey)) {
    let Screen::Text {
        title,
        prompt,
        text,
        keys,
    } = s
    else {
        return;
    };
    let _ = writeln!(x, "<{root}>");
    line(x, 2, "Title", title);
    line(x, 2, "Prompt", prompt);
    line(x, 2, "Text", text);
    for (i, k) in keys.iter().enumerate() {
        key(x, i, k);
    }
    let _ = writeln!(x, "</{root}>");
}

fn cisco_item(x: &mut String, _: usize, f: &Field) {
    line(x, 4, "DisplayName", f.label);
    line(x, 4, "QueryStringParam", f.param);
    line(x, 4, "DefaultValue", "");
    // N: numeric; P: masked as typed.
    line(x, 4, "InputFlags", if f.secret { "NP" } else { "N" });
}

fn cisco_key(x: &mut String, i: usize, k: &SoftKey) {
    x.push_str("  <SoftKeyItem>\n");
    line(x, 4, "Name", k.label);
    line(x, 4, "URL", uri(&k.target));
    line(x, 4, "Position", &(i + 1).to_string());
    x.push_str("  </SoftKeyItem>\n");
}

fn yealink_keys(x: &mut String, keys: &[SoftKey]) {
    for (i, k) in keys.iter().enumerate() {
        let _ = writeln!(x, "  <SoftKey index=\"{}\">", i + 1);
        line(x, 4, "Label", k.label);
        line(x, 4, "URI", uri(&k.target));
        x.push_str("  </SoftKey>\n");
    }
}

fn yealink_input(x: &mut String, s: &Screen) {
    let Screen::Input {
        title,
        url,
        fields,
        submit,
        ..
    } = s
    else {
        return;
    };
    x.push_str("<YealinkIPPhoneInputScreen type=\"string\" displayMode=\"normal\" defaultIndex=\"1\" destroyOnExit=\"yes\">\n");
    line(x, 2, "Title", title);
    line(x, 2, "URL", url);
    for f in fields {
        let _ = writeln!(
            x,
            "  <InputField type=\"number\" password=\"{}\">",
            if f.secret { "yes" } else { "no" }
        );
        line(x, 4, "Prompt", f.label);
        line(x, 4, "Parameter", f.param);
        line(x, 4, "Default", "");
        x.push_str("  </InputField>\n");
    }
    yealink_keys(
        x,
        &[SoftKey {
            label: submit,
            target: Target::Url("SoftKey:Submit".into()),
        }],
    );
    x.push_str("</YealinkIPPhoneInputScreen>\n");
}

fn yealink_text(x: &mut String, s: &Screen) {
    let Screen::Text {
        title,
        text,
        keys,
        prompt,
    } = s
    else {
        return;
    };
    x.push_str("<YealinkIPPhoneTextScreen destroyOnExit=\"yes\">\n");
    line(x, 2, "Title", title);
    // No status line: the code goes under the text.
    let body = if prompt.is_empty() {
        text.clone()
    } else {
        format!("{text}\n{prompt}")
    };
    line(x, 2, "Text", &body);
    yealink_keys(x, keys);
    x.push_str("</YealinkIPPhoneTextScreen>\n");
}

/// Snom puts each input into the URL where its token stands.
fn snom_token(i: usize) -> String {
    format!("__SP{i}__")
}

fn snom_url(url: &str, fields: &[Field]) -> String {
    let query: Vec<String> = (fields.iter().enumerate())
        .map(|(i, f)| format!("{}={}", f.param, snom_token(i)))
        .collect();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{}", query.join("&"))
}

fn snom_item(x: &mut String, i: usize, f: &Field) {
    line(x, 4, "DisplayName", f.label);
    line(x, 4, "InputToken", &snom_token(i));
    // n: digits; p: masked as typed.
    line(x, 4, "InputFlags", if f.secret { "p" } else { "n" });
    line(x, 4, "DefaultValue", "");
}

/// Context keys F1…; the phone's cancel key leaves the minibrowser (no key needed for Exit).
fn snom_key(x: &mut String, i: usize, k: &SoftKey) {
    if let Target::Url(u) = &k.target {
        x.push_str("  <SoftKeyItem>\n");
        line(x, 4, "Name", &format!("F{}", i + 1));
        line(x, 4, "Label", k.label);
        line(x, 4, "URL", u);
        x.push_str("  </SoftKeyItem>\n");
    }
}
