//! Credential checks: the three authentication modes, unknown IDs, lockout and its end, and the
//! helpdesk's unlock and PIN reset.

use crate::*;
use std::time::Duration;

pub fn authentication_modes_and_invalid_credentials(make: &Factory) {
    let h = fixture(make);
    let pol = CredentialPolicy::default();
    let auth = |id: &str, secret: Option<&str>, mode| {
        h.claims()
            .authenticate(id, secret, None, &sp(mode), &pol, NOW)
    };
    // users: PIN only.
    assert_eq!(
        auth("1004", Some("12345"), AuthMode::Users)
            .unwrap()
            .user_id
            .as_str(),
        "alice"
    );
    assert_eq!(
        auth("1004", Some("999000"), AuthMode::Users),
        Err(AssignError::InvalidCredentials)
    );
    // Unknown or malformed ID: same error.
    assert_eq!(
        auth("4242", Some("12345"), AuthMode::Users),
        Err(AssignError::InvalidCredentials)
    );
    assert_eq!(
        auth("12a", Some("12345"), AuthMode::Users),
        Err(AssignError::InvalidCredentials)
    );
    // users_and_admins: the PIN or the authentication code.
    assert!(
        auth("1004", Some("999000"), AuthMode::UsersAndAdmins)
            .unwrap()
            .via_auth_code
    );
    assert!(
        !auth("1004", Some("12345"), AuthMode::UsersAndAdmins)
            .unwrap()
            .via_auth_code
    );
    assert_eq!(
        auth("1004", Some("000"), AuthMode::UsersAndAdmins),
        Err(AssignError::InvalidCredentials)
    );
    // none: the ID alone.
    assert!(auth("1004", None, AuthMode::None).is_ok());
    assert_eq!(
        auth("4242", None, AuthMode::None),
        Err(AssignError::InvalidCredentials)
    );
    // Explicit self-service ID.
    assert_eq!(
        auth("3333", Some("22222"), AuthMode::Users)
            .unwrap()
            .user_id
            .as_str(),
        "carol2"
    );
}

fn policy() -> CredentialPolicy {
    CredentialPolicy {
        failed_attempts_threshold: 3,
        lockout_duration: Duration::from_secs(60),
        reset_on_success: true,
    }
}

pub fn lockout_after_threshold_and_unlock_after_duration(make: &Factory) {
    let h = fixture(make);
    let (set, pol) = (sp(AuthMode::Users), policy());
    let auth = |pin: &str, at: UnixMillis| {
        h.claims()
            .authenticate("1004", Some(pin), None, &set, &pol, at)
    };
    assert_eq!(auth("1", NOW), Err(AssignError::InvalidCredentials));
    assert_eq!(auth("2", NOW), Err(AssignError::InvalidCredentials));
    assert_eq!(auth("3", NOW), Err(AssignError::AccountLocked));
    // Locked: even the right PIN is refused.
    assert_eq!(
        auth("12345", NOW.plus(Duration::from_secs(59))),
        Err(AssignError::AccountLocked)
    );
    // After the duration the right PIN works and the counter is reset.
    let later = NOW.plus(Duration::from_secs(61));
    assert!(auth("12345", later).is_ok());
    assert_eq!(h.ops.lock_state("alice").unwrap().failed_attempts, 0);
    // Reset on success: two failures, a success, two failures → not locked.
    for _ in 0..2 {
        let _ = auth("0", later);
    }
    assert!(auth("12345", later).is_ok());
    for _ in 0..2 {
        let _ = auth("0", later);
    }
    assert!(auth("12345", later).is_ok());
}

