//! The call state machine. A call either asks for a self-service ID and PIN ([`Call::new`]) or,
//! on the activation route point, for an activation code ([`Call::activation`], in
//! `flow/activation.rs`).

mod activation;

use crate::prompt::{Prompt, PromptRef};
use selfprov_provisioning::{AuthMode, Language, OutcomeCode};
use std::time::{Duration, Instant};

/// Flow settings (from the `[ivr]` and `[self_provisioning]` configuration).
#[derive(Debug, Clone)]
pub struct IvrSettings {
    pub auth_mode: AuthMode,
    /// Highest priority first; at least one.
    pub languages: Vec<Language>,
    /// Offer a language menu when there is more than one language.
    pub language_menu: bool,
    /// Silence after a request prompt before it counts as no input.
    pub first_digit_timeout: Duration,
    /// Pause after a digit that ends the entry (as `#` would).
    pub inter_digit_timeout: Duration,
    /// Tries per step (an entry, the credentials, the confirmation).
    pub max_attempts: u32,
    pub max_digits: usize,
}

impl Default for IvrSettings {
    fn default() -> Self {
        IvrSettings {
            auth_mode: AuthMode::Users,
            languages: vec![Language::en_us()],
            language_menu: true,
            first_digit_timeout: Duration::from_secs(10),
            inter_digit_timeout: Duration::from_secs(5),
            max_attempts: 3,
            max_digits: 24,
        }
    }
}

/// A keypad key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Digit(u8),
    Star,
    Pound,
}

impl Key {
    pub fn from_char(c: char) -> Option<Key> {
        match c {
            '0'..='9' => Some(Key::Digit(c as u8 - b'0')),
            '*' => Some(Key::Star),
            '#' => Some(Key::Pound),
            _ => None,
        }
    }
}

/// Identifies the armed timer; a `Timer` event with an older id is stale and ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimerId(pub u64);

/// A successful authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthOk {
    pub user_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A `Play` with this sequence number has finished playing.
    PromptFinished(u64),
    Digit(Key),
    Timer(TimerId),
    AuthResult(Result<AuthOk, OutcomeCode>),
    /// The checks passed (the user's extension, digits) or failed.
    PreviewResult(Result<String, OutcomeCode>),
    AssignResult(Result<(), OutcomeCode>),
    Hold,
    Resume,
    /// The caller hung up (BYE or CANCEL).
    HangUp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Play prompts back to back. `barge_in`: a key press stops them.
    Play {
        seq: u64,
        prompts: Vec<PromptRef>,
        barge_in: bool,
    },
    /// Stop what is playing (barge-in, hold).
    StopPlayback,
    /// The language the rest of the call uses.
    SetLanguage(Language),
    ArmTimer {
        id: TimerId,
        at: Instant,
    },
    CancelTimer,
    Authenticate {
        self_service_id: String,
        secret: Option<String>,
    },
    PreviewAssignment {
        user_id: String,
    },
    Assign {
        user_id: String,
    },
    /// Claim the calling phone with this activation code (its digits as typed); the answer is
    /// an [`Event::AssignResult`].
    ClaimWithCode {
        code: String,
    },
    HangUp,
    /// After the hang-up of a successful call: tell the phone to restart (NOTIFY check-sync).
    SendCheckSync,
    /// The call is over with this outcome (exactly once; the service writes the audit entry).
    Finished(OutcomeCode),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    LanguageMenu,
    EnterId,
    EnterPin,
    Authenticating,
    Previewing,
    Confirm,
    Assigning,
    /// Typing an activation code (activation route point).
    EnterCode,
    ClaimingWithCode,
    /// Playing the last prompts; then hang up with the outcome.
    Closing(OutcomeCode),
    Done,
}

