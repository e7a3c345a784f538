//! `tessera.authorizer.v1.AuthorizerService`: services that trust Tessera pass the credential
//! their own client presented (SigV4 material, or a bearer credential: access key credentials or
//! an identity token Tessera minted for the service's audience) and their question (an
//! action on resources, with their context keys); the answer is the decision of the same path the
//! IAM and STS APIs use ([`crate::authz::decide`]), with the caller and an explanation.
//!
//! ```text
//! AuthorizeRequest --sigv4: auth::verify_request | bearer: grpc_auth::bearer_caller--> caller
//!                  --Question--> Ask + extra context --authz::decide (traced)--> Answer
//! ```

use std::sync::Arc;

use tessera_authorizer::CallerLayers;
use tessera_policy::{Decision, Outcome, Trace};
use tessera_proto::authorizer::v1 as pb;
use tessera_proto::authorizer::v1::authorizer_service_server::{AuthorizerService, AuthorizerServiceServer};
use tessera_proto::{ErrorCode, ServiceError};
use tessera_sigv4::{PayloadHash, Request as SignedRequest};
use tessera_store::Store;
use tessera_sts::{CallerKind, CallerPrincipal};
use tonic::{Request, Response, Status};

use crate::Gateway;
use crate::authz::{Ask, Inputs, Judged, decide};
use crate::respond::GatewayError;

/// The most questions one `AuthorizeBatch` may ask, and resources one question may name.
const MAX_QUESTIONS: usize = 100;
const MAX_RESOURCES: usize = 100;

/// The tonic service of `api`.
pub fn service<S: Store>(api: Arc<AuthorizerApi<S>>) -> AuthorizerServiceServer<AuthorizerApi<S>> {
    AuthorizerServiceServer::from_arc(api)
}

/// The service.
#[derive(Debug)]
pub struct AuthorizerApi<S> {
    gateway: Arc<Gateway<S>>,
    issuer: Option<Arc<tessera_sts::Issuer>>,
}

impl<S> AuthorizerApi<S> {
    /// The API over a gateway's domains; with `issuer`, identity tokens it minted are bearer
    /// credentials too.
    pub fn new(gateway: Arc<Gateway<S>>, issuer: Option<Arc<tessera_sts::Issuer>>) -> Self {
        Self { gateway, issuer }
    }
}

fn invalid(message: impl Into<String>) -> Status {
    ServiceError::new(ErrorCode::InvalidInput, message).into()
}

fn from_gateway(error: GatewayError) -> Status {
    let error = match error {
        GatewayError::Service(error) => error,
        GatewayError::Signature(error) => {
            let code = ErrorCode::parse(error.aws_code()).unwrap_or(ErrorCode::InvalidClientTokenId);
            ServiceError::new(code, error.aws_message())
        }
        GatewayError::Query(error) => ServiceError::new(ErrorCode::InvalidInput, error.to_string()),
        GatewayError::Mfa(rejection) => rejection.error,
    };
    error.into()
}

impl<S: Store> AuthorizerApi<S> {
    /// Verifies the credential and resolves who it stands for.
    async fn caller(
        &self,
        sigv4: Option<pb::SigV4Request>,
        bearer: Option<pb::Bearer>,
        service: Option<pb::ServiceCredential>,
        source_ip: Option<String>,
    ) -> Result<CallerPrincipal, Status> {
        let source_ip = source_ip.filter(|ip| ip.parse::<std::net::IpAddr>().is_ok());
        if let Some(service) = service {
            return self.service_credential_caller(&service, source_ip).await;
        }
        if let Some(bearer) = bearer {
            let token = bearer.token.trim();
            // Access key credentials always hold a `:`; an identity token (a JWT) never does.
            let mut caller = if token.contains(':') {
                crate::grpc_auth::bearer_caller(&self.gateway.sts, token).await.map_err(Status::from)?
            } else {
                let Some(issuer) = &self.issuer else {
                    return Err(invalid("This server does not accept identity tokens (it issues none)."));
                };
                let audience = bearer.audience.as_deref().filter(|a| !a.is_empty()).ok_or_else(|| {
                    invalid("An identity token needs the `audience` the calling service accepts it for.")
                })?;
                Box::pin(self.gateway.sts.identity_token_caller(issuer, token, audience))
                    .await
                    .map_err(|e| Status::from(e.into_service_error()))?
            };
            caller.source_ip = source_ip;
            return Ok(caller);
        }
        let Some(signed) = sigv4 else { return Err(invalid("The request names no credential (`sigv4` or `bearer`).")) };
        let headers: Vec<(&str, &str)> = signed.headers.iter().map(|h| (h.name.as_str(), h.value.as_str())).collect();
        let declared = signed.payload_sha256.as_deref().or_else(|| {
            headers.iter().find(|(name, _)| name.eq_ignore_ascii_case("x-amz-content-sha256")).map(|(_, v)| *v)
        });
        let body_sha256 = match declared {
            None => PayloadHash::EMPTY,
            Some(hex) => {
                PayloadHash::from_hex(hex).ok_or_else(|| invalid("`payload_sha256` is not 64 hexadecimal digits."))?
            }
        };
        let request = SignedRequest {
            method: &signed.method,
            path: &signed.path,
            query: &signed.query,
            headers: &headers,
            body_sha256,
        };
        let services: Vec<&str> = signed.services.iter().map(String::as_str).collect();
        let services = (!services.is_empty()).then_some(services.as_slice());
        let verified = Box::pin(crate::auth::verify_request(&self.gateway, &request, services, source_ip));
        let (caller, _, _) = verified.await.map_err(from_gateway)?;
        Ok(caller)
    }

