//! XML canonicalization of a subtree of a parsed document: Exclusive XML Canonicalization 1.0
//! (`http://www.w3.org/2001/10/xml-exc-c14n#`, with and without comments) and Canonical XML 1.0
//! (`http://www.w3.org/TR/2001/REC-xml-c14n-20010315`, with and without comments), for the
//! document subsets XML signatures in SAML use: one element and its descendants, optionally less
//! one excluded element (the enveloped signature).
//!
//! Hand-written on purpose (see ARCHITECTURE.md): the mature implementations are C (libxml2, bound
//! through FFI), the pure-Rust ones early pre-releases, and this needs only the subtree case. It is
//! checked against `xmlsec1` (libxml2's implementation) by the tests that verify `xmlsec1`-signed
//! documents, and by the unit tests below.
//!
//! The parser (`roxmltree`) has already normalized line ends and attribute values, resolved
//! character references, merged CDATA into text and refused DTDs, which is what the canonical
//! form starts from. Prefixes are read from the source text, since the canonical form keeps the
//! prefixes as written.

use roxmltree::{Node, NodeId};

use crate::SamlError;

/// The canonicalization algorithms accepted for `CanonicalizationMethod` and `Transform`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    Exclusive { comments: bool },
    Inclusive { comments: bool },
}

pub(crate) const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
pub(crate) const EXC_C14N_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
pub(crate) const C14N: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
pub(crate) const C14N_COMMENTS: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

impl Method {
    pub(crate) fn from_uri(uri: &str) -> Option<Self> {
        Some(match uri {
            EXC_C14N => Self::Exclusive { comments: false },
            EXC_C14N_COMMENTS => Self::Exclusive { comments: true },
            C14N => Self::Inclusive { comments: false },
            C14N_COMMENTS => Self::Inclusive { comments: true },
            _ => return None,
        })
    }

    fn comments(self) -> bool {
        match self {
            Self::Exclusive { comments } | Self::Inclusive { comments } => comments,
        }
    }

    /// The same algorithm without comments (what a same-document `#id` reference selects).
    pub(crate) fn without_comments(self) -> Self {
        match self {
            Self::Exclusive { .. } => Self::Exclusive { comments: false },
            Self::Inclusive { .. } => Self::Inclusive { comments: false },
        }
    }
}

/// The prefix an element was written with (`None` for an unprefixed name).
fn element_prefix<'a>(node: Node<'a, '_>) -> Option<&'a str> {
    let text = node.document().input_text();
    let start = node.range().start + 1;
    let rest = text.get(start..)?;
    let end = rest.find(|c: char| c.is_whitespace() || c == '/' || c == '>').unwrap_or(rest.len());
    rest[..end].split_once(':').map(|(prefix, _)| prefix)
}

/// An element's name as written (`saml:Assertion`).
fn element_qname<'a>(node: Node<'a, '_>) -> &'a str {
    let text = node.document().input_text();
    let rest = &text[node.range().start + 1..];
    let end = rest.find(|c: char| c.is_whitespace() || c == '/' || c == '>').unwrap_or(rest.len());
    &rest[..end]
}

/// The namespace `prefix` (`""` for the default) is bound to in `node`'s scope (`""` when none).
fn in_scope<'a>(node: Node<'a, '_>, prefix: &str) -> &'a str {
    node.namespaces().find(|ns| ns.name().unwrap_or("") == prefix).map(|ns| ns.uri()).unwrap_or("")
}

fn escape_text(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn escape_attr(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

/// Canonicalizes `apex` and its descendants, less the subtree of `exclude` (the enveloped
/// signature). `inclusive_prefixes` is exclusive c14n's `InclusiveNamespaces PrefixList`
/// (`#default` names the default namespace).
pub(crate) fn canonicalize(
    apex: Node<'_, '_>,
    method: Method,
    inclusive_prefixes: &[String],
    exclude: Option<NodeId>,
) -> Result<String, SamlError> {
    if matches!(method, Method::Inclusive { .. }) {
        // Canonical XML 1.0 would copy `xml:*` attributes inherited from ancestors outside the
        // subset onto the apex; SAML documents do not use them, so such input is refused rather
        // than canonicalized half right.
        let inherited = apex
            .ancestors()
            .skip(1)
            .filter(Node::is_element)
            .any(|a| a.attributes().any(|attr| attr.namespace() == Some(XML_NS)));
        if inherited {
            return Err(SamlError::Unsupported("xml:* attributes above a canonicalized element"));
        }
    }
    let prefixes: Vec<&str> =
        inclusive_prefixes.iter().map(|p| if p == "#default" { "" } else { p.as_str() }).collect();
    let mut out = String::with_capacity(apex.range().len());
    // The namespaces rendered by output ancestors, innermost last.
    let mut rendered: Vec<(String, String)> = Vec::new();
    write_element(apex, method, &prefixes, exclude, &mut rendered, &mut out);
    Ok(out)
}

fn rendered_uri<'r>(rendered: &'r [(String, String)], prefix: &str) -> Option<&'r str> {
    rendered.iter().rev().find(|(p, _)| p == prefix).map(|(_, uri)| uri.as_str())
}

