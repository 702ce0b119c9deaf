//! Whole IVR calls driven deterministically: a simulated service answers the flow's requests,
//! time is advanced by hand, prompts "finish" when the test says so.

use proptest::prelude::*;
use selfprov_ivr::*;
use selfprov_provisioning::{AuthMode, Language, OutcomeCode};
use std::time::{Duration, Instant};

struct Sim {
    call: Call,
    now: Instant,
    /// Every Play, as prompt names.
    plays: Vec<Vec<String>>,
    playing: Option<u64>,
    timer: Option<(TimerId, Instant)>,
    requests: Vec<Action>,
    finished: Vec<OutcomeCode>,
    hangups: usize,
    check_sync: usize,
    stops: usize,
    language: Option<Language>,
    /// Actions after the first Finished (must stay empty).
    after_finish: Vec<Action>,
}

fn names(prompts: &[PromptRef]) -> Vec<String> {
    prompts
        .iter()
        .map(|p| match &p.language {
            Some(l) => format!("{}:{}", l, p.prompt.name()),
            None => p.prompt.name().to_owned(),
        })
        .collect()
}

impl Sim {
    fn new(s: IvrSettings) -> Sim {
        Sim::with(Call::new(s))
    }

    fn with((call, actions): (Call, Vec<Action>)) -> Sim {
        let mut sim = Sim {
            call,
            now: Instant::now(),
            plays: vec![],
            playing: None,
            timer: None,
            requests: vec![],
            finished: vec![],
            hangups: 0,
            check_sync: 0,
            stops: 0,
            language: None,
            after_finish: vec![],
        };
        sim.apply(actions);
        sim
    }

    fn apply(&mut self, actions: Vec<Action>) {
        for a in actions {
            if !self.finished.is_empty() {
                self.after_finish.push(a.clone());
            }
            match a {
                Action::Play { seq, prompts, .. } => {
                    self.plays.push(names(&prompts));
                    self.playing = Some(seq);
                }
                Action::StopPlayback => {
                    self.playing = None;
                    self.stops += 1;
                }
                Action::ArmTimer { id, at } => self.timer = Some((id, at)),
                Action::CancelTimer => self.timer = None,
                Action::SetLanguage(l) => self.language = Some(l),
                Action::HangUp => self.hangups += 1,
                Action::SendCheckSync => self.check_sync += 1,
                Action::Finished(o) => self.finished.push(o),
                r @ (Action::Authenticate { .. }
                | Action::PreviewAssignment { .. }
                | Action::Assign { .. }
                | Action::ClaimWithCode { .. }) => self.requests.push(r),
            }
        }
    }

    fn ev(&mut self, e: Event) {
        let a = self.call.handle(e, self.now);
        self.apply(a);
    }

    /// The current playback runs to its end.
    fn finish_prompt(&mut self) {
        if let Some(seq) = self.playing.take() {
            self.ev(Event::PromptFinished(seq));
        }
    }

    fn keys(&mut self, s: &str) {
        for c in s.chars() {
            self.ev(Event::Digit(Key::from_char(c).unwrap()));
        }
    }

    /// Advance the clock by `d`, firing the timer if it falls due.
    fn wait(&mut self, d: Duration) {
        self.now += d;
        if let Some((id, at)) = self.timer {
            if at <= self.now {
                self.timer = None;
                self.ev(Event::Timer(id));
            }
        }
    }

    fn last_request(&self) -> Action {
        self.requests.last().cloned().expect("a request")
    }

    fn last_play(&self) -> Vec<String> {
        self.plays.last().cloned().unwrap_or_default()
    }

    /// Play every prompt to its end until the call is over (closing prompts).
    fn finish_all(&mut self) {
        for _ in 0..10 {
            self.finish_prompt();
        }
    }
}

fn settings(mode: AuthMode) -> IvrSettings {
    IvrSettings {
        auth_mode: mode,
        ..IvrSettings::default()
    }
}

