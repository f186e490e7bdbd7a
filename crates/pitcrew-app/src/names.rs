//! The names and descriptions people give things (segments, topics,
//! templates, broadcasts): one rule for what is accepted and one way of
//! saying what is wrong.

use crate::AppError;

/// Characters a name may have.
pub(crate) const MAX_NAME: usize = 100;
/// Characters a description may have.
pub(crate) const MAX_DESCRIPTION: usize = 1000;

/// A name of 1 to `MAX_NAME` characters on one line, trimmed. `code` is
/// the area's error code, `what` the thing named ("segment"), `example` a
/// name to show.
pub(crate) fn clean_name(
    name: &str,
    code: &'static str,
    what: &str,
    example: &str,
) -> Result<String, AppError> {
    let name = name.trim();
    let length = name.chars().count();
    if length == 0 || length > MAX_NAME || name.chars().any(char::is_control) {
        return Err(AppError::invalid(
            code,
            "name",
            format!(
                "give the {what} a name of 1 to {MAX_NAME} characters on one line, e.g. \"{example}\""
            ),
        ));
    }
    Ok(name.to_string())
}

/// A description of at most `MAX_DESCRIPTION` characters, trimmed.
pub(crate) fn clean_description(description: &str, code: &'static str) -> Result<String, AppError> {
    let description = description.trim();
    if description.chars().count() > MAX_DESCRIPTION {
        return Err(AppError::invalid(
            code,
            "description",
            format!("keep the description to {MAX_DESCRIPTION} characters"),
        ));
    }
    Ok(description.to_string())
}
