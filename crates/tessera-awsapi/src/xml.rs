//! Query-protocol success responses: [`Response`] writes
//! `<{Action}Response xmlns="…"><{Action}Result>…</{Action}Result><ResponseMetadata>…`
//! (reference §6), and [`empty_response`] the `ResponseMetadata`-only body of operations with no
//! output.
//!
//! Output is indented by two spaces and ends with a newline, as AWS's is. Element names come
//! from the gateway's code; every text node is escaped by [`escape_text`], which also replaces
//! the characters XML 1.0 cannot carry at all. botocore parses a missing `<{Action}Result>` of
//! an operation that has output as an error, and AWS sends none for operations without output
//! (`DeleteUser`), so the caller picks [`Response::new`] or [`empty_response`] per operation
//! rather than this module guessing from whether fields were written.

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use quick_xml::Writer;
use quick_xml::escape::partial_escape;
use quick_xml::events::{BytesEnd, BytesStart, BytesText, Event};

use crate::time::iso8601;

/// Every byte but the RFC 3986 unreserved characters (`A-Z a-z 0-9 - . _ ~`) is escaped in
/// policy documents. botocore decodes them with `urllib.parse.unquote`, which does not turn
/// `+` into a space, so spaces must be `%20`.
const POLICY_DOCUMENT_ESCAPES: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// A policy document as IAM returns it: the JSON percent-encoded (botocore un-quotes and parses
/// every `policyDocumentType` member).
pub fn encode_policy_document(document: &str) -> String {
    utf8_percent_encode(document, POLICY_DOCUMENT_ESCAPES).to_string()
}

/// `text` escaped for an XML text node: `<`, `>`, `&` and `\r` become references, and the
/// characters XML 1.0 forbids even as references (controls other than tab, newline and carriage
/// return; U+FFFE; U+FFFF) become U+FFFD. Quotes stay as they are, as in AWS's messages.
pub fn escape_text(text: &str) -> Cow<'_, str> {
    if text.chars().any(|c| !is_xml_char(c)) {
        let cleaned: String = text.chars().map(|c| if is_xml_char(c) { c } else { '\u{FFFD}' }).collect();
        Cow::Owned(partial_escape(cleaned).into_owned())
    } else {
        partial_escape(text)
    }
}

fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Whether `name` is safe as an element name: the ASCII names AWS models use.
fn is_element_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
}

/// An indenting XML writer over a `Vec<u8>` that remembers its open elements.
pub(crate) struct XmlWriter {
    writer: Writer<Vec<u8>>,
    open: Vec<String>,
}

impl XmlWriter {
    pub(crate) fn new() -> XmlWriter {
        XmlWriter { writer: Writer::new_with_indent(Vec::new(), b' ', 2), open: Vec::new() }
    }

    fn emit(&mut self, event: Event<'_>) {
        // INVARIANT: writing to a `Vec<u8>` cannot fail.
        self.writer.write_event(event).expect("writing to a Vec cannot fail");
    }

    pub(crate) fn start(&mut self, name: &str, namespace: Option<&str>) {
        debug_assert!(is_element_name(name), "bad element name {name:?}");
        let mut start = BytesStart::new(name);
        if let Some(namespace) = namespace {
            start.push_attribute(("xmlns", namespace));
        }
        self.emit(Event::Start(start));
        self.open.push(name.to_owned());
    }

    /// Closes the innermost open element; does nothing when none is open.
    pub(crate) fn end(&mut self) {
        if let Some(name) = self.open.pop() {
            self.emit(Event::End(BytesEnd::new(name)));
        }
    }

    pub(crate) fn text(&mut self, text: &str) {
        self.emit(Event::Text(BytesText::from_escaped(escape_text(text))));
    }

    /// `<name>text</name>`: written whole, so `name` is not kept as an open element.
    pub(crate) fn text_element(&mut self, name: &str, text: &str) {
        debug_assert!(is_element_name(name), "bad element name {name:?}");
        self.emit(Event::Start(BytesStart::new(name)));
        self.text(text);
        self.emit(Event::End(BytesEnd::new(name)));
    }

    pub(crate) fn empty_element(&mut self, name: &str) {
        debug_assert!(is_element_name(name), "bad element name {name:?}");
        self.emit(Event::Empty(BytesStart::new(name)));
    }

