//! The regular expressions of the AWS models' `pattern` constraints, matched as AWS (Java's
//! `Pattern.matches`) matches them: against the whole value.
//!
//! A small engine for the subset the IAM and STS models use, so that no regex crate is needed:
//! literals, `.`, classes (`[...]`, `[^...]`, ranges, `\w`, `\d`, `\s`, `\p{L}`, `\p{N}`,
//! `\p{Z}`), groups, alternation, `*`, `+`, `?`, `{m}`, `{m,}`, `{m,n}`, `^`, `$` and negative
//! lookahead `(?!...)`. Matching follows sets of positions rather than backtracking, so its
//! cost is bounded by the pattern's size times the value's length (times the repetition bound
//! for `{m,n}`), whatever the value.
//!
//! Java semantics kept: `\w` is ASCII `[a-zA-Z0-9_]` and `\d` is `[0-9]`. One deliberate
//! difference: Java reads exactly four hex digits after `\u`, so the STS model's
//! `\u10000-\u10FFFF` would be `\u1000`, `0-\u10FF`, `F`, `F` there; it is read here as the
//! supplementary planes it means (up to six digits while the value stays a code point), which
//! accepts emoji in a session policy rather than refusing them.

/// A parsed pattern.
#[derive(Clone, Debug)]
pub struct Pattern {
    node: Node,
}

#[derive(Clone, Debug)]
enum Node {
    Class(Class),
    Start,
    End,
    Concat(Vec<Node>),
    Alt(Vec<Node>),
    Repeat(Box<Node>, u32, Option<u32>),
    NotAhead(Box<Node>),
}

#[derive(Clone, Debug, Default)]
struct Class {
    negated: bool,
    ranges: Vec<(u32, u32)>,
    builtins: Vec<Builtin>,
    /// Whether each ASCII character matches, bit `c` for `c`: filled by [`Class::seal`] once
    /// parsing ends, so that the common case (a name of ASCII characters) is one bit test.
    ascii: u128,
}

#[derive(Clone, Copy, Debug)]
enum Builtin {
    Word,
    Digit,
    Space,
    Letter,
    Number,
    Separator,
    Any,
}

impl Node {
    /// Seals every class of the tree ([`Class::seal`]).
    fn seal(&mut self) {
        match self {
            Node::Class(class) => class.seal(),
            Node::Concat(nodes) | Node::Alt(nodes) => nodes.iter_mut().for_each(Node::seal),
            Node::Repeat(node, _, _) | Node::NotAhead(node) => node.seal(),
            Node::Start | Node::End => {}
        }
    }
}

impl Builtin {
    fn matches(self, c: char) -> bool {
        match self {
            Builtin::Word => c.is_ascii_alphanumeric() || c == '_',
            Builtin::Digit => c.is_ascii_digit(),
            Builtin::Space => matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r'),
            // std has no `\p{L}`; `is_alphabetic` also admits the few marks Unicode calls
            // alphabetic, which is lenient but never refuses a letter.
            Builtin::Letter => c.is_alphabetic(),
            Builtin::Number => c.is_numeric(),
            Builtin::Separator => matches!(
                c,
                '\u{20}' | '\u{a0}' | '\u{1680}' | '\u{2000}'
                    ..='\u{200a}' | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}'
            ),
            Builtin::Any => !matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'),
        }
    }
}

impl Class {
    fn single(c: u32) -> Class {
        Class { ranges: vec![(c, c)], ..Class::default() }
    }

    fn builtin(b: Builtin) -> Class {
        Class { builtins: vec![b], ..Class::default() }
    }

    /// Fills [`Class::ascii`] from the ranges and builtins.
    fn seal(&mut self) {
        self.ascii = 0;
        for c in 0..128u8 {
            if self.matches_slowly(char::from(c)) {
                self.ascii |= 1 << c;
            }
        }
    }

    fn matches(&self, c: char) -> bool {
        let code = u32::from(c);
        if code < 128 {
            return self.ascii & (1 << code) != 0;
        }
        self.matches_slowly(c)
    }

