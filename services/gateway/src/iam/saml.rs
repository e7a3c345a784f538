//! The SAML provider actions (`CreateSAMLProvider` … `ListSAMLProviders`); their tags go through
//! the shared `Tag*` handlers of `entities.rs`.

use tessera_identity::{CreateSamlProvider, UpdateSamlProvider};
use tessera_store::Store;

use super::{secs, tags_xml};
use crate::actions::Authorized;
use crate::context::{Cx, Result};

pub(crate) async fn create_saml_provider<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let input = CreateSamlProvider {
        name: auth.name().to_owned(),
        metadata_document: cx.required("SAMLMetadataDocument")?,
        tags: cx.tags(),
        assertion_encryption_mode: cx.get("AssertionEncryptionMode"),
        add_private_key: cx.get("AddPrivateKey"),
    };
    let provider = cx.gateway.identity.create_saml_provider(cx.account(), input).await?;
    let mut r = cx.response();
    r.el("SAMLProviderArn", &provider.arn);
    tags_xml(&mut r, &provider.tags);
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn get_saml_provider<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let p = cx.gateway.identity.get_saml_provider(cx.account(), auth.arn()).await?;
    let mut r = cx.response();
    r.el("SAMLProviderUUID", &p.uuid)
        .el("SAMLMetadataDocument", &p.metadata_document)
        .timestamp("CreateDate", secs(p.create_date))
        .timestamp("ValidUntil", secs(p.valid_until));
    tags_xml(&mut r, &p.tags);
    r.opt("AssertionEncryptionMode", p.assertion_encryption_mode.as_deref());
    // Each key's id and upload time; the key itself never leaves the identity store.
    if !p.private_keys.is_empty() {
        r.list("PrivateKeyList", &p.private_keys, |r, k| {
            r.el("KeyId", &k.key_id).timestamp("Timestamp", secs(k.timestamp));
        });
    }
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn update_saml_provider<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    let input = UpdateSamlProvider {
        metadata_document: cx.get("SAMLMetadataDocument"),
        assertion_encryption_mode: cx.get("AssertionEncryptionMode"),
        add_private_key: cx.get("AddPrivateKey"),
        remove_private_key: cx.get("RemovePrivateKey"),
    };
    let provider = cx.gateway.identity.update_saml_provider(cx.account(), auth.arn(), input).await?;
    let mut r = cx.response();
    r.el("SAMLProviderArn", &provider.arn);
    Ok(r.finish(cx.request_id))
}

pub(crate) async fn delete_saml_provider<S: Store>(cx: &Cx<'_, S>, auth: Authorized) -> Result<String> {
    cx.gateway.identity.delete_saml_provider(cx.account(), auth.arn()).await?;
    Ok(cx.empty())
}

pub(crate) async fn list_saml_providers<S: Store>(cx: &Cx<'_, S>, _: Authorized) -> Result<String> {
    let providers = cx.gateway.identity.list_saml_providers(cx.account()).await?;
    let mut r = cx.response();
    r.list("SAMLProviderList", &providers, |r, p| {
        r.el("Arn", &p.arn).timestamp("ValidUntil", secs(p.valid_until)).timestamp("CreateDate", secs(p.create_date));
    });
    Ok(r.finish(cx.request_id))
}
