#!/usr/bin/env bash
# Generates the shipped IVR prompts with espeak-ng and sox: prompts/<language>/<name>.wav,
# mono, 16-bit, 16 kHz, normalised to -3 dBFS peak, leading/trailing silence trimmed to 100 ms.
# The WAVs are committed, so a running system never needs a TTS engine. Re-run after editing a
# text below; replace files with studio recordings at will (see prompts/README.md).
# Needs: espeak-ng sox (scripts/install-deps.sh installs both).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v espeak-ng >/dev/null && command -v sox >/dev/null || { echo "need espeak-ng and sox: scripts/install-deps.sh" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

make_lang() { # lang voice  (reads "name|text" lines on stdin)
  local lang=$1 voice=$2
  mkdir -p "prompts/$lang"
  while IFS='|' read -r name text; do
    [ -z "$name" ] && continue
    espeak-ng -v "$voice" -s 150 -w "$tmp/raw.wav" "$text"
    sox "$tmp/raw.wav" -r 16000 -c 1 -b 16 "prompts/$lang/$name.wav" \
      silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse pad 0.1 0.1 norm -3
  done
  echo "prompts/$lang: $(ls "prompts/$lang" | wc -l) files"
}

make_lang en_US en-us <<'T'
welcome|Welcome to phone self provisioning.
language_select|For English, press
enter_self_service_id|Please enter your self service I D, followed by the pound key.
enter_pin|Please enter your PIN, followed by the pound key.
enter_pin_or_auth_code|Please enter your PIN or the authentication code, followed by the pound key.
invalid_entry|That entry is not valid.
invalid_credentials|The self service I D or PIN you entered is not valid.
account_locked|Your account is locked after too many failed attempts. Please try again later, or contact your administrator.
not_allowed|You are not allowed to provision phones. Please contact your administrator.
device_limit|You already have the maximum number of phones. Please contact your administrator.
no_device_template|This device could not be associated to your account. Please contact the System administrator to complete provisioning.
invalid_model|This phone model cannot be provisioned. Please contact your administrator.
not_autoregistered|This phone is not an auto registered phone, so it cannot be provisioned from here.
secure_device_not_supported|Self provisioning is not supported for secure phones.
no_primary_extension|Your account has no primary extension. Please contact your administrator.
confirm_extension|This phone will be provisioned with extension
confirm_press|Press 1 to confirm, or 2 to cancel.
digit_0|zero
digit_1|one
digit_2|two
digit_3|three
digit_4|four
digit_5|five
digit_6|six
digit_7|seven
digit_8|eight
digit_9|nine
success|Your phone has been provisioned. It will restart now.
cancelled|Provisioning cancelled.
no_input|No input was received.
too_many_attempts|Too many attempts.
service_unavailable|The provisioning service is not available right now. Please try again later.
internal_error|The system cannot complete provisioning right now. Please try again later.
goodbye|Goodbye.
enter_activation_code|Please enter your activation code, followed by the pound key.
activation_code_expired|That activation code has expired. Please ask your administrator for a new one.
activation_code_used|That activation code has already been used. Please ask your administrator for a new one.
activation_code_invalid|That activation code is not valid.
activation_code_wrong_device|That activation code is for a different phone.
T