    fn matches_slowly(&self, c: char) -> bool {
        let code = u32::from(c);
        let inside =
            self.ranges.iter().any(|&(lo, hi)| lo <= code && code <= hi) || self.builtins.iter().any(|b| b.matches(c));
        inside != self.negated
    }
}

/// A pattern the engine does not support, with where parsing stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternError {
    /// The character offset.
    pub at: usize,
}

impl Pattern {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        let chars: Vec<char> = text.chars().collect();
        let mut parser = Parser { chars: &chars, at: 0 };
        let mut node = parser.alternation()?;
        if parser.at != chars.len() {
            return Err(PatternError { at: parser.at });
        }
        node.seal();
        Ok(Pattern { node })
    }

    /// Whether the whole of `value` matches.
    pub fn matches(&self, value: &str) -> bool {
        if let Some(matched) = self.one_class_repeated(value) {
            return matched;
        }
        let chars: Vec<char> = value.chars().collect();
        let ends = step(&self.node, &chars, vec![0]);
        ends.contains(&chars.len())
    }

    /// The models' most common shape, one class repeated (`[\w+=,.@-]+`, `[\u0009...]{1,128}`),
    /// matched in one pass over the value with nothing allocated (a name is checked on every
    /// request that carries one); `None` for any other pattern.
    fn one_class_repeated(&self, value: &str) -> Option<bool> {
        let Node::Concat(items) = &self.node else { return None };
        let [Node::Repeat(inner, min, max)] = items.as_slice() else { return None };
        let Node::Class(class) = &**inner else { return None };
        let mut count: u32 = 0;
        for c in value.chars() {
            if !class.matches(c) {
                return Some(false);
            }
            count = count.saturating_add(1);
        }
        Some(count >= *min && max.is_none_or(|max| count <= max))
    }
}

