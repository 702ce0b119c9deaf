//! `--screen`: the phone claims itself through its idle URL, as a Cisco phone's XML browser does
//! with the pages a person reads: it opens the idle URL, fills the `CiscoIPPhoneInput` form (the
//! masked input gets the PIN, the activation code field the code, the other the user ID — a
//! person fills one way or the other, the rest stays empty) and requests the form's URL with the
//! query string, then on a `CiscoIPPhoneText` presses the first soft key until a screen's status line
//! (`<Prompt>`) is an outcome code. The extension it is told is the number on the confirmation.

use crate::config_file::{element, get_url, xml_unescape, FetchError};

/// The user ID and PIN typed on screen, or an activation code in their place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreenLogin {
    pub user: String,
    pub pin: String,
    pub code: Option<String>,
}

/// The form's parameter of the activation code field.
const CODE_PARAM: &str = "code";

/// How the on-screen claim ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ScreenOutcome {
    /// `provisioned`, the outcome code shown in lower case (`selfprov_device_limit`…), or
    /// `unexpected_screen`.
    pub outcome: String,
    /// The extension the confirmation named.
    pub new_dn: Option<String>,
    /// The root element of each screen, in order.
    pub screens: Vec<String>,
}

/// More screens than a claim has: something loops.
const MAX_SCREENS: usize = 8;

/// Every `<tag>…</tag>` element's content in `xml`, in order.
fn elements<'a>(xml: &'a str, tag: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(j) = after.find(&close) else { break };
        out.push(&after[..j]);
        rest = &after[j + close.len()..];
    }
    out
}

/// The root element's name (after the XML declaration).
fn root(xml: &str) -> String {
    let body = xml.trim_start();
    let body = match body.strip_prefix("<?") {
        Some(rest) => rest.split_once("?>").map_or("", |(_, r)| r).trim_start(),
        None => body,
    };
    body.strip_prefix('<')
        .unwrap_or("")
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect()
}

/// A query-string value (form encoding).
fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The URL a filled `CiscoIPPhoneInput` leads to.
fn submit(xml: &str, login: &ScreenLogin) -> Option<String> {
    let url = xml_unescape(element(xml, "URL")?);
    let query: Vec<String> = elements(xml, "InputItem")
        .into_iter()
        .filter_map(|item| {
            let param = xml_unescape(element(item, "QueryStringParam")?);
            let masked = element(item, "InputFlags").is_some_and(|f| f.contains('P'));
            let empty = String::new();
            let value = match (&login.code, param == CODE_PARAM, masked) {
                (Some(code), true, _) => code,
                (Some(_), false, _) | (None, true, _) => &empty,
                (None, false, true) => &login.pin,
                (None, false, false) => &login.user,
            };
            Some(format!("{}={}", encode(&param), encode(value)))
        })
        .collect();
    let sep = if url.contains('?') { '&' } else { '?' };
    Some(format!("{url}{sep}{}", query.join("&")))
}

/// The URL of the soft key in position 1 (the first one listed if none says).
fn first_key(xml: &str) -> Option<String> {
    let keys = elements(xml, "SoftKeyItem");
    let key = keys
        .iter()
        .find(|k| element(k, "Position").map(str::trim) == Some("1"))
        .or(keys.first())?;
    Some(xml_unescape(element(key, "URL")?))
}

