//! SAML identity providers (reference §1.1, §1.3, §4.4): who may federate into the account through
//! `AssumeRoleWithSAML`, so every change bumps the policy epoch.
//!
//! A provider is keyed by its name as written (its ARN is `saml-provider/<name>`). Its metadata
//! document is parsed and validated by `tessera-saml` when it is written (an `EntityDescriptor`
//! with one `IDPSSODescriptor` and at least one RSA signing certificate); the document is kept
//! as given and parsed again when an assertion is verified.
//!
//! Encrypted assertions are not supported: `AssertionEncryptionMode` is kept as given (`Allowed`),
//! but `Required` and private keys (`AddPrivateKey`, `RemovePrivateKey`) are refused with
//! `InvalidInput`, since a provider that requires encryption could never be used.

use tessera_arn::{Arn, IamEntity, RandomSource, ValidationError, Violation};
use tessera_store::iam::{self, Millis, SAML, SamlProviderRecord, Tag};
use tessera_store::{Key, Store, update};

use crate::{Account, Error, Identity, Result, tags};

/// SAML providers per account.
pub(crate) const MAX_PROVIDERS: usize = 100;
const MIN_METADATA_LEN: usize = 1000;
const MAX_METADATA_LEN: usize = 10_000_000;
const MAX_NAME_LEN: usize = 128;
/// When the metadata has no `validUntil`, the provider is valid for 100 years.
const DEFAULT_VALIDITY_MILLIS: Millis = 100 * 365_250 * 24 * 3600;
const NOT_SUPPORTED: &str = "Encrypted SAML assertions are not supported by this server: \
                             AssertionEncryptionMode Required and private keys cannot be set.";

/// `CreateSAMLProvider`'s input. `Debug` hides the private key.
#[derive(Clone, Default)]
pub struct CreateSamlProvider {
    pub name: String,
    pub metadata_document: String,
    pub tags: Vec<Tag>,
    pub assertion_encryption_mode: Option<String>,
    pub add_private_key: Option<String>,
}

impl std::fmt::Debug for CreateSamlProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreateSamlProvider")
            .field("name", &self.name)
            .field("metadata_document_len", &self.metadata_document.len())
            .field("tags", &self.tags)
            .field("assertion_encryption_mode", &self.assertion_encryption_mode)
            .field("add_private_key", &self.add_private_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// `UpdateSAMLProvider`'s input (all optional but the ARN). `Debug` hides the private key.
#[derive(Clone, Default)]
pub struct UpdateSamlProvider {
    pub metadata_document: Option<String>,
    pub assertion_encryption_mode: Option<String>,
    pub add_private_key: Option<String>,
    pub remove_private_key: Option<String>,
}

impl std::fmt::Debug for UpdateSamlProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateSamlProvider")
            .field("metadata_document_len", &self.metadata_document.as_ref().map(String::len))
            .field("assertion_encryption_mode", &self.assertion_encryption_mode)
            .field("add_private_key", &self.add_private_key.as_ref().map(|_| "<redacted>"))
            .field("remove_private_key", &self.remove_private_key)
            .finish()
    }
}

pub(crate) fn provider_not_found(arn: &str) -> Error {
    Error::no_such_entity(format!("Manifest not found for arn {arn}"))
}

fn provider_key(account: &Account, name: &str) -> Key {
    Key::new(account.ns(), SAML, name)
}

fn check_name(name: &str) -> Result<()> {
    let len = name.chars().count();
    let mut violations = Vec::new();
    if len == 0 {
        violations.push(Violation::MinLength(1));
    }
    if len > MAX_NAME_LEN {
        violations.push(Violation::MaxLength(MAX_NAME_LEN));
    }
    if len > 0 && !name.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '-')) {
        violations.push(Violation::Pattern("[\\w._-]+"));
    }
    if violations.is_empty() {
        Ok(())
    } else {
        Err(ValidationError { field: "name", value: name.to_owned(), violations }.into())
    }
}