struct Parser<'a> {
    chars: &'a [char],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn fail<T>(&self) -> Result<T, PatternError> {
        Err(PatternError { at: self.at })
    }

    fn alternation(&mut self) -> Result<Node, PatternError> {
        let mut branches = vec![self.concatenation()?];
        while self.eat('|') {
            branches.push(self.concatenation()?);
        }
        Ok(if branches.len() == 1 { branches.remove(0) } else { Node::Alt(branches) })
    }

    fn concatenation(&mut self) -> Result<Node, PatternError> {
        let mut items = Vec::new();
        while let Some(c) = self.peek() {
            if c == '|' || c == ')' {
                break;
            }
            let atom = self.atom()?;
            items.push(self.quantified(atom)?);
        }
        Ok(Node::Concat(items))
    }

    fn quantified(&mut self, mut atom: Node) -> Result<Node, PatternError> {
        loop {
            let (min, max) = match self.peek() {
                Some('*') => (0, None),
                Some('+') => (1, None),
                Some('?') => (0, Some(1)),
                Some('{') => {
                    self.at += 1;
                    let min = self.number()?;
                    let max = if self.eat(',') {
                        if self.peek() == Some('}') { None } else { Some(self.number()?) }
                    } else {
                        Some(min)
                    };
                    if self.peek() != Some('}') || max.is_some_and(|max| max < min) {
                        return self.fail();
                    }
                    (min, max)
                }
                _ => return Ok(atom),
            };
            self.at += 1;
            atom = Node::Repeat(Box::new(atom), min, max);
        }
    }

    fn number(&mut self) -> Result<u32, PatternError> {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        let digits: String = self.chars[start..self.at].iter().collect();
        digits.parse().or_else(|_| self.fail())
    }

    fn atom(&mut self) -> Result<Node, PatternError> {
        let Some(c) = self.peek() else { return self.fail() };
        self.at += 1;
        Ok(match c {
            '(' => {
                let lookahead = if self.chars[self.at..].starts_with(&['?', '!']) {
                    self.at += 2;
                    true
                } else {
                    if self.chars[self.at..].starts_with(&['?', ':']) {
                        self.at += 2;
                    }
                    false
                };
                let inner = self.alternation()?;
                if !self.eat(')') {
                    return self.fail();
                }
                if lookahead { Node::NotAhead(Box::new(inner)) } else { inner }
            }
            '[' => Node::Class(self.class()?),
            '.' => Node::Class(Class::builtin(Builtin::Any)),
            '^' => Node::Start,
            '$' => Node::End,
            '\\' => match self.escape()? {
                Escaped::Char(code) => Node::Class(Class::single(code)),
                Escaped::Builtin(b) => Node::Class(Class::builtin(b)),
            },
            ')' | '*' | '+' | '?' | '{' => return Err(PatternError { at: self.at - 1 }),
            c => Node::Class(Class::single(u32::from(c))),
        })
    }

    /// After a `\`.
    fn escape(&mut self) -> Result<Escaped, PatternError> {
        let Some(c) = self.peek() else { return self.fail() };
        self.at += 1;
        Ok(match c {
            'w' => Escaped::Builtin(Builtin::Word),
            'd' => Escaped::Builtin(Builtin::Digit),
            's' => Escaped::Builtin(Builtin::Space),
            'p' => {
                let name: String = match self.chars[self.at..].iter().position(|&c| c == '}') {
                    Some(end) if self.peek() == Some('{') => {
                        let name = self.chars[self.at + 1..self.at + end].iter().collect();
                        self.at += end + 1;
                        name
                    }
                    _ => return self.fail(),
                };
                Escaped::Builtin(match name.as_str() {
                    "L" => Builtin::Letter,
                    "N" => Builtin::Number,
                    "Z" => Builtin::Separator,
                    _ => return self.fail(),
                })
            }
            'u' => {
                let hex = |c: Option<&char>| c.and_then(|c| c.to_digit(16));
                let mut code = 0u32;
                for _ in 0..4 {
                    let Some(digit) = hex(self.chars.get(self.at)) else { return self.fail() };
                    code = code * 16 + digit;
                    self.at += 1;
                }
                // See the module documentation: `\u10000` is read as one code point.
                for _ in 0..2 {
                    match hex(self.chars.get(self.at)) {
                        Some(digit) if code * 16 + digit <= 0x10_FFFF => {
                            code = code * 16 + digit;
                            self.at += 1;
                        }
                        _ => break,
                    }
                }
                Escaped::Char(code)
            }
            't' => Escaped::Char(9),
            'n' => Escaped::Char(10),
            'r' => Escaped::Char(13),
            c if c.is_ascii_alphanumeric() => return Err(PatternError { at: self.at - 1 }),
            c => Escaped::Char(u32::from(c)),
        })
    }

    /// After a `[`.
    fn class(&mut self) -> Result<Class, PatternError> {
        let mut class = Class { negated: self.eat('^'), ..Class::default() };
        let mut first = true;
        loop {
            let Some(c) = self.peek() else { return self.fail() };
            if c == ']' && !first {
                self.at += 1;
                return Ok(class);
            }
            first = false;
            self.at += 1;
            let low = if c == '\\' {
                match self.escape()? {
                    Escaped::Char(code) => code,
                    Escaped::Builtin(b) => {
                        class.builtins.push(b);
                        continue;
                    }
                }
            } else {
                u32::from(c)
            };
            // A `-` between two characters is a range; first or last, it is itself.
            if self.peek() == Some('-') && self.chars.get(self.at + 1).is_some_and(|&n| n != ']') {
                self.at += 1;
                let Some(next) = self.peek() else { return self.fail() };
                self.at += 1;
                let high = if next == '\\' {
                    match self.escape()? {
                        Escaped::Char(code) => code,
                        Escaped::Builtin(_) => return self.fail(),
                    }
                } else {
                    u32::from(next)
                };
                if high < low {
                    return self.fail();
                }
                class.ranges.push((low, high));
            } else {
                class.ranges.push((low, low));
            }
        }
    }
}

enum Escaped {
    Char(u32),
    Builtin(Builtin),
}

