//! Service-linked roles: roles an AWS service owns, created for it with its trust and only
//! modifiable by it (`CreateServiceLinkedRole`, `DeleteServiceLinkedRole`,
//! `GetServiceLinkedRoleDeletionStatus`).
//!
//! A service-linked role is a role under the reserved path `/aws-service-role/<service>/`, named
//! `AWSServiceRoleFor<Service>[_<CustomSuffix>]`, whose trust policy lets the service principal
//! `sts:AssumeRole`. The path is what marks it: `CreateRole` refuses the reserved path, and the
//! ordinary operations that would change its trust, policies or boundary, or delete it, answer
//! `UnmodifiableEntity` ([`check_modifiable`]). Deleting one is a task whose outcome
//! `GetServiceLinkedRoleDeletionStatus` reports: Tessera runs it at once (no service holds
//! resources on the role here), so a task is `SUCCEEDED`, or `FAILED` with the reason when the
//! role is still in an instance profile.

use tessera_arn::{validate_custom_suffix, validate_description, validate_role_name};
use tessera_proto::ErrorCode;
use tessera_store::iam::{self, DeletionStatus, EntityKind, RoleRecord, SLR_DELETION, SlrDeletionRecord};
use tessera_store::{Key, Store, update};

use crate::entity::{self, AnyEntity};
use crate::roles::MIN_SESSION_DURATION;
use crate::{Account, CreateRole, Error, Identity, Result};

/// The reserved path prefix of service-linked roles.
pub const SERVICE_ROLE_PATH: &str = "/aws-service-role/";

/// The services Tessera creates service-linked roles for: the service principal, the part of the
/// role name after `AWSServiceRoleFor`, and whether the service accepts a `CustomSuffix` (names
/// and suffix support as AWS documents them per service).
const SERVICES: &[(&str, &str, bool)] = &[
    ("access-analyzer.amazonaws.com", "AccessAnalyzer", false),
    ("apigateway.amazonaws.com", "APIGateway", false),
    ("autoscaling.amazonaws.com", "AutoScaling", true),
    ("cloudtrail.amazonaws.com", "CloudTrail", false),
    ("config.amazonaws.com", "Config", false),
    ("dynamodb.application-autoscaling.amazonaws.com", "ApplicationAutoScaling_DynamoDBTable", false),
    ("ecs.amazonaws.com", "ECS", false),
    ("ecs.application-autoscaling.amazonaws.com", "ApplicationAutoScaling_ECSService", false),
    ("eks.amazonaws.com", "AmazonEKS", false),
    ("eks-nodegroup.amazonaws.com", "AmazonEKSNodegroup", false),
    ("elasticache.amazonaws.com", "ElastiCache", false),
    ("elasticbeanstalk.amazonaws.com", "ElasticBeanstalk", true),
    ("elasticloadbalancing.amazonaws.com", "ElasticLoadBalancing", false),
    ("elasticmapreduce.amazonaws.com", "EMRCleanup", false),
    ("es.amazonaws.com", "AmazonElasticsearchService", false),
    ("guardduty.amazonaws.com", "AmazonGuardDuty", false),
    ("lex.amazonaws.com", "LexBots", true),
    ("opensearchservice.amazonaws.com", "AmazonOpenSearchService", false),
    ("organizations.amazonaws.com", "Organizations", false),
    ("rds.amazonaws.com", "RDS", false),
    ("redshift.amazonaws.com", "Redshift", false),
    ("securityhub.amazonaws.com", "SecurityHub", false),
    ("spot.amazonaws.com", "EC2Spot", false),
    ("ssm.amazonaws.com", "AmazonSSM", false),
    ("sso.amazonaws.com", "SSO", false),
    ("support.amazonaws.com", "Support", false),
    ("trustedadvisor.amazonaws.com", "TrustedAdvisor", false),
];

/// Whether a role is service-linked (it lives under the reserved path).
pub fn is_service_linked(role: &RoleRecord) -> bool {
    role.principal.path.starts_with(SERVICE_ROLE_PATH)
}