/// The happy path up to confirmation, answering the service requests.
fn to_confirm(sim: &mut Sim) {
    sim.finish_prompt();
    sim.keys("1004#");
    sim.finish_prompt();
    sim.keys("12345#");
    assert_eq!(
        sim.last_request(),
        Action::Authenticate {
            self_service_id: "1004".into(),
            secret: Some("12345".into())
        }
    );
    sim.ev(Event::AuthResult(Ok(AuthOk {
        user_id: "jsmith".into(),
    })));
    assert_eq!(
        sim.last_request(),
        Action::PreviewAssignment {
            user_id: "jsmith".into()
        }
    );
    sim.ev(Event::PreviewResult(Ok("1004".into())));
    assert_eq!(
        sim.last_play(),
        [
            "confirm_extension",
            "digit_1",
            "digit_0",
            "digit_0",
            "digit_4",
            "confirm_press"
        ]
    );
}

#[test]
fn success_users_mode() {
    let mut sim = Sim::new(settings(AuthMode::Users));
    assert_eq!(sim.plays[0], ["welcome", "enter_self_service_id"]);
    to_confirm(&mut sim);
    assert!(sim.plays.iter().any(|p| p == &["enter_pin"]));
    sim.finish_prompt();
    sim.keys("1");
    assert_eq!(
        sim.last_request(),
        Action::Assign {
            user_id: "jsmith".into()
        }
    );
    sim.ev(Event::AssignResult(Ok(())));
    assert_eq!(sim.last_play(), ["success", "goodbye"]);
    // Digits during the final prompts are ignored.
    sim.keys("9");
    assert!(sim.finished.is_empty());
    sim.finish_prompt();
    assert_eq!(sim.finished, [OutcomeCode::Success]);
    assert_eq!(sim.hangups, 1);
    assert_eq!(sim.check_sync, 1);
    assert!(sim.call.is_done());
}

#[test]
fn users_and_admins_mode_asks_for_pin_or_code() {
    let mut sim = Sim::new(settings(AuthMode::UsersAndAdmins));
    sim.finish_prompt();
    sim.keys("1004#");
    assert_eq!(sim.last_play(), ["enter_pin_or_auth_code"]);
    sim.keys("999000#");
    assert_eq!(
        sim.last_request(),
        Action::Authenticate {
            self_service_id: "1004".into(),
            secret: Some("999000".into())
        }
    );
}

#[test]
fn none_mode_needs_the_id_only() {
    let mut sim = Sim::new(settings(AuthMode::None));
    sim.finish_prompt();
    sim.keys("1004#");
    assert_eq!(
        sim.last_request(),
        Action::Authenticate {
            self_service_id: "1004".into(),
            secret: None
        }
    );
    assert!(!sim
        .plays
        .iter()
        .flatten()
        .any(|p| p.starts_with("enter_pin")));
}

#[test]
fn every_check_failure_plays_its_prompt_and_ends_with_its_code() {
    for (code, prompt) in [
        (OutcomeCode::SelfprovNotAllowed, "not_allowed"),
        (OutcomeCode::NoPrimaryExtension, "no_primary_extension"),
        (OutcomeCode::NotAutoregistered, "not_autoregistered"),
        (
            OutcomeCode::SecureDeviceNotSupported,
            "secure_device_not_supported",
        ),
        (OutcomeCode::InvalidDeviceModel, "invalid_model"),
        (
            OutcomeCode::ModelPhonetemplateNotFound,
            "no_device_template",
        ),
        (OutcomeCode::SelfprovDeviceLimit, "device_limit"),
        (OutcomeCode::InternalError, "internal_error"),
        (OutcomeCode::DatabaseUnavailable, "service_unavailable"),
    ] {
        let mut sim = Sim::new(settings(AuthMode::Users));
        sim.finish_prompt();
        sim.keys("1004#12345#");
        sim.ev(Event::AuthResult(Ok(AuthOk {
            user_id: "u".into(),
        })));
        sim.ev(Event::PreviewResult(Err(code)));
        assert_eq!(sim.last_play(), [prompt, "goodbye"], "{code}");
        sim.finish_all();
        assert_eq!(sim.finished, [code]);
        assert_eq!(sim.hangups, 1);
        assert_eq!(sim.check_sync, 0);
        assert!(
            !sim.requests
                .iter()
                .any(|r| matches!(r, Action::Assign { .. })),
            "{code}: nothing assigned"
        );
    }
}

