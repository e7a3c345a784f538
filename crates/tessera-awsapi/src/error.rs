//! Query-protocol errors: [`QueryError`] for requests that fail before an operation runs, and
//! [`error_response`], the `<ErrorResponse>` envelope every IAM and STS error is sent in.
//!
//! The envelope is the same for IAM and STS (reference §6), only the namespace differs:
//!
//! ```xml
//! <ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
//!   <Error>
//!     <Type>Sender</Type>
//!     <Code>NoSuchEntity</Code>
//!     <Message>The user with name bob cannot be found.</Message>
//!   </Error>
//!   <RequestId>…</RequestId>
//! </ErrorResponse>
//! ```
//!
//! Errors raised before an operation is found (`InvalidAction`) use the
//! [`AWSFault`](crate::AWS_FAULT_NAMESPACE) namespace instead, as AWS does; validation errors
//! of a found operation (`ValidationError`, `MalformedInput`) use the service's namespace.
//! botocore ignores namespaces, so this matters only to byte-for-byte comparisons.
//!
//! This crate does not depend on the service error catalog (`tessera-proto`): the gateway passes
//! the catalog's code string, status class and message to [`error_response`], and
//! [`QueryError`] carries its own code and status for the few protocol-level failures.

use crate::AWS_FAULT_NAMESPACE;
use crate::xml::XmlWriter;

/// The longest input value kept in an error, in characters: enough to recognise it in a log.
const MAX_ECHOED_CHARS: usize = 64;

/// What kind of value a [`QueryError::MalformedInput`] parameter should have held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputKind {
    /// A 32-bit signed decimal integer.
    Integer,
    /// `true` or `false`.
    Boolean,
}

/// A request the Query protocol layer rejects before any operation runs.
///
/// The `Display` text (lowercase, input in backticks) is for logs; clients get
/// [`QueryError::aws_code`], [`QueryError::http_status`] and [`QueryError::message`], which
/// copy AWS where its behaviour is known.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    /// There is no `Action` parameter. AWS STS answers this with a `302` redirect to
    /// `https://aws.amazon.com/iam`, which no SDK can act on; this crate reports the documented
    /// common error `MissingAction` (400) instead.
    #[error("the request has no `Action` parameter")]
    MissingAction,
    /// `Action` names no operation of the API, or `Version` is missing or not the API's.
    #[error("no operation `{action}` for version `{}`", version.as_deref().unwrap_or("NO_VERSION_SPECIFIED"))]
    InvalidAction {
        /// The `Action` value as sent.
        action: String,
        /// The `Version` value as sent, `None` when absent.
        version: Option<String>,
    },
    /// A required parameter is absent (sent as `ValidationError`, as AWS does).
    #[error("missing required parameter `{name}`")]
    MissingParameter {
        /// The wire name, such as `Tags.member.1.Key`.
        name: String,
        /// The name AWS uses in messages, such as `tags.1.member.key`.
        member: String,
    },
    /// Several required parameters are absent: one `ValidationError` naming each, as AWS reports
    /// every failed constraint of a request in one message (`2 validation errors detected: ...;
    /// ...`).
    #[error("missing required parameters {}", names.iter().map(|(name, _)| format!("`{name}`")).collect::<Vec<_>>().join(", "))]
    MissingParameters {
        /// The wire names and AWS's member names, in the order checked.
        names: Vec<(String, String)>,
    },
    /// Parameters break their model's constraints (length, pattern, range, enum, required): one
    /// `ValidationError` with a clause for each, as AWS words them
    /// (`Value 'x' at 'userName' failed to satisfy constraint: Member must ...`), in the order
    /// checked. Built by [`crate::validate`].
    #[error("{} parameter constraint(s) failed", clauses.len())]
    Validation {
        /// The clauses, never empty.
        clauses: Vec<String>,
    },
    /// A parameter does not hold a value of its type (an integer or a boolean).
    #[error("`{name}` is not {}: `{value}`", match kind { InputKind::Integer => "an integer", InputKind::Boolean => "a boolean" })]
    MalformedInput {
        /// The wire name.
        name: String,
        /// The expected type.
        kind: InputKind,
        /// The value, cut to 64 characters.
        value: String,
    },
    /// A `%` is not followed by two hexadecimal digits.
    #[error("invalid percent-escape at byte {offset}")]
    InvalidPercentEncoding {
        /// Where the `%` is in its input.
        offset: usize,
    },
    /// A decoded name or value is not UTF-8.
    #[error("a parameter starting at byte {offset} is not UTF-8")]
    InvalidUtf8 {
        /// Where the undecoded name or value starts in its input.
        offset: usize,
    },
    /// The request has more parameters than [`Limits::max_params`](crate::Limits).
    #[error("more than {limit} parameters")]
    TooManyParameters {
        /// The limit.
        limit: usize,
    },
    /// A parameter name is longer than [`Limits::max_name_len`](crate::Limits).
    #[error("a parameter name is longer than {limit} bytes")]
    NameTooLong {
        /// The limit.
        limit: usize,
    },
    /// A parameter value is longer than [`Limits::max_value_len`](crate::Limits).
    #[error("the value of `{name}` is longer than {limit} bytes")]
    ValueTooLong {
        /// The parameter's name.
        name: String,
        /// The limit.
        limit: usize,
    },
    /// A `.member.N` of a parameter name has an index above
    /// [`Limits::max_list_index`](crate::Limits).
    #[error("the list index in `{name}` is above {limit}")]
    ListIndexTooLarge {
        /// The parameter's name.
        name: String,
        /// The limit.
        limit: u32,
    },
    /// The body is larger than the gateway accepts. Raised by the caller, which limits the
    /// body before buffering it.
    #[error("the request body is larger than {limit} bytes")]
    RequestTooLarge {
        /// The limit.
        limit: usize,
    },
}