pub fn unlock_and_pin_reset_clear_a_lockout(make: &Factory) {
    let h = fixture(make);
    let (set, pol) = (sp(AuthMode::Users), policy());
    let now = UnixMillis::now();
    let auth = |pin: &str| {
        h.claims()
            .authenticate("1004", Some(pin), None, &set, &pol, now)
    };
    for _ in 0..3 {
        let _ = auth("0");
    }
    assert_eq!(auth("12345"), Err(AssignError::AccountLocked));
    assert!(h.ops.lock_state("alice").unwrap().locked_until_ms.is_some());
    h.ops.unlock_user(&admin(), "alice").unwrap();
    assert!(auth("12345").is_ok());
    // Locked again; a PIN reset (generated PIN, shown once) unlocks with the new PIN only.
    for _ in 0..3 {
        let _ = auth("0");
    }
    let new_pin = h
        .ops
        .reset_pin(&admin(), "alice", None)
        .unwrap()
        .expect("a generated PIN");
    assert!(
        new_pin.len() == 6 && new_pin.bytes().all(|b| b.is_ascii_digit()),
        "{new_pin}"
    );
    assert_eq!(auth("12345"), Err(AssignError::InvalidCredentials));
    assert!(auth(&new_pin).is_ok());
    // A PIN given by the helpdesk is checked like any PIN.
    let e = h
        .ops
        .reset_pin(&admin(), "alice", Some("12ab"))
        .unwrap_err();
    assert_eq!(e.field(), Some("pin"));
    assert!(h.ops.unlock_user(&admin(), "ghost").is_err());
}

pub fn a_strangers_failures_lock_the_strangers_phone_not_the_users(make: &Factory) {
    let h = fixture(make);
    let (set, pol) = (sp(AuthMode::Users), policy()); // threshold 3
    let now = UnixMillis::now();
    let from = |device: &str, pin: &str| {
        h.claims()
            .authenticate("1004", Some(pin), Some(device), &set, &pol, now)
            .map(|u| u.user_id.to_string())
    };
    // A stranger guesses from their phone until it is locked for this user...
    assert_eq!(
        from("SEPSTRANGER0001", "1"),
        Err(AssignError::InvalidCredentials)
    );
    assert_eq!(
        from("SEPSTRANGER0001", "2"),
        Err(AssignError::InvalidCredentials)
    );
    assert_eq!(
        from("SEPSTRANGER0001", "3"),
        Err(AssignError::AccountLocked)
    );
    assert_eq!(
        from("SEPSTRANGER0001", "12345"),
        Err(AssignError::AccountLocked)
    );
    // ...and the user, at the phone they are claiming, is not locked out.
    assert_eq!(from("SEPALICENEW0001", "12345"), Ok("alice".into()));
    assert!(h.ops.lock_state("alice").unwrap().locked_until_ms.is_none());
    // The stranger's phone stays locked until the lockout ends.
    assert_eq!(
        from("SEPSTRANGER0001", "12345"),
        Err(AssignError::AccountLocked)
    );
    let later = now.plus(Duration::from_secs(61));
    let at = |device: &str, pin: &str, t: UnixMillis| {
        h.claims()
            .authenticate("1004", Some(pin), Some(device), &set, &pol, t)
            .is_ok()
    };
    assert!(at("SEPSTRANGER0001", "12345", later));
    // The ceiling: USER_WIDE_FACTOR x threshold failures from any phones lock the user
    // everywhere (a stranger with many phones gets no more guesses than that).
    let limit = pol.failed_attempts_threshold * selfprov_operations::USER_WIDE_FACTOR;
    for i in 0..limit {
        let device = format!("SEPMANY{:08}", i / 2); // two guesses per phone, none locked
        assert!(!at(&device, "0", later));
    }
    assert!(h.ops.lock_state("alice").unwrap().locked_until_ms.is_some());
    assert!(!at("SEPALICENEW0001", "12345", later));
    // Unlock clears the user's count and every phone's.
    h.ops.unlock_user(&admin(), "alice").unwrap();
    for _ in 0..2 {
        assert!(!at("SEPSTRANGER0001", "0", later));
    }
    h.ops.unlock_user(&admin(), "alice").unwrap();
    assert!(
        !at("SEPSTRANGER0001", "0", later),
        "a fresh count after the unlock"
    );
    assert!(at("SEPSTRANGER0001", "12345", later));
}