/// The database goes away while the caller types (PostgreSQL restarting): the PIN check or the
/// assignment cannot run; the caller is asked to try again later and the call ends with its own
/// code, not a generic error.
#[test]
fn a_database_outage_at_any_check_asks_to_try_again_later() {
    let mut sim = Sim::new(settings(AuthMode::Users));
    sim.finish_prompt();
    sim.keys("1004#12345#");
    sim.ev(Event::AuthResult(Err(OutcomeCode::DatabaseUnavailable)));
    assert_eq!(sim.last_play(), ["service_unavailable", "goodbye"]);
    sim.finish_all();
    assert_eq!(sim.finished, [OutcomeCode::DatabaseUnavailable]);

    let mut sim = Sim::new(settings(AuthMode::Users));
    to_confirm(&mut sim);
    sim.keys("1");
    sim.ev(Event::AssignResult(Err(OutcomeCode::DatabaseUnavailable)));
    assert_eq!(sim.last_play(), ["service_unavailable", "goodbye"]);
    sim.finish_all();
    assert_eq!(sim.finished, [OutcomeCode::DatabaseUnavailable]);
    assert_eq!(sim.check_sync, 0);
}

#[test]
fn assign_failure_at_commit_time() {
    let mut sim = Sim::new(settings(AuthMode::Users));
    to_confirm(&mut sim);
    sim.keys("1");
    sim.ev(Event::AssignResult(Err(OutcomeCode::SelfprovDeviceLimit)));
    assert_eq!(sim.last_play(), ["device_limit", "goodbye"]);
    sim.finish_all();
    assert_eq!(sim.finished, [OutcomeCode::SelfprovDeviceLimit]);
}

#[test]
fn wrong_pin_then_right_and_too_many_wrong() {
    let mut sim = Sim::new(settings(AuthMode::Users));
    sim.finish_prompt();
    sim.keys("1004#1111#");
    sim.ev(Event::AuthResult(Err(OutcomeCode::InvalidCredentials)));
    assert_eq!(
        sim.last_play(),
        ["invalid_credentials", "enter_self_service_id"]
    );
    sim.keys("1004#12345#");
    sim.ev(Event::AuthResult(Ok(AuthOk {
        user_id: "u".into(),
    })));
    assert!(matches!(
        sim.last_request(),
        Action::PreviewAssignment { .. }
    ));

    let mut sim = Sim::new(settings(AuthMode::Users));
    sim.finish_prompt();
    for _ in 0..3 {
        sim.keys("1004#1111#");
        sim.ev(Event::AuthResult(Err(OutcomeCode::InvalidCredentials)));
    }
    assert_eq!(
        sim.last_play(),
        ["invalid_credentials", "too_many_attempts", "goodbye"]
    );
    sim.finish_all();
    assert_eq!(sim.finished, [OutcomeCode::InvalidCredentials]);
}

