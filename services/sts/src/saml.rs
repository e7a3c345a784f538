//! `AssumeRoleWithSAML` (reference §3.4, §4.4): an unsigned call that trades a SAML 2.0 response,
//! signed by an identity provider registered in the role's account, for a role session.
//!
//! 1. the parameters are validated without touching the store;
//! 2. the provider named by `PrincipalArn` is read from the role's account (never from the
//!    assertion), and the response is verified against its metadata by `tessera-saml`: an
//!    encrypted assertion decrypted with the provider's private keys (a plain one refused when
//!    its `AssertionEncryptionMode` is `Required`, even with an encrypted `NameID` or
//!    attributes), the signature with the metadata's certificates only, issuer, audience,
//!    recipient, validity; then an encrypted `NameID` (`EncryptedID`) and encrypted attributes
//!    (`EncryptedAttribute`), decrypted with the same keys and read as plain ones (so they feed
//!    `saml:sub`, `saml:sub_type`, `Role`, `PrincipalTag:*` and the rest alike);
//! 3. the assertion's `Role` attribute must pair `RoleArn` with `PrincipalArn`; its
//!    `RoleSessionName`, `SessionDuration`, `SourceIdentity`, `PrincipalTag:*` and
//!    `TransitiveTagKeys` attributes shape the session;
//! 4. the role's trust policy decides (the authorizer's one path), with `Principal.Federated` =
//!    the provider's ARN and the `saml:*` keys, for `sts:AssumeRoleWithSAML` (and
//!    `sts:TagSession`, `sts:SetSourceIdentity` when the assertion carries tags or a source
//!    identity).

use std::fmt;

use tessera_arn::{Arn, IamEntity, ValidationError, Violation, validate_role_session_name, validate_source_identity};
use tessera_identity::{Error, Result};
use tessera_policy::Context;
use tessera_proto::ErrorCode;
use tessera_saml::{Assertion, Decryption, Expectations, SamlError};
use tessera_store::Store;
use tessera_store::iam::Tag;

use crate::Sts;
use crate::assume::{
    IssuedCredentials, RoleSession, check_max_session_duration, check_role_arn_length, duration, federated_principal,
    federation_context, insert_session_keys, packed_size, parse_role_arn, session_actions, session_tags,
};

const ACTION: &str = "sts:AssumeRoleWithSAML";
const MIN_ASSERTION_LEN: usize = 4;
const MAX_ASSERTION_LEN: usize = 100_000;
const MAX_POLICY_LEN: usize = 2048;
const ROLE_MAX_DURATION: i32 = 43_200;
/// The clock skew allowed around the assertion's validity window.
const SKEW_SECS: i64 = 300;

/// SAML attributes AWS maps to `saml:*` condition keys (IAM User Guide, "Available keys for
/// SAML-based federation"), by attribute name (OID URN) and key.
const ATTRIBUTE_KEYS: &[(&str, &str)] = &[
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.1", "saml:edupersonaffiliation"),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.2", "saml:edupersonnickname"),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.3", "saml:edupersonorgdn"),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.4", "saml:edupersonorgunitdn"),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.5", "saml:edupersonprimaryaffiliation"),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.6", "saml:edupersonprincipalname"),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.7", "saml:edupersonentitlement"),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.8", "saml:edupersonprimaryorgunitdn"),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.9", "saml:edupersonscopedaffiliation"),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.10", "saml:edupersontargetedid"),
    ("urn:oid:1.3.6.1.4.1.5923.1.1.1.11", "saml:edupersonassurance"),
    ("urn:oid:1.3.6.1.4.1.5923.1.2.1.2", "saml:eduorghomepageuri"),
    ("urn:oid:1.3.6.1.4.1.5923.1.2.1.3", "saml:eduorgidentityauthnpolicyuri"),
    ("urn:oid:1.3.6.1.4.1.5923.1.2.1.4", "saml:eduorglegalname"),
    ("urn:oid:1.3.6.1.4.1.5923.1.2.1.5", "saml:eduorgsuperioruri"),
    ("urn:oid:1.3.6.1.4.1.5923.1.2.1.6", "saml:eduorgwhitepagesuri"),
    ("urn:oid:2.5.4.3", "saml:cn"),
    ("urn:oid:2.5.4.3", "saml:commonname"),
    ("urn:oid:2.5.4.42", "saml:givenname"),
    ("urn:oid:2.5.4.4", "saml:surname"),
    ("urn:oid:0.9.2342.19200300.100.1.3", "saml:mail"),
    ("urn:oid:0.9.2342.19200300.100.1.1", "saml:uid"),
    ("urn:oid:2.5.4.45", "saml:x500uniqueidentifier"),
];

