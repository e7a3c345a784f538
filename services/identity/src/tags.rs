//! Tags on users, roles, policies, OIDC providers and MFA devices: at most 50, keys unique
//! case-insensitively with the caller's case kept, `aws:` reserved, and every change all or nothing.

use tessera_arn::{fold_tag_key, validate_tag_key, validate_tag_value};
use tessera_store::iam::Tag;

use crate::{Error, Result};

/// Tags per resource.
pub const MAX_TAGS: usize = 50;

/// Every tag's key and value against the model, all failures in one `ValidationError` as AWS
/// words it: each at its member path (`tags.2.member.key`), `N validation errors detected: ...;
/// ...` when there are several.
fn check_shapes(tags: &[Tag]) -> Result<()> {
    let mut clauses = Vec::new();
    for (i, tag) in tags.iter().enumerate() {
        let checks = [("key", validate_tag_key(&tag.key)), ("value", validate_tag_value(&tag.value))];
        for (member, checked) in checks {
            if let Err(error) = checked {
                for violation in &error.violations {
                    clauses.push(format!(
                        "Value '{}' at 'tags.{}.member.{member}' failed to satisfy constraint: {violation}",
                        error.value,
                        i + 1
                    ));
                }
            }
        }
    }
    if clauses.is_empty() {
        return Ok(());
    }
    let plural = if clauses.len() == 1 { "" } else { "s" };
    Err(Error::new(
        tessera_proto::error::ErrorCode::ValidationError,
        format!("{} validation error{plural} detected: {}", clauses.len(), clauses.join("; ")),
    ))
}

fn check_tags(tags: &[Tag]) -> Result<()> {
    check_shapes(tags)?;
    for (i, tag) in tags.iter().enumerate() {
        if tags[..i].iter().any(|t| fold_tag_key(&t.key) == fold_tag_key(&tag.key)) {
            return Err(Error::invalid_input(
                "Duplicate tag keys found. Please note that Tag keys are case insensitive.",
            ));
        }
    }
    Ok(())
}

/// Checks the tags given when a resource is created.
pub fn new_tags(tags: Vec<Tag>, quota: &str) -> Result<Vec<Tag>> {
    // Counted first: the duplicate check is quadratic, so it must only see a bounded list.
    if tags.len() > MAX_TAGS {
        return Err(Error::quota(quota, MAX_TAGS));
    }
    check_tags(&tags)?;
    Ok(tags)
}

/// Adds `new` to `existing`, overwriting values of keys that are already there (matched without
/// case; the new key's case wins). Nothing changes unless every tag is valid and the total fits.
pub fn tag(existing: &mut Vec<Tag>, new: Vec<Tag>, quota: &str) -> Result<()> {
    // More than the limit can never fit, and the duplicate check is quadratic: refuse first.
    if new.len() > MAX_TAGS {
        return Err(Error::quota(quota, MAX_TAGS));
    }
    check_tags(&new)?;
    let mut merged = existing.clone();
    for tag in new {
        match merged.iter_mut().find(|t| fold_tag_key(&t.key) == fold_tag_key(&tag.key)) {
            Some(slot) => *slot = tag,
            None => merged.push(tag),
        }
    }
    if merged.len() > MAX_TAGS {
        return Err(Error::quota(quota, MAX_TAGS));
    }
    *existing = merged;
    Ok(())
}

/// Removes the tags with these keys (without case); absent keys are ignored, as AWS does.
pub fn untag(existing: &mut Vec<Tag>, keys: &[String]) -> Result<()> {
    if keys.len() > MAX_TAGS {
        return Err(Error::invalid_input(format!("At most {MAX_TAGS} tag keys can be removed at once.")));
    }
    for key in keys {
        validate_tag_key(key)?;
    }
    let folded: Vec<String> = keys.iter().map(|k| fold_tag_key(k)).collect();
    existing.retain(|t| !folded.contains(&fold_tag_key(&t.key)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_proto::error::ErrorCode;

    fn t(key: &str, value: &str) -> Tag {
        Tag { key: key.into(), value: value.into() }
    }

    #[test]
    fn keys_merge_without_case_and_keep_the_new_case() {
        let mut tags = vec![t("Team", "a"), t("env", "prod")];
        tag(&mut tags, vec![t("TEAM", "b"), t("cost", "1")], "TagsPerUser").unwrap();
        assert_eq!(tags, [t("TEAM", "b"), t("env", "prod"), t("cost", "1")]);
        untag(&mut tags, &["team".into(), "missing".into()]).unwrap();
        assert_eq!(tags, [t("env", "prod"), t("cost", "1")]);
    }

    #[test]
    fn every_bad_tag_is_named_at_its_member_path() {
        let one = new_tags(vec![t("ok", "1"), t("a*b", "1")], "TagsPerUser").unwrap_err().into_service_error();
        assert_eq!(
            one.message,
            "1 validation error detected: Value 'a*b' at 'tags.2.member.key' failed to satisfy constraint: \
             Member must satisfy regular expression pattern: [\\p{L}\\p{Z}\\p{N}_.:/=+\\-@]+"
        );
        let long = "v".repeat(257);
        let two = new_tags(vec![t("", "1"), t("k", &long)], "TagsPerUser").unwrap_err().into_service_error();
        assert_eq!(two.code, ErrorCode::ValidationError);
        assert!(
            two.message.contains(" validation errors detected: Value '' at 'tags.1.member.key'"),
            "{}",
            two.message
        );
        assert!(two.message.contains("; Value '"), "{}", two.message);
        assert!(two.message.contains("at 'tags.2.member.value' failed to satisfy constraint: Member must have length less than or equal to 256"), "{}", two.message);
    }

    #[test]
    fn a_bad_or_excess_tag_changes_nothing() {
        let mut tags: Vec<Tag> = (0..49).map(|i| t(&format!("k{i}"), "v")).collect();
        let before = tags.clone();
        let err = tag(&mut tags, vec![t("x", "1"), t("y", "2")], "TagsPerUser").unwrap_err();
        assert_eq!(err.code(), ErrorCode::LimitExceeded);
        assert_eq!(tags, before);
        let duplicate = vec![t("a", "1"), t("A", "2")];
        assert_eq!(tag(&mut tags, duplicate, "TagsPerUser").unwrap_err().code(), ErrorCode::InvalidInput);
        for bad in [t("", "1"), t("aws:x", "1")] {
            assert_eq!(tag(&mut tags, vec![bad], "TagsPerUser").unwrap_err().code(), ErrorCode::ValidationError);
        }
        assert_eq!(tags, before);
        // Overwriting an existing key does not count against the limit.
        tag(&mut tags, vec![t("K0", "new")], "TagsPerUser").unwrap();
        assert_eq!(tags.len(), 49);
    }

    #[test]
    fn long_lists_are_refused_before_the_quadratic_duplicate_check() {
        // Every key the same: a duplicate check over all of them would be quadratic work.
        let many = vec![t("same", "v"); 200_000];
        let err = new_tags(many.clone(), "TagsPerRole").unwrap_err();
        assert_eq!(err.code(), ErrorCode::LimitExceeded);
        assert_eq!(tag(&mut Vec::new(), many, "TagsPerRole").unwrap_err().code(), ErrorCode::LimitExceeded);
        let keys = vec!["k".to_owned(); 200_000];
        assert_eq!(untag(&mut Vec::new(), &keys).unwrap_err().code(), ErrorCode::InvalidInput);
    }
}