    /// The IAM user a service-specific credential stands for (issue 14, part B): HTTP Basic
    /// `ServiceUserName:password`, for the service it was issued for only. Any failure is the
    /// same `InvalidClientTokenId`, so the answer does not tell a wrong password from an unknown
    /// name or another service.
    async fn service_credential_caller(
        &self,
        service: &pb::ServiceCredential,
        source_ip: Option<String>,
    ) -> Result<CallerPrincipal, Status> {
        use base64::Engine as _;
        let refused = || {
            Status::from(ServiceError::new(
                ErrorCode::InvalidClientTokenId,
                "The security token included in the request is invalid.",
            ))
        };
        let encoded = service.basic.trim();
        let encoded = encoded.strip_prefix("Basic ").or_else(|| encoded.strip_prefix("basic ")).unwrap_or(encoded);
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).map_err(|_| refused())?;
        let decoded = String::from_utf8(decoded).map_err(|_| refused())?;
        let (name, password) = decoded.split_once(':').ok_or_else(refused)?;
        if name.is_empty() || password.is_empty() || service.service_name.is_empty() {
            return Err(refused());
        }
        let found = self
            .gateway
            .sts
            .identity()
            .authenticate_service_credential(name, password, &service.service_name)
            .await
            .map_err(|e| Status::from(e.into_service_error()))?
            .ok_or_else(refused)?;
        let user = found.user;
        Ok(CallerPrincipal {
            account: found.account,
            arn: user.principal.arn.clone(),
            user_id: user.principal.id.clone(),
            kind: CallerKind::User(Arc::new(user)),
            access_key_id: found.credential_id,
            source_ip,
            session_token: None,
        })
    }

    /// Decides one question; the caller's layers are read into `layers` once per request.
    async fn answer(
        &self,
        caller: &CallerPrincipal,
        layers: &mut Option<CallerLayers>,
        question: pb::Question,
    ) -> Result<pb::Answer, Status> {
        let mut resources = question.resources.into_iter();
        let Some(first) = resources.next() else { return Err(invalid("A question names at least one resource.")) };
        let also: Vec<String> = resources.collect();
        if also.len() >= MAX_RESOURCES {
            return Err(invalid(format!("A question names at most {MAX_RESOURCES} resources.")));
        }
        if question.action.is_empty() || !question.action.contains(':') {
            return Err(invalid("`action` must be `<service>:<action>`."));
        }
        let ask = Ask {
            action: question.action,
            resource: first,
            inputs: Inputs::default(),
            change_own_password: false,
            also,
            passed_role: None,
        };
        let extra: Vec<(String, Vec<String>)> = question.context.into_iter().map(|e| (e.key, e.values)).collect();
        let now = self.gateway.sts_now();
        let judged = decide(&self.gateway.sts, caller, layers, &ask, now, &extra, Trace::On, false)
            .await
            .map_err(|e| Status::from(e.into_service_error()))?;
        Ok(answer_of(&judged))
    }

    /// The caller as the answer names it, with the layers a decision read (else read now).
    async fn caller_message(
        &self,
        caller: &CallerPrincipal,
        layers: Option<CallerLayers>,
    ) -> Result<pb::Caller, Status> {
        let layers = match layers {
            Some(layers) => layers,
            None => self.gateway.sts.caller_layers(caller).await.map_err(|e| Status::from(e.into_service_error()))?,
        };
        let principal_type = match &caller.kind {
            CallerKind::Root => "Account",
            CallerKind::User(_) => "User",
            CallerKind::Session(_) if caller.is_root() => "Account",
            CallerKind::Session(claims) => match claims.kind {
                tessera_credentials::SessionKind::AssumedRole => "AssumedRole",
                tessera_credentials::SessionKind::FederatedUser => "FederatedUser",
                tessera_credentials::SessionKind::SessionToken => "User",
            },
        };
        let session = caller.session();
        Ok(pb::Caller {
            arn: caller.arn.clone(),
            account: caller.account.id().to_owned(),
            user_id: caller.user_id.clone(),
            principal_type: principal_type.to_owned(),
            tags: layers
                .principal_tags
                .iter()
                .map(|(key, value)| pb::ContextEntry { key: key.clone(), values: vec![value.clone()] })
                .collect(),
            session_id: session.map(|claims| claims.session_id.clone()),
            expires_at: session.map(|claims| claims.expires_at),
        })
    }
}