/// `AssumeRoleWithSAML`'s input. `Debug` hides the assertion: it is a bearer credential.
#[derive(Clone, Default)]
pub struct AssumeRoleWithSaml {
    pub role_arn: String,
    pub principal_arn: String,
    pub saml_assertion: String,
    pub policy_arns: Vec<String>,
    pub policy: Option<String>,
    pub duration_seconds: Option<i32>,
}

impl fmt::Debug for AssumeRoleWithSaml {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AssumeRoleWithSaml")
            .field("role_arn", &self.role_arn)
            .field("principal_arn", &self.principal_arn)
            .field("saml_assertion", &"<redacted>")
            .field("policy_arns", &self.policy_arns)
            .field("policy", &self.policy)
            .field("duration_seconds", &self.duration_seconds)
            .finish()
    }
}

/// `AssumeRoleWithSAML`'s output.
#[derive(Debug, Clone)]
pub struct SamlAssumedRole {
    pub credentials: IssuedCredentials,
    /// `AROA…:<session name>`.
    pub assumed_role_id: String,
    pub arn: String,
    pub packed_policy_size: u32,
    /// The `NameID`.
    pub subject: String,
    /// The `NameID` format, without the SAML 2.0 prefix.
    pub subject_type: String,
    pub issuer: String,
    /// The subject confirmation's `Recipient`.
    pub audience: String,
    pub name_qualifier: String,
    pub source_identity: Option<String>,
}

fn invalid_token(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::InvalidIdentityToken, message)
}

fn rejected_claim(message: impl Into<String>) -> Error {
    Error::new(ErrorCode::IdpRejectedClaim, message)
}

fn not_authorized() -> Error {
    tessera_authorizer::web_identity_not_authorized(ACTION)
}

/// Maps a verification failure to AWS's error.
fn saml_error(error: SamlError) -> Error {
    match error {
        SamlError::Expired(at) => {
            Error::new(ErrorCode::ExpiredTokenException, format!("The SAML assertion expired at {at}."))
        }
        SamlError::NotYetValid(at) => invalid_token(format!("The SAML assertion is not valid before {at}.")),
        SamlError::Unsigned => invalid_token("The SAML response is not signed."),
        SamlError::BadSignature(_) => invalid_token("Response signature invalid"),
        SamlError::UntrustedCertificate => {
            invalid_token("The SAML response is signed with a certificate that is not in the provider's metadata.")
        }
        SamlError::WrongIssuer(_) => invalid_token("Issuer not present in specified provider"),
        // The IAM User Guide's troubleshooting page gives AWS's wording for these.
        SamlError::WrongAudience => invalid_token("Response does not contain the required audience."),
        SamlError::WrongRecipient(recipient) => invalid_token(format!(
            "Recipient {recipient} of the SAML assertion's subject confirmation is not https://signin.aws.amazon.com/saml."
        )),
        // Inferred (AWS documents no wording for these).
        SamlError::EncryptionRequired => {
            invalid_token("The SAML provider requires encrypted assertions, and this assertion is not encrypted.")
        }
        SamlError::NoDecryptionKey => {
            invalid_token("The SAML assertion is encrypted, and the SAML provider has no private key to decrypt it.")
        }
        // One message for every cause (the cause is logged): no decryption oracle. The same for
        // an encrypted NameID or attribute that does not decrypt to one NameID or Attribute.
        SamlError::Undecryptable(_) => invalid_token(
            "The encrypted SAML assertion cannot be decrypted with the SAML provider's private keys, or is not signed \
             with the provider's certificate.",
        ),
        other => invalid_token(format!("Invalid SAML response: {other}.")),
    }
}

