//! The prompts the flow plays, named as the files in `prompts/<language>/`.

use selfprov_provisioning::{Language, OutcomeCode};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Prompt {
    Welcome,
    LanguageSelect,
    EnterSelfServiceId,
    EnterPin,
    EnterPinOrAuthCode,
    InvalidEntry,
    InvalidCredentials,
    AccountLocked,
    NotAllowed,
    DeviceLimit,
    NoDeviceTemplate,
    InvalidModel,
    NotAutoregistered,
    SecureDeviceNotSupported,
    NoPrimaryExtension,
    ConfirmExtension,
    ConfirmPress,
    Digit(u8),
    Success,
    Cancelled,
    NoInput,
    TooManyAttempts,
    ServiceUnavailable,
    InternalError,
    Goodbye,
    EnterActivationCode,
    ActivationCodeExpired,
    ActivationCodeUsed,
    ActivationCodeInvalid,
    ActivationCodeWrongDevice,
}

impl Prompt {
    /// The file name (without `.wav`).
    pub fn name(self) -> &'static str {
        const DIGITS: [&str; 10] = [
            "digit_0", "digit_1", "digit_2", "digit_3", "digit_4", "digit_5", "digit_6", "digit_7",
            "digit_8", "digit_9",
        ];
        match self {
            Prompt::Welcome => "welcome",
            Prompt::LanguageSelect => "language_select",
            Prompt::EnterSelfServiceId => "enter_self_service_id",
            Prompt::EnterPin => "enter_pin",
            Prompt::EnterPinOrAuthCode => "enter_pin_or_auth_code",
            Prompt::InvalidEntry => "invalid_entry",
            Prompt::InvalidCredentials => "invalid_credentials",
            Prompt::AccountLocked => "account_locked",
            Prompt::NotAllowed => "not_allowed",
            Prompt::DeviceLimit => "device_limit",
            Prompt::NoDeviceTemplate => "no_device_template",
            Prompt::InvalidModel => "invalid_model",
            Prompt::NotAutoregistered => "not_autoregistered",
            Prompt::SecureDeviceNotSupported => "secure_device_not_supported",
            Prompt::NoPrimaryExtension => "no_primary_extension",
            Prompt::ConfirmExtension => "confirm_extension",
            Prompt::ConfirmPress => "confirm_press",
            Prompt::Digit(d) => DIGITS[usize::from(d.min(9))],
            Prompt::Success => "success",
            Prompt::Cancelled => "cancelled",
            Prompt::NoInput => "no_input",
            Prompt::TooManyAttempts => "too_many_attempts",
            Prompt::ServiceUnavailable => "service_unavailable",
            Prompt::InternalError => "internal_error",
            Prompt::Goodbye => "goodbye",
            Prompt::EnterActivationCode => "enter_activation_code",
            Prompt::ActivationCodeExpired => "activation_code_expired",
            Prompt::ActivationCodeUsed => "activation_code_used",
            Prompt::ActivationCodeInvalid => "activation_code_invalid",
            Prompt::ActivationCodeWrongDevice => "activation_code_wrong_device",
        }
    }

    /// Every prompt the flow can play.
    pub fn all() -> Vec<Prompt> {
        let mut v = vec![
            Prompt::Welcome,
            Prompt::LanguageSelect,
            Prompt::EnterSelfServiceId,
            Prompt::EnterPin,
            Prompt::EnterPinOrAuthCode,
            Prompt::InvalidEntry,
            Prompt::InvalidCredentials,
            Prompt::AccountLocked,
            Prompt::NotAllowed,
            Prompt::DeviceLimit,
            Prompt::NoDeviceTemplate,
            Prompt::InvalidModel,
            Prompt::NotAutoregistered,
            Prompt::SecureDeviceNotSupported,
            Prompt::NoPrimaryExtension,
            Prompt::ConfirmExtension,
            Prompt::ConfirmPress,
            Prompt::Success,
            Prompt::Cancelled,
            Prompt::NoInput,
            Prompt::TooManyAttempts,
            Prompt::ServiceUnavailable,
            Prompt::InternalError,
            Prompt::Goodbye,
            Prompt::EnterActivationCode,
            Prompt::ActivationCodeExpired,
            Prompt::ActivationCodeUsed,
            Prompt::ActivationCodeInvalid,
            Prompt::ActivationCodeWrongDevice,
        ];
        v.extend((0..10).map(Prompt::Digit));
        v
    }

    /// The prompt that explains a failed check.
    pub fn for_failure(code: OutcomeCode) -> Prompt {
        match code {
            OutcomeCode::InvalidCredentials => Prompt::InvalidCredentials,
            OutcomeCode::AccountLocked => Prompt::AccountLocked,
            OutcomeCode::SelfprovNotAllowed => Prompt::NotAllowed,
            OutcomeCode::NoPrimaryExtension => Prompt::NoPrimaryExtension,
            OutcomeCode::NotAutoregistered => Prompt::NotAutoregistered,
            OutcomeCode::SecureDeviceNotSupported => Prompt::SecureDeviceNotSupported,
            OutcomeCode::InvalidDeviceModel => Prompt::InvalidModel,
            OutcomeCode::ModelPhonetemplateNotFound => Prompt::NoDeviceTemplate,
            OutcomeCode::SelfprovDeviceLimit => Prompt::DeviceLimit,
            OutcomeCode::Cancelled => Prompt::Cancelled,
            OutcomeCode::NoInput => Prompt::NoInput,
            OutcomeCode::Success => Prompt::Success,
            OutcomeCode::Abandoned | OutcomeCode::InternalError => Prompt::InternalError,
            OutcomeCode::DatabaseUnavailable => Prompt::ServiceUnavailable,
            OutcomeCode::ActivationCodeInvalid => Prompt::ActivationCodeInvalid,
            OutcomeCode::ActivationCodeExpired => Prompt::ActivationCodeExpired,
            OutcomeCode::ActivationCodeUsed => Prompt::ActivationCodeUsed,
            OutcomeCode::ActivationCodeWrongDevice => Prompt::ActivationCodeWrongDevice,
        }
    }
}

/// A prompt to play, optionally in a given language (the language menu plays each language's
/// own line); `None` means the call's current language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptRef {
    pub prompt: Prompt,
    pub language: Option<Language>,
}

impl From<Prompt> for PromptRef {
    fn from(prompt: Prompt) -> Self {
        PromptRef {
            prompt,
            language: None,
        }
    }
}
