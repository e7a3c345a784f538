//! IAM and STS entities named by ARNs (reference §1.1), and conversion in both directions.

use crate::arn::{Arn, ArnError, is_account_id};
use crate::names::{is_name_char, is_path_char, is_path_shape, is_saml_name_char};

/// An IAM or STS principal or resource, as named by the resource part of its ARN.
///
/// `path` is always `/` or `/a/b/`: it starts and ends with `/`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum IamEntity {
    /// `arn:aws:iam::ACCT:root`, the account itself.
    Root,
    /// `arn:aws:iam::ACCT:user{path}Name`.
    User {
        /// `/` or `/a/b/`.
        path: String,
        /// The user name.
        name: String,
    },
    /// `arn:aws:iam::ACCT:group{path}Name`.
    Group {
        /// `/` or `/a/b/`.
        path: String,
        /// The group name.
        name: String,
    },
    /// `arn:aws:iam::ACCT:role{path}Name`.
    Role {
        /// `/` or `/a/b/`.
        path: String,
        /// The role name.
        name: String,
    },
    /// `arn:aws:iam::ACCT:policy{path}Name`; AWS-managed policies use account `aws`.
    Policy {
        /// `/` or `/a/b/`.
        path: String,
        /// The policy name.
        name: String,
    },
    /// `arn:aws:iam::ACCT:instance-profile{path}Name`.
    InstanceProfile {
        /// `/` or `/a/b/`.
        path: String,
        /// The instance profile name.
        name: String,
    },
    /// `arn:aws:iam::ACCT:mfa{path}Name`, a virtual MFA device.
    Mfa {
        /// `/` or `/a/b/`.
        path: String,
        /// The device name.
        name: String,
    },
    /// `arn:aws:iam::ACCT:oidc-provider/host/path`.
    OidcProvider {
        /// The issuer URL without its `https://` scheme, e.g. `token.actions.githubusercontent.com`.
        url: String,
    },
    /// `arn:aws:iam::ACCT:saml-provider/Name`.
    SamlProvider {
        /// The provider name.
        name: String,
    },
    /// `arn:aws:sts::ACCT:assumed-role/RoleName/RoleSessionName`; the role's path is omitted.
    AssumedRole {
        /// The assumed role's name, without its path.
        role_name: String,
        /// The role session name.
        session_name: String,
    },
    /// `arn:aws:sts::ACCT:federated-user/Name`.
    FederatedUser {
        /// The name given to `GetFederationToken`.
        name: String,
    },
}

impl IamEntity {
    /// The ARN service for this entity: `sts` for sessions, `iam` for everything else.
    pub fn service(&self) -> &'static str {
        match self {
            IamEntity::AssumedRole { .. } | IamEntity::FederatedUser { .. } => "sts",
            _ => "iam",
        }
    }

    /// The ARN resource for this entity, e.g. `user/division/Alice`.
    pub fn resource(&self) -> String {
        match self {
            IamEntity::Root => "root".to_owned(),
            IamEntity::User { path, name } => format!("user{path}{name}"),
            IamEntity::Group { path, name } => format!("group{path}{name}"),
            IamEntity::Role { path, name } => format!("role{path}{name}"),
            IamEntity::Policy { path, name } => format!("policy{path}{name}"),
            IamEntity::InstanceProfile { path, name } => format!("instance-profile{path}{name}"),
            IamEntity::Mfa { path, name } => format!("mfa{path}{name}"),
            IamEntity::OidcProvider { url } => format!("oidc-provider/{url}"),
            IamEntity::SamlProvider { name } => format!("saml-provider/{name}"),
            IamEntity::AssumedRole { role_name, session_name } => format!("assumed-role/{role_name}/{session_name}"),
            IamEntity::FederatedUser { name } => format!("federated-user/{name}"),
        }
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_name_char)
}

