//! IVR events and actions as the debug log shows them: digits, self-service IDs and secrets
//! never reach a log file.

use selfprov_ivr::{Action, Event as IvrEvent};

/// An IVR event for the debug log, with the digit's value hidden.
pub(crate) fn redacted_event(ev: &IvrEvent) -> String {
    match ev {
        IvrEvent::Digit(_) => "Digit(*)".to_owned(),
        e => format!("{e:?}"),
    }
}

/// IVR actions for the debug log, with the self-service ID and secret hidden.
pub(crate) fn redacted_actions(actions: &[Action]) -> String {
    let shown: Vec<String> = actions
        .iter()
        .map(|a| match a {
            Action::Authenticate { secret, .. } => format!(
                "Authenticate {{ self_service_id: *, secret: {} }}",
                if secret.is_some() { "*" } else { "none" }
            ),
            Action::ClaimWithCode { .. } => "ClaimWithCode { code: * }".to_owned(),
            a => format!("{a:?}"),
        })
        .collect();
    format!("[{}]", shown.join(", "))
}

#[cfg(test)]
mod redaction_tests {
    use super::*;
    use selfprov_ivr::Key;

    #[test]
    fn debug_log_lines_hide_digits_and_secrets() {
        let ev = redacted_event(&IvrEvent::Digit(Key::from_char('7').unwrap()));
        assert!(!ev.contains('7'), "{ev}");
        let a = redacted_actions(&[Action::Authenticate {
            self_service_id: "1004".into(),
            secret: Some("12345".into()),
        }]);
        assert!(!a.contains("1004") && !a.contains("12345"), "{a}");
        assert!(a.contains("Authenticate"), "{a}");
        let a = redacted_actions(&[Action::ClaimWithCode {
            code: "1234567890123456".into(),
        }]);
        assert!(!a.contains("1234"), "{a}");
    }
}
