//! Tessera's own gRPC API (`tessera serve --grpc-auth`) called with SigV4-signed metadata
//! (`SigV4GrpcLayer`) instead of a bearer secret: the gate verifies the signature over the method
//! path, the metadata and the message, and authorizes the call as it does a bearer's; a wrong
//! secret, a call without credentials, and a caller without permission are refused.

use tessera::serve::{ServeConfig, Server};
use tessera_authz_client::workload::{Credentials, SigV4GrpcLayer};
use tessera_proto::identity::v1 as ipb;
use tessera_proto::identity::v1::identity_service_client::IdentityServiceClient;
use tessera_proto::sts::v1 as spb;
use tessera_proto::sts::v1::sts_service_client::StsServiceClient;
use tonic::transport::Channel;

fn signed(
    channel: &Channel,
    origin: &str,
    access_key_id: &str,
    secret: &str,
) -> tessera_authz_client::workload::SigV4Grpc<Channel> {
    let credentials = Credentials {
        access_key_id: access_key_id.into(),
        secret_access_key: secret.into(),
        session_token: String::new(),
        expiration: u64::MAX,
    };
    let layer = SigV4GrpcLayer::with_credentials(credentials, origin, "tessera", "us-east-1").unwrap();
    tower::ServiceBuilder::new().layer(layer).service(channel.clone())
}

#[tokio::test]
async fn sigv4_signed_grpc_calls_are_authenticated_and_authorized_by_the_gate() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ServeConfig::for_tests(dir.path());
    config.grpc_auth = true;
    let server = Server::start(config).await.unwrap();
    let account = server.account.as_ref().unwrap().account_id.clone();
    let root: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("root-credentials.json")).unwrap()).unwrap();
    let (root_key, root_secret) = (root["AccessKeyId"].as_str().unwrap(), root["SecretAccessKey"].as_str().unwrap());
    let origin = format!("http://{}", server.grpc_addr);
    let channel = Channel::from_shared(origin.clone()).unwrap().connect().await.unwrap();

    // The root, signing: who am I, and an operation authorized on its message.
    let caller = spb::Caller { access_key_id: root_key.into(), ..Default::default() };
    let me = StsServiceClient::new(signed(&channel, &origin, root_key, root_secret))
        .get_caller_identity(spb::GetCallerIdentityRequest { caller: Some(caller.clone()) })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(me.arn, format!("arn:aws:iam::{account}:root"));
    let mut identity = IdentityServiceClient::new(signed(&channel, &origin, root_key, root_secret));
    identity
        .create_user(ipb::CreateUserRequest {
            account_id: account.clone(),
            user_name: "bob".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let key = identity
        .create_access_key(ipb::CreateAccessKeyRequest { account_id: account.clone(), user_name: Some("bob".into()) })
        .await
        .unwrap()
        .into_inner()
        .access_key
        .unwrap();

    // A wrong secret, and no credentials at all: not authenticated.
    let wrong = StsServiceClient::new(signed(&channel, &origin, root_key, &"x".repeat(40)))
        .get_caller_identity(spb::GetCallerIdentityRequest { caller: Some(caller.clone()) })
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), tonic::Code::Unauthenticated, "{wrong:?}");
    assert!(wrong.message().contains("signature"), "{wrong:?}");
    let unsigned = StsServiceClient::new(channel.clone())
        .get_caller_identity(spb::GetCallerIdentityRequest { caller: Some(caller) })
        .await
        .unwrap_err();
    assert_eq!(unsigned.code(), tonic::Code::Unauthenticated);

    // Bob signs correctly but has no permission to list users.
    let mut bob = IdentityServiceClient::new(signed(&channel, &origin, &key.access_key_id, &key.secret_access_key));
    let denied =
        bob.list_users(ipb::ListUsersRequest { account_id: account.clone(), ..Default::default() }).await.unwrap_err();
    assert_eq!(denied.code(), tonic::Code::PermissionDenied, "{denied:?}");
    assert!(denied.message().contains("iam:ListUsers"), "{denied:?}");
}