    pub(crate) fn depth(&self) -> usize {
        self.open.len()
    }

    /// Closes every open element and returns the document with a final newline.
    pub(crate) fn finish(mut self) -> String {
        while !self.open.is_empty() {
            self.end();
        }
        let mut bytes = self.writer.into_inner();
        bytes.push(b'\n');
        // INVARIANT: every byte written came from a `&str`.
        String::from_utf8(bytes).expect("the writer wrote only UTF-8")
    }
}

/// A success response under construction: `Response::new("GetUser", IAM_NAMESPACE)` opens
/// `<GetUserResponse xmlns="…"><GetUserResult>`, the methods write its fields, and
/// [`Response::finish`] closes it with the `ResponseMetadata`.
///
/// ```
/// use tessera_awsapi::{IAM_NAMESPACE, Response};
///
/// let mut response = Response::new("ListUsers", IAM_NAMESPACE);
/// response.list("Users", ["alice"], |w, name| {
///     w.el("UserName", name);
/// });
/// response.bool("IsTruncated", false);
/// let xml = response.finish("7a62c49f-347e-4fc4-9331-6e8eEXAMPLE");
/// assert!(xml.contains("<Users>\n      <member>\n        <UserName>alice</UserName>"));
/// ```
pub struct Response {
    xml: XmlWriter,
    /// The depth of `<{Action}Result>`, below which [`Response::end`] does not close.
    result_depth: usize,
}

impl std::fmt::Debug for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The body may hold secrets (a new access key's secret, session credentials).
        f.debug_struct("Response").field("open", &self.xml.open).finish_non_exhaustive()
    }
}

impl Response {
    /// Opens `<{action}Response xmlns="{namespace}"><{action}Result>`.
    pub fn new(action: &str, namespace: &str) -> Response {
        let mut xml = XmlWriter::new();
        xml.start(&format!("{action}Response"), Some(namespace));
        xml.start(&format!("{action}Result"), None);
        let result_depth = xml.depth();
        Response { xml, result_depth }
    }

    /// Writes `<name>text</name>`.
    pub fn el(&mut self, name: &str, text: &str) -> &mut Response {
        self.xml.text_element(name, text);
        self
    }

    /// Writes `<name>text</name>` when `text` is `Some`, nothing otherwise.
    pub fn opt<T: AsRef<str>>(&mut self, name: &str, text: Option<T>) -> &mut Response {
        if let Some(text) = text {
            self.el(name, text.as_ref());
        }
        self
    }

    /// Writes `<name>true</name>` or `<name>false</name>`.
    pub fn bool(&mut self, name: &str, value: bool) -> &mut Response {
        self.el(name, if value { "true" } else { "false" })
    }

    /// Writes an optional boolean.
    pub fn opt_bool(&mut self, name: &str, value: Option<bool>) -> &mut Response {
        if let Some(value) = value {
            self.bool(name, value);
        }
        self
    }

    /// Writes an integer.
    pub fn int(&mut self, name: &str, value: i64) -> &mut Response {
        self.el(name, &value.to_string())
    }

    /// Writes an optional integer.
    pub fn opt_int(&mut self, name: &str, value: Option<i64>) -> &mut Response {
        if let Some(value) = value {
            self.int(name, value);
        }
        self
    }

    /// Writes a timestamp given in Unix seconds, as `2026-11-23T10:00:00Z`.
    pub fn timestamp(&mut self, name: &str, unix_seconds: i64) -> &mut Response {
        self.el(name, &iso8601(unix_seconds))
    }

    /// Writes an optional timestamp given in Unix seconds.
    pub fn opt_timestamp(&mut self, name: &str, unix_seconds: Option<i64>) -> &mut Response {
        if let Some(unix_seconds) = unix_seconds {
            self.timestamp(name, unix_seconds);
        }
        self
    }

    /// Writes a policy document, URL-encoded as IAM does (see [`encode_policy_document`]).
    pub fn policy_document(&mut self, name: &str, document: &str) -> &mut Response {
        self.el(name, &encode_policy_document(document))
    }

    /// Writes a text node into the innermost open element, for scalar list members.
    pub fn text(&mut self, text: &str) -> &mut Response {
        self.xml.text(text);
        self
    }

