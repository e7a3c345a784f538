//! SSH public keys, signing and server certificates and service-specific credentials over the
//! real server's gRPC API, and a service-specific credential presented to the authorizer as HTTP
//! Basic credentials: it stands for its user, for the service it was issued for only (issue 14,
//! part B).

use crate::common::{error, start};
use base64::Engine as _;
use tessera_proto::ErrorCode;
use tessera_proto::authorizer::v1 as pb;
use tessera_proto::authorizer::v1::authorizer_service_client::AuthorizerServiceClient;
use tessera_proto::common::v1 as c;
use tessera_proto::identity::v1 as ipb;
use tessera_proto::policy::v1 as ppb;
use tonic::transport::Channel;

const CODECOMMIT_PULL: &str = r#"{"Version":"2012-10-17","Statement":[
  {"Effect":"Allow","Action":"codecommit:GitPull","Resource":"*"}]}"#;

fn basic(user: &str, password: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

fn ask(basic: String, service: &str) -> pb::AuthorizeRequest {
    pb::AuthorizeRequest {
        credential: Some(pb::authorize_request::Credential::ServiceCredential(pb::ServiceCredential {
            basic,
            service_name: service.into(),
        })),
        question: Some(pb::Question {
            action: "codecommit:GitPull".into(),
            resources: vec!["arn:aws:codecommit:us-east-1:123456789012:repo".into()],
            context: Vec::new(),
        }),
        source_ip: None,
    }
}

#[tokio::test]
async fn a_service_specific_credential_authorizes_its_user_for_its_service_only() {
    let mut h = start().await;
    let a = h.account.clone();
    let channel = Channel::from_shared(format!("http://{}", h.server.grpc_addr)).unwrap().connect().await.unwrap();
    let mut authorizer = AuthorizerServiceClient::new(channel);
    h.identity
        .create_user(ipb::CreateUserRequest { account_id: a.clone(), user_name: "alice".into(), ..Default::default() })
        .await
        .unwrap();
    h.policy
        .put_inline_policy(ppb::PutInlinePolicyRequest {
            account_id: a.clone(),
            entity: Some(c::EntityRef { kind: c::EntityKind::User.into(), name: "alice".into() }),
            policy_name: "pull".into(),
            policy_document: CODECOMMIT_PULL.into(),
        })
        .await
        .unwrap();
    let created = h
        .identity
        .create_service_specific_credential(ipb::CreateServiceSpecificCredentialRequest {
            account_id: a.clone(),
            user_name: "alice".into(),
            service_name: "codecommit.amazonaws.com".into(),
            credential_age_days: None,
        })
        .await
        .unwrap()
        .into_inner()
        .service_specific_credential
        .unwrap();
    let password = created.service_password.clone().expect("shown once");
    assert_eq!(created.service_user_name, format!("alice-at-{a}"));
    assert!(!format!("{created:?}").contains(&password), "Debug redacts the password");

    let answer = authorizer
        .authorize(ask(basic(&created.service_user_name, &password), "codecommit.amazonaws.com"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.answer.unwrap().outcome(), pb::Outcome::Allowed);
    assert_eq!(answer.caller.unwrap().arn, format!("arn:aws:iam::{a}:user/alice"));

    // Another service, a wrong password, an unknown name: the same refusal.
    for request in [
        ask(basic(&created.service_user_name, &password), "cassandra.amazonaws.com"),
        ask(basic(&created.service_user_name, "wrong-password"), "codecommit.amazonaws.com"),
        ask(basic("nobody-at-123456789012", &password), "codecommit.amazonaws.com"),
        ask("Basic !!!".into(), "codecommit.amazonaws.com"),
    ] {
        assert_eq!(error(authorizer.authorize(request).await).code, ErrorCode::InvalidClientTokenId);
    }

    // Inactive, it authenticates nothing; reset, only the new password does.
    let update = |status: ipb::AccessKeyStatus| ipb::UpdateServiceSpecificCredentialRequest {
        account_id: a.clone(),
        user_name: Some("alice".into()),
        service_specific_credential_id: created.service_specific_credential_id.clone(),
        status: status.into(),
    };
    h.identity.update_service_specific_credential(update(ipb::AccessKeyStatus::Inactive)).await.unwrap();
    let refused = authorizer.authorize(ask(basic(&created.service_user_name, &password), "codecommit.amazonaws.com"));
    assert_eq!(error(refused.await).code, ErrorCode::InvalidClientTokenId);
    h.identity.update_service_specific_credential(update(ipb::AccessKeyStatus::Active)).await.unwrap();
    let reset = h
        .identity
        .reset_service_specific_credential(ipb::ResetServiceSpecificCredentialRequest {
            account_id: a.clone(),
            user_name: Some("alice".into()),
            service_specific_credential_id: created.service_specific_credential_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .service_specific_credential
        .unwrap();
    let new_password = reset.service_password.unwrap();
    let old = authorizer.authorize(ask(basic(&created.service_user_name, &password), "codecommit.amazonaws.com"));
    assert_eq!(error(old.await).code, ErrorCode::InvalidClientTokenId);
    authorizer
        .authorize(ask(basic(&created.service_user_name, &new_password), "codecommit.amazonaws.com"))
        .await
        .unwrap();

    // The user cannot be deleted while it has the credential.
    let delete = ipb::DeleteUserRequest { account_id: a.clone(), user_name: "alice".into() };
    assert_eq!(error(h.identity.delete_user(delete.clone()).await).code, ErrorCode::DeleteConflict);
    h.identity
        .delete_service_specific_credential(ipb::DeleteServiceSpecificCredentialRequest {
            account_id: a.clone(),
            user_name: Some("alice".into()),
            service_specific_credential_id: created.service_specific_credential_id.clone(),
        })
        .await
        .unwrap();
    let gone = authorizer.authorize(ask(basic(&created.service_user_name, &new_password), "codecommit.amazonaws.com"));
    assert_eq!(error(gone.await).code, ErrorCode::InvalidClientTokenId);
}

#[tokio::test]
async fn ssh_keys_and_certificates_over_grpc() {
    let mut h = start().await;
    let a = h.account.clone();
    h.identity
        .create_user(ipb::CreateUserRequest { account_id: a.clone(), user_name: "bob".into(), ..Default::default() })
        .await
        .unwrap();

    // SSH keys: upload, read back as PEM, duplicates and garbage refused.
    let body = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl bob@example";
    let upload = |body: &str| ipb::UploadSshPublicKeyRequest {
        account_id: a.clone(),
        user_name: "bob".into(),
        ssh_public_key_body: body.into(),
    };
    let key = h.identity.upload_ssh_public_key(upload(body)).await.unwrap().into_inner().ssh_public_key.unwrap();
    assert!(key.ssh_public_key_id.starts_with("APKA"));
    assert_eq!(key.fingerprint.len(), 47);
    assert_eq!(error(h.identity.upload_ssh_public_key(upload(body)).await).code, ErrorCode::DuplicateSshPublicKey);
    let garbage = h.identity.upload_ssh_public_key(upload("ssh-rsa AAAA")).await;
    assert_eq!(error(garbage).code, ErrorCode::UnrecognizedPublicKeyEncoding);
    let pem = h
        .identity
        .get_ssh_public_key(ipb::GetSshPublicKeyRequest {
            account_id: a.clone(),
            user_name: "bob".into(),
            ssh_public_key_id: key.ssh_public_key_id.clone(),
            encoding: ipb::SshKeyEncoding::Pem.into(),
        })
        .await
        .unwrap()
        .into_inner()
        .ssh_public_key
        .unwrap();
    assert!(pem.ssh_public_key_body.starts_with("-----BEGIN PUBLIC KEY-----"));

    // A signing certificate, then a server certificate with its key (never returned).
    let key_pair = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["bob.example".into()]).unwrap().self_signed(&key_pair).unwrap();
    let signing = h
        .identity
        .upload_signing_certificate(ipb::UploadSigningCertificateRequest {
            account_id: a.clone(),
            user_name: Some("bob".into()),
            certificate_body: cert.pem(),
        })
        .await
        .unwrap()
        .into_inner()
        .certificate
        .unwrap();
    assert_eq!(signing.status(), ipb::AccessKeyStatus::Active);
    let request = ipb::UploadServerCertificateRequest {
        account_id: a.clone(),
        server_certificate_name: "web".into(),
        certificate_body: cert.pem(),
        private_key: key_pair.serialize_pem(),
        path: Some("/prod/".into()),
        ..Default::default()
    };
    assert!(!format!("{request:?}").contains("PRIVATE KEY"), "Debug redacts the private key");
    let up = h.identity.upload_server_certificate(request).await.unwrap().into_inner();
    let meta = up.server_certificate_metadata.unwrap();
    assert_eq!(meta.arn, format!("arn:aws:iam::{a}:server-certificate/prod/web"));
    let other = rcgen::KeyPair::generate().unwrap();
    let mismatch = h
        .identity
        .upload_server_certificate(ipb::UploadServerCertificateRequest {
            account_id: a.clone(),
            server_certificate_name: "web2".into(),
            certificate_body: cert.pem(),
            private_key: other.serialize_pem(),
            ..Default::default()
        })
        .await;
    assert_eq!(error(mismatch).code, ErrorCode::KeyPairMismatch);
    let got = h
        .identity
        .get_server_certificate(ipb::GetServerCertificateRequest {
            account_id: a.clone(),
            server_certificate_name: "web".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!format!("{got:?}").contains("PRIVATE KEY"));

    // The user cannot go while it has keys or certificates.
    let delete = ipb::DeleteUserRequest { account_id: a.clone(), user_name: "bob".into() };
    assert_eq!(error(h.identity.delete_user(delete).await).code, ErrorCode::DeleteConflict);
}
