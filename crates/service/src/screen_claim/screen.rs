//! The screens of the on-screen claim, whatever the phone's vendor: the login form, the extension
//! to confirm, and one screen per outcome code — what each says (in the phone's language) and
//! where each key leads. `xml` writes them in the vendor's XML.

use super::texts::Texts;
use selfprov_provisioning::OutcomeCode;

/// Where a soft key leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Url(String),
    /// Close the browser (the phone's own exit).
    Exit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SoftKey {
    pub label: &'static str,
    pub target: Target,
}

/// One input of a form: the phone sends it as `param=<value>` in the query string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Field {
    pub label: &'static str,
    pub param: &'static str,
    /// Masked as it is typed (the PIN).
    pub secret: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Screen {
    /// A form: the phone asks for `fields` and requests `url` with their values.
    Input {
        title: &'static str,
        prompt: &'static str,
        url: String,
        fields: Vec<Field>,
        submit: &'static str,
    },
    /// A text with soft keys; `prompt` is the status line (an outcome screen's code).
    Text {
        title: &'static str,
        prompt: String,
        text: String,
        keys: Vec<SoftKey>,
    },
}

/// The pages of one phone, under its idle URL `<base>/screen/<device>/<token>`.
#[derive(Debug, Clone)]
pub(crate) struct Urls {
    pub base: String,
}

impl Urls {
    pub fn login(&self) -> String {
        self.base.clone()
    }
    pub fn submit(&self) -> String {
        format!("{}/submit", self.base)
    }
    pub fn confirm(&self, ticket_query: &str) -> String {
        format!("{}/confirm?{ticket_query}", self.base)
    }
    pub fn cancel(&self) -> String {
        format!("{}/cancel", self.base)
    }
}

/// A query-string value (form encoding, as the pages' query strings are read).
pub(crate) fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// User ID and, unless the authentication mode asks for none, the PIN (masked, numeric); or, in
/// their place, an activation code an administrator issued for this phone.
pub(crate) fn login(t: &Texts, u: &Urls, ask_pin: bool) -> Screen {
    let mut fields = vec![Field {
        label: t.user_id,
        param: "user",
        secret: false,
    }];
    if ask_pin {
        fields.push(Field {
            label: t.pin,
            param: "pin",
            secret: true,
        });
    }
    fields.push(Field {
        label: t.code,
        param: "code",
        secret: false,
    });
    Screen::Input {
        title: t.title,
        prompt: t.login_prompt,
        url: u.submit(),
        fields,
        submit: t.continue_key,
    }
}

/// "This phone will be provisioned with extension …": Continue claims, Exit cancels.
pub(crate) fn confirm(t: &Texts, u: &Urls, extension: &str, ticket_query: &str) -> Screen {
    Screen::Text {
        title: t.title,
        prompt: t.confirm_prompt.into(),
        text: t.confirm.replace("{ext}", extension),
        keys: vec![
            SoftKey {
                label: t.continue_key,
                target: Target::Url(u.confirm(ticket_query)),
            },
            SoftKey {
                label: t.exit_key,
                target: Target::Url(u.cancel()),
            },
        ],
    }
}

/// How an attempt ended: its text and its code on the status line. A locked account shows as
/// wrong credentials, as the IVR says it (docs/security.md); the audit keeps the real code.
pub(crate) fn outcome(t: &Texts, u: &Urls, code: OutcomeCode, extension: &str) -> Screen {
    let shown = match code {
        OutcomeCode::AccountLocked => OutcomeCode::InvalidCredentials,
        c => c,
    };
    let again = matches!(
        shown,
        OutcomeCode::InvalidCredentials
            | OutcomeCode::ActivationCodeInvalid
            | OutcomeCode::NoInput
            | OutcomeCode::InternalError
            | OutcomeCode::DatabaseUnavailable
    );
    let mut keys = Vec::new();
    if again {
        keys.push(SoftKey {
            label: t.try_again_key,
            target: Target::Url(u.login()),
        });
    }
    keys.push(SoftKey {
        label: t.exit_key,
        target: Target::Exit,
    });
    Screen::Text {
        title: t.title,
        prompt: shown.as_str().into(),
        text: t.outcome(shown).replace("{ext}", extension),
        keys,
    }
}

/// Too many logins on this phone this minute: nothing was checked.
pub(crate) fn try_later(t: &Texts) -> Screen {
    Screen::Text {
        title: t.title,
        prompt: String::new(),
        text: t.try_later.into(),
        keys: vec![SoftKey {
            label: t.exit_key,
            target: Target::Exit,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::screen_claim::texts::EN_US;

    #[test]
    fn values_are_encoded_for_a_query_string() {
        assert_eq!(encode("jsmith-1.x_*"), "jsmith-1.x_*");
        assert_eq!(encode("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn a_locked_account_shows_as_wrong_credentials_with_a_way_back() {
        let u = Urls {
            base: "http://h/screen/SEP1/t".into(),
        };
        let locked = outcome(&EN_US, &u, OutcomeCode::AccountLocked, "");
        assert_eq!(
            locked,
            outcome(&EN_US, &u, OutcomeCode::InvalidCredentials, "")
        );
        let Screen::Text { prompt, keys, .. } = locked else {
            panic!("a text")
        };
        assert_eq!(prompt, "INVALID_CREDENTIALS");
        assert_eq!(keys[0].target, Target::Url(u.login()));
        let Screen::Text { keys, text, .. } = outcome(&EN_US, &u, OutcomeCode::Success, "1004")
        else {
            panic!("a text")
        };
        assert!(text.contains("1004"));
        assert_eq!(keys.len(), 1);
    }
}