fn outcome(decision: Option<&Decision>) -> pb::Outcome {
    match decision.map(|d| d.outcome) {
        None | Some(Outcome::Allowed) => pb::Outcome::Allowed,
        Some(Outcome::ExplicitDeny) => pb::Outcome::ExplicitDeny,
        Some(Outcome::ImplicitDeny) => pb::Outcome::ImplicitDeny,
    }
}

/// The answer to one question: allowed only if every check is; an explicit deny anywhere wins.
fn answer_of(judged: &[Judged]) -> pb::Answer {
    let explanations: Vec<pb::Explanation> = judged
        .iter()
        .map(|j| {
            let Some(decision) = &j.decision else {
                return pb::Explanation {
                    resource: j.resource.clone(),
                    outcome: pb::Outcome::Allowed.into(),
                    reason: "the account root may do anything in its own account".to_owned(),
                    ..pb::Explanation::default()
                };
            };
            let matched = decision
                .denies
                .iter()
                .chain(&decision.allows)
                .map(|m| match &m.sid {
                    Some(sid) => format!("{}#{sid}", m.policy_id),
                    None => format!("{}#{}", m.policy_id, m.statement),
                })
                .collect();
            pb::Explanation {
                resource: j.resource.clone(),
                outcome: outcome(Some(decision)).into(),
                layer: decision.layer.map(|l| l.to_string()).unwrap_or_default(),
                reason: decision.explain(&j.action, &j.resource),
                matched,
                missing_keys: decision.missing_keys.iter().map(ToString::to_string).collect(),
            }
        })
        .collect();
    let outcomes: Vec<pb::Outcome> = judged.iter().map(|j| outcome(j.decision.as_ref())).collect();
    let overall = if outcomes.contains(&pb::Outcome::ExplicitDeny) {
        pb::Outcome::ExplicitDeny
    } else if outcomes.contains(&pb::Outcome::ImplicitDeny) {
        pb::Outcome::ImplicitDeny
    } else {
        pb::Outcome::Allowed
    };
    pb::Answer { outcome: overall.into(), explanations }
}

#[tonic::async_trait]
impl<S: Store> AuthorizerService for AuthorizerApi<S> {
    async fn authorize(
        &self,
        request: Request<pb::AuthorizeRequest>,
    ) -> Result<Response<pb::AuthorizeResponse>, Status> {
        let m = request.into_inner();
        let (sigv4, bearer, service) = match m.credential {
            Some(pb::authorize_request::Credential::Sigv4(s)) => (Some(s), None, None),
            Some(pb::authorize_request::Credential::Bearer(b)) => (None, Some(b), None),
            Some(pb::authorize_request::Credential::ServiceCredential(c)) => (None, None, Some(c)),
            None => (None, None, None),
        };
        let caller = self.caller(sigv4, bearer, service, m.source_ip).await?;
        let question = m.question.ok_or_else(|| invalid("`question` is required."))?;
        let mut layers = None;
        let answer = self.answer(&caller, &mut layers, question).await?;
        Ok(Response::new(pb::AuthorizeResponse {
            caller: Some(self.caller_message(&caller, layers).await?),
            answer: Some(answer),
        }))
    }

    async fn authorize_batch(
        &self,
        request: Request<pb::AuthorizeBatchRequest>,
    ) -> Result<Response<pb::AuthorizeBatchResponse>, Status> {
        let m = request.into_inner();
        if m.questions.len() > MAX_QUESTIONS {
            return Err(invalid(format!("A batch asks at most {MAX_QUESTIONS} questions.")));
        }
        let (sigv4, bearer, service) = match m.credential {
            Some(pb::authorize_batch_request::Credential::Sigv4(s)) => (Some(s), None, None),
            Some(pb::authorize_batch_request::Credential::Bearer(b)) => (None, Some(b), None),
            Some(pb::authorize_batch_request::Credential::ServiceCredential(c)) => (None, None, Some(c)),
            None => (None, None, None),
        };
        let caller = self.caller(sigv4, bearer, service, m.source_ip).await?;
        let mut answers = Vec::with_capacity(m.questions.len());
        let mut layers = None;
        for question in m.questions {
            answers.push(self.answer(&caller, &mut layers, question).await?);
        }
        let caller = Some(self.caller_message(&caller, layers).await?);
        Ok(Response::new(pb::AuthorizeBatchResponse { caller, answers }))
    }
}