/// AWS's refusal of an ordinary change to a service-linked role.
fn protected(name: &str) -> Error {
    Error::new(
        ErrorCode::UnmodifiableEntity,
        format!("Cannot perform the operation on the protected role '{name}' - this role is only modifiable by AWS"),
    )
}

/// Refuses an ordinary change (trust, policies, boundary, deletion, instance profiles) to a
/// service-linked role; anything else passes.
pub fn check_modifiable(entity: &AnyEntity) -> Result<()> {
    match entity {
        AnyEntity::Role(role) => check_role(role),
        _ => Ok(()),
    }
}

/// [`check_modifiable`] for a role.
pub fn check_role(role: &RoleRecord) -> Result<()> {
    if is_service_linked(role) { Err(protected(&role.principal.name)) } else { Ok(()) }
}

/// The path and name of the service-linked role `CreateServiceLinkedRole` makes for `service`
/// (`/aws-service-role/<service>/`, `AWSServiceRoleFor<Service>[_<suffix>]`): the gateway
/// authorizes the call on that role's ARN.
pub fn role_path_and_name(service: &str, custom_suffix: Option<&str>) -> Result<(String, String)> {
    let Some(&(service, base, suffixes)) = SERVICES.iter().find(|(s, _, _)| *s == service) else {
        return Err(Error::invalid_input(format!("Unknown service name: {service}")));
    };
    let name = match custom_suffix.filter(|s| !s.is_empty()) {
        Some(_) if !suffixes => {
            return Err(Error::invalid_input(format!("Custom suffix is not allowed for {service}")));
        }
        Some(suffix) => {
            validate_custom_suffix(suffix)?;
            format!("AWSServiceRoleFor{base}_{suffix}")
        }
        None => format!("AWSServiceRoleFor{base}"),
    };
    validate_role_name(&name)?;
    Ok((format!("{SERVICE_ROLE_PATH}{service}/"), name))
}

/// The path and name `CreateServiceLinkedRole` is authorized on: the role's, or `*` under the
/// service's path when the service or suffix is refused (the domain then says why).
pub fn authorized_path_and_name(service: &str, custom_suffix: Option<&str>) -> (String, String) {
    role_path_and_name(service, custom_suffix)
        .unwrap_or_else(|_| (format!("{SERVICE_ROLE_PATH}{service}/"), "*".into()))
}

/// The path and name `GetServiceLinkedRoleDeletionStatus` is authorized on: the role the task
/// names, or `*` under the reserved path when the id names none.
pub fn task_path_and_name(task: &str) -> (String, String) {
    match task_role(task) {
        Some((service, role)) => (format!("{SERVICE_ROLE_PATH}{service}/"), role.to_owned()),
        None => (SERVICE_ROLE_PATH.to_owned(), "*".to_owned()),
    }
}

/// The role a deletion task id names: `(service, role name)` of
/// `task/aws-service-role/<service>/<role>/<uuid>`.
pub fn task_role(task: &str) -> Option<(&str, &str)> {
    let rest = task.strip_prefix("task")?.strip_prefix(SERVICE_ROLE_PATH)?;
    let mut parts = rest.split('/');
    let (service, role, uuid) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || service.is_empty() || role.is_empty() || uuid.is_empty() {
        return None;
    }
    Some((service, role))
}

/// The trust policy AWS gives a service-linked role.
fn trust_policy(service: &str) -> String {
    format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":["{service}"]}},"Action":["sts:AssumeRole"]}}]}}"#
    )
}

/// A task id: `task/aws-service-role/<service>/<role>/<uuid>`.
fn task_id(service: &str, role: &str, uuid: &str) -> String {
    format!("task{SERVICE_ROLE_PATH}{service}/{role}/{uuid}")
}

/// A version-4 UUID from 16 random bytes.
fn uuid(bytes: [u8; 16]) -> String {
    let mut b = bytes;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// The key of a task: its uuid (the last segment of a well-formed id).
fn task_key(account: &Account, task: &str) -> Option<Key> {
    let rest = task.strip_prefix("task")?.strip_prefix(SERVICE_ROLE_PATH)?;
    let uuid = rest.rsplit('/').next().filter(|u| !u.is_empty() && u.len() <= 64)?;
    if rest.split('/').count() != 3 || !uuid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
        return None;
    }
    Some(Key::new(account.ns(), SLR_DELETION, uuid))
}

