//! Text patterns: `*` and `?` wildcards, policy variables (`${aws:username}`, defaults, and the
//! `${*}`, `${?}`, `${$}` escapes), and the matcher shared by actions, resources and conditions.

use std::borrow::Cow;

use crate::context::Context;

/// One piece of a pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Token {
    /// Text that must appear as it is.
    Lit(Box<str>),
    /// `*`: any run of characters, including none.
    Star,
    /// `?`: exactly one character.
    One,
    /// `${key}` or `${key, 'default'}`; `key` is lowercased for lookup, `name` kept as written.
    Var { key: Box<str>, name: Box<str>, default: Option<Box<str>> },
}

/// A token with its variables resolved; what the matcher consumes.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Piece<'a> {
    Lit(&'a str),
    Star,
    One,
}

/// A compiled pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Pattern {
    tokens: Vec<Token>,
    has_variables: bool,
}

/// What a pattern understands besides literal text.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Syntax {
    /// `*` and `?` are wildcards (otherwise literal).
    pub(crate) wildcards: bool,
    /// `${...}` is a variable (otherwise literal).
    pub(crate) variables: bool,
    /// Lowercase the literal text (for case-insensitive matching).
    pub(crate) lowercase: bool,
}

impl Pattern {
    /// Compiles `text` under `syntax`.
    pub(crate) fn new(text: &str, syntax: Syntax) -> Pattern {
        let mut tokens = Vec::new();
        let mut literal = String::new();
        let mut rest = text;
        let mut has_variables = false;
        while let Some(c) = rest.chars().next() {
            if syntax.variables
                && rest.starts_with("${")
                && let Some(end) = rest.find('}')
            {
                let inner = &rest[2..end];
                rest = &rest[end + 1..];
                match inner {
                    "*" | "?" | "$" => literal.push_str(inner),
                    _ => {
                        flush(&mut tokens, &mut literal, syntax.lowercase);
                        tokens.push(variable(inner));
                        has_variables = true;
                    }
                }
                continue;
            }
            rest = &rest[c.len_utf8()..];
            match c {
                '*' if syntax.wildcards => {
                    flush(&mut tokens, &mut literal, syntax.lowercase);
                    if tokens.last() != Some(&Token::Star) {
                        tokens.push(Token::Star);
                    }
                }
                '?' if syntax.wildcards => {
                    flush(&mut tokens, &mut literal, syntax.lowercase);
                    tokens.push(Token::One);
                }
                c => literal.push(c),
            }
        }
        flush(&mut tokens, &mut literal, syntax.lowercase);
        Pattern { tokens, has_variables }
    }

    /// The literal text, when the pattern has no wildcards or variables.
    pub(crate) fn literal(&self) -> Option<&str> {
        match self.tokens.as_slice() {
            [] => Some(""),
            [Token::Lit(text)] => Some(text),
            _ => None,
        }
    }

    /// The pattern's tokens, for the analyses that reason about its language (`crate::analysis`).
    pub(crate) fn tokens(&self) -> &[Token] {
        &self.tokens
    }

    /// Whether the pattern has policy variables (and must be resolved before matching).
    pub(crate) fn has_variables(&self) -> bool {
        self.has_variables
    }

    /// The literal text before the first wildcard or variable, if the pattern starts with text.
    pub(crate) fn leading_literal(&self) -> Option<&str> {
        match self.tokens.first() {
            Some(Token::Lit(text)) => Some(text),
            _ => None,
        }
    }

    /// Resolves variables against `context`. `None` when a variable has no value and no default;
    /// its name is then passed to `missing`.
    pub(crate) fn resolve<'a>(
        &'a self,
        context: &'a Context,
        lowercase: bool,
        missing: &mut dyn FnMut(&'a str),
    ) -> Option<Resolved<'a>> {
        if !self.has_variables {
            return Some(Resolved::Static(&self.tokens));
        }
        let mut pieces: Vec<Cow<'a, str>> = Vec::with_capacity(self.tokens.len());
        let mut shape = Vec::with_capacity(self.tokens.len());
        for token in &self.tokens {
            match token {
                Token::Lit(text) => {
                    pieces.push(Cow::Borrowed(text));
                    shape.push(Shape::Lit(pieces.len() - 1));
                }
                Token::Star => shape.push(Shape::Star),
                Token::One => shape.push(Shape::One),
                Token::Var { key, name, default } => {
                    let value = match context.single(key) {
                        Some(value) => value,
                        None => match default {
                            Some(default) => default,
                            None => {
                                missing(name);
                                return None;
                            }
                        },
                    };
                    // INVARIANT: substituted text is literal; a `*` in a value is not a wildcard.
                    pieces.push(if lowercase { Cow::Owned(value.to_lowercase()) } else { Cow::Borrowed(value) });
                    shape.push(Shape::Lit(pieces.len() - 1));
                }
            }
        }
        Some(Resolved::Dynamic { pieces, shape })
    }
}

fn flush(tokens: &mut Vec<Token>, literal: &mut String, lowercase: bool) {
    if !literal.is_empty() {
        let text = if lowercase { crate::context::fold_key(literal) } else { std::mem::take(literal) };
        literal.clear();
        tokens.push(Token::Lit(text.into()));
    }
}

/// Parses the inside of `${...}`: `key` or `key, 'default'`.
fn variable(inner: &str) -> Token {
    let (name, default) = match inner.split_once(',') {
        Some((name, default)) => {
            let default = default.trim();
            let default = default.strip_prefix('\'').and_then(|d| d.strip_suffix('\'')).unwrap_or(default);
            (name.trim(), Some(default.into()))
        }
        None => (inner.trim(), None),
    };
    Token::Var { key: crate::context::fold_key(name).into(), name: name.into(), default }
}