make_lang fr_FR fr-fr <<'T'
welcome|Bienvenue dans le service d'auto-provisionnement des téléphones.
language_select|Pour le français, appuyez sur
enter_self_service_id|Veuillez saisir votre identifiant libre-service, suivi de la touche dièse.
enter_pin|Veuillez saisir votre code PIN, suivi de la touche dièse.
enter_pin_or_auth_code|Veuillez saisir votre code PIN ou le code d'authentification, suivi de la touche dièse.
invalid_entry|Cette saisie n'est pas valide.
invalid_credentials|L'identifiant ou le code PIN saisi n'est pas valide.
account_locked|Votre compte est verrouillé après trop d'échecs. Veuillez réessayer plus tard ou contacter votre administrateur.
not_allowed|Vous n'êtes pas autorisé à provisionner des téléphones. Veuillez contacter votre administrateur.
device_limit|Vous avez déjà le nombre maximal de téléphones. Veuillez contacter votre administrateur.
no_device_template|Ce téléphone n'a pas pu être associé à votre compte. Veuillez contacter l'administrateur système pour terminer le provisionnement.
invalid_model|Ce modèle de téléphone ne peut pas être provisionné. Veuillez contacter votre administrateur.
not_autoregistered|Ce téléphone n'est pas un téléphone auto-enregistré, il ne peut pas être provisionné ici.
secure_device_not_supported|L'auto-provisionnement n'est pas disponible pour les téléphones sécurisés.
no_primary_extension|Votre compte n'a pas de numéro principal. Veuillez contacter votre administrateur.
confirm_extension|Ce téléphone sera provisionné avec le numéro
confirm_press|Appuyez sur 1 pour confirmer, ou sur 2 pour annuler.
digit_0|zéro
digit_1|un
digit_2|deux
digit_3|trois
digit_4|quatre
digit_5|cinq
digit_6|six
digit_7|sept
digit_8|huit
digit_9|neuf
success|Votre téléphone est provisionné. Il va redémarrer.
cancelled|Provisionnement annulé.
no_input|Aucune saisie n'a été reçue.
too_many_attempts|Trop de tentatives.
service_unavailable|Le service de provisionnement n'est pas disponible pour le moment. Veuillez réessayer plus tard.
internal_error|Le système ne peut pas terminer le provisionnement pour le moment. Veuillez réessayer plus tard.
goodbye|Au revoir.
enter_activation_code|Veuillez saisir votre code d'activation, suivi de la touche dièse.
activation_code_expired|Ce code d'activation a expiré. Veuillez en demander un nouveau à votre administrateur.
activation_code_used|Ce code d'activation a déjà été utilisé. Veuillez en demander un nouveau à votre administrateur.
activation_code_invalid|Ce code d'activation n'est pas valide.
activation_code_wrong_device|Ce code d'activation est destiné à un autre téléphone.
T

make_lang de_DE de <<'T'
welcome|Willkommen bei der Selbstbereitstellung von Telefonen.
language_select|Für Deutsch drücken Sie
enter_self_service_id|Bitte geben Sie Ihre Self-Service-Kennung ein, gefolgt von der Rautetaste.
enter_pin|Bitte geben Sie Ihre PIN ein, gefolgt von der Rautetaste.
enter_pin_or_auth_code|Bitte geben Sie Ihre PIN oder den Authentifizierungscode ein, gefolgt von der Rautetaste.
invalid_entry|Diese Eingabe ist ungültig.
invalid_credentials|Die eingegebene Kennung oder PIN ist ungültig.
account_locked|Ihr Konto ist nach zu vielen Fehlversuchen gesperrt. Bitte versuchen Sie es später erneut oder wenden Sie sich an Ihren Administrator.
not_allowed|Sie dürfen keine Telefone bereitstellen. Bitte wenden Sie sich an Ihren Administrator.
device_limit|Sie haben bereits die maximale Anzahl an Telefonen. Bitte wenden Sie sich an Ihren Administrator.
no_device_template|Dieses Gerät konnte Ihrem Konto nicht zugeordnet werden. Bitte wenden Sie sich an den Systemadministrator, um die Bereitstellung abzuschließen.
invalid_model|Dieses Telefonmodell kann nicht bereitgestellt werden. Bitte wenden Sie sich an Ihren Administrator.
not_autoregistered|Dieses Telefon ist kein automatisch registriertes Telefon und kann hier nicht bereitgestellt werden.
secure_device_not_supported|Die Selbstbereitstellung wird für sichere Telefone nicht unterstützt.
no_primary_extension|Ihr Konto hat keine Hauptdurchwahl. Bitte wenden Sie sich an Ihren Administrator.
confirm_extension|Dieses Telefon erhält die Durchwahl
confirm_press|Drücken Sie 1 zum Bestätigen oder 2 zum Abbrechen.
digit_0|null
digit_1|eins
digit_2|zwei
digit_3|drei
digit_4|vier
digit_5|fünf
digit_6|sechs
digit_7|sieben
digit_8|acht
digit_9|neun
success|Ihr Telefon ist bereitgestellt. Es startet jetzt neu.
cancelled|Bereitstellung abgebrochen.
no_input|Es wurde keine Eingabe empfangen.
too_many_attempts|Zu viele Versuche.
service_unavailable|Der Bereitstellungsdienst ist derzeit nicht verfügbar. Bitte versuchen Sie es später erneut.
internal_error|Das System kann die Bereitstellung derzeit nicht abschließen. Bitte versuchen Sie es später erneut.
goodbye|Auf Wiederhören.
enter_activation_code|Bitte geben Sie Ihren Aktivierungscode ein, gefolgt von der Rautetaste.
activation_code_expired|Dieser Aktivierungscode ist abgelaufen. Bitte fordern Sie bei Ihrem Administrator einen neuen an.
activation_code_used|Dieser Aktivierungscode wurde bereits verwendet. Bitte fordern Sie bei Ihrem Administrator einen neuen an.
activation_code_invalid|Dieser Aktivierungscode ist ungültig.
activation_code_wrong_device|Dieser Aktivierungscode ist für ein anderes Telefon bestimmt.
T