impl QueryError {
    /// [`QueryError::InvalidAction`] for an `Action` and the `Version` it came with.
    pub fn invalid_action(action: &str, version: Option<&str>) -> QueryError {
        QueryError::InvalidAction { action: action.to_owned(), version: version.map(str::to_owned) }
    }

    /// [`QueryError::MalformedInput`], keeping at most 64 characters of `value`.
    pub fn malformed_input(name: impl Into<String>, kind: InputKind, value: &str) -> QueryError {
        QueryError::MalformedInput { name: name.into(), kind, value: value.chars().take(MAX_ECHOED_CHARS).collect() }
    }

    /// The AWS error code.
    pub fn aws_code(&self) -> &'static str {
        match self {
            QueryError::MissingAction => "MissingAction",
            QueryError::InvalidAction { .. } => "InvalidAction",
            QueryError::MissingParameter { .. }
            | QueryError::MissingParameters { .. }
            | QueryError::Validation { .. } => "ValidationError",
            QueryError::MalformedInput { .. } => "MalformedInput",
            QueryError::InvalidPercentEncoding { .. } | QueryError::InvalidUtf8 { .. } => "MalformedQueryString",
            QueryError::TooManyParameters { .. }
            | QueryError::NameTooLong { .. }
            | QueryError::ValueTooLong { .. }
            | QueryError::ListIndexTooLarge { .. } => "InvalidQueryParameter",
            QueryError::RequestTooLarge { .. } => "RequestEntityTooLarge",
        }
    }

    /// The HTTP status. 400 except `MalformedQueryString`, which the AWS "Common Errors" page
    /// lists as 404, and an oversized body, 413.
    pub fn http_status(&self) -> u16 {
        match self.aws_code() {
            "MalformedQueryString" => 404,
            "RequestEntityTooLarge" => 413,
            _ => 400,
        }
    }

    /// Whether the client is at fault (`<Type>Sender</Type>`): always, for these errors.
    pub fn sender_fault(&self) -> bool {
        self.http_status() < 500
    }

    /// The message sent to the client, with AWS's wording where known. Empty means AWS sends
    /// no `<Message>` (a malformed integer).
    pub fn message(&self) -> String {
        match self {
            QueryError::MissingAction => "No action was supplied with this request.".to_owned(),
            QueryError::InvalidAction { action, version } => format!(
                "Could not find operation {action} for version {}",
                version.as_deref().unwrap_or("NO_VERSION_SPECIFIED")
            ),
            QueryError::MissingParameter { member, .. } => format!(
                "1 validation error detected: Value null at '{member}' failed to satisfy constraint: \
                 Member must not be null"
            ),
            QueryError::MissingParameters { names } => {
                let clauses: Vec<String> = names
                    .iter()
                    .map(|(_, member)| {
                        format!("Value null at '{member}' failed to satisfy constraint: Member must not be null")
                    })
                    .collect();
                let plural = if clauses.len() == 1 { "" } else { "s" };
                format!("{} validation error{plural} detected: {}", clauses.len(), clauses.join("; "))
            }
            QueryError::Validation { clauses } => {
                let plural = if clauses.len() == 1 { "" } else { "s" };
                format!("{} validation error{plural} detected: {}", clauses.len(), clauses.join("; "))
            }
            QueryError::MalformedInput { kind: InputKind::Integer, value, .. } if value.is_empty() => {
                "missing value for decimal type".to_owned()
            }
            QueryError::MalformedInput { .. } => String::new(),
            QueryError::InvalidPercentEncoding { offset } => {
                format!("The request has an invalid percent-encoding at byte {offset}.")
            }
            QueryError::InvalidUtf8 { offset } => {
                format!("The request has a parameter that is not valid UTF-8 at byte {offset}.")
            }
            QueryError::TooManyParameters { limit } => format!("The request has more than {limit} parameters."),
            QueryError::NameTooLong { limit } => {
                format!("The request has a parameter name longer than {limit} bytes.")
            }
            QueryError::ValueTooLong { name, limit } => {
                format!("The value of parameter {name} is longer than {limit} bytes.")
            }
            QueryError::ListIndexTooLarge { name, limit } => {
                format!(
                    "The list index in parameter {name} is larger than {limit}; a list has at most {limit} members."
                )
            }
            QueryError::RequestTooLarge { limit } => format!("The request body is larger than {limit} bytes."),
        }
    }

    /// The XML namespace of this error's envelope: AWSFault for errors raised before an
    /// operation is found, `service_namespace` for those of a found operation.
    pub fn namespace<'a>(&self, service_namespace: &'a str) -> &'a str {
        match self {
            QueryError::MissingParameter { .. }
            | QueryError::MissingParameters { .. }
            | QueryError::Validation { .. }
            | QueryError::MalformedInput { .. } => service_namespace,
            _ => AWS_FAULT_NAMESPACE,
        }
    }

    /// The complete `<ErrorResponse>` body for this error.
    pub fn to_xml(&self, service_namespace: &str, request_id: &str) -> String {
        error_response(
            self.namespace(service_namespace),
            self.aws_code(),
            &self.message(),
            self.sender_fault(),
            request_id,
        )
    }
}

