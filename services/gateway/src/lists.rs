//! The longest each list parameter of the IAM and STS APIs may be, in one table, checked for every
//! request before it is dispatched, as AWS checks its models' constraints before an operation runs.
//!
//! A list parameter has the same shape in every operation that takes it (`Tags` is always the
//! model's `tagListType`), so the table is keyed by parameter name. It holds the lists whose
//! maximum the AWS models state, refused with the model's `ValidationError`. The other limits
//! live where the operation's input is validated: quotas that count what is stored or what is
//! left after removing duplicates (`ClientIDList`, `ThumbprintList`, tags per resource:
//! `LimitExceeded` in the identity domain), the managed session policies of the token calls (at
//! most 10 `PolicyArns`, in the STS domain), and the simulator's inputs (`InvalidInput`, in
//! `tessera_policy::simulate`). Below all of them, the Query decoder bounds every list at 1,000
//! members (`tessera_awsapi::Limits`).

use tessera_arn::{ValidationError, Violation};
use tessera_awsapi::Params;

/// `(parameter, name in AWS's messages, most members)`, from the `max` of each list shape in the
/// IAM (`2010-05-08`) and STS (`2011-06-15`) models.
const MAX_MEMBERS: &[(&str, &str, usize)] = &[
    // tagListType: every Create*, Tag* and token call that takes tags.
    ("Tags", "tags", 50),
    // tagKeyListType: Untag* and AssumeRole's TransitiveTagKeys.
    ("TagKeys", "tagKeys", 50),
    ("TransitiveTagKeys", "transitiveTagKeys", 50),
    // ProvidedContextsListType (AssumeRole).
    ("ProvidedContexts", "providedContexts", 5),
    // webIdentityTokenAudienceListType (GetWebIdentityToken).
    ("Audience", "audience", 10),
    // serviceNamespaceListType (ListPoliciesGrantingServiceAccess).
    ("ServiceNamespaces", "serviceNamespaces", 200),
];

/// Fails with AWS's `ValidationError` when a list parameter has more members than its model allows.
pub(crate) fn check(params: &Params) -> Result<(), ValidationError> {
    for &(name, field, max) in MAX_MEMBERS {
        let count = params.member_count(name);
        if count > max {
            return Err(ValidationError {
                field,
                value: format!("{count} members"),
                violations: vec![Violation::MaxLength(max)],
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(input: &str) -> Params {
        Params::parse(input.as_bytes()).expect("decodes")
    }

    fn tags(n: usize) -> String {
        (1..=n).map(|i| format!("&Tags.member.{i}.Key=k{i}&Tags.member.{i}.Value=v")).collect()
    }

    #[test]
    fn lists_within_their_model_limits_pass() {
        assert!(check(&params(&format!("Action=TagUser{}", tags(50)))).is_ok());
        let keys: String = (1..=50).map(|i| format!("&TagKeys.member.{i}=k{i}")).collect();
        assert!(check(&params(&format!("Action=UntagRole{keys}"))).is_ok());
        assert!(check(&params("Action=GetUser")).is_ok());
    }

    #[test]
    fn longer_lists_fail_as_aws_does() {
        let error = check(&params(&format!("Action=CreateUser&UserName=u{}", tags(51)))).unwrap_err();
        assert_eq!(
            error.to_string(),
            "1 validation error detected: Value '51 members' at 'tags' failed to satisfy constraint: \
             Member must have length less than or equal to 50"
        );
        let keys: String = (1..=51).map(|i| format!("&TransitiveTagKeys.member.{i}=k")).collect();
        assert_eq!(check(&params(&format!("Action=AssumeRole{keys}"))).unwrap_err().field, "transitiveTagKeys");
        let contexts: String = (1..=6).map(|i| format!("&ProvidedContexts.member.{i}.ProviderArn=a")).collect();
        assert_eq!(check(&params(&format!("Action=AssumeRole{contexts}"))).unwrap_err().field, "providedContexts");
        // Members are counted by index, however sparse.
        let sparse: String = (1..=51).map(|i| format!("&TagKeys.member.{}=k", i * 19)).collect();
        assert_eq!(check(&params(&format!("Action=UntagUser{sparse}"))).unwrap_err().field, "tagKeys");
    }
}