/// One IVR call.
#[derive(Debug)]
pub struct Call {
    s: IvrSettings,
    step: Step,
    /// Where the call starts after the language menu: `EnterId`, or `EnterCode`.
    first_step: Step,
    language: Language,
    entry: String,
    self_service_id: String,
    user_id: String,
    extension: String,
    /// Tries used in the current step; credentials tries across the whole call.
    attempts: u32,
    credential_attempts: u32,
    /// The prompt being played: (seq, barge-in allowed).
    playing: Option<(u64, bool)>,
    next_seq: u64,
    timer: u64,
    held: bool,
    hung_up: bool,
    /// An authentication in this call met a locked account. The caller is not told (a locked
    /// ID sounds like a wrong PIN, so nobody can find which IDs exist or are locked); the
    /// call's outcome, for the audit, says so.
    locked_seen: bool,
}

impl Call {
    fn base(settings: IvrSettings) -> (Call, Language) {
        let language = settings
            .languages
            .first()
            .cloned()
            .unwrap_or_else(Language::en_us);
        let c = Call {
            s: settings,
            step: Step::EnterId,
            first_step: Step::EnterId,
            language: language.clone(),
            entry: String::new(),
            self_service_id: String::new(),
            user_id: String::new(),
            extension: String::new(),
            attempts: 0,
            credential_attempts: 0,
            playing: None,
            next_seq: 1,
            timer: 0,
            held: false,
            hung_up: false,
            locked_seen: false,
        };
        (c, language)
    }

    /// A call from a device that cannot be claimed (the device's own checks failed, before any
    /// credential): the welcome, why, goodbye, and the call ends with `code`. No ID or PIN is
    /// asked, so such a phone cannot be used to test PINs.
    pub fn refused(settings: IvrSettings, code: OutcomeCode) -> (Call, Vec<Action>) {
        let (mut c, language) = Call::base(settings);
        let mut out = vec![Action::SetLanguage(language)];
        c.close(
            code,
            vec![Prompt::Welcome.into(), Prompt::for_failure(code).into()],
            &mut out,
        );
        (c, out)
    }

    /// A new call, just answered: plays the welcome (and the language menu).
    pub fn new(settings: IvrSettings) -> (Call, Vec<Action>) {
        Call::start(settings, Step::EnterId)
    }

    fn start(settings: IvrSettings, first_step: Step) -> (Call, Vec<Action>) {
        let (mut c, language) = Call::base(settings);
        c.first_step = first_step;
        let mut out = vec![Action::SetLanguage(language)];
        if c.s.languages.len() > 1 && c.s.language_menu {
            c.step = Step::LanguageMenu;
            let mut prompts: Vec<PromptRef> = vec![Prompt::Welcome.into()];
            prompts.extend(c.menu_prompts());
            c.play(prompts, true, &mut out);
        } else {
            c.ask(first_step, vec![Prompt::Welcome.into()], &mut out);
        }
        (c, out)
    }

    pub fn is_done(&self) -> bool {
        self.step == Step::Done
    }

    fn menu_prompts(&self) -> Vec<PromptRef> {
        let mut v = Vec::new();
        for (i, l) in self.s.languages.iter().enumerate() {
            v.push(PromptRef {
                prompt: Prompt::LanguageSelect,
                language: Some(l.clone()),
            });
            v.push(PromptRef {
                prompt: Prompt::Digit((i + 1) as u8),
                language: Some(l.clone()),
            });
        }
        v
    }

    fn play(&mut self, prompts: Vec<PromptRef>, barge_in: bool, out: &mut Vec<Action>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.playing = Some((seq, barge_in));
        out.push(Action::Play {
            seq,
            prompts,
            barge_in,
        });
    }

    fn arm(&mut self, after: Duration, now: Instant, out: &mut Vec<Action>) {
        self.timer += 1;
        out.push(Action::ArmTimer {
            id: TimerId(self.timer),
            at: now + after,
        });
    }

    fn cancel_timer(&mut self, out: &mut Vec<Action>) {
        self.timer += 1; // any armed timer is now stale
        out.push(Action::CancelTimer);
    }

