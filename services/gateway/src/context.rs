//! What an action handler works with: the caller, the decoded parameters, the response builder,
//! and what authorizing the action on a resource asks, in one place so handlers stay short.

use tessera_arn::Arn;
use tessera_awsapi::{Params, Response};
use tessera_identity::{Account, PageRequest};
use tessera_store::Store;
use tessera_store::iam::Tag;
use tessera_sts::{CallerKind, CallerPrincipal};

use crate::Gateway;
use crate::actions::{Action, Service};
use crate::respond::GatewayError;

pub(crate) type Result<T, E = GatewayError> = std::result::Result<T, E>;

/// One request being served.
pub(crate) struct Cx<'a, S> {
    pub(crate) gateway: &'a Gateway<S>,
    pub(crate) caller: CallerPrincipal,
    pub(crate) action: Action,
    pub(crate) service: Service,
    pub(crate) request_id: &'a str,
    pub(crate) params: &'a Params,
    /// Unix seconds.
    pub(crate) now: u64,
    /// Where the audit event learns the resource.
    pub(crate) trail: &'a crate::respond::Trail,
}

impl<S: Store> Cx<'_, S> {
    pub(crate) fn account(&self) -> &Account {
        &self.caller.account
    }

    /// A response builder for this action.
    pub(crate) fn response(&self) -> Response {
        Response::new(self.action.name(), self.service.namespace())
    }

    /// The response of an action that returns nothing.
    pub(crate) fn empty(&self) -> String {
        tessera_awsapi::empty_response(self.action.name(), self.service.namespace(), self.request_id)
    }

    pub(crate) fn required(&self, name: &str) -> Result<String> {
        Ok(self.params.required(name)?.to_owned())
    }

    pub(crate) fn get(&self, name: &str) -> Option<String> {
        self.params.get(name).map(str::to_owned)
    }

    pub(crate) fn int(&self, name: &str) -> Result<Option<i32>> {
        Ok(self.params.int(name)?)
    }

    pub(crate) fn bool(&self, name: &str) -> Result<Option<bool>> {
        Ok(self.params.bool(name)?)
    }

    pub(crate) fn page(&self) -> Result<PageRequest> {
        Ok(PageRequest { marker: self.get("Marker"), max_items: self.int("MaxItems")? })
    }

    pub(crate) fn tags(&self) -> Vec<Tag> {
        tags_of(self.params)
    }

    /// The calling IAM user's name, for parameters that default to the caller.
    pub(crate) fn caller_user(&self) -> Option<String> {
        match &self.caller.kind {
            CallerKind::User(user) => Some(user.principal.name.clone()),
            _ => None,
        }
    }

    /// `UserName`, or the calling user when omitted (as AWS defaults it). The account root
    /// omitting it acts on itself where AWS lets it ([`Action::serves_root`]: its own keys, its
    /// user shape, its MFA devices): the empty name stands for the root. Any other caller that is
    /// not an IAM user must name one, with AWS's message.
    pub(crate) fn user_or_caller(&self) -> Result<String> {
        if let Some(name) = self.get("UserName").filter(|n| !n.is_empty()).or_else(|| self.caller_user()) {
            return Ok(name);
        }
        if matches!(self.caller.kind, CallerKind::Root) && self.action.serves_root() {
            return Ok(String::new());
        }
        Err(tessera_identity::Error::new(
            tessera_proto::ErrorCode::ValidationError,
            "Must specify userName when calling with non-User credentials",
        )
        .into())
    }

    /// The ARN of an IAM entity of this account (path included when given).
    pub(crate) fn arn(&self, kind: &str, path: &str, name: &str) -> String {
        Arn::iam("aws", self.account().id(), &entity(kind, path, name)).to_string()
    }

    /// Authorizes what [`Cx::ask`] made and [`Action::authorize`] completed (a rename's new ARN,
    /// ...) through [`crate::authz::authorize`], the path the gRPC gate shares.
    pub(crate) async fn authorize_ask(&self, ask: &crate::authz::Ask) -> Result<()> {
        Ok(crate::authz::authorize(&self.gateway.sts, &self.caller, ask, self.now).await?)
    }

    /// What this request asks of `resource`, with the inputs its action's keys come from.
    pub(crate) fn ask(&self, resource: &str) -> crate::authz::Ask {
        let action = self.action.qualified().to_owned();
        self.trail.note(|e| e.resource = Some(resource.to_owned()));
        let inputs = crate::authz::Inputs {
            policy_arn: self.get("PolicyArn"),
            boundary: self.get("PermissionsBoundary").filter(|b| !b.is_empty()),
            tags: self.tags(),
            tag_keys: if self.action.name().starts_with("Untag") {
                self.params.list("TagKeys").into_iter().map(str::to_owned).collect()
            } else {
                Vec::new()
            },
            target: None,
            aws_service_name: self.get("AWSServiceName"),
        };
        crate::authz::Ask {
            action,
            resource: resource.to_owned(),
            inputs,
            change_own_password: false,
            also: Vec::new(),
            passed_role: None,
        }
    }
}

/// The `Tags.member.N.{Key,Value}` of a request.
pub(crate) fn tags_of(params: &Params) -> Vec<Tag> {
    params
        .members("Tags")
        .into_iter()
        .map(|m| Tag {
            key: m.get("Key").unwrap_or_default().to_owned(),
            value: m.get("Value").unwrap_or_default().to_owned(),
        })
        .collect()
}

fn entity(kind: &str, path: &str, name: &str) -> tessera_arn::IamEntity {
    use tessera_arn::IamEntity;
    let (path, name) = (path.to_owned(), name.to_owned());
    match kind {
        "user" => IamEntity::User { path, name },
        "group" => IamEntity::Group { path, name },
        "role" => IamEntity::Role { path, name },
        "instance-profile" => IamEntity::InstanceProfile { path, name },
        _ => IamEntity::Policy { path, name },
    }
}
