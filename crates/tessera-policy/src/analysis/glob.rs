//! Action and resource patterns as regular languages, and the product automaton over many of
//! them that the policy checks decide questions with.
//!
//! A pattern is a sequence of symbols: a literal character, `?` (one character), `*` (any run),
//! and the restricted forms an ARN pattern uses in its first five parts, where the engine globs
//! each part on its own so a wildcard never crosses a colon. Running every pattern of a question
//! at once over a small alphabet (each character some pattern names, `:`, one variable symbol per
//! policy variable, and one character standing for all others, which no pattern tells apart)
//! gives a finite deterministic automaton whose reachable states are exactly the distinct ways
//! a string can be matched. Exploring them breadth first yields, for every *cell* (the set of
//! clauses a string matches), a shortest string in it: the witness a `FAIL` reports.

use std::collections::{HashMap, VecDeque};

use crate::compile::{ActionMatcher, ResourceMatcher, ResourcePattern};
use crate::pattern::{Pattern, Token};

/// One symbol of a pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sym {
    /// This character.
    Lit(char),
    /// Any one character (not a variable's value).
    Any,
    /// Any one character but `:`.
    AnyNoColon,
    /// Any run of characters.
    Star,
    /// Any run of characters without `:`.
    StarNoColon,
}

/// The first character of the private-use area stands for the first policy variable, and so on.
const VAR_BASE: u32 = 0xE000;

/// Policy variables met while building patterns: each gets one symbol. A variable's value is
/// matched by `*` and by the same variable only, an approximation (a one-character value would
/// also match `?`) that the checks' witnesses never rely on: every witness is evaluated again by
/// the engine with the variables given values.
#[derive(Clone, Debug, Default)]
pub(crate) struct Variables {
    /// Folded keys, in order of first use.
    pub(crate) keys: Vec<Box<str>>,
}

impl Variables {
    fn symbol(&mut self, key: &str) -> char {
        let index = match self.keys.iter().position(|k| &**k == key) {
            Some(index) => index,
            None => {
                self.keys.push(key.into());
                self.keys.len() - 1
            }
        };
        char::from_u32(VAR_BASE + index as u32).unwrap_or('\u{E000}')
    }

    /// The variable a character stands for, if it is one.
    pub(crate) fn key_of(&self, c: char) -> Option<&str> {
        let index = (c as u32).checked_sub(VAR_BASE)? as usize;
        self.keys.get(index).map(|k| &**k)
    }
}

fn is_var(c: char) -> bool {
    (VAR_BASE..VAR_BASE + 0x1000).contains(&(c as u32))
}

/// A pattern as symbols; `never` for one that matches nothing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Glob {
    pub(crate) syms: Vec<Sym>,
    pub(crate) never: bool,
}

impl Glob {
    /// `*`.
    pub(crate) fn any() -> Glob {
        Glob { syms: vec![Sym::Star], never: false }
    }

    /// Reads a pattern; `restricted` for the first five parts of an ARN.
    fn push_pattern(syms: &mut Vec<Sym>, pattern: &Pattern, restricted: bool, variables: &mut Variables) {
        for token in pattern.tokens() {
            match token {
                Token::Lit(text) => syms.extend(text.chars().map(Sym::Lit)),
                Token::Star => syms.push(if restricted { Sym::StarNoColon } else { Sym::Star }),
                Token::One => syms.push(if restricted { Sym::AnyNoColon } else { Sym::Any }),
                Token::Var { key, .. } => syms.push(Sym::Lit(variables.symbol(key))),
            }
        }
    }

    /// An action pattern (already lowercase).
    pub(crate) fn action(pattern: &Pattern) -> Glob {
        let mut syms = Vec::new();
        Glob::push_pattern(&mut syms, pattern, false, &mut Variables::default());
        Glob { syms, never: false }
    }