    fn request_prompt(&self) -> Vec<PromptRef> {
        match self.step {
            Step::LanguageMenu => self.menu_prompts(),
            Step::EnterId => vec![Prompt::EnterSelfServiceId.into()],
            Step::EnterCode => vec![Prompt::EnterActivationCode.into()],
            Step::EnterPin => vec![match self.s.auth_mode {
                AuthMode::UsersAndAdmins => Prompt::EnterPinOrAuthCode.into(),
                _ => Prompt::EnterPin.into(),
            }],
            Step::Confirm => self.confirm_prompts(),
            _ => Vec::new(),
        }
    }

    fn confirm_prompts(&self) -> Vec<PromptRef> {
        let mut v: Vec<PromptRef> = vec![Prompt::ConfirmExtension.into()];
        v.extend(
            self.extension
                .bytes()
                .filter(u8::is_ascii_digit)
                .map(|b| PromptRef::from(Prompt::Digit(b - b'0'))),
        );
        v.push(Prompt::ConfirmPress.into());
        v
    }

    fn waits_for_keys(&self) -> bool {
        matches!(
            self.step,
            Step::LanguageMenu | Step::EnterId | Step::EnterPin | Step::EnterCode | Step::Confirm
        )
    }

    /// Enter a step that asks for keys: play its request, timers start when it finishes.
    fn ask(&mut self, step: Step, before: Vec<PromptRef>, out: &mut Vec<Action>) {
        self.step = step;
        self.entry.clear();
        let mut prompts = before;
        prompts.extend(self.request_prompt());
        self.play(prompts, true, out);
    }

    /// End the call after `prompts`, with `outcome`.
    fn close(&mut self, outcome: OutcomeCode, mut prompts: Vec<PromptRef>, out: &mut Vec<Action>) {
        self.cancel_timer(out);
        self.step = Step::Closing(outcome);
        prompts.push(Prompt::Goodbye.into());
        self.play(prompts, false, out);
    }

    fn finish(&mut self, outcome: OutcomeCode, out: &mut Vec<Action>) {
        if self.step == Step::Done {
            return;
        }
        let outcome = match outcome {
            OutcomeCode::InvalidCredentials | OutcomeCode::NoInput | OutcomeCode::Abandoned
                if self.locked_seen =>
            {
                OutcomeCode::AccountLocked
            }
            o => o,
        };
        if !self.hung_up {
            out.push(Action::HangUp);
        }
        if outcome == OutcomeCode::Success {
            out.push(Action::SendCheckSync);
        }
        out.push(Action::Finished(outcome));
        self.step = Step::Done;
    }

