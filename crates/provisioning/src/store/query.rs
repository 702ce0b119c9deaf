//! List queries: a search pattern (seed 004's global search: a prefix, or `*` wildcards), a
//! sort key, paging; and the page that comes back with the total count.

use crate::model::FieldError;
use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// A search term. Without `*` it matches as a prefix (`jsm` finds `jsmith`); `*` stands for any
/// run of characters (`*smith`, `SEP0011*44`). Matching ignores ASCII case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(String);

impl Pattern {
    pub const MAX_LEN: usize = 100;

    pub fn new(term: &str) -> Result<Pattern, FieldError> {
        let t = term.trim();
        if t.is_empty() {
            return Err(FieldError::new("search", "must not be empty"));
        }
        if t.len() > Self::MAX_LEN {
            return Err(FieldError::new(
                "search",
                format!("must be at most {} characters", Self::MAX_LEN),
            ));
        }
        if t.chars().any(char::is_control) {
            return Err(FieldError::new(
                "search",
                "must not contain control characters",
            ));
        }
        let glob = if t.contains('*') {
            t.to_owned()
        } else {
            format!("{t}*")
        };
        Ok(Pattern(glob))
    }

    /// The pattern as given, with the implicit trailing `*` of a prefix search.
    pub fn as_glob(&self) -> &str {
        &self.0
    }

    /// The SQL `LIKE` form with `\` as escape character (`%`, `_` and `\` are literal).
    pub fn to_like(&self) -> String {
        let mut s = String::with_capacity(self.0.len() + 4);
        for c in self.0.chars() {
            match c {
                '*' => s.push('%'),
                '%' | '_' | '\\' => {
                    s.push('\\');
                    s.push(c);
                }
                c => s.push(c),
            }
        }
        s
    }

    /// The same search as a device-name pattern when the term looks like (part of) a MAC address:
    /// `00:11:22*` or `001122` also find `SEP001122…`.
    pub fn mac_variant(&self) -> Option<Pattern> {
        let g = &self.0;
        let mac_like = g
            .chars()
            .all(|c| c.is_ascii_hexdigit() || matches!(c, ':' | '-' | '.' | '*'))
            && g.chars().filter(char::is_ascii_hexdigit).count() >= 2;
        if !mac_like {
            return None;
        }
        let hex: String = g
            .chars()
            .filter(|c| !matches!(c, ':' | '-' | '.'))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        Some(Pattern(format!("SEP{hex}")))
    }

    /// Whether the pattern starts with `*`: then no ordinary index serves it (a prefix does).
    pub fn leading_wildcard(&self) -> bool {
        self.0.starts_with('*')
    }

    /// The pattern's literal runs of 3 or more characters as a trigram full-text query (every
    /// run must occur: `"1234" AND "smi"`), or `None` when there is no such run (a trigram index
    /// cannot narrow `*ab*`). A row the query finds may still not match: it only narrows.
    pub fn trigram_query(&self) -> Option<String> {
        let runs: Vec<String> = self
            .0
            .split('*')
            .filter(|r| r.chars().count() >= 3)
            .map(|r| format!("\"{}\"", r.replace('"', "\"\"")))
            .collect();
        (!runs.is_empty()).then(|| runs.join(" AND "))
    }

    /// Whether `text` matches (for lists kept in memory).
    pub fn matches(&self, text: &str) -> bool {
        let p: Vec<char> = self.0.to_ascii_lowercase().chars().collect();
        let t: Vec<char> = text.to_ascii_lowercase().chars().collect();
        // Iterative glob match with backtracking to the last `*`.
        let (mut i, mut j, mut star, mut mark) = (0usize, 0usize, None::<usize>, 0usize);
        while j < t.len() {
            if i < p.len() && p[i] != '*' && p[i] == t[j] {
                i += 1;
                j += 1;
            } else if i < p.len() && p[i] == '*' {
                star = Some(i);
                mark = j;
                i += 1;
            } else if let Some(s) = star {
                i = s + 1;
                mark += 1;
                j = mark;
            } else {
                return false;
            }
        }
        p[i..].iter().all(|c| *c == '*')
    }
}

impl FromStr for Pattern {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, FieldError> {
        Pattern::new(s)
    }
}

/// Sort keys of the user list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserSort {
    #[default]
    UserId,
    LastName,
    PrimaryExtension,
}

/// Sort keys of the device list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeviceSort {
    #[default]
    Name,
    Dn,
    Owner,
    Model,
    Updated,
}

macro_rules! sort_names {
    ($t:ty, $field:literal, $($name:literal => $v:expr),+) => {
        impl FromStr for $t {
            type Err = FieldError;
            fn from_str(s: &str) -> Result<Self, FieldError> {
                match s {
                    $($name => Ok($v),)+
                    _ => Err(FieldError::new($field, format!("`{s}` is not one of {}", [$($name),+].join(", ")))),
                }
            }
        }
    };
}
sort_names!(UserSort, "sort", "user_id" => UserSort::UserId, "last_name" => UserSort::LastName, "primary_extension" => UserSort::PrimaryExtension);
sort_names!(DeviceSort, "sort", "name" => DeviceSort::Name, "dn" => DeviceSort::Dn, "owner" => DeviceSort::Owner, "model" => DeviceSort::Model, "updated" => DeviceSort::Updated);

