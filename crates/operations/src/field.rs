//! Checks of administrator input shared by every kind of object: free text is bounded and
//! printable, references and numbers parse with the field's own name in the error.

use selfprov_provisioning::model::FieldError;
use std::str::FromStr;

pub use selfprov_provisioning::model::NAME_MAX;
/// Longest description or other free text.
pub const TEXT_MAX: usize = 256;

/// Free text: at most `max` characters, no control characters (they end up in logs, phone
/// screens and CSV files).
pub fn text(field: &str, v: &str, max: usize) -> Result<String, FieldError> {
    if v.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if v.chars().any(char::is_control) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(v.to_owned())
}

/// A value parsed under this field's name (`primary_extension: `12a` must contain digits only`).
pub fn parse<T: FromStr<Err = FieldError>>(field: &str, v: &str) -> Result<T, FieldError> {
    v.parse()
        .map_err(|e: FieldError| FieldError::new(field, e.rule))
}

/// An optional value: `""` clears it.
pub fn optional<T: FromStr<Err = FieldError>>(
    field: &str,
    v: &str,
) -> Result<Option<T>, FieldError> {
    if v.is_empty() {
        Ok(None)
    } else {
        parse(field, v).map(Some)
    }
}

/// Apply an optional text patch in place.
pub fn set_text(
    slot: &mut String,
    field: &str,
    v: &Option<String>,
    max: usize,
) -> Result<(), FieldError> {
    if let Some(v) = v {
        *slot = text(field, v, max)?;
    }
    Ok(())
}

/// Apply an optional reference patch in place (`""` clears).
pub fn set_optional<T: FromStr<Err = FieldError>>(
    slot: &mut Option<T>,
    field: &str,
    v: &Option<String>,
) -> Result<(), FieldError> {
    if let Some(v) = v {
        *slot = optional(field, v)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use selfprov_provisioning::model::Dn;

    #[test]
    fn text_and_references() {
        assert!(text("first_name", &"x".repeat(65), NAME_MAX)
            .unwrap_err()
            .rule
            .contains("at most 64"));
        assert!(text("description", "a\u{7}b", TEXT_MAX).is_err());
        let e = parse::<Dn>("primary_extension", "12a").unwrap_err();
        assert_eq!(e.field, "primary_extension");
        assert_eq!(optional::<Dn>("dn", "").unwrap(), None);
    }
}