fn write_element(
    node: Node<'_, '_>,
    method: Method,
    inclusive_prefixes: &[&str],
    exclude: Option<NodeId>,
    rendered: &mut Vec<(String, String)>,
    out: &mut String,
) {
    // The prefixes whose declarations this element may need.
    let mut wanted: Vec<&str> = Vec::new();
    match method {
        Method::Inclusive { .. } => {
            for ns in node.namespaces() {
                let prefix = ns.name().unwrap_or("");
                if prefix != "xml" && !wanted.contains(&prefix) {
                    wanted.push(prefix);
                }
            }
            wanted.push("");
        }
        Method::Exclusive { .. } => {
            wanted.push(element_prefix(node).unwrap_or(""));
            let text = node.document().input_text();
            for attr in node.attributes() {
                if let Some((prefix, _)) = text[attr.range_qname()].split_once(':')
                    && prefix != "xml"
                    && !wanted.contains(&prefix)
                {
                    wanted.push(prefix);
                }
            }
            for prefix in inclusive_prefixes {
                let declared = prefix.is_empty() || node.namespaces().any(|ns| ns.name() == Some(prefix));
                if declared && !wanted.contains(prefix) {
                    wanted.push(prefix);
                }
            }
        }
    }
    let mut declarations: Vec<(String, String)> = Vec::new();
    for prefix in wanted {
        if declarations.iter().any(|(p, _)| p == prefix) {
            continue;
        }
        let uri = in_scope(node, prefix);
        let before = rendered_uri(rendered, prefix);
        let needed = if prefix.is_empty() && uri.is_empty() {
            // `xmlns=""` only undoes a default namespace an output ancestor rendered.
            before.is_some_and(|b| !b.is_empty())
        } else {
            before != Some(uri)
        };
        if needed {
            declarations.push((prefix.to_owned(), uri.to_owned()));
        }
    }
    declarations.sort();
    let depth = rendered.len();

    out.push('<');
    out.push_str(element_qname(node));
    for (prefix, uri) in &declarations {
        if prefix.is_empty() {
            out.push_str(" xmlns=\"");
        } else {
            out.push_str(" xmlns:");
            out.push_str(prefix);
            out.push_str("=\"");
        }
        escape_attr(uri, out);
        out.push('"');
    }
    rendered.extend(declarations);

    let text = node.document().input_text();
    let mut attributes: Vec<(&str, &str, &str, &str)> =
        node.attributes().map(|a| (a.namespace().unwrap_or(""), a.name(), &text[a.range_qname()], a.value())).collect();
    attributes.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
    for (_, _, qname, value) in attributes {
        out.push(' ');
        out.push_str(qname);
        out.push_str("=\"");
        escape_attr(value, out);
        out.push('"');
    }
    out.push('>');

    for child in node.children() {
        if Some(child.id()) == exclude {
            continue;
        }
        if child.is_element() {
            write_element(child, method, inclusive_prefixes, exclude, rendered, out);
        } else if child.is_text() {
            escape_text(child.text().unwrap_or(""), out);
        } else if child.is_comment() {
            if method.comments() {
                out.push_str("<!--");
                out.push_str(child.text().unwrap_or(""));
                out.push_str("-->");
            }
        } else if let Some(pi) = child.pi() {
            out.push_str("<?");
            out.push_str(pi.target);
            if let Some(value) = pi.value.filter(|v| !v.is_empty()) {
                out.push(' ');
                out.push_str(value);
            }
            out.push_str("?>");
        }
    }
    out.push_str("</");
    out.push_str(element_qname(node));
    out.push('>');
    rendered.truncate(depth);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c14n(xml: &str, path: &[&str], method: Method, prefixes: &[&str]) -> String {
        let doc = roxmltree::Document::parse(xml).unwrap();
        let mut node = doc.root_element();
        for name in path {
            node = node.children().find(|c| c.tag_name().name() == *name).unwrap();
        }
        let prefixes: Vec<String> = prefixes.iter().map(|p| (*p).to_owned()).collect();
        canonicalize(node, method, &prefixes, None).unwrap()
    }

    const EXC: Method = Method::Exclusive { comments: false };
    const INC: Method = Method::Inclusive { comments: false };

    #[test]
    fn exclusive_renders_only_visibly_used_namespaces() {
        let xml = r#"<a:Root xmlns:a="urn:a" xmlns:b="urn:b" xmlns="urn:d"><a:Child z="1" b:y="2" a:x="3"  >t&amp;&lt;&gt;"<!--c--></a:Child></a:Root>"#;
        assert_eq!(
            c14n(xml, &["Child"], EXC, &[]),
            r#"<a:Child xmlns:a="urn:a" xmlns:b="urn:b" z="1" a:x="3" b:y="2">t&amp;&lt;&gt;"</a:Child>"#
        );
        assert_eq!(
            c14n(xml, &["Child"], Method::Exclusive { comments: true }, &["#default"]),
            r#"<a:Child xmlns="urn:d" xmlns:a="urn:a" xmlns:b="urn:b" z="1" a:x="3" b:y="2">t&amp;&lt;&gt;"<!--c--></a:Child>"#
        );
        // Inclusive c14n renders every namespace in scope at the apex.
        assert_eq!(
            c14n(xml, &["Child"], INC, &[]),
            r#"<a:Child xmlns="urn:d" xmlns:a="urn:a" xmlns:b="urn:b" z="1" a:x="3" b:y="2">t&amp;&lt;&gt;"</a:Child>"#
        );
    }

    #[test]
    fn declarations_are_not_repeated_and_defaults_are_undone() {
        let xml = "<r xmlns=\"urn:d\"><p:e xmlns:p=\"urn:p\"><p:f/><g xmlns=\"\" a=\"\t\n\"/><h/></p:e></r>";
        assert_eq!(
            c14n(xml, &["e"], EXC, &[]),
            "<p:e xmlns:p=\"urn:p\"><p:f></p:f><g a=\"  \"></g><h xmlns=\"urn:d\"></h></p:e>"
        );
        let xml = "<r xmlns=\"urn:d\"><e><g xmlns=\"\"/></e></r>";
        assert_eq!(c14n(xml, &["e"], EXC, &[]), "<e xmlns=\"urn:d\"><g xmlns=\"\"></g></e>");
    }
}