/// What to list: search, sort, page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListQuery<S> {
    pub search: Option<Pattern>,
    pub sort: S,
    pub descending: bool,
    pub offset: u64,
    /// `None`: everything from `offset` on.
    pub limit: Option<u64>,
    /// Keyset paging: start after this item (of the same sort and direction) instead of
    /// skipping `offset` items, so a page deep in a long list costs what the first one does.
    pub after: Option<After>,
}

/// A sort key's value as stored: text, a number, or nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum KeyValue {
    Null,
    Int(i64),
    Text(String),
}

/// Where a keyset page starts: after the item with this sort key value and this primary key
/// (the tie-breaker every list is ordered by last).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct After {
    pub key: KeyValue,
    pub tie: String,
}

/// One page of a list and how many items match in all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: u64,
    /// Where the next page starts (keyset paging), when there are more items after this page.
    pub next: Option<After>,
}

impl<T> Page<T> {
    /// Page a list held in memory, given in the query's sort order, which is by `name`: keep the
    /// items `matches` accepts (in reverse order when the query says `descending`), start after
    /// the query's `after` name or skip `offset` items, then take `limit`.
    pub fn of<S>(
        all: Vec<T>,
        q: &ListQuery<S>,
        matches: impl Fn(&T) -> bool,
        name: impl Fn(&T) -> &str,
    ) -> Page<T> {
        let mut hits: Vec<T> = all.into_iter().filter(|t| matches(t)).collect();
        if q.descending {
            hits.reverse();
        }
        let total = hits.len() as u64;
        let start = match &q.after {
            Some(a) => hits
                .iter()
                .position(|t| {
                    let n = name(t);
                    if q.descending {
                        n < a.tie.as_str()
                    } else {
                        n > a.tie.as_str()
                    }
                })
                .unwrap_or(hits.len()),
            None => q.offset.min(usize::MAX as u64) as usize,
        };
        let limit = q
            .limit
            .map_or(usize::MAX, |l| l.min(usize::MAX as u64) as usize);
        let more = hits.len().saturating_sub(start) > limit;
        let items: Vec<T> = hits.into_iter().skip(start).take(limit).collect();
        let next = items.last().filter(|_| more).map(|t| After {
            key: KeyValue::Text(name(t).to_owned()),
            tie: name(t).to_owned(),
        });
        Page { items, total, next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_and_wildcards() {
        let p = Pattern::new("jsm").unwrap();
        assert!(p.matches("jsmith") && p.matches("JSMITH") && !p.matches("ajsmith"));
        let p = Pattern::new("*smith").unwrap();
        assert!(p.matches("jsmith") && p.matches("smith") && !p.matches("smithers"));
        let p = Pattern::new("SEP0011*44*").unwrap();
        assert!(p.matches("SEP001122334455") && !p.matches("SEP001122330055"));
        assert_eq!(Pattern::new("a_b%c").unwrap().to_like(), "a\\_b\\%c%");
        assert_eq!(Pattern::new("*x*").unwrap().to_like(), "%x%");
        assert!(Pattern::new("  ").is_err());
        let mac = Pattern::new("00:11:22").unwrap().mac_variant().unwrap();
        assert!(mac.matches("SEP001122AABBCC"));
        assert!(Pattern::new("jsmith").unwrap().mac_variant().is_none());
        assert!(Pattern::new(&"x".repeat(101)).is_err());
        let p = Pattern::new("*12\"34*ab*smith").unwrap();
        assert!(p.leading_wildcard());
        assert_eq!(p.trigram_query().unwrap(), r#""12""34" AND "smith""#);
        assert_eq!(Pattern::new("*ab*").unwrap().trigram_query(), None);
        assert!(!Pattern::new("jsm").unwrap().leading_wildcard());
    }

    #[test]
    fn sort_names_are_checked() {
        assert_eq!("dn".parse::<DeviceSort>().unwrap(), DeviceSort::Dn);
        let e = "colour".parse::<UserSort>().unwrap_err();
        assert_eq!(e.field, "sort");
        assert!(e.rule.contains("user_id, last_name"), "{e}");
    }

    #[test]
    fn in_memory_paging() {
        let a = Pattern::new("a").unwrap();
        let matches = |s: &&str| a.matches(s);
        let q = ListQuery::<UserSort> {
            offset: 1,
            limit: Some(1),
            ..Default::default()
        };
        let p = Page::of(vec!["ab", "ac", "ad", "b"], &q, matches, |s| s);
        assert_eq!((p.items, p.total), (vec!["ac"], 3));
        // Keyset: after "ac" comes "ad", the last match (no next page).
        let after = p.next.expect("a next page after ac");
        let q = ListQuery {
            after: Some(after),
            offset: 0,
            ..q
        };
        let p = Page::of(vec!["ab", "ac", "ad", "b"], &q, matches, |s| s);
        assert_eq!((p.items, p.next), (vec!["ad"], None));
    }
}