make_lang es_ES es <<'T'
welcome|Bienvenido al servicio de autoaprovisionamiento de teléfonos.
language_select|Para español, pulse
enter_self_service_id|Introduzca su identificador de autoservicio, seguido de la tecla almohadilla.
enter_pin|Introduzca su PIN, seguido de la tecla almohadilla.
enter_pin_or_auth_code|Introduzca su PIN o el código de autenticación, seguido de la tecla almohadilla.
invalid_entry|Esa entrada no es válida.
invalid_credentials|El identificador o el PIN introducido no es válido.
account_locked|Su cuenta está bloqueada tras demasiados intentos fallidos. Inténtelo más tarde o póngase en contacto con su administrador.
not_allowed|No tiene permiso para aprovisionar teléfonos. Póngase en contacto con su administrador.
device_limit|Ya tiene el número máximo de teléfonos. Póngase en contacto con su administrador.
no_device_template|No se ha podido asociar este dispositivo a su cuenta. Póngase en contacto con el administrador del sistema para completar el aprovisionamiento.
invalid_model|Este modelo de teléfono no se puede aprovisionar. Póngase en contacto con su administrador.
not_autoregistered|Este teléfono no está autorregistrado y no se puede aprovisionar desde aquí.
secure_device_not_supported|El autoaprovisionamiento no está disponible para teléfonos seguros.
no_primary_extension|Su cuenta no tiene extensión principal. Póngase en contacto con su administrador.
confirm_extension|Este teléfono se aprovisionará con la extensión
confirm_press|Pulse 1 para confirmar o 2 para cancelar.
digit_0|cero
digit_1|uno
digit_2|dos
digit_3|tres
digit_4|cuatro
digit_5|cinco
digit_6|seis
digit_7|siete
digit_8|ocho
digit_9|nueve
success|Su teléfono ha sido aprovisionado. Se reiniciará ahora.
cancelled|Aprovisionamiento cancelado.
no_input|No se ha recibido ninguna entrada.
too_many_attempts|Demasiados intentos.
service_unavailable|El servicio de aprovisionamiento no está disponible en este momento. Inténtelo más tarde.
internal_error|El sistema no puede completar el aprovisionamiento en este momento. Inténtelo más tarde.
goodbye|Adiós.
enter_activation_code|Introduzca su código de activación, seguido de la tecla almohadilla.
activation_code_expired|Ese código de activación ha caducado. Pida uno nuevo a su administrador.
activation_code_used|Ese código de activación ya se ha utilizado. Pida uno nuevo a su administrador.
activation_code_invalid|Ese código de activación no es válido.
activation_code_wrong_device|Ese código de activación es para otro teléfono.
T
