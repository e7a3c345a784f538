//! What the scenarios need, created with the root key over the AWS API before the load starts:
//! a target user, callers with access keys and a policy allowing `iam:GetUser` on the target, and
//! a role that trusts the callers. Names carry a per-run prefix, so runs against one `--target`
//! do not collide, and `delete` removes everything again.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};

use crate::http::{Connection, Key, QueryCall, xml_text};

const IAM_VERSION: &str = "2010-05-08";
const STS_VERSION: &str = "2011-06-15";

/// The root key and a connection, for setting up and tearing down.
#[derive(Debug)]
pub(crate) struct Admin {
    connection: Connection,
    authority: String,
    root: Key,
    region: String,
}

impl Admin {
    pub(crate) async fn connect(authority: &str, root: Key, region: &str) -> Result<Self> {
        let connection = Connection::open(authority).await?;
        Ok(Self { connection, authority: authority.to_owned(), root, region: region.to_owned() })
    }

    async fn call(
        &mut self,
        service: &'static str,
        version: &str,
        action: &str,
        params: &[(&str, &str)],
    ) -> Result<String> {
        let mut all = vec![("Action", action), ("Version", version)];
        all.extend_from_slice(params);
        let request = QueryCall::new(service, &all).request(&self.authority, &self.root, &self.region);
        let body = self.connection.query(request).await.with_context(|| format!("{action} failed"))?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    async fn iam(&mut self, action: &str, params: &[(&str, &str)]) -> Result<String> {
        self.call("iam", IAM_VERSION, action, params).await
    }

    /// The root key's account, which also proves the key works.
    pub(crate) async fn account(&mut self) -> Result<String> {
        let body = self.call("sts", STS_VERSION, "GetCallerIdentity", &[]).await?;
        xml_text(&body, "Account")
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("GetCallerIdentity answered without an account"))
    }
}

/// A user the load is signed with.
#[derive(Debug)]
pub(crate) struct Caller {
    name: String,
    keys: Vec<Key>,
    has_policy: bool,
}

/// Everything a run created.
#[derive(Debug)]
pub(crate) struct Fixture {
    pub(crate) account: String,
    /// The user `get-user` and `authorize` read.
    pub(crate) target_user: String,
    /// The role `assume-role` assumes.
    pub(crate) role_arn: String,
    role_name: Option<String>,
    target_created: bool,
    callers: Vec<Caller>,
}

impl Fixture {
    /// Creates the target user, `principals` callers with two keys each and the role. On
    /// failure, deletes what it created and returns the error.
    pub(crate) async fn create(admin: &mut Admin, account: &str, principals: usize) -> Result<Self> {
        let prefix = run_prefix();
        let mut fixture = Fixture {
            account: account.to_owned(),
            target_user: format!("{prefix}-target"),
            role_arn: format!("arn:aws:iam::{account}:role/{prefix}-role"),
            role_name: None,
            target_created: false,
            callers: Vec::new(),
        };
        match fixture.populate(admin, &prefix, principals).await {
            Ok(()) => Ok(fixture),
            Err(error) => {
                if let Err(cleanup) = fixture.delete(admin).await {
                    eprintln!("warning: could not remove what the failed setup created: {cleanup:#}");
                }
                Err(error)
            }
        }
    }

    async fn populate(&mut self, admin: &mut Admin, prefix: &str, principals: usize) -> Result<()> {
        admin.iam("CreateUser", &[("UserName", &self.target_user)]).await?;
        self.target_created = true;
        let target_arn = format!("arn:aws:iam::{}:user/{}", self.account, self.target_user);
        let policy = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"iam:GetUser","Resource":"{target_arn}"}}]}}"#
        );
        for i in 0..principals {
            let name = format!("{prefix}-caller-{i}");
            admin.iam("CreateUser", &[("UserName", &name)]).await?;
            self.callers.push(Caller { name: name.clone(), keys: Vec::new(), has_policy: false });
            for _ in 0..2 {
                let body = admin.iam("CreateAccessKey", &[("UserName", &name)]).await?;
                let (Some(id), Some(secret)) = (xml_text(&body, "AccessKeyId"), xml_text(&body, "SecretAccessKey"))
                else {
                    bail!("CreateAccessKey answered without a key");
                };
                let key = Key { id: id.to_owned(), secret: secret.to_owned() };
                if let Some(caller) = self.callers.last_mut() {
                    caller.keys.push(key);
                }
            }
            admin
                .iam("PutUserPolicy", &[("UserName", &name), ("PolicyName", "loadtest"), ("PolicyDocument", &policy)])
                .await?;
            if let Some(caller) = self.callers.last_mut() {
                caller.has_policy = true;
            }
        }
        let principals = self
            .callers
            .iter()
            .map(|c| format!(r#""arn:aws:iam::{}:user/{}""#, self.account, c.name))
            .collect::<Vec<_>>()
            .join(",");
        let trust = format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":[{principals}]}},"Action":"sts:AssumeRole"}}]}}"#
        );
        let role_name = format!("{prefix}-role");
        admin.iam("CreateRole", &[("RoleName", &role_name), ("AssumeRolePolicyDocument", &trust)]).await?;
        self.role_name = Some(role_name);
        Ok(())
    }

    /// Every caller's keys, in a fixed order: worker `i` signs with key `i % keys.len()`.
    pub(crate) fn keys(&self) -> Vec<Key> {
        self.callers.iter().flat_map(|c| c.keys.iter().cloned()).collect()
    }

    /// Deletes what `create` made, going on past failures; returns the first.
    pub(crate) async fn delete(&self, admin: &mut Admin) -> Result<()> {
        let mut first_error = None;
        let mut note = |result: Result<String>| {
            if let Err(error) = result {
                first_error.get_or_insert(error);
            }
        };
        if let Some(role) = &self.role_name {
            note(admin.iam("DeleteRole", &[("RoleName", role)]).await);
        }
        for caller in &self.callers {
            for key in &caller.keys {
                note(admin.iam("DeleteAccessKey", &[("UserName", &caller.name), ("AccessKeyId", &key.id)]).await);
            }
            if caller.has_policy {
                note(admin.iam("DeleteUserPolicy", &[("UserName", &caller.name), ("PolicyName", "loadtest")]).await);
            }
            note(admin.iam("DeleteUser", &[("UserName", &caller.name)]).await);
        }
        if self.target_created {
            note(admin.iam("DeleteUser", &[("UserName", &self.target_user)]).await);
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// `loadtest-<8 hex digits>`, different for each run.
fn run_prefix() -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or_default();
    let mixed = (u64::from(nanos) << 16 ^ u64::from(std::process::id())).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    format!("loadtest-{:08x}", mixed >> 32)
}