#[derive(Clone, Copy, Debug)]
pub(crate) enum Shape {
    Lit(usize),
    Star,
    One,
}

/// A pattern with its variables resolved.
#[derive(Debug)]
pub(crate) enum Resolved<'a> {
    Static(&'a [Token]),
    Dynamic { pieces: Vec<Cow<'a, str>>, shape: Vec<Shape> },
}

impl Resolved<'_> {
    /// Whether `text` matches the whole pattern.
    pub(crate) fn matches(&self, text: &str) -> bool {
        match self {
            Resolved::Static(tokens) => glob(tokens.len(), |i| static_piece(&tokens[i]), text),
            Resolved::Dynamic { pieces, shape } => glob(
                shape.len(),
                |i| match shape[i] {
                    Shape::Lit(p) => Piece::Lit(&pieces[p]),
                    Shape::Star => Piece::Star,
                    Shape::One => Piece::One,
                },
                text,
            ),
        }
    }
}

pub(crate) fn static_piece(token: &Token) -> Piece<'_> {
    match token {
        Token::Lit(text) => Piece::Lit(text),
        Token::Star => Piece::Star,
        Token::One => Piece::One,
        // Variables are resolved before matching; a static pattern has none.
        Token::Var { .. } => Piece::Lit("\u{0}"),
    }
}

impl Pattern {
    /// Matches a pattern without variables (actions, and resources under old versions).
    pub(crate) fn matches_static(&self, text: &str) -> bool {
        glob(self.tokens.len(), |i| static_piece(&self.tokens[i]), text)
    }
}

/// Wildcard matching with one-star backtracking: linear for patterns with a single `*`, and at
/// worst quadratic, never exponential.
fn glob<'p>(len: usize, piece: impl Fn(usize) -> Piece<'p>, text: &str) -> bool {
    let mut p = 0;
    let mut t = 0;
    let mut star: Option<(usize, usize)> = None;
    loop {
        if p < len {
            match piece(p) {
                Piece::Star => {
                    star = Some((p + 1, t));
                    p += 1;
                    continue;
                }
                Piece::One => {
                    if let Some(c) = text[t..].chars().next() {
                        t += c.len_utf8();
                        p += 1;
                        continue;
                    }
                }
                Piece::Lit(lit) => {
                    if text[t..].starts_with(lit) {
                        t += lit.len();
                        p += 1;
                        continue;
                    }
                }
            }
        } else if t == text.len() {
            return true;
        }
        match star {
            Some((star_p, star_t)) if star_t < text.len() => {
                let step = text[star_t..].chars().next().map_or(1, char::len_utf8);
                star = Some((star_p, star_t + step));
                p = star_p;
                t = star_t + step;
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIKE: Syntax = Syntax { wildcards: true, variables: true, lowercase: false };

    fn matches(pattern: &str, text: &str, context: &Context) -> bool {
        Pattern::new(pattern, LIKE).resolve(context, false, &mut |_| {}).is_some_and(|r| r.matches(text))
    }

    #[test]
    fn wildcards() {
        let context = Context::new();
        for (pattern, text, expected) in [
            ("*", "", true),
            ("*", "anything/at:all", true),
            ("a*c", "abbbc", true),
            ("a*c", "abbb", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a?c", "aéc", true),
            ("*b*b*", "abcbd", true),
            ("*ab", "aaab", true),
            ("home/*/x", "home/a/b/x", true),
            ("exact", "exact", true),
            ("exact", "Exact", false),
        ] {
            assert_eq!(matches(pattern, text, &context), expected, "{pattern} ~ {text}");
        }
    }

    #[test]
    fn variables_resolve_and_escapes_are_literal() {
        let mut context = Context::new();
        context.insert("aws:username", "alice");
        assert!(matches("home/${aws:username}/*", "home/alice/x", &context));
        assert!(!matches("home/${aws:username}/*", "home/bob/x", &context));
        assert!(matches("home/${AWS:UserName}", "home/alice", &context));
        assert!(matches("${*}", "*", &context));
        assert!(!matches("${*}", "x", &context));
        assert!(matches("a${?}", "a?", &context));
        assert!(matches("${$}x", "$x", &context));
        assert!(matches("t/${aws:PrincipalTag/team, 'company-wide'}", "t/company-wide", &context));
        let mut missing = Vec::new();
        let pattern = Pattern::new("home/${aws:userid}", LIKE);
        assert!(pattern.resolve(&context, false, &mut |name| missing.push(name.to_owned())).is_none());
        assert_eq!(missing, ["aws:userid"]);
    }

    #[test]
    fn without_variable_syntax_text_is_literal() {
        let pattern =
            Pattern::new("home/${aws:username}", Syntax { wildcards: true, variables: false, lowercase: false });
        assert!(pattern.matches_static("home/${aws:username}"));
    }

    #[test]
    fn pathological_patterns_stay_fast() {
        // Exponential backtracking would never finish this; one-star backtracking is quick.
        let pattern = Pattern::new(&("a*".repeat(50) + "c"), LIKE);
        let text = "a".repeat(10_000) + "b";
        let context = Context::new();
        let resolved = pattern.resolve(&context, false, &mut |_| {}).unwrap();
        assert!(!resolved.matches(&text));
        assert!(resolved.matches(&(text + "c")));
    }
}
