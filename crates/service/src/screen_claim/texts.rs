//! Every text the on-screen claim shows, in each shipped language (en_US, fr_FR, de_DE, es_ES):
//! one table per language, so a translation is reviewed in one place and a missing one fails
//! the build. An outcome's text is indexed in the order of [`OutcomeCode::ALL`].

use selfprov_provisioning::OutcomeCode;

/// The texts of one language.
#[derive(Debug)]
pub(crate) struct Texts {
    /// The language these are in (`en_US`…).
    pub language: &'static str,
    pub title: &'static str,
    /// Under the login form.
    pub login_prompt: &'static str,
    pub user_id: &'static str,
    pub pin: &'static str,
    /// The activation code field (instead of user ID and PIN).
    pub code: &'static str,
    /// The confirmation: `{ext}` is replaced by the extension.
    pub confirm: &'static str,
    pub confirm_prompt: &'static str,
    pub continue_key: &'static str,
    pub exit_key: &'static str,
    pub try_again_key: &'static str,
    /// Too many logins on this phone in a minute.
    pub try_later: &'static str,
    /// One per outcome code, in the order of [`OutcomeCode::ALL`]; `{ext}` as in `confirm`.
    outcomes: [&'static str; OutcomeCode::ALL.len()],
}

impl Texts {
    /// The text shown for `code`.
    pub fn outcome(&self, code: OutcomeCode) -> &'static str {
        let i = OutcomeCode::ALL.iter().position(|c| *c == code);
        i.map_or(self.outcomes[13], |i| self.outcomes[i])
    }
}

pub(crate) const EN_US: Texts = Texts {
    language: "en_US",
    title: "Self-Provisioning",
    login_prompt: "Log in, or enter an activation code",
    user_id: "User ID",
    pin: "PIN",
    code: "Activation code",
    confirm: "This phone will be provisioned with extension {ext}.",
    confirm_prompt: "Press Continue to confirm",
    continue_key: "Continue",
    exit_key: "Exit",
    try_again_key: "Try again",
    try_later: "Too many attempts on this phone. Try again in a minute.",
    outcomes: [
        "This phone is now extension {ext}. It restarts with its new line.",
        "The user ID or PIN is not valid.",
        "The user ID or PIN is not valid.",
        "Your user profile does not allow you to provision phones. Contact your administrator.",
        "You have no primary extension. Contact your administrator.",
        "This phone is already provisioned.",
        "This phone uses a secure profile and cannot be provisioned here.",
        "This phone model cannot be provisioned.",
        "Your user profile has no template for this phone model. Contact your administrator.",
        "You already have the maximum number of phones.",
        "Cancelled. The phone was not provisioned.",
        "Nothing was entered.",
        "The provisioning was abandoned.",
        "The service is unavailable. Try again later.",
        "The provisioning service is not available right now. Try again later.",
        "That activation code is not valid.",
        "That activation code has expired. Ask your administrator for a new one.",
        "That activation code has already been used.",
        "That activation code is for a different phone.",
    ],
};

pub(crate) const FR_FR: Texts = Texts {
    language: "fr_FR",
    title: "Auto-approvisionnement",
    login_prompt: "Connectez-vous ou saisissez un code d'activation",
    user_id: "ID utilisateur",
    pin: "Code PIN",
    code: "Code d'activation",
    confirm: "Ce téléphone sera approvisionné avec le poste {ext}.",
    confirm_prompt: "Appuyez sur Continuer pour confirmer",
    continue_key: "Continuer",
    exit_key: "Quitter",
    try_again_key: "Réessayer",
    try_later: "Trop de tentatives sur ce téléphone. Réessayez dans une minute.",
    outcomes: [
        "Ce téléphone est maintenant le poste {ext}. Il redémarre avec sa nouvelle ligne.",
        "L'ID utilisateur ou le code PIN n'est pas valide.",
        "L'ID utilisateur ou le code PIN n'est pas valide.",
        "Votre profil utilisateur ne permet pas d'approvisionner des téléphones. Contactez votre administrateur.",
        "Vous n'avez pas de poste principal. Contactez votre administrateur.",
        "Ce téléphone est déjà approvisionné.",
        "Ce téléphone utilise un profil sécurisé et ne peut pas être approvisionné ici.",
        "Ce modèle de téléphone ne peut pas être approvisionné.",
        "Votre profil utilisateur n'a pas de modèle pour ce téléphone. Contactez votre administrateur.",
        "Vous avez déjà le nombre maximal de téléphones.",
        "Annulé. Le téléphone n'a pas été approvisionné.",
        "Rien n'a été saisi.",
        "L'approvisionnement a été abandonné.",
        "Le service n'est pas disponible. Réessayez plus tard.",
        "Le service d'approvisionnement n'est pas disponible pour le moment. Réessayez plus tard.",
        "Ce code d'activation n'est pas valide.",
        "Ce code d'activation a expiré. Demandez-en un nouveau à votre administrateur.",
        "Ce code d'activation a déjà été utilisé.",
        "Ce code d'activation est destiné à un autre téléphone.",
    ],
};