    /// Handle one event at `now`; returns what to do.
    pub fn handle(&mut self, ev: Event, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        if self.step == Step::Done {
            return out;
        }
        match ev {
            Event::HangUp => {
                self.hung_up = true;
                match self.step {
                    Step::Closing(o) => self.finish(o, &mut out),
                    // The result decides: an assignment that went through stays done.
                    Step::Assigning | Step::ClaimingWithCode => {}
                    _ => self.finish(OutcomeCode::Abandoned, &mut out),
                }
            }
            Event::Hold => {
                if !self.held {
                    self.held = true;
                    if self.playing.take().is_some() {
                        out.push(Action::StopPlayback);
                    }
                    if self.waits_for_keys() {
                        self.cancel_timer(&mut out);
                    }
                }
            }
            Event::Resume => {
                if self.held {
                    self.held = false;
                    if self.waits_for_keys() {
                        // Ask again from the start of the current entry.
                        self.entry.clear();
                        let p = self.request_prompt();
                        self.play(p, true, &mut out);
                    } else if let Step::Closing(o) = self.step {
                        self.play(vec![Prompt::Goodbye.into()], false, &mut out);
                        self.step = Step::Closing(o);
                    }
                }
            }
            Event::PromptFinished(seq) => {
                if self.playing.map(|(s, _)| s) != Some(seq) {
                    return out;
                }
                self.playing = None;
                match self.step {
                    Step::Closing(o) => self.finish(o, &mut out),
                    _ if self.waits_for_keys() && !self.held => {
                        let t = if self.entry.is_empty() {
                            self.s.first_digit_timeout
                        } else {
                            self.s.inter_digit_timeout
                        };
                        self.arm(t, now, &mut out);
                    }
                    _ => {}
                }
            }
            Event::Timer(TimerId(id)) => {
                if id != self.timer || self.held || self.playing.is_some() {
                    return out;
                }
                self.on_timeout(now, &mut out);
            }
            Event::Digit(k) => self.on_key(k, now, &mut out),
            Event::AuthResult(r) => self.on_auth(r, &mut out),
            Event::PreviewResult(r) => self.on_preview(r, &mut out),
            Event::AssignResult(r) if self.step == Step::ClaimingWithCode => {
                self.on_code_result(r, &mut out)
            }
            Event::AssignResult(r) => {
                if self.step == Step::Assigning {
                    let o = match r {
                        Ok(()) => OutcomeCode::Success,
                        Err(c) => c,
                    };
                    if self.hung_up {
                        self.finish(o, &mut out);
                    } else if o == OutcomeCode::Success {
                        self.close(o, vec![Prompt::Success.into()], &mut out);
                    } else {
                        self.close(o, vec![Prompt::for_failure(o).into()], &mut out);
                    }
                }
            }
        }
        out
    }

    fn on_key(&mut self, k: Key, now: Instant, out: &mut Vec<Action>) {
        if !self.waits_for_keys() || self.held {
            return;
        }
        // Barge-in: a key stops the request prompt; the key counts (type-ahead).
        if let Some((_, barge)) = self.playing {
            if !barge {
                return;
            }
            self.playing = None;
            out.push(Action::StopPlayback);
        }
        match self.step {
            Step::LanguageMenu => {
                let pick = match k {
                    Key::Digit(d) if d >= 1 && usize::from(d) <= self.s.languages.len() => {
                        Some(usize::from(d) - 1)
                    }
                    _ => None,
                };
                match pick {
                    Some(i) => {
                        self.language = self.s.languages[i].clone();
                        out.push(Action::SetLanguage(self.language.clone()));
                        self.attempts = 0;
                        self.cancel_timer(out);
                        self.ask(self.first_step, Vec::new(), out);
                    }
                    None => self.retry(vec![Prompt::InvalidEntry.into()], now, out),
                }
            }
            Step::Confirm => match k {
                Key::Digit(1) => {
                    self.cancel_timer(out);
                    self.step = Step::Assigning;
                    out.push(Action::Assign {
                        user_id: self.user_id.clone(),
                    });
                }
                Key::Digit(2) => {
                    self.close(OutcomeCode::Cancelled, vec![Prompt::Cancelled.into()], out)
                }
                _ => self.retry(vec![Prompt::InvalidEntry.into()], now, out),
            },
            _ => match k {
                Key::Star => {
                    self.cancel_timer(out);
                    self.ask(self.step, Vec::new(), out);
                }
                Key::Pound => self.end_entry(now, out),
                Key::Digit(d) => {
                    self.entry.push((b'0' + d) as char);
                    if self.entry.len() > self.s.max_digits {
                        self.retry(vec![Prompt::InvalidEntry.into()], now, out);
                    } else {
                        self.arm(self.s.inter_digit_timeout, now, out);
                    }
                }
            },
        }
    }