    /// A resource pattern, with the engine's per-part matching of ARNs.
    pub(crate) fn resource(pattern: &ResourcePattern, variables: &mut Variables) -> Glob {
        match pattern {
            ResourcePattern::Any => Glob::any(),
            ResourcePattern::Nothing { .. } => Glob { syms: Vec::new(), never: true },
            ResourcePattern::Text { pattern, .. } => {
                let mut syms = Vec::new();
                Glob::push_pattern(&mut syms, pattern, false, variables);
                Glob { syms, never: false }
            }
            ResourcePattern::Arn { parts, .. } => {
                let mut syms = Vec::new();
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        syms.push(Sym::Lit(':'));
                    }
                    Glob::push_pattern(&mut syms, part, i < 5, variables);
                }
                Glob { syms, never: false }
            }
        }
    }

    /// Whether `text` matches (variables are their symbols in `text`).
    pub(crate) fn matches(&self, text: &str) -> bool {
        if self.never {
            return false;
        }
        let n = self.syms.len();
        let close = |set: &mut Vec<bool>| {
            for p in 0..n {
                if set[p] && matches!(self.syms[p], Sym::Star | Sym::StarNoColon) {
                    set[p + 1] = true;
                }
            }
        };
        let mut current = vec![false; n + 1];
        current[0] = true;
        close(&mut current);
        for c in text.chars() {
            let mut next = vec![false; n + 1];
            for p in (0..n).filter(|&p| current[p]) {
                match self.syms[p] {
                    Sym::Lit(x) => next[p + 1] |= x == c,
                    Sym::Any => next[p + 1] |= !is_var(c),
                    Sym::AnyNoColon => next[p + 1] |= c != ':' && !is_var(c),
                    Sym::Star => next[p] = true,
                    Sym::StarNoColon => next[p] |= c != ':',
                }
            }
            close(&mut next);
            if !next.contains(&true) {
                return false;
            }
            current = next;
        }
        current[n]
    }
}

/// One clause of a statement: the union of its patterns, complemented for `NotAction` and
/// `NotResource`. A statement without `Resource` has the language of everything.
#[derive(Clone, Debug)]
pub(crate) struct Language {
    pub(crate) globs: Vec<Glob>,
    pub(crate) negated: bool,
}

impl Language {
    /// Every string.
    pub(crate) fn everything() -> Language {
        Language { globs: Vec::new(), negated: true }
    }

    pub(crate) fn of_actions(matcher: &ActionMatcher) -> Language {
        Language { globs: matcher.patterns.iter().map(Glob::action).collect(), negated: matcher.negated }
    }

    pub(crate) fn of_resources(matcher: Option<&ResourceMatcher>, variables: &mut Variables) -> Language {
        match matcher {
            None => Language::everything(),
            Some(matcher) => Language {
                globs: matcher.patterns.iter().map(|p| Glob::resource(p, variables)).collect(),
                negated: matcher.negated,
            },
        }
    }
}

/// The exploration stopped: more automaton states than the budget allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Exceeded;

/// How many automaton states one exploration may visit.
pub(crate) const STATE_BUDGET: usize = 200_000;

/// The product automaton of several languages, determinized lazily.
///
/// A language one of whose patterns has reached a final `*` matches every extension of the
/// string: its positions are replaced by one marker (`markers + language`), so states that differ
/// only in how they got there merge (without this, `*:Get*`-style patterns, whose leading `*`
/// restarts at every colon, multiply states by the subsets of patterns already matched).
struct Product {
    /// Per position: its symbol (`None` at the end of a pattern) and its language.
    sym: Vec<Option<Sym>>,
    lang: Vec<u32>,
    negated: Vec<bool>,
    starts: Vec<u32>,
    /// The first marker id (one past the last position).
    markers: u32,
}

impl Product {
    fn new(languages: &[Language], _alive: &[usize]) -> Product {
        let mut product =
            Product { sym: Vec::new(), lang: Vec::new(), negated: Vec::new(), starts: Vec::new(), markers: 0 };
        for (l, language) in languages.iter().enumerate() {
            product.negated.push(language.negated);
            for glob in &language.globs {
                if glob.never {
                    continue;
                }
                product.starts.push(product.sym.len() as u32);
                for &sym in &glob.syms {
                    product.sym.push(Some(sym));
                    product.lang.push(l as u32);
                }
                product.sym.push(None);
                product.lang.push(l as u32);
            }
        }
        product.markers = product.sym.len() as u32;
        product
    }

    /// The language of a position or marker.
    fn language(&self, p: u32) -> usize {
        if p >= self.markers { (p - self.markers) as usize } else { self.lang[p as usize] as usize }
    }