#[test]
fn a_locked_account_sounds_like_a_wrong_pin_and_the_outcome_says_locked() {
    let mut sim = Sim::new(settings(AuthMode::Users));
    sim.finish_prompt();
    sim.keys("1004#1111#");
    sim.ev(Event::AuthResult(Err(OutcomeCode::AccountLocked)));
    // Asked again, exactly as after a wrong PIN: nothing tells a locked ID apart.
    assert_eq!(
        sim.last_play(),
        ["invalid_credentials", "enter_self_service_id"]
    );
    sim.finish_prompt();
    sim.keys("1004#2222#");
    sim.ev(Event::AuthResult(Err(OutcomeCode::InvalidCredentials)));
    sim.finish_prompt();
    sim.keys("1004#3333#");
    sim.ev(Event::AuthResult(Err(OutcomeCode::AccountLocked)));
    assert_eq!(
        sim.last_play(),
        ["invalid_credentials", "too_many_attempts", "goodbye"]
    );
    sim.finish_all();
    assert_eq!(sim.finished, [OutcomeCode::AccountLocked]);
}

#[test]
fn a_device_that_cannot_claim_is_told_so_before_any_credential() {
    for code in [
        OutcomeCode::NotAutoregistered,
        OutcomeCode::SecureDeviceNotSupported,
        OutcomeCode::InvalidDeviceModel,
    ] {
        let mut sim = Sim::with(Call::refused(settings(AuthMode::Users), code));
        let failure = Prompt::for_failure(code).name().to_owned();
        assert_eq!(sim.plays, [["welcome", failure.as_str(), "goodbye"]]);
        // Keys change nothing: no ID or PIN is asked, nothing is authenticated.
        sim.keys("1004#12345#");
        sim.finish_all();
        assert!(sim.requests.is_empty(), "{:?}", sim.requests);
        assert_eq!(sim.plays.len(), 1);
        assert_eq!(sim.finished, [code]);
        assert_eq!(sim.hangups, 1);
        assert!(sim.after_finish.is_empty());
    }
}

#[test]
fn hanging_up_after_meeting_a_locked_account_is_audited_as_locked() {
    let mut sim = Sim::new(settings(AuthMode::Users));
    sim.finish_prompt();
    sim.keys("1004#1111#");
    sim.ev(Event::AuthResult(Err(OutcomeCode::AccountLocked)));
    sim.ev(Event::HangUp);
    assert_eq!(sim.finished, [OutcomeCode::AccountLocked]);
}

#[test]
fn cancel_at_confirmation() {
    let mut sim = Sim::new(settings(AuthMode::Users));
    to_confirm(&mut sim);
    sim.keys("2");
    assert_eq!(sim.last_play(), ["cancelled", "goodbye"]);
    sim.finish_all();
    assert_eq!(sim.finished, [OutcomeCode::Cancelled]);
    assert!(!sim
        .requests
        .iter()
        .any(|r| matches!(r, Action::Assign { .. })));
}

#[test]
fn no_input_after_first_digit_timeouts() {
    let mut sim = Sim::new(settings(AuthMode::Users));
    sim.finish_prompt();
    for i in 0..3 {
        sim.wait(Duration::from_secs(9));
        assert!(sim.finished.is_empty());
        sim.wait(Duration::from_secs(2));
        if i < 2 {
            assert_eq!(sim.last_play(), ["no_input", "enter_self_service_id"]);
            sim.finish_prompt();
        }
    }
    assert_eq!(sim.last_play(), ["no_input", "goodbye"]);
    sim.finish_all();
    assert_eq!(sim.finished, [OutcomeCode::NoInput]);
}

#[test]
fn inter_digit_timeout_ends_the_entry() {
    let mut sim = Sim::new(settings(AuthMode::Users));
    sim.finish_prompt();
    sim.keys("10");
    sim.wait(Duration::from_secs(4));
    sim.keys("04");
    sim.wait(Duration::from_secs(6));
    assert_eq!(sim.last_play(), ["enter_pin"]);
    sim.keys("12345");
    sim.wait(Duration::from_secs(6));
    assert_eq!(
        sim.last_request(),
        Action::Authenticate {
            self_service_id: "1004".into(),
            secret: Some("12345".into())
        }
    );
}