    /// `#` (or the inter-digit timeout) ends an entry.
    fn end_entry(&mut self, now: Instant, out: &mut Vec<Action>) {
        self.cancel_timer(out);
        if self.entry.is_empty() {
            return self.retry(vec![Prompt::InvalidEntry.into()], now, out);
        }
        let value = std::mem::take(&mut self.entry);
        self.attempts = 0;
        match self.step {
            Step::EnterId => {
                self.self_service_id = value;
                if self.s.auth_mode == AuthMode::None {
                    self.authenticate(None, out);
                } else {
                    self.ask(Step::EnterPin, Vec::new(), out);
                }
            }
            Step::EnterPin => self.authenticate(Some(value), out),
            Step::EnterCode => self.claim_with_code(value, out),
            _ => {}
        }
    }

    fn authenticate(&mut self, secret: Option<String>, out: &mut Vec<Action>) {
        self.step = Step::Authenticating;
        out.push(Action::Authenticate {
            self_service_id: self.self_service_id.clone(),
            secret,
        });
    }

    /// A wrong or missing entry: say so and ask again, or give up after `max_attempts`.
    fn retry(&mut self, why: Vec<PromptRef>, _now: Instant, out: &mut Vec<Action>) {
        self.cancel_timer(out);
        self.attempts += 1;
        if self.attempts >= self.s.max_attempts {
            if self.step == Step::LanguageMenu {
                // Nobody chose: the first language.
                self.attempts = 0;
                return self.ask(self.first_step, Vec::new(), out);
            }
            // No valid entry within the attempts: the caller gave no usable input.
            let mut p = why;
            p.push(Prompt::TooManyAttempts.into());
            return self.close(OutcomeCode::NoInput, p, out);
        }
        self.ask(self.step, why, out);
    }

    fn on_timeout(&mut self, now: Instant, out: &mut Vec<Action>) {
        if !self.waits_for_keys() {
            return;
        }
        if !self.entry.is_empty()
            && matches!(self.step, Step::EnterId | Step::EnterPin | Step::EnterCode)
        {
            // The caller stopped typing: take the entry as if `#` was pressed.
            return self.end_entry(now, out);
        }
        if self.step == Step::LanguageMenu {
            self.attempts = 0;
            self.cancel_timer(out);
            return self.ask(self.first_step, Vec::new(), out);
        }
        self.attempts += 1;
        self.cancel_timer(out);
        if self.attempts >= self.s.max_attempts {
            return self.close(OutcomeCode::NoInput, vec![Prompt::NoInput.into()], out);
        }
        self.ask(self.step, vec![Prompt::NoInput.into()], out);
    }

    fn on_auth(&mut self, r: Result<AuthOk, OutcomeCode>, out: &mut Vec<Action>) {
        if self.step != Step::Authenticating {
            return;
        }
        match r {
            Ok(ok) => {
                self.user_id = ok.user_id;
                self.step = Step::Previewing;
                out.push(Action::PreviewAssignment {
                    user_id: self.user_id.clone(),
                });
            }
            // Unknown ID, wrong PIN and locked account sound the same (docs/security.md).
            Err(code @ (OutcomeCode::InvalidCredentials | OutcomeCode::AccountLocked)) => {
                self.locked_seen |= code == OutcomeCode::AccountLocked;
                self.credential_attempts += 1;
                if self.credential_attempts >= self.s.max_attempts {
                    self.close(
                        OutcomeCode::InvalidCredentials,
                        vec![
                            Prompt::InvalidCredentials.into(),
                            Prompt::TooManyAttempts.into(),
                        ],
                        out,
                    );
                } else {
                    self.ask(Step::EnterId, vec![Prompt::InvalidCredentials.into()], out);
                }
            }
            Err(code) => self.close(code, vec![Prompt::for_failure(code).into()], out),
        }
    }

    fn on_preview(&mut self, r: Result<String, OutcomeCode>, out: &mut Vec<Action>) {
        if self.step != Step::Previewing {
            return;
        }
        match r {
            Ok(ext) => {
                self.extension = ext;
                self.attempts = 0;
                self.ask(Step::Confirm, Vec::new(), out);
            }
            Err(code) => self.close(code, vec![Prompt::for_failure(code).into()], out),
        }
    }
}
