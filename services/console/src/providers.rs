//! Identity providers, as AWS's console lists them: OpenID Connect providers, and SAML providers
//! (create from an uploaded metadata document, view, replace the metadata, delete). Each page
//! and form is authorized as the `iam:*OpenIDConnectProvider*` / `iam:*SAMLProvider*` action it
//! performs, on the provider's ARN (`saml-provider/<name>`) where the action names one.

use std::fmt::Write as _;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tessera_arn::IamEntity;
use tessera_identity::{CreateSamlProvider, UpdateSamlProvider};
use tessera_store::Store;

use crate::html::{csrf_field, denied, error, esc};
use crate::pages::{Shared, Signed, field, millis_date, redirect_to, seg, table};

const TITLE: &str = "Identity providers";
const NEW_TITLE: &str = "Add SAML provider";

fn saml_arn(signed: &Signed, name: &str) -> String {
    signed.arn(IamEntity::SamlProvider { name: name.to_owned() })
}

/// The providers of the account: each kind in its own section, refused on its own (a caller
/// that may list one kind and not the other sees the panel in the other's place).
pub(crate) async fn list<S: Store>(State(console): Shared<S>, headers: HeaderMap) -> Result<Response, Response> {
    let signed = console.signed_in(&headers).await?;
    let mut body =
        String::from("<p><a href=\"/console/identity-providers/saml/new\" role=\"button\">Add SAML provider</a></p>");
    body.push_str("<section aria-labelledby=\"oidc-title\"><h2 id=\"oidc-title\">OpenID Connect</h2>");
    match console.authorize(&signed, "iam:ListOpenIDConnectProviders", "*").await {
        Err(explanation) => body.push_str(&denied(&explanation)),
        Ok(()) => {
            let providers = match console.identity.list_open_id_connect_providers(&signed.account).await {
                Ok(providers) => providers,
                Err(e) => return Err(signed.status(StatusCode::INTERNAL_SERVER_ERROR, TITLE, &error(&e.to_string()))),
            };
            let rows: Vec<Vec<String>> = providers
                .iter()
                .map(|p| {
                    vec![
                        esc(&p.url),
                        "OpenID Connect".to_owned(),
                        esc(&p.arn),
                        esc(&p.client_ids.join(", ")),
                        millis_date(p.create_date),
                    ]
                })
                .collect();
            body.push_str(&table(
                "OpenID Connect providers",
                &["Provider", "Type", "ARN", "Audiences", "Created"],
                &rows,
            ));
        }
    }
    body.push_str("</section><section aria-labelledby=\"saml-title\"><h2 id=\"saml-title\">SAML</h2>");
    match console.authorize(&signed, "iam:ListSAMLProviders", "*").await {
        Err(explanation) => body.push_str(&denied(&explanation)),
        Ok(()) => {
            let providers = match console.identity.list_saml_providers(&signed.account).await {
                Ok(providers) => providers,
                Err(e) => return Err(signed.status(StatusCode::INTERNAL_SERVER_ERROR, TITLE, &error(&e.to_string()))),
            };
            let rows: Vec<Vec<String>> = providers
                .iter()
                .map(|p| {
                    vec![
                        format!(
                            "<a href=\"/console/identity-providers/saml/{}\">{}</a>",
                            esc(&seg(&p.name)),
                            esc(&p.name)
                        ),
                        "SAML".to_owned(),
                        esc(&p.arn),
                        millis_date(p.create_date),
                        millis_date(p.valid_until),
                    ]
                })
                .collect();
            body.push_str(&table("SAML providers", &["Provider", "Type", "ARN", "Created", "Valid until"], &rows));
        }
    }
    body.push_str("</section>");
    Ok(signed.ok(TITLE, &body))
}

fn new_page(signed: &Signed, name: &str, message: Option<&str>) -> String {
    let mut body = String::from(
        "<p>Upload the metadata document your identity provider publishes (an XML \
         <code>EntityDescriptor</code> with its signing certificate).</p>",
    );
    if let Some(message) = message {
        body.push_str(&error(message));
    }
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/console/identity-providers/saml\" enctype=\"multipart/form-data\">{}\
         <label for=\"name\">Provider name</label><input type=\"text\" id=\"name\" name=\"name\" value=\"{}\" required maxlength=\"128\">\
         <label for=\"metadata\">Metadata document</label><input type=\"file\" id=\"metadata\" name=\"metadata\" accept=\".xml,application/xml,text/xml\" required>\
         <button type=\"submit\">Add provider</button></form>",
        csrf_field(&signed.csrf),
        esc(name)
    );
    body
}

pub(crate) async fn new_form<S: Store>(State(console): Shared<S>, headers: HeaderMap) -> Result<Response, Response> {
    let signed = console.signed_in(&headers).await?;
    Ok(signed.ok(NEW_TITLE, &new_page(&signed, "", None)))
}

