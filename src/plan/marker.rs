//! rampart's ownership marker: the last line of an object's description is
//! `[rampart:<name>]`. An object is *managed* iff its description ends with it; objects
//! without it are never modified or deleted (see LANGUAGE.md, "Ownership marker").
//!
//! Apply uses [`with_marker`] for the bodies it sends and [`split`] to find an object it may
//! have created before a crash.

/// The marker line for `name`.
pub fn marker_line(name: &str) -> String {
    format!("[rampart:{name}]")
}

/// Splits a description into the user-visible text and the marker's name, if the last
/// line is a marker. Trailing whitespace and CR are tolerated because portals and Graph
/// round trips may add them.
pub fn split(description: &str) -> (&str, Option<&str>) {
    let trimmed = description.trim_end();
    let (body, last) = match trimmed.rfind('\n') {
        Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
        None => ("", trimmed),
    };
    let last = last.trim();
    match last
        .strip_prefix("[rampart:")
        .and_then(|r| r.strip_suffix(']'))
    {
        Some(name) if is_valid_name(name) => (body.trim_end(), Some(name)),
        _ => (description.trim_end(), None),
    }
}

/// The description rampart writes: the user's text, then the marker as the last line (an
/// existing marker is replaced, never doubled).
pub fn with_marker(description: &str, name: &str) -> String {
    let (body, _) = split(description);
    if body.is_empty() {
        marker_line(name)
    } else {
        format!("{body}\n{}", marker_line(name))
    }
}

/// Names follow the language's rule `^[a-z0-9][a-z0-9-]{0,62}$`; anything else in brackets
/// is ordinary text, not a marker.
fn is_valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 63
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_and_join_round_trip() {
        assert_eq!(split("text\n[rampart:av]"), ("text", Some("av")));
        assert_eq!(split("[rampart:av]"), ("", Some("av")));
        assert_eq!(split("a\r\nb\r\n[rampart:av]\r\n"), ("a\r\nb", Some("av")));
        assert_eq!(split("text"), ("text", None));
        assert_eq!(split("[rampart:Not Valid]"), ("[rampart:Not Valid]", None));
        assert_eq!(
            split("[rampart:av] trailing text"),
            ("[rampart:av] trailing text", None)
        );
        assert_eq!(with_marker("text", "av"), "text\n[rampart:av]");
        assert_eq!(with_marker("", "av"), "[rampart:av]");
        assert_eq!(
            with_marker("text\n[rampart:old]", "av"),
            "text\n[rampart:av]"
        );
    }
}