impl Arn {
    /// Builds the ARN of `entity` in `account`, with service `iam` or `sts` as the entity needs.
    ///
    /// The inputs are not validated; [`Arn::entity`] recovers `entity` when they are well-formed.
    pub fn iam(partition: &str, account: &str, entity: &IamEntity) -> Arn {
        Arn {
            partition: partition.to_owned(),
            service: entity.service().to_owned(),
            region: String::new(),
            account: account.to_owned(),
            resource: entity.resource(),
        }
    }

    /// `arn:aws:iam::ACCOUNT:root`.
    pub fn root(account: &str) -> Arn {
        Arn::iam("aws", account, &IamEntity::Root)
    }

    /// `arn:aws:iam::ACCOUNT:user{path}NAME`; `path` is `/` or `/a/b/`.
    pub fn user(account: &str, path: &str, name: &str) -> Arn {
        Arn::iam("aws", account, &IamEntity::User { path: path.to_owned(), name: name.to_owned() })
    }

    /// `arn:aws:iam::ACCOUNT:role{path}NAME`; `path` is `/` or `/a/b/`.
    pub fn role(account: &str, path: &str, name: &str) -> Arn {
        Arn::iam("aws", account, &IamEntity::Role { path: path.to_owned(), name: name.to_owned() })
    }

    /// `arn:aws:iam::ACCOUNT:group{path}NAME`; `path` is `/` or `/a/b/`.
    pub fn group(account: &str, path: &str, name: &str) -> Arn {
        Arn::iam("aws", account, &IamEntity::Group { path: path.to_owned(), name: name.to_owned() })
    }

    /// `arn:aws:iam::ACCOUNT:policy{path}NAME`; `path` is `/` or `/a/b/`, `account` may be `aws`.
    pub fn policy(account: &str, path: &str, name: &str) -> Arn {
        Arn::iam("aws", account, &IamEntity::Policy { path: path.to_owned(), name: name.to_owned() })
    }

    /// `arn:aws:sts::ACCOUNT:assumed-role/ROLE_NAME/SESSION_NAME`.
    pub fn assumed_role(account: &str, role_name: &str, session_name: &str) -> Arn {
        Arn::iam(
            "aws",
            account,
            &IamEntity::AssumedRole { role_name: role_name.to_owned(), session_name: session_name.to_owned() },
        )
    }

    /// `arn:aws:sts::ACCOUNT:federated-user/NAME`.
    pub fn federated_user(account: &str, name: &str) -> Arn {
        Arn::iam("aws", account, &IamEntity::FederatedUser { name: name.to_owned() })
    }

