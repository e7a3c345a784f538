//! The gRPC side of the `authorize` scenario: what one request asks (`AuthorizeCall`) and
//! **the one function that sends it** (`authorize`).
//!
//! `authorize` sends `tessera.authorizer.v1.AuthorizerService/Authorize`: the caller's bearer
//! credential and the question (`iam:GetUser` on a user's ARN); anything but an allow is an
//! error. Workers hold a bare `Channel`, and the baseline server answers every unary method with an
//! empty message (an answerless response counts as a success there).

use tessera_proto::authorizer::v1 as apb;
use tessera_proto::authorizer::v1::authorizer_service_client::AuthorizerServiceClient;
use tessera_proto::identity::v1::GetUserRequest;
use tessera_proto::identity::v1::identity_service_client::IdentityServiceClient;
use tonic::transport::{Channel, Endpoint};

use crate::http::{CallError, Key};

/// What one `authorize` request asks: may this caller do `action` on `resource`?
#[derive(Debug, Clone)]
pub(crate) struct AuthorizeCall {
    /// `<key id>:<secret>`, the credential the authorizer is asked about.
    token: String,
    account_id: String,
    /// The action asked (`iam:GetUser`): what `AuthorizerService/Authorize` will name.
    action: &'static str,
    /// The name of the user the action is on; its ARN is `resource`.
    user_name: String,
    /// The resource ARN (`arn:aws:iam::<account>:user/<name>`).
    resource: String,
}

impl AuthorizeCall {
    pub(crate) fn get_user(key: &Key, account_id: &str, user_name: &str) -> Result<Self, CallError> {
        Ok(Self {
            token: format!("{}:{}", key.id, key.secret),
            account_id: account_id.to_owned(),
            action: "iam:GetUser",
            user_name: user_name.to_owned(),
            resource: format!("arn:aws:iam::{account_id}:user/{user_name}"),
        })
    }
}

impl AuthorizeCall {
    /// What the call asks, and through which RPC, for the report.
    pub(crate) fn describe(&self) -> String {
        format!("{} on {} (AuthorizerService/Authorize, bearer access key)", self.action, self.resource)
    }
}

/// Sends one `authorize` request on `channel`. Ok means the server authenticated the caller,
/// allowed the action and answered.
pub(crate) async fn authorize(channel: &Channel, call: &AuthorizeCall) -> Result<(), CallError> {
    let request = apb::AuthorizeRequest {
        credential: Some(apb::authorize_request::Credential::Bearer(apb::Bearer {
            token: call.token.clone(),
            audience: None,
        })),
        question: Some(apb::Question {
            action: call.action.to_owned(),
            resources: vec![call.resource.clone()],
            context: Vec::new(),
        }),
        source_ip: None,
    };
    // A client over a `Channel` is a cheap handle (the channel is shared, not reconnected).
    match AuthorizerServiceClient::new(channel.clone()).authorize(request).await {
        Ok(response) => match response.into_inner().answer {
            Some(answer) if answer.outcome() != apb::Outcome::Allowed => {
                Err(CallError::new("decision", format!("{:?}", answer.outcome())))
            }
            _ => Ok(()),
        },
        Err(status) => Err(status_error(&status)),
    }
}

/// A call without credentials, to tell whether the target authenticates gRPC at all.
pub(crate) async fn unauthenticated_probe(channel: &Channel, call: &AuthorizeCall) -> bool {
    let request = GetUserRequest { account_id: call.account_id.clone(), user_name: Some(call.user_name.clone()) };
    IdentityServiceClient::new(channel.clone()).get_user(request).await.is_ok()
}

/// `gRPC <code> <AWS code>`: the AWS code travels in `tessera-error-code`.
fn status_error(status: &tonic::Status) -> CallError {
    let aws = status.metadata().get("tessera-error-code").and_then(|v| v.to_str().ok()).unwrap_or_default();
    CallError::new(format!("gRPC {:?} {aws}", status.code()).trim_end().to_owned(), status.message())
}

/// `count` HTTP/2 connections to `url`, which workers share round-robin.
pub(crate) async fn channels(url: &str, count: usize) -> Result<Vec<Channel>, CallError> {
    let endpoint = Endpoint::from_shared(url.to_owned()).map_err(|e| CallError::new("gRPC endpoint", e))?;
    let endpoint = endpoint.tcp_nodelay(true);
    let mut channels = Vec::with_capacity(count);
    for _ in 0..count {
        channels.push(endpoint.connect().await.map_err(|e| CallError::new("connect", format!("{url}: {e}")))?);
    }
    Ok(channels)
}
