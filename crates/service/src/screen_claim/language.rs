//! The language of a phone's screens: the first of the phone's `Accept-Language` ranges (by
//! weight) that matches one of the configured self-provisioning languages, exactly (`fr-FR` →
//! `fr_FR`) or by its language alone (`fr` → the first configured French); else the first
//! configured language. The texts are that language's, or English when none were written for it.

use super::texts::{self, Texts};
use selfprov_provisioning::Language;

/// The ranges of an `Accept-Language` header, highest weight first (`*` and `q=0` left out).
fn ranges(header: &str) -> Vec<String> {
    let mut r: Vec<(u32, String)> = header
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let range = parts.next()?.trim();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .map_or(Some(1000), |q| {
                    q.trim()
                        .parse::<f32>()
                        .ok()
                        .map(|q| (q.clamp(0.0, 1.0) * 1000.0) as u32)
                })?;
            let ok = !range.is_empty() && range != "*" && range.len() <= 16;
            (ok && q > 0).then(|| (q, range.replace('-', "_")))
        })
        .take(16)
        .collect();
    // Stable: equal weights keep the phone's order.
    r.sort_by_key(|e| std::cmp::Reverse(e.0));
    r.into_iter().map(|(_, l)| l).collect()
}

/// The configured language the phone asks for (see the module documentation).
pub(crate) fn choose<'a>(accept: Option<&str>, configured: &'a [Language]) -> Option<&'a Language> {
    for range in ranges(accept.unwrap_or("")) {
        let exact = configured
            .iter()
            .find(|l| l.as_str().eq_ignore_ascii_case(&range));
        let same_language = || {
            let lang = range.split('_').next().unwrap_or("");
            configured.iter().find(|l| {
                l.as_str()
                    .get(..2)
                    .is_some_and(|p| p.eq_ignore_ascii_case(lang))
                    && lang.len() == 2
            })
        };
        if let Some(l) = exact.or_else(same_language) {
            return Some(l);
        }
    }
    configured.first()
}

/// The texts for a phone that sent `accept`.
pub(crate) fn texts(accept: Option<&str>, configured: &[Language]) -> &'static Texts {
    choose(accept, configured)
        .and_then(|l| texts::for_language(l.as_str()))
        .unwrap_or(&texts::EN_US)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn langs(l: &[&str]) -> Vec<Language> {
        l.iter().map(|s| s.parse().unwrap()).collect()
    }

    #[test]
    fn the_phones_language_among_the_configured_ones_else_the_first() {
        let c = langs(&["en_US", "fr_FR", "de_DE"]);
        let pick = |h: Option<&str>| choose(h, &c).map(|l| l.as_str().to_owned());
        assert_eq!(pick(Some("fr-FR")).as_deref(), Some("fr_FR"));
        assert_eq!(pick(Some("de")).as_deref(), Some("de_DE"));
        assert_eq!(
            pick(Some("es-ES, de;q=0.5, fr;q=0.9")).as_deref(),
            Some("fr_FR")
        );
        assert_eq!(pick(Some("it-IT")).as_deref(), Some("en_US"));
        assert_eq!(pick(None).as_deref(), Some("en_US"));
        assert_eq!(pick(Some("fr;q=0, de")).as_deref(), Some("de_DE"));
        // Malformed headers are ignored, never a panic.
        for h in [
            "",
            ",,;",
            "q=;q=",
            "fr;q=abc",
            "*",
            "é;q=1",
            "x".repeat(5000).as_str(),
        ] {
            assert_eq!(pick(Some(h)).as_deref(), Some("en_US"), "{h:?}");
        }
        assert_eq!(texts(Some("de-DE"), &c).language, "de_DE");
        // A configured language without texts: English texts.
        assert_eq!(texts(None, &langs(&["it_IT"])).language, "en_US");
        assert!(choose(None, &[]).is_none());
    }
}