/// The only value of an attribute, `None` when absent; several values are refused.
fn single<'a>(assertion: &'a Assertion, name: &str, short: &str) -> Result<Option<&'a str>> {
    match assertion.values(name) {
        [] => Ok(None),
        [one] => Ok(Some(one.trim())),
        _ => Err(rejected_claim(format!("The {short} attribute must have exactly one value."))),
    }
}

/// Whether the `Role` attribute pairs `role_arn` with `provider_arn` (in either order).
fn role_granted(assertion: &Assertion, role_arn: &str, provider_arn: &str) -> bool {
    assertion.values(tessera_saml::ROLE_ATTRIBUTE).iter().any(|value| {
        let mut parts = value.split(',').map(str::trim);
        match (parts.next(), parts.next(), parts.next()) {
            (Some(a), Some(b), None) => (a == role_arn && b == provider_arn) || (a == provider_arn && b == role_arn),
            _ => false,
        }
    })
}

/// Session tags (key, value) and transitive tag keys.
type ClaimedTags = (Vec<(String, String)>, Vec<String>);

/// The session tags and transitive keys the assertion carries.
fn claimed_tags(assertion: &Assertion) -> Result<ClaimedTags> {
    let mut tags = Vec::new();
    for (name, values) in &assertion.attributes {
        let Some(key) = name.strip_prefix(tessera_saml::PRINCIPAL_TAG_PREFIX) else { continue };
        let [value] = values.as_slice() else {
            return Err(rejected_claim(format!("The PrincipalTag:{key} attribute must have exactly one value.")));
        };
        tags.push(Tag { key: key.to_owned(), value: value.clone() });
    }
    let transitive: Vec<String> =
        assertion.values(tessera_saml::TRANSITIVE_TAG_KEYS_ATTRIBUTE).iter().map(|k| k.trim().to_owned()).collect();
    let tags = session_tags(tags, &transitive).map_err(|error| {
        rejected_claim(format!("The session tags are invalid: {}", error.into_service_error().message))
    })?;
    Ok((tags, transitive))
}

/// The trust policy's view of the assertion: the `saml:*` keys.
fn saml_context(ctx: &mut Context, assertion: &Assertion, subject_type: &str, qualifier: &str, doc: &str) {
    ctx.insert("saml:aud", assertion.recipient.clone());
    ctx.insert("saml:iss", assertion.issuer.clone());
    ctx.insert("saml:sub", assertion.name_id.clone());
    ctx.insert("saml:sub_type", subject_type.to_owned());
    ctx.insert("saml:namequalifier", qualifier.to_owned());
    ctx.insert("saml:doc", doc.to_owned());
    for (attribute, key) in ATTRIBUTE_KEYS {
        let values = assertion.values(attribute);
        if !values.is_empty() {
            ctx.insert_list(key, values.iter().cloned());
        }
    }
}

impl<S: Store> Sts<S> {
    /// The audiences and recipients accepted: AWS sign-in's, and this server's own
    /// `<issuer>/saml` when it has an OIDC issuer.
    fn saml_endpoints(&self) -> (Vec<String>, Vec<String>) {
        let mut audiences = vec![tessera_saml::AWS_SAML_ENDPOINT.to_owned(), tessera_saml::AWS_AUDIENCE_URN.to_owned()];
        let mut recipients = vec![tessera_saml::AWS_SAML_ENDPOINT.to_owned()];
        if let Some(issuer) = self.issuer.get() {
            let own = format!("{}/saml", issuer.url().trim_end_matches('/'));
            audiences.push(own.clone());
            recipients.push(own);
        }
        (audiences, recipients)
    }