    /// Opens `<name>`; close it with [`Response::end`], or use [`Response::nested`].
    pub fn start(&mut self, name: &str) -> &mut Response {
        self.xml.start(name, None);
        self
    }

    /// Closes the innermost element opened with [`Response::start`]. It never closes
    /// `<{Action}Result>`; [`Response::finish`] does.
    pub fn end(&mut self) -> &mut Response {
        debug_assert!(self.xml.depth() > self.result_depth, "end() without start()");
        if self.xml.depth() > self.result_depth {
            self.xml.end();
        }
        self
    }

    /// Writes `<name>…</name>` with `fields` writing the inside.
    pub fn nested(&mut self, name: &str, fields: impl FnOnce(&mut Response)) -> &mut Response {
        self.start(name);
        let depth = self.xml.depth();
        fields(self);
        // Close whatever `fields` left open, then `name` itself.
        while self.xml.depth() >= depth {
            self.xml.end();
        }
        self
    }

    /// Writes `<name><member>…</member>…</name>`, with `member` writing the inside of each
    /// `<member>` (for a list of strings, see [`Response::str_list`]). An empty list is
    /// `<name/>`, which botocore reads as `[]`.
    pub fn list<I, F>(&mut self, name: &str, items: I, mut member: F) -> &mut Response
    where
        I: IntoIterator,
        F: FnMut(&mut Response, I::Item),
    {
        let mut items = items.into_iter().peekable();
        if items.peek().is_none() {
            self.xml.empty_element(name);
            return self;
        }
        self.nested(name, |w| {
            for item in items {
                w.nested("member", |w| member(w, item));
            }
        })
    }

    /// Writes a list of strings: `<name><member>a</member><member>b</member></name>`.
    pub fn str_list<I>(&mut self, name: &str, items: I) -> &mut Response
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.list(name, items, |w, item| {
            w.text(item.as_ref());
        })
    }

    /// Closes the result and the response, with `request_id` in the `ResponseMetadata`.
    pub fn finish(mut self, request_id: &str) -> String {
        while self.xml.depth() > 1 {
            self.xml.end();
        }
        write_metadata(&mut self.xml, request_id);
        self.xml.finish()
    }
}

/// The response of an operation without output, such as `DeleteUser`:
/// `<{action}Response xmlns="…"><ResponseMetadata><RequestId>…</RequestId></ResponseMetadata>
/// </{action}Response>`, with no `<{action}Result>`.
pub fn empty_response(action: &str, namespace: &str, request_id: &str) -> String {
    let mut xml = XmlWriter::new();
    xml.start(&format!("{action}Response"), Some(namespace));
    write_metadata(&mut xml, request_id);
    xml.finish()
}