    /// Interprets this ARN as an IAM or STS entity.
    ///
    /// The region must be empty and the account 12 digits (or `aws` for a policy). Names must
    /// be non-empty and use their model charset, so wildcard patterns such as `role/*` are
    /// refused: they name no single entity. Lengths are not checked here.
    pub fn entity(&self) -> Result<IamEntity, ArnError> {
        let arn = || self.to_string();
        let invalid = |reason| ArnError::InvalidResource { arn: arn(), reason };
        let service = self.service.as_str();
        if service != "iam" && service != "sts" {
            return Err(ArnError::NotIam { arn: arn(), service: self.service.clone() });
        }
        if !self.region.is_empty() {
            return Err(ArnError::UnexpectedRegion { arn: arn(), region: self.region.clone() });
        }
        let (kind, rest) = match self.resource.split_once('/') {
            Some((kind, rest)) => (kind, Some(rest)),
            None => (self.resource.as_str(), None),
        };

        let entity = match (service, kind, rest) {
            ("iam", "root", None) => IamEntity::Root,
            ("iam", kind @ ("user" | "group" | "role" | "policy" | "instance-profile" | "mfa"), Some(rest)) => {
                // INVARIANT: `rest` follows the first slash, so the path is `/` plus
                // everything up to and including the last slash, and the name is the rest.
                let (path, name) = match rest.rfind('/') {
                    Some(i) => (format!("/{}", &rest[..=i]), &rest[i + 1..]),
                    None => ("/".to_owned(), rest),
                };
                if !is_path_shape(&path) {
                    return Err(invalid("the path must be `/` or `/a/b/` in printable ascii"));
                }
                if !is_name(name) {
                    return Err(invalid("the name must be non-empty and match `[\\w+=,.@-]+`"));
                }
                let (path, name) = (path, name.to_owned());
                match kind {
                    "user" => IamEntity::User { path, name },
                    "group" => IamEntity::Group { path, name },
                    "role" => IamEntity::Role { path, name },
                    "policy" => IamEntity::Policy { path, name },
                    "instance-profile" => IamEntity::InstanceProfile { path, name },
                    _ => IamEntity::Mfa { path, name },
                }
            }
            ("iam", "oidc-provider", Some(url)) => {
                if url.is_empty() || !url.chars().all(is_path_char) {
                    return Err(invalid("the provider url must be non-empty printable ascii"));
                }
                IamEntity::OidcProvider { url: url.to_owned() }
            }
            ("iam", "saml-provider", Some(name)) => {
                if name.is_empty() || !name.chars().all(is_saml_name_char) {
                    return Err(invalid("the provider name must be non-empty and match `[\\w._-]+`"));
                }
                IamEntity::SamlProvider { name: name.to_owned() }
            }
            ("sts", "assumed-role", Some(rest)) => match rest.split_once('/') {
                Some((role_name, session_name)) if is_name(role_name) && is_name(session_name) => {
                    IamEntity::AssumedRole { role_name: role_name.to_owned(), session_name: session_name.to_owned() }
                }
                _ => {
                    return Err(invalid(
                        "expected `assumed-role/RoleName/SessionName` with names matching `[\\w+=,.@-]+`",
                    ));
                }
            },
            ("sts", "federated-user", Some(name)) => {
                if !is_name(name) {
                    return Err(invalid("the federated user name must be non-empty and match `[\\w+=,.@-]+`"));
                }
                IamEntity::FederatedUser { name: name.to_owned() }
            }
            _ => {
                return Err(ArnError::UnknownResourceType { arn: arn(), service: self.service.clone() });
            }
        };

        let account_ok =
            is_account_id(&self.account) || (matches!(entity, IamEntity::Policy { .. }) && self.account == "aws");
        if !account_ok {
            return Err(ArnError::InvalidAccount { arn: arn(), account: self.account.clone() });
        }
        Ok(entity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCT: &str = "123456789012";

    fn path_name(path: &str, name: &str) -> (String, String) {
        (path.to_owned(), name.to_owned())
    }

    /// Every form of the reference §1.1 table, as (ARN, entity).
    fn table() -> Vec<(&'static str, IamEntity)> {
        let (path, name) = path_name("/", "Alice");
        let (deep, bob) = path_name("/division/sub/", "Bob");
        vec![
            ("arn:aws:iam::123456789012:root", IamEntity::Root),
            ("arn:aws:iam::123456789012:user/Alice", IamEntity::User { path: path.clone(), name: name.clone() }),
            (
                "arn:aws:iam::123456789012:user/division/sub/Bob",
                IamEntity::User { path: deep.clone(), name: bob.clone() },
            ),
            ("arn:aws:iam::123456789012:group/Admins", IamEntity::Group { path: "/".into(), name: "Admins".into() }),
            (
                "arn:aws:iam::123456789012:group/division/sub/Bob",
                IamEntity::Group { path: deep.clone(), name: bob.clone() },
            ),
            ("arn:aws:iam::123456789012:role/Deployer", IamEntity::Role { path: "/".into(), name: "Deployer".into() }),
            (
                "arn:aws:iam::123456789012:role/service-role/my.role+x=y,z@w-v_u",
                IamEntity::Role { path: "/service-role/".into(), name: "my.role+x=y,z@w-v_u".into() },
            ),
            (
                "arn:aws:iam::123456789012:policy/ReadOnly",
                IamEntity::Policy { path: "/".into(), name: "ReadOnly".into() },
            ),
            (
                "arn:aws:iam::aws:policy/AdministratorAccess",
                IamEntity::Policy { path: "/".into(), name: "AdministratorAccess".into() },
            ),
            (
                "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
                IamEntity::Policy { path: "/service-role/".into(), name: "AWSLambdaBasicExecutionRole".into() },
            ),
            (
                "arn:aws:iam::123456789012:instance-profile/web/WebServer",
                IamEntity::InstanceProfile { path: "/web/".into(), name: "WebServer".into() },
            ),
            ("arn:aws:iam::123456789012:mfa/Alice", IamEntity::Mfa { path, name }),
            ("arn:aws:iam::123456789012:mfa/division/sub/Bob", IamEntity::Mfa { path: deep, name: bob }),
            (
                "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com",
                IamEntity::OidcProvider { url: "token.actions.githubusercontent.com".into() },
            ),
            (
                "arn:aws:iam::123456789012:oidc-provider/example.com/tenant/v2.0",
                IamEntity::OidcProvider { url: "example.com/tenant/v2.0".into() },
            ),
            (
                "arn:aws:iam::123456789012:saml-provider/Okta_prod-1.x",
                IamEntity::SamlProvider { name: "Okta_prod-1.x".into() },
            ),
            (
                "arn:aws:sts::123456789012:assumed-role/Deployer/ci-run@42",
                IamEntity::AssumedRole { role_name: "Deployer".into(), session_name: "ci-run@42".into() },
            ),
            ("arn:aws:sts::123456789012:federated-user/Carol", IamEntity::FederatedUser { name: "Carol".into() }),
        ]
    }

    #[test]
    fn table_parses_to_entities() {
        for (s, entity) in table() {
            let arn = Arn::parse(s).unwrap();
            assert_eq!(arn.entity(), Ok(entity), "{s}");
        }
    }

    #[test]
    fn entities_print_to_table() {
        for (s, entity) in table() {
            let account = Arn::parse(s).unwrap().account;
            assert_eq!(Arn::iam("aws", &account, &entity).to_string(), s);
        }
    }

    #[test]
    fn other_partitions_round_trip() {
        let entity = IamEntity::Role { path: "/".into(), name: "R".into() };
        for partition in ["aws-cn", "aws-us-gov"] {
            let arn = Arn::iam(partition, ACCT, &entity);
            assert_eq!(arn.to_string(), format!("arn:{partition}:iam::{ACCT}:role/R"));
            assert_eq!(arn.entity(), Ok(entity.clone()));
        }
    }

    #[test]
    fn convenience_constructors() {
        assert_eq!(Arn::root(ACCT).to_string(), "arn:aws:iam::123456789012:root");
        assert_eq!(Arn::user(ACCT, "/eng/", "alice").to_string(), "arn:aws:iam::123456789012:user/eng/alice");
        assert_eq!(Arn::role(ACCT, "/", "Admin").to_string(), "arn:aws:iam::123456789012:role/Admin");
        assert_eq!(Arn::group(ACCT, "/", "Devs").to_string(), "arn:aws:iam::123456789012:group/Devs");
        assert_eq!(
            Arn::policy("aws", "/", "AdministratorAccess").to_string(),
            "arn:aws:iam::aws:policy/AdministratorAccess"
        );
        assert_eq!(
            Arn::assumed_role(ACCT, "Admin", "s1").to_string(),
            "arn:aws:sts::123456789012:assumed-role/Admin/s1"
        );
        assert_eq!(Arn::federated_user(ACCT, "carol").to_string(), "arn:aws:sts::123456789012:federated-user/carol");
    }

    fn entity_err(s: &str) -> ArnError {
        Arn::parse(s).unwrap().entity().unwrap_err()
    }

    #[test]
    fn rejects_other_services() {
        assert_eq!(
            entity_err("arn:aws:s3:::bucket"),
            ArnError::NotIam { arn: "arn:aws:s3:::bucket".into(), service: "s3".into() }
        );
        assert_eq!(
            entity_err("arn:aws:s3:::bucket").to_string(),
            "arn `arn:aws:s3:::bucket` is not an iam or sts arn: its service is `s3`"
        );
    }

    #[test]
    fn rejects_regions() {
        for s in [
            "arn:aws:iam:us-east-1:123456789012:root",
            "arn:aws:sts:us-east-1:123456789012:assumed-role/R/s",
            "arn:aws:sts:us-east-1:123456789012:federated-user/f",
        ] {
            assert!(
                matches!(entity_err(s), ArnError::UnexpectedRegion { ref region, .. } if region == "us-east-1"),
                "{s}"
            );
        }
    }

    #[test]
    fn rejects_bad_accounts() {
        for s in [
            "arn:aws:iam::aws:root",
            "arn:aws:iam::aws:user/Alice",
            "arn:aws:iam::aws:role/R",
            "arn:aws:sts::aws:assumed-role/R/s",
            "arn:aws:iam:::user/Alice",
            "arn:aws:iam::*:role/R",
            "arn:aws:iam::12345678901:policy/P",
            "arn:aws:iam::AWS:policy/P",
        ] {
            assert!(matches!(entity_err(s), ArnError::InvalidAccount { .. }), "{s}");
        }
        assert_eq!(
            entity_err("arn:aws:iam::1234:root").to_string(),
            "arn `arn:aws:iam::1234:root` has invalid account `1234`: expected 12 digits"
        );
    }

    #[test]
    fn rejects_unknown_resource_types() {
        for s in [
            "arn:aws:iam::123456789012:server-certificate/c",
            "arn:aws:iam::123456789012:root/x",
            "arn:aws:iam::123456789012:Root",
            "arn:aws:iam::123456789012:user",
            "arn:aws:iam::123456789012:assumed-role/R/s",
            "arn:aws:sts::123456789012:role/R",
            "arn:aws:sts::123456789012:root",
            "arn:aws:iam::123456789012:*",
        ] {
            assert!(matches!(entity_err(s), ArnError::UnknownResourceType { .. }), "{s}");
        }
        assert_eq!(
            entity_err("arn:aws:sts::123456789012:root").to_string(),
            "arn `arn:aws:sts::123456789012:root` does not name a known sts entity"
        );
    }

    #[test]
    fn rejects_malformed_resources() {
        for s in [
            "arn:aws:iam::123456789012:user/",
            "arn:aws:iam::123456789012:user/eng/",
            "arn:aws:iam::123456789012:role/*",
            "arn:aws:iam::123456789012:role/eng/*",
            "arn:aws:iam::123456789012:role//R",
            "arn:aws:iam::123456789012:role/a b/R",
            "arn:aws:iam::123456789012:role/R:x",
            "arn:aws:iam::123456789012:oidc-provider/",
            "arn:aws:iam::123456789012:oidc-provider/a b",
            "arn:aws:iam::123456789012:saml-provider/",
            "arn:aws:iam::123456789012:saml-provider/a/b",
            "arn:aws:iam::123456789012:saml-provider/a+b",
            "arn:aws:sts::123456789012:assumed-role/R",
            "arn:aws:sts::123456789012:assumed-role/R/",
            "arn:aws:sts::123456789012:assumed-role//s",
            "arn:aws:sts::123456789012:assumed-role/path/R/s",
            "arn:aws:sts::123456789012:assumed-role/R/s*",
            "arn:aws:sts::123456789012:federated-user/",
            "arn:aws:sts::123456789012:federated-user/a/b",
        ] {
            assert!(matches!(entity_err(s), ArnError::InvalidResource { .. }), "{s}: {:?}", entity_err(s));
        }
        assert_eq!(
            entity_err("arn:aws:iam::123456789012:role/*").to_string(),
            r"arn `arn:aws:iam::123456789012:role/*` has a malformed resource: the name must be non-empty and match `[\w+=,.@-]+`"
        );
    }

    #[test]
    fn service_and_resource() {
        assert_eq!(IamEntity::Root.service(), "iam");
        assert_eq!(IamEntity::FederatedUser { name: "f".into() }.service(), "sts");
        assert_eq!(
            IamEntity::InstanceProfile { path: "/a/".into(), name: "p".into() }.resource(),
            "instance-profile/a/p"
        );
    }
}
