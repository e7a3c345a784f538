//! The `Arn` type: parsing, printing and serde for `arn:partition:service:region:account:resource`.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// An Amazon Resource Name, split into its six colon-separated parts.
///
/// This is a concrete ARN, not a policy pattern: partition and service must be
/// well-formed identifiers (`[a-z0-9-]+`), so `arn:*:iam::…` is rejected. Region,
/// account and resource are kept as written; `*` and `?` there are plain characters.
/// Use [`Arn::entity`] to interpret an IAM or STS ARN as a principal or resource.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Arn {
    /// `aws`, `aws-cn`, `aws-us-gov`, or any other `[a-z0-9-]+`.
    pub partition: String,
    /// Service namespace, such as `iam`, `sts` or `s3`.
    pub service: String,
    /// Region; empty for global services such as IAM and STS.
    pub region: String,
    /// Account ID (12 digits), `aws` for AWS-managed policies, or empty (S3).
    pub account: String,
    /// Everything after the fifth colon; may contain further colons and slashes.
    pub resource: String,
}

/// Why a string is not an ARN, or why an ARN does not name an IAM or STS entity.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ArnError {
    /// The string does not begin with `arn:`.
    #[error("`{arn}` is not an arn: it does not start with `arn:`")]
    MissingPrefix {
        /// The rejected input.
        arn: String,
    },
    /// The string has fewer than six colon-separated parts.
    #[error("arn `{arn}` has fewer than six colon-separated parts")]
    TooFewParts {
        /// The rejected input.
        arn: String,
    },
    /// The partition is empty.
    #[error("arn `{arn}` has an empty partition")]
    EmptyPartition {
        /// The rejected input.
        arn: String,
    },
    /// The partition has characters outside `[a-z0-9-]`.
    #[error("arn `{arn}` has invalid partition `{partition}`: expected lowercase letters, digits and hyphens")]
    InvalidPartition {
        /// The rejected input.
        arn: String,
        /// The offending partition.
        partition: String,
    },
    /// The service is empty.
    #[error("arn `{arn}` has an empty service")]
    EmptyService {
        /// The rejected input.
        arn: String,
    },
    /// The service has characters outside `[a-z0-9-]`.
    #[error("arn `{arn}` has invalid service `{service}`: expected lowercase letters, digits and hyphens")]
    InvalidService {
        /// The rejected input.
        arn: String,
        /// The offending service.
        service: String,
    },
    /// Nothing follows the fifth colon.
    #[error("arn `{arn}` has an empty resource")]
    EmptyResource {
        /// The rejected input.
        arn: String,
    },
    /// The ARN is well-formed but its service is neither `iam` nor `sts`.
    #[error("arn `{arn}` is not an iam or sts arn: its service is `{service}`")]
    NotIam {
        /// The ARN.
        arn: String,
        /// Its service.
        service: String,
    },
    /// IAM and STS ARNs have an empty region.
    #[error("arn `{arn}` has region `{region}`, but iam and sts arns have an empty region")]
    UnexpectedRegion {
        /// The ARN.
        arn: String,
        /// Its region.
        region: String,
    },
    /// The account is not 12 digits (or `aws`, for managed policies).
    #[error("arn `{arn}` has invalid account `{account}`: expected 12 digits")]
    InvalidAccount {
        /// The ARN.
        arn: String,
        /// Its account.
        account: String,
    },
    /// The resource does not start with a known IAM or STS resource type for the service.
    #[error("arn `{arn}` does not name a known {service} entity")]
    UnknownResourceType {
        /// The ARN.
        arn: String,
        /// Its service, `iam` or `sts`.
        service: String,
    },
    /// The resource type is known but the rest of the resource is malformed.
    #[error("arn `{arn}` has a malformed resource: {reason}")]
    InvalidResource {
        /// The ARN.
        arn: String,
        /// What is wrong, in lowercase prose.
        reason: &'static str,
    },
}

/// Whether `s` is an AWS account ID: exactly 12 ASCII digits (leading zeros allowed).
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Whether `s` is a well-formed partition or service: non-empty `[a-z0-9-]+`.
fn is_identifier(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

impl Arn {
    /// Parses `arn:partition:service:region:account:resource`.
    ///
    /// The resource is everything after the fifth colon and may contain colons.
    pub fn parse(s: &str) -> Result<Arn, ArnError> {
        let arn = || s.to_owned();
        let rest = s.strip_prefix("arn:").ok_or_else(|| ArnError::MissingPrefix { arn: arn() })?;
        let mut parts = rest.splitn(5, ':');
        let mut next = || parts.next().ok_or_else(|| ArnError::TooFewParts { arn: arn() });
        let (partition, service, region, account, resource) = (next()?, next()?, next()?, next()?, next()?);

        if partition.is_empty() {
            return Err(ArnError::EmptyPartition { arn: arn() });
        }
        if !is_identifier(partition) {
            return Err(ArnError::InvalidPartition { arn: arn(), partition: partition.to_owned() });
        }
        if service.is_empty() {
            return Err(ArnError::EmptyService { arn: arn() });
        }
        if !is_identifier(service) {
            return Err(ArnError::InvalidService { arn: arn(), service: service.to_owned() });
        }
        if resource.is_empty() {
            return Err(ArnError::EmptyResource { arn: arn() });
        }
        Ok(Arn {
            partition: partition.to_owned(),
            service: service.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
            resource: resource.to_owned(),
        })
    }
}

impl fmt::Display for Arn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "arn:{}:{}:{}:{}:{}", self.partition, self.service, self.region, self.account, self.resource)
    }
}