#[test]
fn star_clears_and_empty_or_long_entries_are_invalid() {
    let mut sim = Sim::new(IvrSettings {
        max_digits: 6,
        ..settings(AuthMode::Users)
    });
    sim.finish_prompt();
    sim.keys("99*");
    assert_eq!(sim.last_play(), ["enter_self_service_id"]);
    sim.keys("#");
    assert_eq!(sim.last_play(), ["invalid_entry", "enter_self_service_id"]);
    sim.keys("1234567");
    assert_eq!(sim.last_play(), ["invalid_entry", "enter_self_service_id"]);
    sim.keys("1004#12345#");
    assert_eq!(
        sim.last_request(),
        Action::Authenticate {
            self_service_id: "1004".into(),
            secret: Some("12345".into())
        }
    );
}

#[test]
fn barge_in_and_type_ahead() {
    let mut sim = Sim::new(settings(AuthMode::Users));
    // Typing during the welcome stops it, and the digits count.
    sim.keys("1004#");
    assert_eq!(sim.stops, 1);
    assert_eq!(sim.last_play(), ["enter_pin"]);
    sim.keys("12345#");
    assert!(matches!(sim.last_request(), Action::Authenticate { .. }));
}

#[test]
fn language_menu_pick_timeout_and_single_language() {
    let fr: Language = "fr_FR".parse().unwrap();
    let de: Language = "de_DE".parse().unwrap();
    let s = IvrSettings {
        languages: vec![fr.clone(), de.clone()],
        ..settings(AuthMode::Users)
    };
    let mut sim = Sim::new(s.clone());
    assert_eq!(
        sim.plays[0],
        [
            "welcome",
            "fr_FR:language_select",
            "fr_FR:digit_1",
            "de_DE:language_select",
            "de_DE:digit_2"
        ]
    );
    assert_eq!(sim.language, Some(fr.clone()));
    sim.keys("2");
    assert_eq!(sim.language, Some(de));
    assert_eq!(sim.last_play(), ["enter_self_service_id"]);

    let mut sim = Sim::new(s.clone());
    sim.finish_prompt();
    sim.wait(Duration::from_secs(11));
    assert_eq!(sim.language, Some(fr));
    assert_eq!(sim.last_play(), ["enter_self_service_id"]);

    let sim = Sim::new(IvrSettings {
        language_menu: false,
        ..s
    });
    assert_eq!(sim.plays[0], ["welcome", "enter_self_service_id"]);
}

#[test]
fn hold_and_resume_mid_pin_keep_the_call() {
    let mut sim = Sim::new(settings(AuthMode::Users));
    sim.finish_prompt();
    sim.keys("1004#12");
    sim.ev(Event::Hold);
    // Minutes on hold: no timeout fires, the call stays up.
    sim.wait(Duration::from_secs(300));
    assert!(sim.finished.is_empty());
    assert!(sim.timer.is_none());
    sim.ev(Event::Resume);
    assert_eq!(sim.last_play(), ["enter_pin"]);
    sim.finish_prompt();
    sim.keys("12345#");
    assert_eq!(
        sim.last_request(),
        Action::Authenticate {
            self_service_id: "1004".into(),
            secret: Some("12345".into())
        }
    );
}

type Step = Box<dyn Fn(&mut Sim)>;