impl<S: Store> Identity<S> {
    /// `CreateServiceLinkedRole`.
    pub async fn create_service_linked_role(
        &self,
        account: &Account,
        service: &str,
        description: Option<String>,
        custom_suffix: Option<String>,
    ) -> Result<RoleRecord> {
        if let Some(description) = &description {
            validate_description(description)?;
        }
        let (path, name) = role_path_and_name(service, custom_suffix.as_deref())?;
        let input = CreateRole {
            path: Some(path),
            role_name: name.clone(),
            assume_role_policy_document: trust_policy(service),
            description,
            max_session_duration: Some(i32::try_from(MIN_SESSION_DURATION).unwrap_or(i32::MAX)),
            permissions_boundary: None,
            tags: Vec::new(),
        };
        self.insert_role(account, input).await.map_err(|error| match error.code() {
            ErrorCode::EntityAlreadyExists => Error::invalid_input(format!(
                "Service role name {name} has been taken in this account, please try a different suffix."
            )),
            _ => error,
        })
    }

    /// `DeleteServiceLinkedRole`: runs the deletion task and returns its id.
    pub async fn delete_service_linked_role(&self, account: &Account, role_name: &str) -> Result<String> {
        validate_role_name(role_name)?;
        let role = self.get_role(account, role_name).await?;
        if !is_service_linked(&role) {
            return Err(Error::invalid_input(format!("Role {role_name} is not a service-linked role.")));
        }
        let service = role.principal.path[SERVICE_ROLE_PATH.len()..].trim_end_matches('/').to_owned();
        let bytes = self.env.random.with(|r| {
            let mut b = [0u8; 16];
            r.fill_bytes(&mut b);
            b
        });
        let id = uuid(bytes);
        let task = task_id(&service, &role.principal.name, &id);
        let now = self.env.now_millis();
        let (task, id) = (&task, &id);
        let deleted = update(&*self.store, |tx| async move {
            let role = entity::read_role(&tx, account, role_name).await?;
            let mut record = SlrDeletionRecord {
                task_id: task.clone(),
                role_name: role.principal.name.clone(),
                status: DeletionStatus::Succeeded,
                reason: None,
                create_date: now,
            };
            let blocker = if !role.instance_profiles.is_empty() {
                Some("Cannot delete entity, must remove roles from instance profile first.")
            } else if !role.principal.inline.is_empty() || !role.principal.attached.is_empty() {
                Some("Cannot delete entity, must delete policies first.")
            } else {
                None
            };
            if let Some(reason) = blocker {
                record.status = DeletionStatus::Failed;
                record.reason = Some(reason.to_owned());
            } else {
                let mut entity = AnyEntity::Role(role);
                entity::set_boundary(&tx, account, &mut entity, None).await?;
                tx.delete(entity::key(account, EntityKind::Role, role_name));
                tx.bump_epoch(account.ns());
            }
            tx.write(Key::new(account.ns(), SLR_DELETION, id), &record);
            Ok::<_, Error>(blocker.is_none())
        })
        .await?;
        if deleted {
            self.published(account).await;
        }
        Ok(task.clone())
    }

    /// `GetServiceLinkedRoleDeletionStatus`: the task's status and, when it failed, why.
    pub async fn get_service_linked_role_deletion_status(
        &self,
        account: &Account,
        task: &str,
    ) -> Result<(DeletionStatus, Option<String>)> {
        if task.is_empty() || task.chars().count() > 1000 {
            return Err(Error::invalid_input(format!("Invalid deletion task id: {task}")));
        }
        let missing = || Error::no_such_entity(format!("Deletion task {task} cannot be found."));
        let Some(key) = task_key(account, task) else { return Err(missing()) };
        let record: SlrDeletionRecord = iam::load(&*self.store, &key).await?.ok_or_else(missing)?;
        if record.task_id != task {
            return Err(missing());
        }
        Ok((record.status, record.reason))
    }
}