impl FromStr for Arn {
    type Err = ArnError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Arn::parse(s)
    }
}

impl Serialize for Arn {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Arn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ArnVisitor;

        impl Visitor<'_> for ArnVisitor {
            type Value = Arn;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an arn string")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Arn, E> {
                Arn::parse(v).map_err(E::custom)
            }
        }

        deserializer.deserialize_str(ArnVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::IntoDeserializer;
    use serde::de::value::{Error as DeError, StrDeserializer};

    fn arn(p: &str, s: &str, r: &str, a: &str, res: &str) -> Arn {
        Arn { partition: p.into(), service: s.into(), region: r.into(), account: a.into(), resource: res.into() }
    }

    #[test]
    fn parses_iam_user() {
        let a = Arn::parse("arn:aws:iam::123456789012:user/division/Alice").unwrap();
        assert_eq!(a, arn("aws", "iam", "", "123456789012", "user/division/Alice"));
    }

    #[test]
    fn resource_keeps_colons_and_slashes() {
        let s = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/f:*";
        let a = Arn::parse(s).unwrap();
        assert_eq!(a.region, "us-east-1");
        assert_eq!(a.resource, "log-group:/aws/lambda/f:*");
        assert_eq!(a.to_string(), s);
    }

    #[test]
    fn accepts_known_and_other_partitions() {
        for p in ["aws", "aws-cn", "aws-us-gov", "aws-iso-b", "tessera", "p1"] {
            let s = format!("arn:{p}:s3:::bucket");
            assert_eq!(Arn::parse(&s).unwrap().partition, p);
        }
    }

    #[test]
    fn accepts_empty_region_and_account() {
        let a = Arn::parse("arn:aws:s3:::bucket/key").unwrap();
        assert_eq!(a, arn("aws", "s3", "", "", "bucket/key"));
    }

    #[test]
    fn from_str_matches_parse() {
        let s = "arn:aws-cn:sts::123456789012:assumed-role/R/s";
        assert_eq!(s.parse::<Arn>().unwrap(), Arn::parse(s).unwrap());
    }

    #[test]
    fn rejects_missing_prefix() {
        for s in ["", "ar", "aws:iam::123456789012:root", "ARN:aws:s3:::b", " arn:aws:s3:::b"] {
            assert_eq!(Arn::parse(s), Err(ArnError::MissingPrefix { arn: s.into() }), "{s}");
        }
    }

    #[test]
    fn rejects_too_few_parts() {
        for s in ["arn:", "arn:aws", "arn:aws:s3", "arn:aws:s3::", "arn:aws:s3:::"] {
            // `arn:aws:s3:::` has six parts but an empty resource; every other has fewer.
            let err = Arn::parse(s).unwrap_err();
            if s == "arn:aws:s3:::" {
                assert_eq!(err, ArnError::EmptyResource { arn: s.into() });
            } else {
                assert_eq!(err, ArnError::TooFewParts { arn: s.into() }, "{s}");
            }
        }
    }

    #[test]
    fn rejects_bad_partition_and_service() {
        assert_eq!(Arn::parse("arn::s3:::b"), Err(ArnError::EmptyPartition { arn: "arn::s3:::b".into() }));
        assert_eq!(Arn::parse("arn:aws::::b"), Err(ArnError::EmptyService { arn: "arn:aws::::b".into() }));
        for p in ["AWS", "*", "aws cn", "aws_cn"] {
            let s = format!("arn:{p}:s3:::b");
            assert!(matches!(Arn::parse(&s), Err(ArnError::InvalidPartition { .. })), "{s}");
        }
        for svc in ["S3", "*", "s 3"] {
            let s = format!("arn:aws:{svc}:::b");
            assert!(matches!(Arn::parse(&s), Err(ArnError::InvalidService { .. })), "{s}");
        }
    }

    #[test]
    fn error_messages_are_lowercase_with_backticks() {
        let err = Arn::parse("urn:x").unwrap_err();
        assert_eq!(err.to_string(), "`urn:x` is not an arn: it does not start with `arn:`");
        let err = Arn::parse("arn:aws:s3").unwrap_err();
        assert_eq!(err.to_string(), "arn `arn:aws:s3` has fewer than six colon-separated parts");
        let err = Arn::parse("arn:AWS:s3:::b").unwrap_err();
        assert_eq!(
            err.to_string(),
            "arn `arn:AWS:s3:::b` has invalid partition `AWS`: expected lowercase letters, digits and hyphens"
        );
        let err = Arn::parse("arn:aws:s3:::").unwrap_err();
        assert_eq!(err.to_string(), "arn `arn:aws:s3:::` has an empty resource");
    }

    #[test]
    fn account_ids() {
        assert!(is_account_id("123456789012"));
        assert!(is_account_id("000000000000"));
        for s in ["", "12345678901", "1234567890123", "12345678901a", "aws", "１２３４５６７８９０１２"] {
            assert!(!is_account_id(s), "{s}");
        }
    }

    #[test]
    fn deserializes_from_string() {
        let d: StrDeserializer<'_, DeError> = "arn:aws:iam::123456789012:root".into_deserializer();
        let a = Arn::deserialize(d).unwrap();
        assert_eq!(a, arn("aws", "iam", "", "123456789012", "root"));

        let d: StrDeserializer<'_, DeError> = "nope".into_deserializer();
        let err = Arn::deserialize(d).unwrap_err();
        assert_eq!(err.to_string(), "`nope` is not an arn: it does not start with `arn:`");
    }
}