    /// `AssumeRoleWithSAML`.
    #[tracing::instrument(name = "sts.assume_role_with_saml", skip_all)]
    pub async fn assume_role_with_saml(&self, input: AssumeRoleWithSaml) -> Result<SamlAssumedRole> {
        self.check_issuing(None, Some(&input.role_arn))?;
        let now = self.now_secs();
        // 1. The parameters, as the model constrains them.
        check_role_arn_length(&input.role_arn)?;
        let principal_len = input.principal_arn.chars().count();
        if !(20..=2048).contains(&principal_len) {
            return Err(ValidationError {
                field: "principalArn",
                value: input.principal_arn.clone(),
                violations: vec![if principal_len < 20 {
                    Violation::MinLength(20)
                } else {
                    Violation::MaxLength(2048)
                }],
            }
            .into());
        }
        let assertion_len = input.saml_assertion.chars().count();
        if !(MIN_ASSERTION_LEN..=MAX_ASSERTION_LEN).contains(&assertion_len) {
            return Err(ValidationError {
                field: "sAMLAssertion",
                // Never echo a bearer assertion.
                value: "***".to_owned(),
                violations: vec![if assertion_len < MIN_ASSERTION_LEN {
                    Violation::MinLength(MIN_ASSERTION_LEN)
                } else {
                    Violation::MaxLength(MAX_ASSERTION_LEN)
                }],
            }
            .into());
        }
        if let Some(policy) = input.policy.as_deref().filter(|p| p.chars().count() > MAX_POLICY_LEN) {
            return Err(ValidationError {
                field: "policy",
                value: policy.to_owned(),
                violations: vec![Violation::MaxLength(MAX_POLICY_LEN)],
            }
            .into());
        }
        let requested = match input.duration_seconds {
            Some(_) => Some(duration(input.duration_seconds, 3600, ROLE_MAX_DURATION)?),
            None => None,
        };
        let (role_account, role_name) = parse_role_arn(&input.role_arn, not_authorized)?;
        let provider_name = match Arn::parse(&input.principal_arn).ok().map(|arn| (arn.entity(), arn.account)) {
            Some((Ok(IamEntity::SamlProvider { name }), account)) if account == role_account.id() => name,
            Some((Ok(IamEntity::SamlProvider { .. }), _)) => {
                return Err(invalid_token("The SAML provider must be in the account of the role."));
            }
            _ => {
                return Err(Error::new(
                    ErrorCode::ValidationError,
                    format!("{} is not a valid SAML provider ARN.", input.principal_arn),
                ));
            }
        };

        // 2. The provider, then the response verified against its metadata.
        let provider = match self.identity.get_saml_provider(&role_account, &input.principal_arn).await {
            Ok(provider) => provider,
            Err(error) if error.code() == ErrorCode::NoSuchEntity => {
                return Err(invalid_token("Specified provider doesn't exist."));
            }
            Err(error) => return Err(error),
        };
        if provider.valid_until / 1000 <= now {
            return Err(invalid_token("The SAML provider's metadata is no longer valid (ValidUntil has passed)."));
        }
        let metadata = tessera_saml::parse_metadata(&provider.metadata_document).map_err(|error| {
            tracing::error!(%error, provider = %provider.arn, "stored SAML metadata does not parse");
            invalid_token("The SAML provider's metadata cannot be used.")
        })?;
        let xml = tessera_saml::decode_response(&input.saml_assertion).map_err(saml_error)?;
        let (audiences, recipients) = self.saml_endpoints();
        let expect = Expectations {
            entity_id: &metadata.entity_id,
            certificates: &metadata.signing_certificates,
            audiences: &audiences,
            recipients: &recipients,
            now: i64::try_from(now).unwrap_or(i64::MAX),
            skew_secs: SKEW_SECS,
        };
        // Encrypted assertions, NameIDs and attributes: the provider's private keys, opened from
        // the store for this call and dropped (zeroed) once the response is verified.
        let assertion = {
            let keys = self.identity.saml_decryption_keys(&provider)?;
            let random = ring::rand::SystemRandom::new();
            let decryption = Decryption {
                keys: &keys,
                required: provider.assertion_encryption_mode.as_deref() == Some("Required"),
                random: &random,
            };
            tessera_saml::verify_encrypted_response(&xml, &expect, &decryption).map_err(|error| {
                tracing::info!(%error, provider = %provider.arn, "SAML response refused");
                saml_error(error)
            })?
        };

        // 3. The attributes.
        if !role_granted(&assertion, &input.role_arn, &input.principal_arn) {
            return Err(not_authorized());
        }
        let session_name = single(&assertion, tessera_saml::ROLE_SESSION_NAME_ATTRIBUTE, "RoleSessionName")?
            .ok_or_else(|| invalid_token("RoleSessionName is required in AuthnResponse"))?
            .to_owned();
        validate_role_session_name(&session_name)
            .map_err(|_| invalid_token("RoleSessionName in AuthnResponse must match [a-zA-Z_0-9+=,.@-]{2,64}"))?;
        // The SessionDuration attribute sets a console session's length, not the API session's
        // (that is DurationSeconds). A malformed one is still refused.
        if let Some(text) = single(&assertion, tessera_saml::SESSION_DURATION_ATTRIBUTE, "SessionDuration")?
            && !text.parse::<u64>().is_ok_and(|d| (900..=43_200).contains(&d))
        {
            return Err(rejected_claim("SessionDuration must be a number of seconds from 900 to 43200."));
        }
        let source_identity = match single(&assertion, tessera_saml::SOURCE_IDENTITY_ATTRIBUTE, "SourceIdentity")? {
            None => None,
            Some(value) => {
                validate_source_identity(value).map_err(|_| {
                    invalid_token("Source Identity must match [a-zA-Z_0-9+=,.@-]{2,64} and not begin with \"aws:\"")
                })?;
                Some(value.to_owned())
            }
        };
        let (tags, transitive) = claimed_tags(&assertion)?;

        // 4. The role and its trust policy. A missing role is a refusal, as on AWS.
        let role = self.session_role(&role_account, &role_name, &input.role_arn, not_authorized).await?;
        if let Some(requested) = requested {
            check_max_session_duration(requested, &role)?;
        }
        // DurationSeconds, else an hour, or until SessionNotOnOrAfter, whichever is shorter (the
        // STS API reference); never past the role's maximum.
        let mut lifetime = requested.unwrap_or(3600).min(u64::from(role.max_session_duration));
        if let Some(end) = assertion.session_not_on_or_after {
            let left = u64::try_from(end.saturating_sub(i64::try_from(now).unwrap_or(i64::MAX))).unwrap_or(0);
            if left == 0 {
                return Err(Error::new(
                    ErrorCode::ExpiredTokenException,
                    "The SAML session (SessionNotOnOrAfter) has ended.",
                ));
            }
            lifetime = lifetime.min(left);
        }
        let session_policies = self.session_policies(&role_account, input.policy, input.policy_arns).await?;
        let packed = packed_size(&session_policies, &tags)?;

        let subject_type = tessera_saml::subject_type(assertion.name_id_format.as_deref());
        let name_qualifier = tessera_saml::name_qualifier(&assertion.issuer, role_account.id(), &provider_name);
        let mut ctx = federation_context(now, false, Some(&provider.arn));
        let doc = format!("{}/{}", role_account.id(), provider_name);
        saml_context(&mut ctx, &assertion, &subject_type, &name_qualifier, &doc);
        insert_session_keys(&mut ctx, &role, &session_name, &tags, &transitive, source_identity.as_deref());
        let principal = federated_principal(&role_account, &provider.arn);
        let actions = session_actions(ACTION, !tags.is_empty(), source_identity.is_some());
        let trust = tessera_authorizer::Trust {
            principal: &principal,
            role: &role,
            role_account: &role_account,
            context: &ctx,
            layers: None,
        };

        // 5. The trust policy decides, then the session is issued.
        let session = RoleSession {
            name: session_name,
            lifetime,
            source_identity: source_identity.clone(),
            tags,
            transitive_tag_keys: transitive,
            session_policy: session_policies.policy,
            ..RoleSession::default()
        };
        let issued = self.issue_role_session(trust, &actions, session, now).await?;
        tracing::info!(role_arn = %role.principal.arn, provider = %provider.arn, "SAML session issued");
        Ok(SamlAssumedRole {
            credentials: issued.credentials,
            assumed_role_id: issued.assumed_role_id,
            arn: issued.arn,
            packed_policy_size: packed,
            subject: assertion.name_id,
            subject_type,
            issuer: assertion.issuer,
            audience: assertion.recipient,
            name_qualifier,
            source_identity,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assertion(attributes: Vec<(&str, Vec<&str>)>) -> Assertion {
        Assertion {
            issuer: "https://idp.example.com".into(),
            name_id: "alice".into(),
            name_id_format: None,
            recipient: tessera_saml::AWS_SAML_ENDPOINT.into(),
            audiences: vec![],
            not_on_or_after: 0,
            session_not_on_or_after: None,
            attributes: attributes
                .into_iter()
                .map(|(n, v)| (n.to_owned(), v.into_iter().map(str::to_owned).collect()))
                .collect(),
        }
    }

    #[test]
    fn the_role_attribute_pairs_role_and_provider_in_either_order() {
        let role = "arn:aws:iam::123456789012:role/r";
        let idp = "arn:aws:iam::123456789012:saml-provider/p";
        let granted = format!("{idp}, {role}");
        let a = assertion(vec![(
            tessera_saml::ROLE_ATTRIBUTE,
            vec!["arn:aws:iam::123456789012:role/other,x", granted.as_str()],
        )]);
        assert!(role_granted(&a, role, idp));
        assert!(!role_granted(&a, "arn:aws:iam::123456789012:role/other", idp));
        let three = format!("{role},{idp},extra");
        let a = assertion(vec![(tessera_saml::ROLE_ATTRIBUTE, vec![three.as_str()])]);
        assert!(!role_granted(&a, role, idp));
    }

    #[test]
    fn principal_tags_become_session_tags() {
        let tag = format!("{}team", tessera_saml::PRINCIPAL_TAG_PREFIX);
        let a =
            assertion(vec![(tag.as_str(), vec!["blue"]), (tessera_saml::TRANSITIVE_TAG_KEYS_ATTRIBUTE, vec!["team"])]);
        assert_eq!(claimed_tags(&a).unwrap(), (vec![("team".to_owned(), "blue".to_owned())], vec!["team".to_owned()]));
        let a = assertion(vec![(tag.as_str(), vec!["a", "b"])]);
        assert_eq!(claimed_tags(&a).unwrap_err().code(), ErrorCode::IdpRejectedClaim);
        let a = assertion(vec![(tessera_saml::TRANSITIVE_TAG_KEYS_ATTRIBUTE, vec!["missing"])]);
        assert_eq!(claimed_tags(&a).unwrap_err().code(), ErrorCode::IdpRejectedClaim);
    }

    #[test]
    fn name_qualifier_is_aws_s_hash() {
        // base64(SHA1("https://idp.example.com" + "123456789012" + "/" + "p")), computed with
        // `printf %s 'https://idp.example.com123456789012/p' | openssl sha1 -binary | base64`.
        assert_eq!(
            tessera_saml::name_qualifier("https://idp.example.com", "123456789012", "p"),
            include_str!("../tests/data/name_qualifier.txt").trim()
        );
    }
}