#[cfg(test)]
mod tests {
    use crate::account::testing::fixture;

    use super::*;

    #[tokio::test]
    async fn a_service_linked_role_is_created_protected_and_deleted_by_task() {
        let f = fixture();
        let (id, a) = (&f.identity, &f.account);
        let role =
            id.create_service_linked_role(a, "elasticbeanstalk.amazonaws.com", Some("eb".into()), None).await.unwrap();
        assert_eq!(role.principal.name, "AWSServiceRoleForElasticBeanstalk");
        assert_eq!(role.principal.path, "/aws-service-role/elasticbeanstalk.amazonaws.com/");
        assert!(role.trust_policy.contains(r#""Service":["elasticbeanstalk.amazonaws.com"]"#));
        let err = id.create_service_linked_role(a, "elasticbeanstalk.amazonaws.com", None, None).await.unwrap_err();
        assert_eq!(
            err.into_service_error().message,
            "Service role name AWSServiceRoleForElasticBeanstalk has been taken in this account, please try a different suffix."
        );
        let suffixed =
            id.create_service_linked_role(a, "autoscaling.amazonaws.com", None, Some("x".into())).await.unwrap();
        assert_eq!(suffixed.principal.name, "AWSServiceRoleForAutoScaling_x");
        let err = id.create_service_linked_role(a, "es.amazonaws.com", None, Some("x".into())).await.unwrap_err();
        assert_eq!(err.into_service_error().message, "Custom suffix is not allowed for es.amazonaws.com");
        assert_eq!(
            id.create_service_linked_role(a, "nothing.amazonaws.com", None, None).await.unwrap_err().code(),
            ErrorCode::InvalidInput
        );

        let name = "AWSServiceRoleForElasticBeanstalk";
        for err in [
            id.delete_role(a, name).await.unwrap_err(),
            id.update_assume_role_policy(a, name, &trust_policy("ec2.amazonaws.com")).await.unwrap_err(),
        ] {
            assert_eq!(err.code(), ErrorCode::UnmodifiableEntity);
        }

        let task = id.delete_service_linked_role(a, name).await.unwrap();
        assert!(
            task.starts_with("task/aws-service-role/elasticbeanstalk.amazonaws.com/AWSServiceRoleForElasticBeanstalk/")
        );
        assert_eq!(
            id.get_service_linked_role_deletion_status(a, &task).await.unwrap(),
            (DeletionStatus::Succeeded, None)
        );
        assert_eq!(id.get_role(a, name).await.unwrap_err().code(), ErrorCode::NoSuchEntity);
        let unknown = format!("{}0", &task[..task.len() - 1]);
        assert_eq!(
            id.get_service_linked_role_deletion_status(a, &unknown).await.unwrap_err().code(),
            ErrorCode::NoSuchEntity
        );
        assert_eq!(
            id.get_service_linked_role_deletion_status(a, "nonsense").await.unwrap_err().code(),
            ErrorCode::NoSuchEntity
        );
    }

    #[tokio::test]
    async fn a_deletion_blocked_by_an_instance_profile_fails_with_its_reason() {
        let f = fixture();
        let (id, a) = (&f.identity, &f.account);
        let role = id.create_service_linked_role(a, "ecs.amazonaws.com", None, None).await.unwrap();
        // Linked directly: AddRoleToInstanceProfile itself refuses a service-linked role.
        let mut stored = role.clone();
        stored.instance_profiles.push("p".into());
        iam::put_blind(&**id.store(), entity::key(a, EntityKind::Role, &role.principal.name), &stored).await.unwrap();
        let task = id.delete_service_linked_role(a, &role.principal.name).await.unwrap();
        let (status, reason) = id.get_service_linked_role_deletion_status(a, &task).await.unwrap();
        assert_eq!(status, DeletionStatus::Failed);
        assert!(reason.unwrap().contains("instance profile"));
        assert!(id.get_role(a, &role.principal.name).await.is_ok());
    }
}