    /// Replaces the positions of languages that now match every extension by their marker.
    fn saturate(&self, mut state: Vec<u32>) -> Vec<u32> {
        let saturated: Vec<u32> = state
            .iter()
            .filter(|&&p| {
                p < self.markers
                    && self.sym[p as usize] == Some(Sym::Star)
                    && self.sym.get(p as usize + 1) == Some(&None)
            })
            .map(|&p| self.lang[p as usize])
            .collect();
        if !saturated.is_empty() {
            state.retain(|&p| p >= self.markers || !saturated.contains(&self.lang[p as usize]));
            for l in saturated {
                let marker = self.markers + l;
                if !state.contains(&marker) {
                    state.push(marker);
                }
            }
        }
        state.sort_unstable();
        state.dedup();
        state
    }

    /// Adds a position and what an empty run of its `*` reaches; duplicates are removed by
    /// [`Product::saturate`].
    fn add(&self, state: &mut Vec<u32>, position: u32) {
        let mut p = position;
        loop {
            state.push(p);
            match self.sym[p as usize] {
                Some(Sym::Star | Sym::StarNoColon) => p += 1,
                _ => return,
            }
        }
    }

    fn start(&mut self) -> Vec<u32> {
        let mut state = Vec::new();
        for &s in &self.starts {
            self.add(&mut state, s);
        }
        self.saturate(state)
    }

    fn step(&self, state: &[u32], c: char) -> Vec<u32> {
        let mut next = Vec::new();
        for &p in state {
            if p >= self.markers {
                next.push(p);
                continue;
            }
            let advance = match self.sym[p as usize] {
                None => continue,
                Some(Sym::Lit(x)) => x == c,
                Some(Sym::Any) => !is_var(c),
                Some(Sym::AnyNoColon) => c != ':' && !is_var(c),
                Some(Sym::Star) => {
                    self.add(&mut next, p);
                    continue;
                }
                Some(Sym::StarNoColon) => {
                    if c != ':' {
                        self.add(&mut next, p);
                    }
                    continue;
                }
            };
            if advance {
                self.add(&mut next, p + 1);
            }
        }
        self.saturate(next)
    }

    /// Which languages accept in this state.
    fn accepting(&self, state: &[u32]) -> Vec<bool> {
        let mut out: Vec<bool> = self.negated.clone();
        for &p in state {
            if p >= self.markers || self.sym[p as usize].is_none() {
                let l = self.language(p);
                out[l] = !self.negated[l];
            }
        }
        out
    }
}

/// The alphabet for exploring: every literal character, `:`, and one character no pattern
/// names (preferring a readable one).
fn alphabet(languages: &[Language], lowercase: bool) -> Vec<char> {
    let mut chars: Vec<char> = languages
        .iter()
        .flat_map(|l| l.globs.iter())
        .flat_map(|g| g.syms.iter())
        .filter_map(|s| match s {
            Sym::Lit(c) => Some(*c),
            _ => None,
        })
        .collect();
    chars.push(':');
    chars.sort_unstable();
    chars.dedup();
    let candidates =
        if lowercase { "xzqjkvwyabcdefghilmnoprstu0123456789" } else { "xzqjkvwyXZQJKabcdefghilmnoprstu0123456789" };
    let other = candidates.chars().find(|c| !chars.contains(c)).unwrap_or('\u{00E6}');
    // The stand-in first: witnesses then read like names rather than punctuation.
    let mut out = vec![other];
    out.extend(chars);
    out
}