/// The `<ErrorResponse>` body for an error: `sender_fault` picks `<Type>Sender</Type>` (4xx)
/// or `Receiver` (5xx). An empty `message` writes no `<Message>` element, as AWS does for
/// `MalformedInput`. Code, message and request ID are escaped.
pub fn error_response(namespace: &str, code: &str, message: &str, sender_fault: bool, request_id: &str) -> String {
    error_response_with_details(namespace, code, message, sender_fault, request_id, &[])
}

/// [`error_response`] with additional child elements of `<Error>` after `<Message>`: Tessera's
/// detail beyond AWS's message (botocore returns every child of `<Error>` in
/// `response['Error']`). A detail whose name is not a plain ASCII word, or is one of `Type`,
/// `Code` and `Message`, is left out.
pub fn error_response_with_details(
    namespace: &str,
    code: &str,
    message: &str,
    sender_fault: bool,
    request_id: &str,
    details: &[(String, String)],
) -> String {
    let mut xml = XmlWriter::new();
    xml.start("ErrorResponse", Some(namespace));
    xml.start("Error", None);
    xml.text_element("Type", if sender_fault { "Sender" } else { "Receiver" });
    xml.text_element("Code", code);
    if !message.is_empty() {
        xml.text_element("Message", message);
    }
    for (name, value) in details {
        let plain = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphabetic());
        if plain && !matches!(name.as_str(), "Type" | "Code" | "Message") {
            xml.text_element(name, value);
        }
    }
    xml.end();
    xml.text_element("RequestId", request_id);
    xml.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::STS_NAMESPACE;

    #[test]
    fn envelope_matches_aws() {
        let xml = error_response(
            "https://iam.amazonaws.com/doc/2010-05-08/",
            "NoSuchEntity",
            "The user with name <bob> & 'co' cannot be found.",
            true,
            "4e8a3a30-0000-4000-8000-000000000000",
        );
        assert_eq!(
            xml,
            "<ErrorResponse xmlns=\"https://iam.amazonaws.com/doc/2010-05-08/\">\n  <Error>\n    <Type>Sender</Type>\n    \
             <Code>NoSuchEntity</Code>\n    \
             <Message>The user with name &lt;bob&gt; &amp; 'co' cannot be found.</Message>\n  </Error>\n  \
             <RequestId>4e8a3a30-0000-4000-8000-000000000000</RequestId>\n</ErrorResponse>\n"
        );
        let receiver = error_response(STS_NAMESPACE, "ServiceFailure", "boom", false, "r");
        assert!(receiver.contains("<Type>Receiver</Type>"), "{receiver}");
    }

    #[test]
    fn details_follow_the_message() {
        let details = [
            ("Statement".to_owned(), "1".to_owned()),
            ("Field".to_owned(), "Condition.<x>".to_owned()),
            ("Code".to_owned(), "spoofed".to_owned()),
            ("bad name".to_owned(), "left out".to_owned()),
        ];
        let xml = error_response_with_details(
            "ns",
            "MalformedPolicyDocument",
            "Syntax errors in policy.",
            true,
            "r",
            &details,
        );
        assert_eq!(
            xml,
            "<ErrorResponse xmlns=\"ns\">\n  <Error>\n    <Type>Sender</Type>\n    \
             <Code>MalformedPolicyDocument</Code>\n    <Message>Syntax errors in policy.</Message>\n    \
             <Statement>1</Statement>\n    <Field>Condition.&lt;x&gt;</Field>\n  </Error>\n  \
             <RequestId>r</RequestId>\n</ErrorResponse>\n"
        );
    }

    #[test]
    fn empty_message_is_omitted() {
        let error = QueryError::malformed_input("DurationSeconds", InputKind::Integer, "abc");
        assert_eq!(
            error.to_xml(STS_NAMESPACE, "r"),
            format!(
                "<ErrorResponse xmlns=\"{STS_NAMESPACE}\">\n  <Error>\n    <Type>Sender</Type>\n    \
                 <Code>MalformedInput</Code>\n  </Error>\n  <RequestId>r</RequestId>\n</ErrorResponse>\n"
            )
        );
    }

    #[test]
    fn protocol_errors_use_the_aws_fault_namespace() {
        let xml = QueryError::invalid_action("NoSuchAction", Some("2011-06-15")).to_xml(STS_NAMESPACE, "r");
        assert!(xml.starts_with(&format!("<ErrorResponse xmlns=\"{AWS_FAULT_NAMESPACE}\">")), "{xml}");
        assert!(xml.contains("<Message>Could not find operation NoSuchAction for version 2011-06-15</Message>"));
        let missing = QueryError::MissingParameter { name: "RoleArn".into(), member: "roleArn".into() };
        assert_eq!(missing.namespace(STS_NAMESPACE), STS_NAMESPACE);
    }

    #[test]
    fn several_missing_parameters_are_one_message() {
        let error = QueryError::MissingParameters {
            names: vec![("PolicyName".into(), "policyName".into()), ("PolicyDocument".into(), "policyDocument".into())],
        };
        assert_eq!(error.aws_code(), "ValidationError");
        assert_eq!(
            error.message(),
            "2 validation errors detected: Value null at 'policyName' failed to satisfy constraint: Member must \
             not be null; Value null at 'policyDocument' failed to satisfy constraint: Member must not be null"
        );
        assert_eq!(error.namespace(STS_NAMESPACE), STS_NAMESPACE);
    }

    #[test]
    fn codes_and_statuses() {
        let cases = [
            (QueryError::MissingAction, "MissingAction", 400),
            (QueryError::invalid_action("X", None), "InvalidAction", 400),
            (QueryError::MissingParameter { name: "A".into(), member: "a".into() }, "ValidationError", 400),
            (QueryError::malformed_input("A", InputKind::Boolean, "x"), "MalformedInput", 400),
            (QueryError::InvalidPercentEncoding { offset: 0 }, "MalformedQueryString", 404),
            (QueryError::InvalidUtf8 { offset: 0 }, "MalformedQueryString", 404),
            (QueryError::TooManyParameters { limit: 1 }, "InvalidQueryParameter", 400),
            (QueryError::NameTooLong { limit: 1 }, "InvalidQueryParameter", 400),
            (QueryError::ValueTooLong { name: "A".into(), limit: 1 }, "InvalidQueryParameter", 400),
            (QueryError::ListIndexTooLarge { name: "A.member.2".into(), limit: 1 }, "InvalidQueryParameter", 400),
            (QueryError::RequestTooLarge { limit: 1 }, "RequestEntityTooLarge", 413),
        ];
        for (error, code, status) in cases {
            assert_eq!((error.aws_code(), error.http_status(), error.sender_fault()), (code, status, true), "{error}");
            assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn echoed_values_are_cut() {
        let long = "x".repeat(1000);
        let QueryError::MalformedInput { value, .. } = QueryError::malformed_input("A", InputKind::Integer, &long)
        else {
            unreachable!()
        };
        assert_eq!(value.len(), MAX_ECHOED_CHARS);
    }
}