/// The metadata's entity id and the provider's `ValidUntil`, or AWS's errors.
fn check_metadata(document: &str, now: Millis) -> Result<(String, Millis)> {
    let len = document.chars().count();
    if !(MIN_METADATA_LEN..=MAX_METADATA_LEN).contains(&len) {
        let violation = if len < MIN_METADATA_LEN {
            Violation::MinLength(MIN_METADATA_LEN)
        } else {
            Violation::MaxLength(MAX_METADATA_LEN)
        };
        return Err(ValidationError {
            field: "sAMLMetadataDocument",
            // The document can be megabytes: the message names the member, not the value.
            value: "...".to_owned(),
            violations: vec![violation],
        }
        .into());
    }
    let metadata = tessera_saml::parse_metadata(document).map_err(|error| {
        tracing::info!(%error, "SAML metadata refused");
        Error::invalid_input("Could not parse metadata")
    })?;
    let valid_until = match metadata.valid_until {
        Some(secs) => Millis::try_from(secs).unwrap_or(0).saturating_mul(1000),
        None => now.saturating_add(DEFAULT_VALIDITY_MILLIS),
    };
    Ok((metadata.entity_id, valid_until))
}

fn check_encryption(mode: Option<&str>, add_key: Option<&str>, remove_key: Option<&str>) -> Result<()> {
    match mode {
        None | Some("Allowed") => {}
        Some("Required") => return Err(Error::invalid_input(NOT_SUPPORTED)),
        Some(other) => {
            return Err(ValidationError {
                field: "assertionEncryptionMode",
                value: other.to_owned(),
                violations: vec![Violation::Pattern("Enum [Required, Allowed]")],
            }
            .into());
        }
    }
    if add_key.is_some() {
        return Err(Error::invalid_input(NOT_SUPPORTED));
    }
    if let Some(id) = remove_key {
        // No key was ever added, so none can be removed.
        return Err(Error::invalid_input(format!("The private key {id} does not exist for this SAML provider.")));
    }
    Ok(())
}

/// The key of the provider an ARN names in this account; other accounts' ARNs are not found, and
/// anything that is not a SAML provider ARN is `InvalidInput`.
pub(crate) fn key_for_arn(account: &Account, arn: &str) -> Result<Key> {
    let parsed = Arn::parse(arn).map_err(|_| Error::invalid_input(format!("ARN {arn} is not valid.")))?;
    match parsed.entity() {
        Ok(IamEntity::SamlProvider { name }) if parsed.account == account.id() => Ok(provider_key(account, &name)),
        Ok(IamEntity::SamlProvider { .. }) => Err(provider_not_found(arn)),
        _ => Err(Error::invalid_input(format!("ARN {arn} is not valid."))),
    }
}

/// A `SAMLProviderUUID`: 26 characters of `[A-Z0-9]`.
fn new_uuid(rng: &mut dyn RandomSource) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut bytes = [0u8; 26];
    rng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| char::from(ALPHABET[usize::from(b % 32)])).collect()
}

impl<S: Store> Identity<S> {
    /// `CreateSAMLProvider`.
    pub async fn create_saml_provider(
        &self,
        account: &Account,
        input: CreateSamlProvider,
    ) -> Result<SamlProviderRecord> {
        check_name(&input.name)?;
        let now = self.env.now_millis();
        let (entity_id, valid_until) = check_metadata(&input.metadata_document, now)?;
        check_encryption(input.assertion_encryption_mode.as_deref(), input.add_private_key.as_deref(), None)?;
        let provider = SamlProviderRecord {
            arn: Arn::iam("aws", account.id(), &IamEntity::SamlProvider { name: input.name.clone() }).to_string(),
            name: input.name,
            metadata_document: input.metadata_document,
            entity_id,
            uuid: self.env.random.with(new_uuid),
            create_date: now,
            valid_until,
            assertion_encryption_mode: input.assertion_encryption_mode,
            tags: tags::new_tags(input.tags, "TagsPerSAMLProvider")?,
        };
        let key = provider_key(account, &provider.name);
        self.create_provider(account, key, &provider, ("SAMLProvidersPerAccount", MAX_PROVIDERS), || {
            Error::already_exists(format!("SAMLProvider {} already exists.", provider.name))
        })
        .await?;
        Ok(provider)
    }

