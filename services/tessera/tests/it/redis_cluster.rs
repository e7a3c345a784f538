//! `tessera serve --store redis+cluster://...`: the server runs on a three-master Redis Cluster it
//! did not start (`tessera_store::testing`), a user created through the AWS Query API is read back
//! through it and through a second replica on the same cluster, and `tessera admin migrate` copies
//! the whole cluster (every master's namespaces) out and back.

use crate::common;

use std::net::SocketAddr;

use tessera::serve::Server;
use tessera_store::testing::RedisCluster;
use tessera_store::{AnyStore, Namespace};

/// A SigV4-signed IAM Query POST with `key`; returns the status line and body.
async fn iam(addr: SocketAddr, key: (&str, &str), body: &str) -> (String, String) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let (amz_date, authorization) = common::sign_query(addr, key, "iam", body);
    let raw = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded; charset=utf-8\r\n\
         X-Amz-Date: {amz_date}\r\nAuthorization: {authorization}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(raw.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let status = response.lines().next().unwrap_or_default().to_owned();
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_on_a_redis_cluster_creates_a_user_and_a_replica_reads_it_back() {
    // A cluster of its own: the server bootstraps its account on an empty store.
    let cluster = tokio::task::spawn_blocking(RedisCluster::start).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key_file = common::redis_master_key_file(dir.path());
    let h = common::start_with(dir, |c| {
        c.store = Some(cluster.url());
        c.master_key_file = Some(key_file.clone());
    })
    .await;
    let root = h.server.account.as_ref().expect("the account was bootstrapped");
    let (key_id, secret) = (
        root.root_access_key_id.clone(),
        root.new_root_secret.as_ref().expect("a new root secret").expose().to_owned(),
    );
    let root_key = (key_id.as_str(), secret.as_str());

    let (status, body) = iam(h.server.http_addr, root_key, "Action=CreateUser&Version=2010-05-08&UserName=alice").await;
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    let (status, body) = iam(h.server.http_addr, root_key, "Action=GetUser&Version=2010-05-08&UserName=alice").await;
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    assert!(body.contains(&format!("arn:aws:iam::{}:user/alice", h.account)), "{body}");

    // A second replica on the same cluster finds the account and the user.
    let mut config = tessera::serve::ServeConfig::for_tests(tempfile::tempdir().unwrap().path());
    config.store = Some(cluster.url());
    config.master_key_file = Some(key_file);
    let replica = Server::start(config).await.unwrap();
    assert_eq!(replica.account.as_ref().map(|a| a.account_id.as_str()), Some(h.account.as_str()));
    let (status, body) = iam(replica.http_addr, root_key, "Action=GetUser&Version=2010-05-08&UserName=alice").await;
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
    assert!(body.contains("<UserName>alice</UserName>"), "{body}");
    let (status, body) = iam(replica.http_addr, root_key, "Action=GetUser&Version=2010-05-08&UserName=bob").await;
    assert!(status.starts_with("HTTP/1.1 404"), "{status} {body}");
    assert!(body.contains("<Code>NoSuchEntity</Code>"), "{body}");

    // The whole store out to the embedded one and back (replacing it): every namespace goes (the
    // account's, the global one, AWS's managed policies), whichever master holds it, and the
    // replica still finds the user afterwards.
    let cluster_store = AnyStore::open(&cluster.url()).await.unwrap();
    let copy = tempfile::tempdir().unwrap();
    let embedded = AnyStore::open(copy.path().to_str().unwrap()).await.unwrap();
    let out = tessera::backup::migrate(&cluster_store, &embedded, false, false).await.unwrap();
    let namespaces: Vec<&Namespace> = out.namespaces.iter().map(|ns| &ns.namespace).collect();
    for ns in [Namespace::account(&h.account).unwrap(), Namespace::global()] {
        assert!(namespaces.contains(&&ns), "`{ns}` was copied: {namespaces:?}");
    }
    let back = tessera::backup::migrate(&embedded, &cluster_store, true, false).await.unwrap();
    // (The embedded store has one counter for all namespaces: counters may rise, records may not move.)
    let records = |s: &tessera_store::Snapshot| -> Vec<_> {
        s.namespaces.iter().map(|ns| (ns.namespace.clone(), ns.entries.clone())).collect()
    };
    assert_eq!(records(&back), records(&out));
    let (status, body) = iam(replica.http_addr, root_key, "Action=GetUser&Version=2010-05-08&UserName=alice").await;
    assert_eq!(status, "HTTP/1.1 200 OK", "{body}");
}