pub(crate) const DE_DE: Texts = Texts {
    language: "de_DE",
    title: "Selbstbereitstellung",
    login_prompt: "Melden Sie sich an oder geben Sie einen Aktivierungscode ein",
    user_id: "Benutzer-ID",
    pin: "PIN",
    code: "Aktivierungscode",
    confirm: "Dieses Telefon wird mit der Nebenstelle {ext} eingerichtet.",
    confirm_prompt: "Zum Bestätigen Weiter drücken",
    continue_key: "Weiter",
    exit_key: "Beenden",
    try_again_key: "Wiederholen",
    try_later: "Zu viele Versuche an diesem Telefon. Versuchen Sie es in einer Minute erneut.",
    outcomes: [
        "Dieses Telefon ist jetzt Nebenstelle {ext}. Es startet mit seiner neuen Leitung neu.",
        "Benutzer-ID oder PIN ist ungültig.",
        "Benutzer-ID oder PIN ist ungültig.",
        "Ihr Benutzerprofil erlaubt keine Einrichtung von Telefonen. Wenden Sie sich an Ihren Administrator.",
        "Sie haben keine primäre Nebenstelle. Wenden Sie sich an Ihren Administrator.",
        "Dieses Telefon ist bereits eingerichtet.",
        "Dieses Telefon verwendet ein sicheres Profil und kann hier nicht eingerichtet werden.",
        "Dieses Telefonmodell kann nicht eingerichtet werden.",
        "Ihr Benutzerprofil hat keine Vorlage für dieses Telefonmodell. Wenden Sie sich an Ihren Administrator.",
        "Sie haben bereits die maximale Anzahl an Telefonen.",
        "Abgebrochen. Das Telefon wurde nicht eingerichtet.",
        "Es wurde nichts eingegeben.",
        "Die Einrichtung wurde abgebrochen.",
        "Der Dienst ist nicht verfügbar. Versuchen Sie es später erneut.",
        "Der Einrichtungsdienst ist gerade nicht erreichbar. Versuchen Sie es später erneut.",
        "Dieser Aktivierungscode ist ungültig.",
        "Dieser Aktivierungscode ist abgelaufen. Fordern Sie bei Ihrem Administrator einen neuen an.",
        "Dieser Aktivierungscode wurde bereits verwendet.",
        "Dieser Aktivierungscode ist für ein anderes Telefon bestimmt.",
    ],
};

pub(crate) const ES_ES: Texts = Texts {
    language: "es_ES",
    title: "Autoaprovisionamiento",
    login_prompt: "Inicie sesión o introduzca un código de activación",
    user_id: "ID de usuario",
    pin: "PIN",
    code: "Código de activación",
    confirm: "Este teléfono se aprovisionará con la extensión {ext}.",
    confirm_prompt: "Pulse Continuar para confirmar",
    continue_key: "Continuar",
    exit_key: "Salir",
    try_again_key: "Reintentar",
    try_later: "Demasiados intentos en este teléfono. Inténtelo de nuevo en un minuto.",
    outcomes: [
        "Este teléfono es ahora la extensión {ext}. Se reinicia con su nueva línea.",
        "El ID de usuario o el PIN no es válido.",
        "El ID de usuario o el PIN no es válido.",
        "Su perfil de usuario no permite aprovisionar teléfonos. Póngase en contacto con su administrador.",
        "No tiene una extensión principal. Póngase en contacto con su administrador.",
        "Este teléfono ya está aprovisionado.",
        "Este teléfono usa un perfil seguro y no se puede aprovisionar aquí.",
        "Este modelo de teléfono no se puede aprovisionar.",
        "Su perfil de usuario no tiene plantilla para este modelo de teléfono. Póngase en contacto con su administrador.",
        "Ya tiene el número máximo de teléfonos.",
        "Cancelado. El teléfono no se ha aprovisionado.",
        "No se ha introducido nada.",
        "El aprovisionamiento se ha abandonado.",
        "El servicio no está disponible. Inténtelo de nuevo más tarde.",
        "El servicio de aprovisionamiento no está disponible ahora. Inténtelo de nuevo más tarde.",
        "Ese código de activación no es válido.",
        "Ese código de activación ha caducado. Pida uno nuevo a su administrador.",
        "Ese código de activación ya se ha utilizado.",
        "Ese código de activación es para otro teléfono.",
    ],
};

/// Every language with texts, English first (the fallback).
pub(crate) const ALL: [&Texts; 4] = [&EN_US, &FR_FR, &DE_DE, &ES_ES];

/// The texts of `language` (`fr_FR`), else of its language without the country (`fr_CA` gets
/// French), else none.
pub(crate) fn for_language(language: &str) -> Option<&'static Texts> {
    ALL.iter()
        .find(|t| t.language == language)
        .or_else(|| {
            let prefix = language.get(..2)?;
            ALL.iter().find(|t| t.language.starts_with(prefix))
        })
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_language_has_a_text_for_every_outcome_and_the_confirmation_names_the_extension() {
        for t in ALL {
            assert!(t.confirm.contains("{ext}"), "{}", t.language);
            assert!(
                t.outcome(OutcomeCode::Success).contains("{ext}"),
                "{}",
                t.language
            );
            for c in OutcomeCode::ALL {
                assert!(!t.outcome(c).is_empty(), "{} {c}", t.language);
            }
            // A locked account reads as wrong credentials (docs/security.md), as in the IVR.
            assert_eq!(
                t.outcome(OutcomeCode::AccountLocked),
                t.outcome(OutcomeCode::InvalidCredentials)
            );
            if t.language != "en_US" {
                assert_ne!(t.confirm, EN_US.confirm, "{} is translated", t.language);
            }
        }
        assert_eq!(
            EN_US.outcome(OutcomeCode::SelfprovDeviceLimit),
            EN_US.outcomes[9]
        );
        assert_eq!(
            EN_US.outcome(OutcomeCode::InternalError),
            EN_US.outcomes[13]
        );
        assert!(EN_US
            .outcome(OutcomeCode::DatabaseUnavailable)
            .contains("Try again later"));
    }

    #[test]
    fn a_language_is_found_exactly_or_by_its_first_two_letters() {
        assert_eq!(for_language("de_DE").map(|t| t.language), Some("de_DE"));
        assert_eq!(for_language("fr_CA").map(|t| t.language), Some("fr_FR"));
        assert!(for_language("it_IT").is_none());
        assert!(for_language("").is_none());
    }
}