#[test]
fn hang_up_at_any_step_finishes_once() {
    // Hang up after the k-th scripted event.
    for k in 0..12 {
        let mut sim = Sim::new(settings(AuthMode::Users));
        let script: Vec<Step> = vec![
            Box::new(|s| s.finish_prompt()),
            Box::new(|s| s.keys("1004")),
            Box::new(|s| s.keys("#")),
            Box::new(|s| s.keys("12345#")),
            Box::new(|s| {
                s.ev(Event::AuthResult(Ok(AuthOk {
                    user_id: "u".into(),
                })))
            }),
            Box::new(|s| s.ev(Event::PreviewResult(Ok("1004".into())))),
            Box::new(|s| s.finish_prompt()),
            Box::new(|s| s.keys("1")),
            Box::new(|s| s.ev(Event::AssignResult(Ok(())))),
            Box::new(|s| s.finish_prompt()),
        ];
        for step in script.iter().take(k) {
            step(&mut sim);
        }
        let already = sim.finished.clone();
        sim.ev(Event::HangUp);
        if k == 8 {
            // Hung up while the assignment was running: its result decides.
            assert!(sim.finished.is_empty());
            sim.ev(Event::AssignResult(Ok(())));
            assert_eq!(sim.finished, [OutcomeCode::Success]);
            assert_eq!(sim.hangups, 0, "no BYE to a caller who left");
            assert_eq!(sim.check_sync, 1);
        } else if already.is_empty() {
            let expect = if k >= 9 {
                OutcomeCode::Success
            } else {
                OutcomeCode::Abandoned
            };
            assert_eq!(sim.finished, [expect], "k={k}");
        }
        assert_eq!(sim.finished.len(), 1, "k={k}");
        sim.ev(Event::HangUp);
        sim.keys("123#");
        assert_eq!(sim.finished.len(), 1);
        assert!(sim.after_finish.is_empty(), "k={k}: {:?}", sim.after_finish);
    }
}

#[test]
fn every_prompt_name_is_a_shipped_file() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../prompts/en_US");
    for p in Prompt::all() {
        assert!(
            dir.join(format!("{}.wav", p.name())).exists(),
            "{} missing",
            p.name()
        );
    }
}

/// The activation route point: the code instead of ID and PIN, then the claim's answer.
fn code_call(code_result: Result<(), OutcomeCode>) -> Sim {
    let mut sim = Sim::with(Call::activation(IvrSettings::default()));
    assert_eq!(sim.plays[0], ["welcome", "enter_activation_code"]);
    sim.finish_prompt();
    sim.keys("1234567890123456#");
    assert_eq!(
        sim.last_request(),
        Action::ClaimWithCode {
            code: "1234567890123456".into()
        }
    );
    sim.ev(Event::AssignResult(code_result));
    sim
}

#[test]
fn activation_code_success_provisions_without_id_pin_or_confirmation() {
    let mut sim = code_call(Ok(()));
    assert_eq!(sim.requests.len(), 1, "no authentication, no preview");
    assert_eq!(sim.last_play(), ["success", "goodbye"]);
    sim.finish_all();
    assert_eq!(sim.finished, [OutcomeCode::Success]);
    assert_eq!(sim.check_sync, 1);
}

#[test]
fn activation_code_expired_used_other_phone_and_rules_end_the_call_with_their_prompt() {
    for (code, prompt) in [
        (
            OutcomeCode::ActivationCodeExpired,
            "activation_code_expired",
        ),
        (OutcomeCode::ActivationCodeUsed, "activation_code_used"),
        (
            OutcomeCode::ActivationCodeWrongDevice,
            "activation_code_wrong_device",
        ),
        (OutcomeCode::SelfprovDeviceLimit, "device_limit"),
    ] {
        let mut sim = code_call(Err(code));
        assert_eq!(sim.last_play(), [prompt, "goodbye"], "{code}");
        sim.finish_all();
        assert_eq!(sim.finished, [code]);
        assert_eq!(sim.check_sync, 0);
    }
}

