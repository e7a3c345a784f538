//! AWS list pagination: `Marker` and `MaxItems` in, `IsTruncated` and `Marker` out.
//!
//! A marker is the folded key of the last item returned, so a page resumes where the last one ended
//! even when items were added or removed in between (as AWS's opaque markers do).

use crate::{Error, Result};

/// `MaxItems` when the caller gives none.
pub const DEFAULT_MAX_ITEMS: usize = 100;

/// What a list call asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageRequest {
    pub marker: Option<String>,
    pub max_items: Option<i32>,
}

impl PageRequest {
    /// The page size, checked against the model (1 to 1000).
    pub fn limit(&self) -> Result<usize> {
        match self.max_items {
            None => Ok(DEFAULT_MAX_ITEMS),
            Some(n @ 1..=1000) => Ok(usize::try_from(n).unwrap_or(DEFAULT_MAX_ITEMS)),
            Some(n) => Err(tessera_arn::ValidationError {
                field: "maxItems",
                value: n.to_string(),
                violations: vec![if n < 1 {
                    tessera_arn::Violation::MinValue(1)
                } else {
                    tessera_arn::Violation::MaxValue(1000)
                }],
            }
            .into()),
        }
    }

    /// The marker, checked against the model (1 to 320 characters).
    pub fn marker(&self) -> Result<Option<&str>> {
        match self.marker.as_deref() {
            None | Some("") => Ok(None),
            Some(m) if m.chars().count() <= 320 && m.chars().all(|c| ('\u{20}'..='\u{ff}').contains(&c)) => Ok(Some(m)),
            Some(_) => Err(Error::invalid_input("Invalid Marker.")),
        }
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Present exactly when more items follow.
    pub marker: Option<String>,
}

impl<T> Page<T> {
    pub fn is_truncated(&self) -> bool {
        self.marker.is_some()
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), marker: self.marker }
    }
}

/// Pages an in-memory list already in marker order: `key` gives each item's marker.
pub fn paginate<T>(items: Vec<T>, request: &PageRequest, key: impl Fn(&T) -> String) -> Result<Page<T>> {
    let limit = request.limit()?;
    let marker = request.marker()?;
    let mut rest: Vec<T> = match marker {
        Some(m) => items.into_iter().filter(|item| key(item).as_str() > m).collect(),
        None => items,
    };
    let marker = if rest.len() > limit {
        rest.truncate(limit);
        rest.last().map(&key)
    } else {
        None
    };
    Ok(Page { items: rest, marker })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_resume_after_the_marker_and_say_when_more_follow() {
        let items: Vec<String> = (0..5).map(|i| format!("u{i}")).collect();
        let first = paginate(items.clone(), &PageRequest { marker: None, max_items: Some(2) }, Clone::clone).unwrap();
        assert_eq!(first.items, ["u0", "u1"]);
        assert_eq!(first.marker.as_deref(), Some("u1"));
        let last =
            paginate(items, &PageRequest { marker: Some("u3".into()), max_items: Some(2) }, Clone::clone).unwrap();
        assert_eq!(last.items, ["u4"]);
        assert!(!last.is_truncated());
    }

    #[test]
    fn out_of_range_sizes_are_validation_errors() {
        for n in [0, 1001, -3] {
            let err = PageRequest { marker: None, max_items: Some(n) }.limit().unwrap_err();
            assert_eq!(err.code(), tessera_proto::error::ErrorCode::ValidationError, "{n}");
        }
    }
}
