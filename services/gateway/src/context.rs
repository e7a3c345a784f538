//! What an action handler works with: the caller, the decoded parameters, the response builder,
//! and authorization of the action on a resource, in one place so handlers stay short.

use tessera_arn::Arn;
use tessera_awsapi::{Params, QueryError, Response};
use tessera_identity::{Account, Error, PageRequest};
use tessera_policy::{Outcome, Policies as Layers, Request, Trace, authorize};
use tessera_proto::ErrorCode;
use tessera_store::Store;
use tessera_store::iam::Tag;
use tessera_sts::{CallerCredentials, CallerKind, CallerPrincipal};

use crate::Gateway;
use crate::respond::{GatewayError, Service};

pub(crate) type Result<T, E = GatewayError> = std::result::Result<T, E>;

/// One request being served.
pub(crate) struct Cx<'a, S> {
    pub(crate) gateway: &'a Gateway<S>,
    pub(crate) caller: CallerPrincipal,
    /// The credentials the request was signed with (for the STS calls, which take them).
    pub(crate) credentials: CallerCredentials,
    pub(crate) action: String,
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
        Response::new(&self.action, self.service.namespace())
    }

    /// The response of an action that returns nothing.
    pub(crate) fn empty(&self) -> String {
        tessera_awsapi::empty_response(&self.action, self.service.namespace(), self.request_id)
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

    /// A user's, group's or role's ARN for authorization: the stored one when it exists (it has
    /// the path), else built from the request's `Path` (`/` when none).
    pub(crate) async fn entity_arn(&self, kind: tessera_store::iam::EntityKind, name: &str) -> String {
        use tessera_store::iam::EntityKind;
        let identity = &self.gateway.identity;
        let account = self.account();
        let (stored, noun) = match kind {
            EntityKind::User => (identity.get_user(account, name).await.ok().map(|u| u.principal.arn), "user"),
            EntityKind::Role => (identity.get_role(account, name).await.ok().map(|r| r.principal.arn), "role"),
            EntityKind::Group => {
                let page = PageRequest { marker: None, max_items: Some(1) };
                (identity.get_group(account, name, &page).await.ok().map(|(g, _)| g.principal.arn), "group")
            }
        };
        stored.unwrap_or_else(|| self.arn(noun, self.get("Path").as_deref().unwrap_or("/"), name))
    }

    /// The calling IAM user's name, for parameters that default to the caller.
    pub(crate) fn caller_user(&self) -> Option<String> {
        match &self.caller.kind {
            CallerKind::User(user) => Some(user.principal.name.clone()),
            _ => None,
        }
    }

    /// `UserName`, or the calling user when omitted (as AWS defaults it).
    pub(crate) fn user_or_caller(&self) -> Result<String> {
        match self.get("UserName").filter(|n| !n.is_empty()).or_else(|| self.caller_user()) {
            Some(name) => Ok(name),
            None => Err(QueryError::MissingParameter { name: "UserName".into(), member: "userName".into() }.into()),
        }
    }

    /// The ARN of an IAM entity of this account (path included when given).
    pub(crate) fn arn(&self, kind: &str, path: &str, name: &str) -> String {
        Arn::iam("aws", self.account().id(), &entity(kind, path, name)).to_string()
    }

    /// Authorizes this request's action on `resource` with the caller's policies: the account root
    /// may do everything in its account; anyone else needs an identity policy that allows it (and
    /// no deny, boundary or session policy that stops it).
    pub(crate) async fn authorize(&self, resource: &str) -> Result<()> {
        let action = format!("{}:{}", self.service.prefix(), self.action);
        self.trail.note(|e| e.resource = Some(resource.to_owned()));
        if matches!(self.caller.kind, CallerKind::Root) {
            return Ok(());
        }
        let layers = self.gateway.sts.caller_layers(&self.caller).await?;
        let principal = self.caller.principal();
        let mut context = self.gateway.sts.base_context(&self.caller, self.now);
        self.request_keys(&mut context, resource).await;
        let policies = Layers {
            identity: layers.0.as_ref(),
            boundary: layers.1.as_ref(),
            session: layers.2.as_ref(),
            ..Layers::default()
        };
        let request = Request::new(&principal, &action, resource, &context);
        let decision = authorize(&request, &policies, Trace::Off);
        match decision.outcome {
            Outcome::Allowed => Ok(()),
            Outcome::ExplicitDeny => {
                Err(denied(&self.caller.arn, &action, resource, "with an explicit deny in an identity-based policy"))
            }
            Outcome::ImplicitDeny => Err(denied(
                &self.caller.arn,
                &action,
                resource,
                &format!("because no identity-based policy allows the {action} action"),
            )),
        }
    }
}

impl<S: Store> Cx<'_, S> {
    /// The context keys that come from this request rather than the caller: whether it came over
    /// TLS (this endpoint is plain HTTP; a TLS terminator in front is not visible to it), the tags
    /// it sets (`aws:RequestTag/*`, `aws:TagKeys`), and the tags of the user or role it acts on
    /// (`aws:ResourceTag/*`, also `iam:ResourceTag/*`).
    async fn request_keys(&self, context: &mut tessera_policy::Context, resource: &str) {
        context.insert("aws:SecureTransport", "false");
        let mut tags = self.tags();
        if self.action.starts_with("Untag") {
            tags.clear();
            let keys: Vec<String> = self.params.list("TagKeys").into_iter().map(str::to_owned).collect();
            if !keys.is_empty() {
                context.insert_list("aws:TagKeys", keys);
            }
        }
        for tag in &tags {
            context.insert(&format!("aws:RequestTag/{}", tag.key), tag.value.clone());
        }
        if !tags.is_empty() {
            context.insert_list("aws:TagKeys", tags.iter().map(|t| t.key.clone()));
        }
        let resource_tags =
            match Arn::parse(resource).ok().and_then(|arn| arn.entity().ok().map(|e| (arn.account.clone(), e))) {
                Some((account, tessera_arn::IamEntity::User { name, .. })) if account == self.account().id() => {
                    self.gateway.identity.get_user(self.account(), &name).await.map(|u| u.tags).unwrap_or_default()
                }
                Some((account, tessera_arn::IamEntity::Role { name, .. })) if account == self.account().id() => {
                    self.gateway.identity.get_role(self.account(), &name).await.map(|r| r.tags).unwrap_or_default()
                }
                _ => Vec::new(),
            };
        for tag in resource_tags {
            context.insert(&format!("iam:ResourceTag/{}", tag.key), tag.value.clone());
            context.insert(&format!("aws:ResourceTag/{}", tag.key), tag.value);
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

fn denied(caller: &str, action: &str, resource: &str, why: &str) -> GatewayError {
    Error::new(
        ErrorCode::AccessDenied,
        format!("User: {caller} is not authorized to perform: {action} on resource: {resource} {why}"),
    )
    .into()
}

fn entity(kind: &str, path: &str, name: &str) -> tessera_arn::IamEntity {
    use tessera_arn::IamEntity;
    let (path, name) = (path.to_owned(), name.to_owned());
    match kind {
        "user" => IamEntity::User { path, name },
        "group" => IamEntity::Group { path, name },
        "role" => IamEntity::Role { path, name },
        _ => IamEntity::Policy { path, name },
    }
}