/// A status line that is an outcome code (`SUCCESS`, `SELFPROV_DEVICE_LIMIT`…).
fn outcome_code(prompt: &str) -> Option<&str> {
    let p = prompt.trim();
    (!p.is_empty() && p.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')).then_some(p)
}

/// Open `idle_url` and claim the phone on screen (blocking: one request after the other, as a
/// person reads and presses).
pub(super) fn claim(
    idle_url: &str,
    user_agent: &str,
    login: &ScreenLogin,
) -> Result<ScreenOutcome, FetchError> {
    let mut r = ScreenOutcome {
        outcome: "unexpected_screen".into(),
        new_dn: None,
        screens: Vec::new(),
    };
    let mut next = idle_url.to_owned();
    while r.screens.len() < MAX_SCREENS {
        let xml = get_url(&next, user_agent)?;
        let kind = root(&xml);
        r.screens.push(kind.clone());
        let follow = match kind.as_str() {
            "CiscoIPPhoneInput" => submit(&xml, login),
            "CiscoIPPhoneText" => {
                let prompt = element(&xml, "Prompt")
                    .map(xml_unescape)
                    .unwrap_or_default();
                if let Some(code) = outcome_code(&prompt) {
                    r.outcome = match code {
                        "SUCCESS" => "provisioned".into(),
                        c => c.to_ascii_lowercase(),
                    };
                    return Ok(r);
                }
                // The confirmation: the extension is the number in its text.
                let text = element(&xml, "Text").map(xml_unescape).unwrap_or_default();
                let digits: String = text
                    .split(|c: char| !c.is_ascii_digit())
                    .find(|w| !w.is_empty())
                    .unwrap_or("")
                    .to_owned();
                r.new_dn = (!digits.is_empty()).then_some(digits);
                first_key(&xml).filter(|u| u.starts_with("http://"))
            }
            _ => None,
        };
        match follow {
            Some(u) => next = u,
            None => return Ok(r),
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CiscoIPPhoneInput>\n<Title>T</Title>\
        <URL>http://h:1/screen/SEP1/t/submit</URL>\
        <InputItem><DisplayName>User ID</DisplayName><QueryStringParam>user</QueryStringParam><InputFlags>N</InputFlags></InputItem>\
        <InputItem><DisplayName>PIN</DisplayName><QueryStringParam>pin</QueryStringParam><InputFlags>NP</InputFlags></InputItem>\
        </CiscoIPPhoneInput>";

    #[test]
    fn fills_the_form_by_its_flags_and_presses_the_first_key() {
        let login = ScreenLogin {
            user: "1004".into(),
            pin: "12 3&".into(),
            code: None,
        };
        assert_eq!(root(FORM), "CiscoIPPhoneInput");
        assert_eq!(
            submit(FORM, &login).unwrap(),
            "http://h:1/screen/SEP1/t/submit?user=1004&pin=12+3%26"
        );
        let text = "<CiscoIPPhoneText><Prompt>Press</Prompt><Text>extension 1004.</Text>\
            <SoftKeyItem><Name>Exit</Name><URL>SoftKey:Exit</URL><Position>2</Position></SoftKeyItem>\
            <SoftKeyItem><Name>Continue</Name><URL>http://h/c?a=1&amp;b=2</URL><Position>1</Position></SoftKeyItem>\
            </CiscoIPPhoneText>";
        let with_code = FORM.replace(
            "</CiscoIPPhoneInput>",
            "<InputItem><DisplayName>Activation code</DisplayName><QueryStringParam>code</QueryStringParam><InputFlags>N</InputFlags></InputItem></CiscoIPPhoneInput>",
        );
        assert_eq!(
            submit(&with_code, &login).unwrap(),
            "http://h:1/screen/SEP1/t/submit?user=1004&pin=12+3%26&code="
        );
        let by_code = ScreenLogin {
            code: Some("1234567890123456".into()),
            ..login
        };
        assert_eq!(
            submit(&with_code, &by_code).unwrap(),
            "http://h:1/screen/SEP1/t/submit?user=&pin=&code=1234567890123456"
        );
        assert_eq!(first_key(text).unwrap(), "http://h/c?a=1&b=2");
        assert_eq!(
            outcome_code("SELFPROV_DEVICE_LIMIT"),
            Some("SELFPROV_DEVICE_LIMIT")
        );
        assert_eq!(outcome_code("Press Continue"), None);
        assert_eq!(outcome_code(""), None);
        assert_eq!(elements("<a>1</a><a>2</a><a>3", "a"), ["1", "2"]);
        assert_eq!(root("garbage"), "");
    }
}
