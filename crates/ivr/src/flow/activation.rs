//! The activation route point's call: the caller types the activation code an administrator
//! issued instead of an ID and PIN (docs/activation-codes.md). No confirmation step: the code
//! names the user and the phone, and typing it is the user's consent.
//!
//! A wrong code is said and asked again, up to `max_attempts` per call (the claim engine also
//! counts wrong codes per phone and locks the phone out of codes); expired, used and other-phone
//! codes end the call with their own prompt, as do the assign rules' refusals.

use super::{Action, Call, Step};
use crate::prompt::Prompt;
use crate::IvrSettings;
use selfprov_provisioning::OutcomeCode;

impl Call {
    /// A call to the activation route point, just answered: the welcome (and the language menu),
    /// then "enter your activation code".
    pub fn activation(settings: IvrSettings) -> (Call, Vec<Action>) {
        Call::start(settings, Step::EnterCode)
    }

    pub(super) fn claim_with_code(&mut self, code: String, out: &mut Vec<Action>) {
        self.step = Step::ClaimingWithCode;
        out.push(Action::ClaimWithCode { code });
    }

    pub(super) fn on_code_result(&mut self, r: Result<(), OutcomeCode>, out: &mut Vec<Action>) {
        let o = r.err().unwrap_or(OutcomeCode::Success);
        if self.hung_up {
            return self.finish(o, out);
        }
        match o {
            OutcomeCode::Success => self.close(o, vec![Prompt::Success.into()], out),
            OutcomeCode::ActivationCodeInvalid => {
                self.credential_attempts += 1;
                let why = Prompt::ActivationCodeInvalid.into();
                if self.credential_attempts >= self.s.max_attempts {
                    self.close(o, vec![why, Prompt::TooManyAttempts.into()], out);
                } else {
                    self.ask(Step::EnterCode, vec![why], out);
                }
            }
            // This phone is locked out of codes: said as too many wrong codes.
            OutcomeCode::AccountLocked => self.close(
                o,
                vec![
                    Prompt::ActivationCodeInvalid.into(),
                    Prompt::TooManyAttempts.into(),
                ],
                out,
            ),
            o => self.close(o, vec![Prompt::for_failure(o).into()], out),
        }
    }
}