    /// `GetSAMLProvider`, and the provider `AssumeRoleWithSAML` verifies with.
    pub async fn get_saml_provider(&self, account: &Account, arn: &str) -> Result<SamlProviderRecord> {
        let key = key_for_arn(account, arn)?;
        iam::load(&*self.store, &key).await?.ok_or_else(|| provider_not_found(arn))
    }

    /// `ListSAMLProviders` (not paginated in AWS either).
    pub async fn list_saml_providers(&self, account: &Account) -> Result<Vec<SamlProviderRecord>> {
        let providers = iam::scan_all::<S, SamlProviderRecord>(&*self.store, account.ns()).await?;
        Ok(providers.into_iter().map(|(_, p)| p).collect())
    }

    /// `UpdateSAMLProvider`: a new metadata document (its `validUntil` too) and the encryption
    /// settings. Returns the provider as updated.
    pub async fn update_saml_provider(
        &self,
        account: &Account,
        arn: &str,
        input: UpdateSamlProvider,
    ) -> Result<SamlProviderRecord> {
        let key = key_for_arn(account, arn)?;
        let now = self.env.now_millis();
        let metadata = match &input.metadata_document {
            Some(document) => Some(check_metadata(document, now)?),
            None => None,
        };
        check_encryption(
            input.assertion_encryption_mode.as_deref(),
            input.add_private_key.as_deref(),
            input.remove_private_key.as_deref(),
        )?;
        if input.metadata_document.is_none() && input.assertion_encryption_mode.is_none() {
            // AWS's wording (IAM User Guide, "Troubleshoot SAML federation with IAM").
            return Err(Error::invalid_input(
                "Unable to update identity provider. No updates are defined for metadata or encryption assertion.",
            ));
        }
        let (key, input, metadata) = (&key, &input, &metadata);
        let updated = update(&*self.store, |tx| async move {
            let mut provider: SamlProviderRecord = tx.read(key).await?.ok_or_else(|| provider_not_found(arn))?;
            if let (Some(document), Some((entity_id, valid_until))) = (&input.metadata_document, metadata) {
                provider.metadata_document.clone_from(document);
                provider.entity_id.clone_from(entity_id);
                provider.valid_until = *valid_until;
            }
            if input.assertion_encryption_mode.is_some() {
                provider.assertion_encryption_mode.clone_from(&input.assertion_encryption_mode);
            }
            tx.write(key.clone(), &provider);
            tx.bump_epoch(account.ns());
            Ok::<_, Error>(provider)
        })
        .await?;
        self.published(account).await;
        Ok(updated)
    }

    /// `DeleteSAMLProvider`.
    pub async fn delete_saml_provider(&self, account: &Account, arn: &str) -> Result<()> {
        let key = key_for_arn(account, arn)?;
        self.delete_provider::<SamlProviderRecord>(account, key, arn, provider_not_found).await
    }
}

#[cfg(test)]
mod tests {
    use tessera_proto::error::ErrorCode;

    use super::*;
    use crate::account::testing::fixture;

    /// A self-signed RSA-2048 certificate (made once with openssl for these tests).
    pub(crate) const CERT: &str = include_str!("../tests/data/saml-idp-cert.b64");

    pub(crate) fn metadata(entity_id: &str) -> String {
        format!(
            r#"<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{entity_id}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#">
        <ds:X509Data><ds:X509Certificate>{CERT}</ds:X509Certificate></ds:X509Data>
      </ds:KeyInfo>
    </md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.example.com/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"#
        )
    }