#[test]
fn wrong_activation_codes_are_asked_again_then_the_call_ends() {
    let mut sim = code_call(Err(OutcomeCode::ActivationCodeInvalid));
    assert_eq!(
        sim.last_play(),
        ["activation_code_invalid", "enter_activation_code"]
    );
    // Type-ahead over the prompt, and the inter-digit timeout instead of `#`.
    sim.keys("1111222233334444");
    sim.wait(Duration::from_secs(6));
    assert_eq!(
        sim.last_request(),
        Action::ClaimWithCode {
            code: "1111222233334444".into()
        }
    );
    sim.ev(Event::AssignResult(Err(OutcomeCode::ActivationCodeInvalid)));
    sim.finish_prompt();
    sim.keys("0000000000000000#");
    sim.ev(Event::AssignResult(Err(OutcomeCode::ActivationCodeInvalid)));
    assert_eq!(
        sim.last_play(),
        ["activation_code_invalid", "too_many_attempts", "goodbye"]
    );
    sim.finish_all();
    assert_eq!(sim.finished, [OutcomeCode::ActivationCodeInvalid]);
    // A phone locked out of codes hears the same and the call ends at once.
    let mut sim = code_call(Err(OutcomeCode::AccountLocked));
    assert_eq!(
        sim.last_play(),
        ["activation_code_invalid", "too_many_attempts", "goodbye"]
    );
    sim.finish_all();
    assert_eq!(sim.finished, [OutcomeCode::AccountLocked]);
}

#[test]
fn activation_call_with_a_language_menu_and_a_hang_up_while_claiming() {
    let s = IvrSettings {
        languages: vec!["en_US".parse().unwrap(), "fr_FR".parse().unwrap()],
        ..IvrSettings::default()
    };
    let mut sim = Sim::with(Call::activation(s));
    sim.finish_prompt();
    sim.keys("2");
    assert_eq!(sim.last_play(), ["enter_activation_code"]);
    assert_eq!(sim.language.as_ref().map(|l| l.as_str()), Some("fr_FR"));
    sim.finish_prompt();
    sim.keys("1234567890123456#");
    sim.ev(Event::HangUp);
    assert!(sim.finished.is_empty(), "the claim's result decides");
    sim.ev(Event::AssignResult(Ok(())));
    assert_eq!(sim.finished, [OutcomeCode::Success]);
    assert_eq!(sim.check_sync, 1);
}

fn arb_event() -> impl Strategy<Value = Event> {
    prop_oneof![
        (0u64..20).prop_map(Event::PromptFinished),
        prop_oneof![
            (0u8..10).prop_map(Key::Digit),
            Just(Key::Star),
            Just(Key::Pound)
        ]
        .prop_map(Event::Digit),
        (0u64..40).prop_map(|i| Event::Timer(TimerId(i))),
        prop_oneof![
            Just(Ok(AuthOk {
                user_id: "u".into()
            })),
            Just(Err(OutcomeCode::InvalidCredentials)),
            Just(Err(OutcomeCode::AccountLocked))
        ]
        .prop_map(Event::AuthResult),
        prop_oneof![
            Just(Ok("1004".to_string())),
            Just(Err(OutcomeCode::SelfprovDeviceLimit))
        ]
        .prop_map(Event::PreviewResult),
        prop_oneof![Just(Ok(())), Just(Err(OutcomeCode::InternalError))]
            .prop_map(Event::AssignResult),
        Just(Event::Hold),
        Just(Event::Resume),
        Just(Event::HangUp),
    ]
}

proptest! {
    /// Any sequence of events: no panic, at most one Finished, nothing after it, and a call that
    /// saw a hang-up and then every pending request answered is finished.
    #[test]
    fn arbitrary_events(events in proptest::collection::vec(arb_event(), 0..60), mode in 0u8..3) {
        let mode = [AuthMode::Users, AuthMode::UsersAndAdmins, AuthMode::None][mode as usize];
        let mut sim = Sim::new(settings(mode));
        for e in events {
            sim.wait(Duration::from_millis(700));
            sim.ev(e);
        }
        prop_assert!(sim.finished.len() <= 1);
        prop_assert!(sim.after_finish.is_empty());
        sim.ev(Event::HangUp);
        sim.ev(Event::AssignResult(Ok(())));
        prop_assert_eq!(sim.finished.len(), 1);
    }
}