/// The positions `node` can end at when started at each of `from` (sorted, no duplicates).
fn step(node: &Node, s: &[char], from: Vec<usize>) -> Vec<usize> {
    if from.is_empty() {
        return from;
    }
    match node {
        Node::Class(class) => {
            from.into_iter().filter(|&p| s.get(p).is_some_and(|&c| class.matches(c))).map(|p| p + 1).collect()
        }
        Node::Start => from.into_iter().filter(|&p| p == 0).collect(),
        Node::End => from.into_iter().filter(|&p| p == s.len()).collect(),
        Node::Concat(items) => items.iter().fold(from, |at, item| step(item, s, at)),
        Node::Alt(branches) => {
            let mut out: Vec<usize> = branches.iter().flat_map(|b| step(b, s, from.clone())).collect();
            out.sort_unstable();
            out.dedup();
            out
        }
        Node::NotAhead(inner) => from.into_iter().filter(|&p| step(inner, s, vec![p]).is_empty()).collect(),
        Node::Repeat(inner, min, max) => {
            let mut reached = vec![false; s.len() + 1];
            let mut out = Vec::new();
            if *min == 0 {
                for &p in &from {
                    reached[p] = true;
                }
                out.extend_from_slice(&from);
            }
            let mut current = from;
            let mut count = 0u32;
            while !current.is_empty() && max.is_none_or(|max| count < max) {
                current = step(inner, s, current);
                count += 1;
                if count >= *min {
                    // Past the minimum, a position reached before adds nothing new.
                    current.retain(|&p| !reached[p]);
                    for &p in &current {
                        reached[p] = true;
                    }
                    out.extend_from_slice(&current);
                }
            }
            out.sort_unstable();
            out.dedup();
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, value: &str) -> bool {
        Pattern::parse(pattern).expect("parses").matches(value)
    }

    /// Every class's ASCII table, filled when parsing ends, says what its ranges and builtins say.
    #[test]
    fn the_ascii_table_agrees_with_the_classes() {
        fn classes<'a>(node: &'a Node, out: &mut Vec<&'a Class>) {
            match node {
                Node::Class(class) => out.push(class),
                Node::Concat(nodes) | Node::Alt(nodes) => nodes.iter().for_each(|n| classes(n, out)),
                Node::Repeat(node, _, _) | Node::NotAhead(node) => classes(node, out),
                Node::Start | Node::End => {}
            }
        }
        let texts =
            [r"[\w+=,.@-]+", r"[^/]{3}", r"[\u0009\u000A\u000D\u0020-\u00FF]+", r"\s\d\p{L}\p{N}\p{Z}.", r"[^\w]x-"];
        for text in texts {
            let pattern = Pattern::parse(text).expect("parses");
            let mut found = Vec::new();
            classes(&pattern.node, &mut found);
            assert!(!found.is_empty(), "{text}");
            for class in found {
                assert_ne!(class.ascii, 0, "{text}: sealed");
                for c in (0..128u8).map(char::from) {
                    assert_eq!(class.matches(c), class.matches_slowly(c), "{text} on {c:?}");
                }
            }
        }
    }

    /// The one-pass shortcut answers as the position sets do.
    #[test]
    fn one_class_repeated_agrees_with_the_general_engine() {
        let patterns = [r"[\w+=,.@-]+", r"[\w+=,.@-]*", r"[a-z]{2,4}", r"[^/]{3}", r"[\u0020-\u00FF]+", r"\d+"];
        let values = ["", "a", "ab", "abcd", "abcde", "a b", "x/y", "é", "alice+ops@example.com", "123", "\u{1F600}"];
        for text in patterns {
            let pattern = Pattern::parse(text).expect("parses");
            assert!(pattern.one_class_repeated("").is_some(), "{text} takes the shortcut");
            for value in values {
                let chars: Vec<char> = value.chars().collect();
                let general = step(&pattern.node, &chars, vec![0]).contains(&chars.len());
                assert_eq!(pattern.matches(value), general, "{text} on {value:?}");
            }
        }
        assert!(Pattern::parse(r"[a-z]+\d").expect("parses").one_class_repeated("a1").is_none());
    }

    #[test]
    fn name_classes_match_whole_values() {
        assert!(m(r"[\w+=,.@-]+", "alice+ops@example.com"));
        assert!(!m(r"[\w+=,.@-]+", "bad name"));
        assert!(!m(r"[\w+=,.@-]+", ""));
        assert!(m(r"[\w+=,.@-]*", ""));
        assert!(!m(r"[\w+=,.@-]+", "é"), "\\w is ASCII");
        assert!(m(r"\d{12}", "123456789012"));
        assert!(!m(r"\d{12}", "12345678901"));
        assert!(!m(r"\d{12}", "1234567890123"));
        assert!(m(r"[A-Z0-9]+", "AKIA0"));
        assert!(m(r"[ -~]+", "printable ~"));
        assert!(!m(r"[ -~]+", "tab\t"));
    }

    #[test]
    fn paths_alternation_and_groups() {
        let path = r"(\u002F)|(\u002F[\u0021-\u007E]+\u002F)";
        assert!(m(path, "/"));
        assert!(m(path, "/a/b/"));
        assert!(!m(path, "/a"));
        assert!(!m(path, "a/"));
        assert!(!m(path, "/a b/"));
        let policy_path = r"((/[A-Za-z0-9\.,\+@=_-]+)*)/";
        assert!(m(policy_path, "/"));
        assert!(m(policy_path, "/team/a.b/"));
        assert!(!m(policy_path, "//"));
        assert!(!m(policy_path, "/team"));
        assert!(m(r"\u002F[\u0021-\u007F]*", "/anything/"));
        assert!(!m(r"\u002F[\u0021-\u007F]*", "x"));
        assert!(m(r"v[1-9][0-9]*(\.[A-Za-z0-9-]*)?", "v12.a-b"));
        assert!(!m(r"v[1-9][0-9]*(\.[A-Za-z0-9-]*)?", "v0"));
    }

    #[test]
    fn anchors_counts_and_lookahead() {
        let alias = "^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$";
        assert!(m(alias, "my-alias"));
        assert!(m(alias, "abc"));
        assert!(!m(alias, "ab"));
        assert!(!m(alias, "my--alias"));
        assert!(!m(alias, "-alias"));
        assert!(!m(alias, "alias-"));
        assert!(!m(alias, &"a".repeat(64)));
        assert!(m(alias, &"a".repeat(63)));
        let url = r"^http(s?)://[a-zA-Z0-9._/-]*(\?[a-zA-Z0-9._=&-]*)?(#[a-zA-Z0-9._/-]*)?$";
        assert!(m(url, "https://example.com/a?b=c#d"));
        assert!(!m(url, "ftp://example.com"));
        assert!(m(r"^o-[0-9a-z]{10,32}\/r-[0-9a-z]{4,32}[0-9a-z-\/]*", "o-abcdefghij/r-abcd/ou-x"));
    }

    #[test]
    fn unicode_classes() {
        let tag = r"[\p{L}\p{Z}\p{N}_.:/=+\-@]+";
        assert!(m(tag, "Ünïcode 値 ٣"));
        assert!(!m(tag, "a*b"));
        let text = r"[\u0009\u000A\u000D\u0020-\u00FF]+";
        assert!(m(text, "{\"a\":\n\t\"ÿ\"}"));
        assert!(!m(text, "Ā"));
        let session = r"[\u0009\u000A\u000D\u0020-\u007E\u0085\u00A0-\uD7FF\uE000-\uFFFD\u10000-\u10FFFF]+";
        assert!(m(session, "emoji 😀 and 値"));
        assert!(!m(session, "\u{1}"));
    }

    #[test]
    fn long_values_cost_linear_time() {
        let doc = "x".repeat(200_000);
        assert!(m(r"[\u0009\u000A\u000D\u0020-\u00FF]+", &doc));
        let path = format!("/{}/", "a/".repeat(2_000));
        assert!(m(r"((/[A-Za-z0-9\.,\+@=_-]+)*)/", &path.replace("//", "/")));
    }

    #[test]
    fn unsupported_syntax_is_refused() {
        for bad in ["(", "[a", "a{2,1}", r"\q", "*a", r"\p{Lu}"] {
            assert!(Pattern::parse(bad).is_err(), "{bad}");
        }
    }
}