/// "Add provider": `iam:CreateSAMLProvider` on the new provider's ARN, from the uploaded file.
pub(crate) async fn create<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Response> {
    let (signed, form) = console.posted_fields(&headers, crate::pages::fields(&headers, &body)).await?;
    let name = field(&form, "name").trim();
    console.permit(&signed, NEW_TITLE, "iam:CreateSAMLProvider", &saml_arn(&signed, name)).await?;
    let again =
        |message: &str| signed.status(StatusCode::BAD_REQUEST, NEW_TITLE, &new_page(&signed, name, Some(message)));
    let metadata = field(&form, "metadata");
    if metadata.trim().is_empty() {
        return Err(again("Choose the provider's metadata document (an XML file)."));
    }
    let input = CreateSamlProvider {
        name: name.to_owned(),
        metadata_document: metadata.to_owned(),
        tags: Vec::new(),
        assertion_encryption_mode: None,
        add_private_key: None,
    };
    match console.identity.create_saml_provider(&signed.account, input).await {
        Ok(provider) => Ok(redirect_to(format!("/console/identity-providers/saml/{}", seg(&provider.name)))),
        Err(e) => Err(again(&console.domain_error(e).message)),
    }
}

/// A SAML provider: `iam:GetSAMLProvider` on its ARN; its metadata, and the forms that replace
/// it and delete the provider.
pub(crate) async fn detail<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, Response> {
    let signed = console.signed_in(&headers).await?;
    detail_page(&console, &signed, &name, StatusCode::OK, None).await
}

async fn detail_page<S: Store>(
    console: &crate::Console<S>,
    signed: &Signed,
    name: &str,
    status: StatusCode,
    message: Option<&str>,
) -> Result<Response, Response> {
    let arn = saml_arn(signed, name);
    console.permit(signed, name, "iam:GetSAMLProvider", &arn).await?;
    let provider = match console.identity.get_saml_provider(&signed.account, &arn).await {
        Ok(provider) => provider,
        Err(e) => return Err(signed.status(StatusCode::NOT_FOUND, name, &error(&console.domain_error(e).message))),
    };
    let mut body = message.map(error).unwrap_or_default();
    let _ = write!(
        body,
        "<dl><dt>ARN</dt><dd id=\"provider-arn\">{}</dd><dt>Entity ID</dt><dd id=\"entity-id\">{}</dd>\
         <dt>Created</dt><dd>{}</dd><dt>Valid until</dt><dd>{}</dd></dl>",
        esc(&provider.arn),
        esc(&provider.entity_id),
        millis_date(provider.create_date),
        millis_date(provider.valid_until),
    );
    let action = format!("/console/identity-providers/saml/{}", esc(&seg(&provider.name)));
    let _ = write!(
        body,
        "<h2>Metadata document</h2><pre id=\"metadata-document\">{}</pre>\
         <form method=\"post\" action=\"{action}\" enctype=\"multipart/form-data\">{csrf}\
         <input type=\"hidden\" name=\"op\" value=\"update\">\
         <label for=\"metadata\">New metadata document</label><input type=\"file\" id=\"metadata\" name=\"metadata\" accept=\".xml,application/xml,text/xml\" required>\
         <button type=\"submit\">Replace metadata</button></form>\
         <h2>Delete</h2><form method=\"post\" action=\"{action}\">{csrf}<input type=\"hidden\" name=\"op\" value=\"delete\">\
         <button type=\"submit\">Delete provider</button></form>",
        esc(&provider.metadata_document),
        csrf = csrf_field(&signed.csrf),
    );
    Ok(signed.status(status, &provider.name, &body))
}

/// The detail page's forms: replace the metadata (`iam:UpdateSAMLProvider`, an uploaded file)
/// or delete the provider (`iam:DeleteSAMLProvider`).
pub(crate) async fn action<S: Store>(
    State(console): Shared<S>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, Response> {
    let (signed, form) = console.posted_fields(&headers, crate::pages::fields(&headers, &body)).await?;
    let arn = saml_arn(&signed, &name);
    match field(&form, "op") {
        "update" => {
            console.permit(&signed, &name, "iam:UpdateSAMLProvider", &arn).await?;
            let metadata = field(&form, "metadata");
            if metadata.trim().is_empty() {
                let message = "Choose the provider's new metadata document (an XML file).";
                return detail_page(&console, &signed, &name, StatusCode::BAD_REQUEST, Some(message)).await;
            }
            let input = UpdateSamlProvider {
                metadata_document: Some(metadata.to_owned()),
                assertion_encryption_mode: None,
                add_private_key: None,
                remove_private_key: None,
            };
            match console.identity.update_saml_provider(&signed.account, &arn, input).await {
                Ok(_) => Ok(redirect_to(format!("/console/identity-providers/saml/{}", seg(&name)))),
                Err(e) => {
                    let message = console.domain_error(e).message;
                    detail_page(&console, &signed, &name, StatusCode::BAD_REQUEST, Some(&message)).await
                }
            }
        }
        "delete" => {
            console.permit(&signed, &name, "iam:DeleteSAMLProvider", &arn).await?;
            match console.identity.delete_saml_provider(&signed.account, &arn).await {
                Ok(()) => Ok(redirect_to("/console/identity-providers".to_owned())),
                Err(e) => {
                    let message = console.domain_error(e).message;
                    Err(signed.status(StatusCode::BAD_REQUEST, &name, &error(&message)))
                }
            }
        }
        _ => Err(signed.status(StatusCode::BAD_REQUEST, &name, &error("Unknown action."))),
    }
}