    fn okta() -> CreateSamlProvider {
        CreateSamlProvider {
            name: "Okta".into(),
            metadata_document: metadata("https://idp.example.com/metadata"),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn create_get_update_list_delete() {
        let f = fixture();
        let created = f.identity.create_saml_provider(&f.account, okta()).await.unwrap();
        assert_eq!(created.arn, "arn:aws:iam::123456789012:saml-provider/Okta");
        assert_eq!(created.entity_id, "https://idp.example.com/metadata");
        assert_eq!(created.uuid.len(), 26);
        assert!(created.valid_until > created.create_date);
        assert_eq!(f.identity.get_saml_provider(&f.account, &created.arn).await.unwrap(), created);

        let err = f.identity.create_saml_provider(&f.account, okta()).await.unwrap_err().into_service_error();
        assert_eq!(
            (err.code, err.message.as_str()),
            (ErrorCode::EntityAlreadyExists, "SAMLProvider Okta already exists.")
        );

        let update =
            UpdateSamlProvider { metadata_document: Some(metadata("https://other.example.com")), ..Default::default() };
        let updated = f.identity.update_saml_provider(&f.account, &created.arn, update).await.unwrap();
        assert_eq!(updated.entity_id, "https://other.example.com");
        assert_eq!(f.identity.list_saml_providers(&f.account).await.unwrap(), [updated]);

        f.identity.delete_saml_provider(&f.account, &created.arn).await.unwrap();
        let err = f.identity.get_saml_provider(&f.account, &created.arn).await.unwrap_err().into_service_error();
        assert_eq!(err.code, ErrorCode::NoSuchEntity);
        assert_eq!(err.message, format!("Manifest not found for arn {}", created.arn));
        assert_eq!(
            f.identity.delete_saml_provider(&f.account, &created.arn).await.unwrap_err().code(),
            ErrorCode::NoSuchEntity
        );
        let role = "arn:aws:iam::123456789012:role/x";
        assert_eq!(f.identity.get_saml_provider(&f.account, role).await.unwrap_err().code(), ErrorCode::InvalidInput);
    }

    #[tokio::test]
    async fn inputs_are_validated() {
        let f = fixture();
        let cases = [
            (CreateSamlProvider { name: "a b".into(), ..okta() }, ErrorCode::ValidationError),
            (CreateSamlProvider { name: "x".repeat(129), ..okta() }, ErrorCode::ValidationError),
            (CreateSamlProvider { metadata_document: "<x/>".into(), ..okta() }, ErrorCode::ValidationError),
            (
                CreateSamlProvider { metadata_document: format!("<x>{}</x>", " ".repeat(1000)), ..okta() },
                ErrorCode::InvalidInput,
            ),
            (
                CreateSamlProvider {
                    metadata_document: metadata("x").replace(CERT, &"A".repeat(CERT.len())),
                    ..okta()
                },
                ErrorCode::InvalidInput,
            ),
            (
                CreateSamlProvider { assertion_encryption_mode: Some("Required".into()), ..okta() },
                ErrorCode::InvalidInput,
            ),
            (
                CreateSamlProvider { assertion_encryption_mode: Some("Sometimes".into()), ..okta() },
                ErrorCode::ValidationError,
            ),
            (CreateSamlProvider { add_private_key: Some("key".into()), ..okta() }, ErrorCode::InvalidInput),
        ];
        for (input, code) in cases {
            let name = input.name.clone();
            assert_eq!(f.identity.create_saml_provider(&f.account, input).await.unwrap_err().code(), code, "{name}");
        }
        let err = f
            .identity
            .create_saml_provider(
                &f.account,
                CreateSamlProvider { metadata_document: format!("<x>{}</x>", " ".repeat(1000)), ..okta() },
            )
            .await
            .unwrap_err()
            .into_service_error();
        assert_eq!(err.message, "Could not parse metadata");
        assert!(f.identity.list_saml_providers(&f.account).await.unwrap().is_empty(), "nothing half-written");
    }
}
