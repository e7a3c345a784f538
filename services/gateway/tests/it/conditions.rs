//! Request context keys the gateway adds to IAM decisions: `aws:RequestTag/*` and `aws:TagKeys`
//! from the request's tags, `aws:ResourceTag/*` from the target user's tags, and
//! `aws:SecureTransport` (false: this endpoint is plain HTTP).

use crate::common::{Creds, code, start};
use tessera_identity::CreateUser;
use tessera_store::iam::Tag;

#[tokio::test]
async fn tag_conditions_see_the_request_and_the_resource() {
    let h = start().await;
    let a = h.account.id().to_owned();
    for (name, team) in [("tagger", None), ("core-user", Some("core")), ("other-user", Some("web"))] {
        let tags = team.map(|t| vec![Tag { key: "team".into(), value: t.into() }]).unwrap_or_default();
        h.identity
            .create_user(&h.account, CreateUser { user_name: name.into(), tags, ..CreateUser::default() })
            .await
            .unwrap();
    }
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
            {{"Effect":"Allow","Action":"iam:TagUser","Resource":"arn:aws:iam::{a}:user/*",
              "Condition":{{"StringEquals":{{"aws:RequestTag/team":"core"}},"ForAllValues:StringEquals":{{"aws:TagKeys":["team"]}}}}}},
            {{"Effect":"Allow","Action":"iam:GetUser","Resource":"*","Condition":{{"StringEquals":{{"aws:ResourceTag/team":"core"}}}}}},
            {{"Effect":"Deny","Action":"iam:ListUsers","Resource":"*","Condition":{{"Bool":{{"aws:SecureTransport":"false"}}}}}},
            {{"Effect":"Allow","Action":"iam:ListUsers","Resource":"*"}}
        ]}}"#
    );
    let (status, body) = h
        .root(&[
            ("Action", "PutUserPolicy"),
            ("Version", "2010-05-08"),
            ("UserName", "tagger"),
            ("PolicyName", "p"),
            ("PolicyDocument", &policy),
        ])
        .await;
    assert_eq!(status, 200, "{body}");
    let key = h.identity.create_access_key(&h.account, "tagger").await.unwrap();
    let me = Creds { access_key_id: key.access_key_id, secret: key.secret_access_key.expose().to_owned(), token: None };

    let tag = |value: &'static str, key: &'static str| {
        [
            ("Action", "TagUser"),
            ("Version", "2010-05-08"),
            ("UserName", "other-user"),
            ("Tags.member.1.Key", key),
            ("Tags.member.1.Value", value),
        ]
    };
    assert_eq!(h.call(&me, &tag("core", "team")).await.0, 200, "the request's tag matches");
    let (status, body) = h.call(&me, &tag("web", "team")).await;
    assert_eq!((status, code(&body)), (403, "AccessDenied"), "another value is refused");
    let (status, body) = h.call(&me, &tag("core", "owner")).await;
    assert_eq!((status, code(&body)), (403, "AccessDenied"), "another key is refused");

    let get = |user: &'static str| [("Action", "GetUser"), ("Version", "2010-05-08"), ("UserName", user)];
    assert_eq!(h.call(&me, &get("core-user")).await.0, 200, "the resource's tag matches");
    let (status, body) = h.call(&me, &get("tagger")).await;
    assert_eq!((status, code(&body)), (403, "AccessDenied"), "an untagged user is not readable");

    let (status, body) = h.call(&me, &[("Action", "ListUsers"), ("Version", "2010-05-08")]).await;
    assert_eq!((status, code(&body)), (403, "AccessDenied"), "plain HTTP is not secure transport");
}