/// Every cell that one of `alive` matches, with its witness.
pub(crate) fn cells(
    languages: &[Language],
    alive: &[usize],
    lowercase: bool,
    budget: usize,
) -> Result<Vec<(Vec<bool>, String)>, Exceeded> {
    let mut product = Product::new(languages, alive);
    let letters = alphabet(languages, lowercase);
    let prunable = alive.iter().all(|&l| !languages[l].negated);
    let start = product.start();
    let mut seen: HashMap<Vec<u32>, ()> = HashMap::new();
    let mut queue: VecDeque<(Vec<u32>, String)> = VecDeque::new();
    let mut found: Vec<(Vec<bool>, String)> = Vec::new();
    let mut index: HashMap<Vec<bool>, usize> = HashMap::new();
    seen.insert(start.clone(), ());
    queue.push_back((start, String::new()));
    while let Some((state, text)) = queue.pop_front() {
        let vector = product.accepting(&state);
        if alive.iter().any(|&l| vector[l]) {
            match index.get(&vector) {
                None => {
                    index.insert(vector.clone(), found.len());
                    found.push((vector, text.clone()));
                }
                Some(&at) => {
                    let current = &found[at].1;
                    if (current.is_empty() || current.ends_with(':')) && !text.ends_with(':') {
                        found[at].1 = text.clone();
                    }
                }
            }
        }
        if prunable && !state.iter().any(|&p| p < product.markers && alive.contains(&product.language(p))) {
            // No new allow can match any extension that it does not already match now.
            if !state.iter().any(|&p| p >= product.markers && alive.contains(&product.language(p))) {
                continue;
            }
        }
        if state.iter().all(|&p| p >= product.markers) {
            // Every extension matches exactly what this string matches.
            continue;
        }
        for &c in &letters {
            let next = product.step(&state, c);
            if seen.contains_key(&next) {
                continue;
            }
            if seen.len() >= budget {
                return Err(Exceeded);
            }
            seen.insert(next.clone(), ());
            let mut longer = text.clone();
            longer.push(c);
            queue.push_back((next, longer));
        }
    }
    Ok(found)
}

/// A string in `a` and in none of `others`, if there is one.
pub(crate) fn difference(a: &Language, others: &[&Language], lowercase: bool) -> Result<Option<String>, Exceeded> {
    let mut languages = vec![a.clone()];
    languages.extend(others.iter().map(|l| (*l).clone()));
    let cells = cells(&languages, &[0], lowercase, STATE_BUDGET)?;
    Ok(cells.into_iter().find(|(vector, _)| !vector[1..].iter().any(|&m| m)).map(|(_, w)| w))
}

/// Whether every string of `a` is in `b`.
pub(crate) fn subset(a: &Language, b: &Language, lowercase: bool) -> Result<bool, Exceeded> {
    difference(a, &[b], lowercase).map(|w| w.is_none())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::Syntax;

    fn action(text: &str) -> Glob {
        Glob::action(&Pattern::new(text, Syntax { wildcards: true, variables: false, lowercase: true }))
    }

    fn lang(patterns: &[&str]) -> Language {
        Language { globs: patterns.iter().map(|p| action(p)).collect(), negated: false }
    }

    #[test]
    fn differences_have_witnesses_built_from_the_patterns() {
        let w = difference(&lang(&["s3:*"]), &[&lang(&["s3:get*"])], true).unwrap().unwrap();
        assert!(w.starts_with("s3:") && !w.starts_with("s3:get"), "{w}");
        assert_eq!(difference(&lang(&["s3:getobject"]), &[&lang(&["s3:get*"])], true).unwrap(), None);
        assert_eq!(difference(&lang(&["s3:get?bject"]), &[&lang(&["s3:get*"])], true).unwrap(), None);
        let w = difference(&lang(&["s3:get?bject"]), &[&lang(&["s3:getobject"])], true).unwrap().unwrap();
        assert_eq!(w.len(), "s3:getobject".len());
        assert_ne!(w, "s3:getobject");
        // A middle wildcard: `a*b` is not inside `a*c`, but `a*bc` is inside `a*c` only if it ends with c.
        assert!(subset(&lang(&["a*bc"]), &lang(&["a*c"]), true).unwrap());
        assert!(!subset(&lang(&["a*b"]), &lang(&["a*c"]), true).unwrap());
        // NotAction: everything but iam:* is not inside s3:*.
        let not_iam = Language { globs: vec![action("iam:*")], negated: true };
        let w = difference(&not_iam, &[&lang(&["s3:*"])], true).unwrap().unwrap();
        assert!(!w.starts_with("iam:") && !w.starts_with("s3:"), "{w}");
    }

    #[test]
    fn arn_parts_do_not_let_a_wildcard_cross_a_colon() {
        let mut vars = Variables::default();
        let arn =
            |text: &str, vars: &mut Variables| Glob::resource(&crate::compile::ResourcePattern::new(text, true), vars);
        let g = arn("arn:aws:s3:*:*:x", &mut vars);
        assert!(g.matches("arn:aws:s3:us-east-1:123:x"));
        assert!(!g.matches("arn:aws:s3:us:east:1:x"));
        let star = arn("arn:aws:s3:::b/*", &mut vars);
        assert!(star.matches("arn:aws:s3:::b/c:d"));
    }
}
