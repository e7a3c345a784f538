//! Reading stored documents without validating them again (`parse_stored_policy`,
//! `CompiledPolicy::parse_stored`): a valid document reads as the same model as when it was
//! validated, a document the rules of today reject (stored under older rules, or of another
//! kind) still reads as what it says, and text that is no policy at all is still an error.

use tessera_policy::{
    CompiledPolicy, Context, Policies, PolicyKind, PolicySet, Principal, Request, Trace, authorize, parse_policy,
    parse_stored_policy,
};

const VALID: &[(&str, PolicyKind)] = &[
    (
        r#"{"Version":"2012-10-17","Statement":[{"Sid":"Read","Effect":"Allow","Action":["s3:Get*","s3:List*"],
            "Resource":"arn:aws:s3:::docs/${aws:username}/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},
            "Bool":{"aws:MultiFactorAuthPresent":true}}},{"Effect":"Deny","NotAction":"iam:*","NotResource":"*"}]}"#,
        PolicyKind::Identity,
    ),
    (
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"*","Resource":"*",
            "Condition":{"NumericLessThan":{"aws:MultiFactorAuthAge":"3600"}}}}"#,
        PolicyKind::Managed,
    ),
    (
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::111111111111:user/alice","AIDAEXAMPLEEXAMPLE01"]},
            "Action":["sts:AssumeRole","sts:TagSession"],"Condition":{"StringEquals":{"sts:ExternalId":"x"}}},
            {"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::111111111111:oidc-provider/idp.example.com"},
            "Action":"sts:AssumeRoleWithWebIdentity"}]}"#,
        PolicyKind::Trust,
    ),
    (r#"{"Version":"2008-10-17","Statement":[{"Effect":"Deny","Action":"s3:*","Resource":"*"}]}"#, PolicyKind::Session),
];

#[test]
fn valid_documents_read_as_when_validated() {
    for (text, kind) in VALID {
        assert_eq!(parse_stored_policy(text).unwrap(), parse_policy(text, *kind).unwrap(), "{text}");
    }
}

#[test]
fn rules_of_a_kind_are_not_applied_again() {
    // Each is rejected by the validation of its kind today, and means what it says.
    let rejected: &[(&str, PolicyKind)] = &[
        // A trust policy with a resource, and an action outside STS.
        (
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"*"}}"#,
            PolicyKind::Trust,
        ),
        // A managed policy without a version, with a non-alphanumeric Sid.
        (
            r#"{"Statement":{"Sid":"read-it","Effect":"Allow","Action":"s3:GetObject","Resource":"*"}}"#,
            PolicyKind::Managed,
        ),
        // A condition value its operator cannot type (it matches nothing when evaluated).
        (
            r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObject","Resource":"*",
                "Condition":{"IpAddress":{"aws:SourceIp":"not-a-network"}}}}"#,
            PolicyKind::Identity,
        ),
    ];
    for (text, kind) in rejected {
        assert!(parse_policy(text, *kind).is_err(), "validation rejects {text}");
        assert!(parse_stored_policy(text).is_ok(), "stored {text}");
    }
    // The first one allows what it says.
    let set = PolicySet::new(vec![CompiledPolicy::parse_stored("stored", rejected[0].0).unwrap()]);
    let alice = Principal::from_arn("arn:aws:iam::111111111111:user/alice").unwrap();
    let context = Context::new();
    let request = Request::new(&alice, "s3:GetObject", "arn:aws:s3:::docs/a", &context);
    assert!(authorize(&request, &Policies { identity: Some(&set), ..Policies::default() }, Trace::Off).is_allowed());
}

#[test]
fn what_is_no_policy_is_still_an_error() {
    for text in [
        "",
        "not json",
        "[]",
        r#"{"Version":"2012-10-17"}"#,
        r#"{"Statement":{"Action":"s3:GetObject","Resource":"*"}}"#,
        r#"{"Statement":{"Effect":"Maybe","Action":"s3:GetObject","Resource":"*"}}"#,
        r#"{"Statement":{"Effect":"Allow","Resource":"*"}}"#,
        r#"{"Statement":{"Effect":"Allow","Action":7,"Resource":"*"}}"#,
    ] {
        assert!(parse_stored_policy(text).is_err(), "{text:?}");
        assert!(CompiledPolicy::parse_stored("p", text).is_err(), "{text:?}");
    }
}