fn write_metadata(xml: &mut XmlWriter, request_id: &str) {
    xml.start("ResponseMetadata", None);
    xml.text_element("RequestId", request_id);
    xml.end();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{IAM_NAMESPACE, STS_NAMESPACE};

    #[test]
    fn escapes_text() {
        let cases = [
            ("plain", "plain"),
            ("a<b>&c", "a&lt;b&gt;&amp;c"),
            ("it's \"quoted\"", "it's \"quoted\""),
            ("line\r\nnext\ttab", "line&#13;\nnext\ttab"),
            ("nul\u{0}bell\u{7}", "nul\u{FFFD}bell\u{FFFD}"),
            ("\u{FFFE}\u{FFFF}\u{FFFD}", "\u{FFFD}\u{FFFD}\u{FFFD}"),
            ("</Message><Code>x", "&lt;/Message&gt;&lt;Code&gt;x"),
            ("😀€", "😀€"),
        ];
        for (raw, escaped) in cases {
            assert_eq!(escape_text(raw), escaped, "{raw:?}");
        }
    }

    #[test]
    fn encodes_policy_documents() {
        let document = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
        assert_eq!(
            encode_policy_document(document),
            "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%7B%22Effect%22%3A%22Allow%22%2C\
             %22Action%22%3A%22s3%3A%2A%22%2C%22Resource%22%3A%22%2A%22%7D%5D%7D"
        );
        assert_eq!(encode_policy_document("a b+c~d_e.f-g\n€"), "a%20b%2Bc~d_e.f-g%0A%E2%82%AC");
    }

    #[test]
    fn writes_fields_and_metadata() {
        let mut response = Response::new("GetCallerIdentity", STS_NAMESPACE);
        response.el("Arn", "arn:aws:iam::123456789012:user/a&b").el("UserId", "AIDA").el("Account", "123456789012");
        assert_eq!(
            response.finish("req-1"),
            format!(
                "<GetCallerIdentityResponse xmlns=\"{STS_NAMESPACE}\">\n  <GetCallerIdentityResult>\n    \
                 <Arn>arn:aws:iam::123456789012:user/a&amp;b</Arn>\n    <UserId>AIDA</UserId>\n    \
                 <Account>123456789012</Account>\n  </GetCallerIdentityResult>\n  <ResponseMetadata>\n    \
                 <RequestId>req-1</RequestId>\n  </ResponseMetadata>\n</GetCallerIdentityResponse>\n"
            )
        );
    }

    #[test]
    fn optional_fields_are_skipped() {
        let mut response = Response::new("Op", IAM_NAMESPACE);
        response
            .opt("A", None::<&str>)
            .opt("B", Some("b"))
            .opt_int("C", None)
            .opt_int("D", Some(-4))
            .opt_bool("E", None)
            .opt_bool("F", Some(true))
            .opt_timestamp("G", None)
            .opt_timestamp("H", Some(0))
            .el("I", "");
        let xml = response.finish("r");
        for absent in ["<A>", "<C>", "<E>", "<G>"] {
            assert!(!xml.contains(absent), "{xml}");
        }
        for present in ["<B>b</B>", "<D>-4</D>", "<F>true</F>", "<H>1970-01-01T00:00:00Z</H>", "<I></I>"] {
            assert!(xml.contains(present), "{present} in {xml}");
        }
    }

    #[test]
    fn lists_and_nesting() {
        let mut response = Response::new("Op", IAM_NAMESPACE);
        response
            .str_list("Names", ["a", "<b>"])
            .str_list("None", Vec::<String>::new())
            .list("Tags", [("k", "v")], |w, (key, value)| {
                w.el("Key", key).el("Value", value);
            })
            .nested("Outer", |w| {
                // Left open on purpose: `nested` closes it.
                w.start("Inner").el("X", "1");
            })
            .start("Manual")
            .el("Y", "2")
            .end()
            .el("After", "1");
        let xml = response.finish("r");
        let expected = "<OpResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">
  <OpResult>
    <Names>
      <member>a</member>
      <member>&lt;b&gt;</member>
    </Names>
    <None/>
    <Tags>
      <member>
        <Key>k</Key>
        <Value>v</Value>
      </member>
    </Tags>
    <Outer>
      <Inner>
        <X>1</X>
      </Inner>
    </Outer>
    <Manual>
      <Y>2</Y>
    </Manual>
    <After>1</After>
  </OpResult>
  <ResponseMetadata>
    <RequestId>r</RequestId>
  </ResponseMetadata>
</OpResponse>
";
        assert_eq!(xml, expected);
    }

    #[test]
    fn lists_nest_without_extra_end() {
        let mut response = Response::new("Op", IAM_NAMESPACE);
        response.list("L", [1, 2], |w, n| {
            w.int("N", n);
        });
        let xml = response.finish("r");
        assert!(
            xml.contains("<L>\n      <member>\n        <N>1</N>\n      </member>\n      <member>\n        <N>2</N>"),
            "{xml}"
        );
    }

    #[test]
    fn empty_responses_have_no_result() {
        assert_eq!(
            empty_response("DeleteUser", IAM_NAMESPACE, "7a62c49f"),
            format!(
                "<DeleteUserResponse xmlns=\"{IAM_NAMESPACE}\">\n  <ResponseMetadata>\n    \
                 <RequestId>7a62c49f</RequestId>\n  </ResponseMetadata>\n</DeleteUserResponse>\n"
            )
        );
    }

    #[test]
    fn request_ids_are_escaped() {
        let xml = empty_response("X", IAM_NAMESPACE, "<&>");
        assert!(xml.contains("<RequestId>&lt;&amp;&gt;</RequestId>"), "{xml}");
    }
}
