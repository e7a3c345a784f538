//! The Redis backend, shared by every replica: one hash per key, a per-namespace index, Lua commits,
//! on one server (`redis://`) or a Redis Cluster (`redis+cluster://`) through the same code.
//!
//! Layout, all in the namespace's hash slot (`{NS}` is a Redis Cluster hash tag):
//! - `t:{NS}:<kind>:<rest>`: a hash with fields `v` (version, decimal) and `d` (the value);
//! - `t:{NS}:idx`: a sorted set of the namespace's keys, all with score 0, so `ZRANGEBYLEX` scans a
//!   prefix in bytewise order;
//! - `t:{NS}:ver`: the namespace's version counter.
//!
//! Data keys always have a `:<rest>` after the kind, so they never collide with `idx` or `ver`.
//! A commit is one Lua script (EVALSHA, falling back to loading it): Redis runs a script without
//! interleaving other commands, so checks and writes are atomic, and on Cluster every key the script
//! touches is in one slot. The scan script reads data keys it cannot declare in advance; that is
//! accepted for scripts without a `#!lua` flags line as long as the keys share the slot, which the
//! hash tag guarantees. Redis must not evict keys (`maxmemory-policy noeviction`): an evicted hash
//! would silently vanish from the index's view.
//!
//! **One implementation, two topologies.** Every operation goes through [`Conn`], a
//! `ConnectionLike` over a `ConnectionManager` (one server) or a `ClusterConnection` (which routes
//! each command, script and pipeline to the owner of its first key's slot). Because every key of a
//! script is in the namespace's slot, the same commands work on both. What differs is said where it
//! differs: finding namespaces visits every cluster master (`SCAN` is per node); pub/sub uses a
//! plain connection to one node (classic `PUBLISH` is broadcast to every node of a cluster, so a
//! subscriber on any node receives it); and an import is one `MULTI`/`EXEC` over the whole scope on
//! one server but one script per namespace on a cluster, which has no cross-slot transaction.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{MultipleNodeRoutingInfo, RoutingInfo, SingleNodeRoutingInfo};
use redis::{Client, Cmd, Pipeline, RedisFuture, Script, Value};
use tokio::sync::broadcast;
use tokio_stream::StreamExt;

use crate::notify::{CAPACITY, Subscription};
use crate::snapshot::{NamespaceSnapshot, Scope, Snapshot};
use crate::{Entry, Expect, Key, Namespace, Store, StoreError, Transaction, Versioned, Write};

/// How long connecting may take before `connect` or `subscribe` gives up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one command may take before it fails (the connection manager then reconnects).
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(5);

/// Checks every expectation, then applies every write with a fresh version from the counter.
/// KEYS: counter, index, the checked keys, the written keys. ARGV: #checks, #writes, then a pair per
/// check (`a` absent | `p` present | `v` version) and a pair per write (`p` value | `d` -).
const COMMIT_LUA: &str = r"
local nc = tonumber(ARGV[1])
local nw = tonumber(ARGV[2])
local a = 3
for i = 1, nc do
  local current = redis.call('HGET', KEYS[2 + i], 'v')
  local kind = ARGV[a]
  if kind == 'a' then
    if current then return 0 end
  elseif kind == 'p' then
    if not current then return 0 end
  elseif current ~= ARGV[a + 1] then
    return 0
  end
  a = a + 2
end
if nw == 0 then return 1 end
local version = string.format('%d', redis.call('INCR', KEYS[1]))
for i = 1, nw do
  local key = KEYS[2 + nc + i]
  if ARGV[a] == 'p' then
    redis.call('HSET', key, 'v', version, 'd', ARGV[a + 1])
    redis.call('ZADD', KEYS[2], 0, key)
  else
    redis.call('DEL', key)
    redis.call('ZREM', KEYS[2], key)
  end
  a = a + 2
end
return 1
";

/// One page of a prefix scan as a flat list of (key, version, value) triples, from one snapshot.
/// KEYS: index. ARGV: lex min, lex max, limit.
const SCAN_LUA: &str = r"
local keys = redis.call('ZRANGEBYLEX', KEYS[1], ARGV[1], ARGV[2], 'LIMIT', 0, ARGV[3])
local out = {}
for _, key in ipairs(keys) do
  local entry = redis.call('HMGET', key, 'v', 'd')
  if entry[1] then
    out[#out + 1] = key
    out[#out + 1] = entry[1]
    out[#out + 1] = entry[2]
  end
end
return out
";

/// Deletes every key of a namespace, its index and its counter. KEYS: index, counter.
const PURGE_LUA: &str = r"
local keys = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, key in ipairs(keys) do redis.call('DEL', key) end
redis.call('DEL', KEYS[1], KEYS[2])
return #keys
";

/// A whole namespace and its counter, atomically (the fallback of `snapshot.rs` when the paged
/// read kept seeing the counter move): the counter, then (key, version, value) triples.
/// KEYS: index, counter.
const DUMP_LUA: &str = r"
local out = { redis.call('GET', KEYS[2]) or '0' }
local keys = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, key in ipairs(keys) do
  local entry = redis.call('HMGET', key, 'v', 'd')
  if entry[1] then
    out[#out + 1] = key
    out[#out + 1] = entry[1]
    out[#out + 1] = entry[2]
  end
end
return out
";

/// Replaces one namespace with the snapshot's records, atomically (an import on a cluster, which
/// has no transaction across slots): deletes every indexed key, the index and, when the snapshot
/// has records, writes them; the counter becomes the larger of its value and the snapshot's, never
/// lower. KEYS: index, counter, the records' keys. ARGV: the snapshot's counter, then a (version,
/// value) pair per record.
const REPLACE_LUA: &str = r"
local old = redis.call('ZRANGE', KEYS[1], 0, -1)
for _, key in ipairs(old) do redis.call('DEL', key) end
redis.call('DEL', KEYS[1])
local current = tonumber(redis.call('GET', KEYS[2]) or '0')
local incoming = tonumber(ARGV[1])
if incoming > current then redis.call('SET', KEYS[2], ARGV[1]) end
for i = 3, #KEYS do
  local a = 2 + (i - 3) * 2
  redis.call('HSET', KEYS[i], 'v', ARGV[a], 'd', ARGV[a + 1])
  redis.call('ZADD', KEYS[1], 0, KEYS[i])
end
return #old
";

/// Entries per page when a namespace is read for a snapshot.
const SNAPSHOT_PAGE: usize = 1000;
/// How many times an import is tried when a watched namespace changed under it.
const IMPORT_ATTEMPTS: u32 = 8;

/// The URL schemes of a Redis Cluster: seed nodes, plain or TLS.
const CLUSTER_SCHEMES: [(&str, &str); 2] = [("redis+cluster://", "redis://"), ("rediss+cluster://", "rediss://")];

/// A store on a Redis server or a Redis Cluster. Clones share one connection (manager).
#[derive(Clone)]
pub struct RedisStore {
    conn: Conn,
    topology: Arc<Topology>,
    scripts: Arc<Scripts>,
}

/// The connection every command goes through: one server's connection manager (reconnecting), or
/// a cluster connection that routes each command, script and pipeline to its first key's slot
/// owner (following redirections and refreshing the slot map by itself).
#[derive(Clone)]
enum Conn {
    Server(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Server(conn) => conn.req_packed_command(cmd),
            Conn::Cluster(conn) => conn.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Server(conn) => conn.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(conn) => conn.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Server(conn) => conn.get_db(),
            Conn::Cluster(conn) => conn.get_db(),
        }
    }
}

/// What the shared connection cannot do by itself: open pub/sub connections and the import's own
/// connection.
enum Topology {
    Server(Client),
    Cluster {
        /// The seed nodes' URLs as given (with their credentials): the import builds its own
        /// cluster client from them.
        seeds: Vec<String>,
        /// A client per seed node, for pub/sub (tried in order).
        nodes: Vec<Client>,
    },
}

impl Topology {
    /// Where the store is, for logs and errors: addresses only, never credentials.
    fn addresses(&self) -> String {
        match self {
            Topology::Server(client) => client.get_connection_info().addr().to_string(),
            Topology::Cluster { nodes, .. } => {
                nodes.iter().map(|n| n.get_connection_info().addr().to_string()).collect::<Vec<_>>().join(",")
            }
        }
    }
}

struct Scripts {
    commit: Script,
    scan: Script,
    purge: Script,
    dump: Script,
    replace: Script,
}

impl Scripts {
    fn new() -> Self {
        Self {
            commit: Script::new(COMMIT_LUA),
            scan: Script::new(SCAN_LUA),
            purge: Script::new(PURGE_LUA),
            dump: Script::new(DUMP_LUA),
            replace: Script::new(REPLACE_LUA),
        }
    }
}

impl fmt::Debug for RedisStore {
    // The URL may carry a password: show only where the servers are.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("cluster", &self.is_cluster())
            .field("addr", &self.topology.addresses())
            .finish_non_exhaustive()
    }
}

fn index_key(tag: &str) -> String {
    format!("t:{{{tag}}}:idx")
}

fn counter_key(tag: &str) -> String {
    format!("t:{{{tag}}}:ver")
}

/// Redis channels are global to the server: keep Tessera's apart from anyone else's.
fn channel_name(channel: &str) -> String {
    format!("t:chan:{channel}")
}

fn corrupt(key: &str, reason: &str) -> StoreError {
    StoreError::Corrupt { key: key.to_owned(), reason: reason.to_owned() }
}

/// The seed nodes' URLs of a cluster location (`redis+cluster://[USER:PASSWORD@]HOST:PORT[,HOST:PORT
/// ...][/0][?QUERY]`, or `rediss+cluster://` for TLS), each a `redis://` (`rediss://`) URL with the
/// credentials, path and query; `None` for any other location.
pub(crate) fn cluster_seeds(location: &str) -> Option<Result<Vec<String>, StoreError>> {
    let (rest, scheme) =
        CLUSTER_SCHEMES.iter().find_map(|(ours, theirs)| Some((location.strip_prefix(ours)?, theirs)))?;
    let invalid = |reason: &str| Some(Err(StoreError::InvalidRedisUrl(reason.to_owned())));
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (userinfo, hosts) = match authority.rfind('@') {
        Some(at) => (&authority[..=at], &authority[at + 1..]),
        None => ("", authority),
    };
    let path_end = tail.find(['?', '#']).unwrap_or(tail.len());
    if !matches!(&tail[..path_end], "" | "/" | "/0") {
        return invalid("a Redis Cluster has only database 0: give no database or `/0`");
    }
    let mut seeds = Vec::new();
    for host in hosts.split(',') {
        if host.is_empty() || !host.contains(':') {
            return invalid("a Redis Cluster location lists its seed nodes as HOST:PORT, separated by commas");
        }
        seeds.push(format!("{scheme}{userinfo}{host}{tail}"));
    }
    Some(Ok(seeds))
}

impl RedisStore {
    /// Connects to `url`, failing if no server answers within a few seconds: one server
    /// (`redis://[:PASSWORD@]HOST:PORT/DB`, `rediss://` for TLS) or a Redis Cluster through its
    /// seed nodes (`redis+cluster://[:PASSWORD@]HOST:PORT[,HOST:PORT...]`, `rediss+cluster://`).
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        match cluster_seeds(url) {
            Some(seeds) => Self::connect_cluster(seeds?).await,
            None => Self::connect_server(url).await,
        }
    }

    async fn connect_server(url: &str) -> Result<Self, StoreError> {
        let client = Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(2);
        let conn = tokio::time::timeout(CONNECT_TIMEOUT, client.get_connection_manager_with_config(config))
            .await
            .map_err(|_| StoreError::ConnectTimeout(client.get_connection_info().addr().to_string()))??;
        Ok(Self {
            conn: Conn::Server(conn),
            topology: Arc::new(Topology::Server(client)),
            scripts: Arc::new(Scripts::new()),
        })
    }

    async fn connect_cluster(seeds: Vec<String>) -> Result<Self, StoreError> {
        let nodes = seeds.iter().map(|seed| Client::open(seed.as_str())).collect::<Result<Vec<_>, _>>()?;
        let topology = Topology::Cluster { seeds, nodes };
        let client = cluster_client(&topology, RESPONSE_TIMEOUT)?;
        let conn = tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_connection())
            .await
            .map_err(|_| StoreError::ConnectTimeout(topology.addresses()))??;
        Ok(Self { conn: Conn::Cluster(conn), topology: Arc::new(topology), scripts: Arc::new(Scripts::new()) })
    }

    /// Whether the store is a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.conn, Conn::Cluster(_))
    }

    /// Deletes every key of `ns`, returning how many records there were. For tests and tooling:
    /// it is one script, so it blocks the server for the time it takes on a large namespace.
    pub async fn purge_namespace(&self, ns: &Namespace) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        let purged =
            self.scripts.purge.key(index_key(ns.tag())).key(counter_key(ns.tag())).invoke_async(&mut conn).await?;
        Ok(purged)
    }

    /// A pub/sub connection: to the server, or to the first seed node of a cluster that answers
    /// (a cluster delivers a classic `PUBLISH` on any node to subscribers on every node).
    async fn pubsub(&self) -> Result<redis::aio::PubSub, StoreError> {
        let clients = match &*self.topology {
            Topology::Server(client) => std::slice::from_ref(client),
            Topology::Cluster { nodes, .. } => nodes.as_slice(),
        };
        let mut last = None;
        for client in clients {
            match tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_pubsub()).await {
                Ok(Ok(pubsub)) => return Ok(pubsub),
                Ok(Err(error)) => last = Some(StoreError::from(error)),
                Err(_) => last = Some(StoreError::ConnectTimeout(client.get_connection_info().addr().to_string())),
            }
        }
        Err(last.unwrap_or_else(|| StoreError::ConnectTimeout(self.topology.addresses())))
    }
}

/// Where every cluster master is, as routes to it (the cluster connection's own view of the slot
/// map, so the masters it routes to are the ones visited).
async fn masters(cluster: &mut ClusterConnection) -> Result<Vec<RoutingInfo>, StoreError> {
    let all = RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, None));
    // Without a response policy, a fan-out answers a map from each node's `HOST:PORT` to its answer.
    let Value::Map(answers) = cluster.route_command(redis::cmd("PING"), all).await? else {
        return Err(corrupt("PING", "a cluster fan-out did not answer a map of nodes"));
    };
    let mut routes = Vec::with_capacity(answers.len());
    for (address, _) in answers {
        let address: String = redis::from_redis_value(address).map_err(redis::RedisError::from)?;
        let (host, port) = address
            .rsplit_once(':')
            .and_then(|(host, port)| Some((host.to_owned(), port.parse().ok()?)))
            .ok_or_else(|| corrupt(&address, "a cluster node address is not HOST:PORT"))?;
        routes.push(RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress { host, port }));
    }
    Ok(routes)
}

/// A cluster client over the topology's seed nodes whose commands get `response_timeout`.
fn cluster_client(topology: &Topology, response_timeout: Duration) -> Result<ClusterClient, StoreError> {
    let Topology::Cluster { seeds, .. } = topology else { unreachable!("a cluster topology") };
    Ok(ClusterClientBuilder::new(seeds.iter().map(String::as_str))
        .connection_timeout(CONNECT_TIMEOUT)
        .response_timeout(response_timeout)
        .retries(2)
        .build()?)
}

/// Reads (key, version, value) triples as a script returned them.
fn parse_triples(flat: &[Vec<u8>], context: &str) -> Result<Vec<Entry>, StoreError> {
    let mut out = Vec::with_capacity(flat.len() / 3);
    let mut triples = flat.chunks_exact(3);
    for triple in triples.by_ref() {
        let [key, version, value] = triple else { unreachable!("chunks_exact(3)") };
        let key = String::from_utf8(key.clone()).map_err(|_| corrupt(context, "an index member is not UTF-8"))?;
        let key = Key::from_stored(key).map_err(|e| corrupt(context, &e.to_string()))?;
        let version = parse_number(version).ok_or_else(|| corrupt(key.as_str(), "version is not a number"))?;
        out.push((key, Versioned { value: value.clone(), version }));
    }
    if !triples.remainder().is_empty() {
        return Err(corrupt(context, "a script returned a partial entry"));
    }
    Ok(out)
}

fn parse_number(bytes: &[u8]) -> Option<u64> {
    std::str::from_utf8(bytes).ok().and_then(|v| v.parse().ok())
}

/// Snapshots (`snapshot.rs`).
impl RedisStore {
    /// Every namespace with a counter or an index, found with `SCAN` (never blocking the server) on
    /// the server or on every cluster master (a namespace moving between masters while this runs
    /// may be missed: do not reshard during a backup).
    pub(crate) async fn namespaces(&self) -> Result<BTreeSet<Namespace>, StoreError> {
        let mut conn = self.conn.clone();
        let nodes = match &mut conn {
            Conn::Server(_) => vec![None],
            Conn::Cluster(cluster) => masters(cluster).await?.into_iter().map(Some).collect(),
        };
        let mut found = BTreeSet::new();
        for node in &nodes {
            for suffix in ["idx", "ver"] {
                let pattern = format!("t:{{*}}:{suffix}");
                let mut cursor = 0u64;
                loop {
                    let mut scan = redis::cmd("SCAN");
                    scan.arg(cursor).arg("MATCH").arg(&pattern).arg("COUNT").arg(1000);
                    let (next, keys): (u64, Vec<Vec<u8>>) = match (&mut conn, node) {
                        (Conn::Cluster(cluster), Some(node)) => {
                            redis::from_redis_value(cluster.route_command(scan, node.clone()).await?)
                                .map_err(redis::RedisError::from)?
                        }
                        _ => scan.query_async(&mut conn).await?,
                    };
                    for key in keys {
                        let tag = std::str::from_utf8(&key)
                            .ok()
                            .and_then(|k| k.strip_prefix("t:{"))
                            .and_then(|k| k.strip_suffix(suffix))
                            .and_then(|k| k.strip_suffix("}:"));
                        // A data key may match the pattern too (`t:{a}:user:x}:idx`): its tag has a `}`.
                        if let Some(ns) =
                            tag.filter(|t| !t.contains(['{', '}'])).and_then(|t| Namespace::from_tag(t).ok())
                        {
                            found.insert(ns);
                        }
                    }
                    if next == 0 {
                        break;
                    }
                    cursor = next;
                }
            }
        }
        Ok(found)
    }

    async fn counter(&self, ns: &Namespace) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        let value: Option<u64> = redis::cmd("GET").arg(counter_key(ns.tag())).query_async(&mut conn).await?;
        Ok(value.unwrap_or(0))
    }

    /// One namespace's counter and entries at one moment: pages between two reads of the counter,
    /// retried while it moves, then one atomic script.
    pub(crate) async fn read_namespace(&self, ns: &Namespace) -> Result<(u64, Vec<Entry>), StoreError> {
        let prefix = Key::namespace_prefix(ns);
        for _ in 0..crate::REDIS_PAGED_ATTEMPTS {
            let before = self.counter(ns).await?;
            let mut entries: Vec<Entry> = Vec::new();
            loop {
                let page = self.scan_prefix(&prefix, entries.last().map(|(k, _)| k), SNAPSHOT_PAGE).await?;
                let done = page.len() < SNAPSHOT_PAGE;
                entries.extend(page);
                if done {
                    break;
                }
            }
            if self.counter(ns).await? == before {
                return Ok((before, entries));
            }
        }
        let mut conn = self.conn.clone();
        let flat: Vec<Vec<u8>> =
            self.scripts.dump.key(index_key(ns.tag())).key(counter_key(ns.tag())).invoke_async(&mut conn).await?;
        let (counter, rest) =
            flat.split_first().ok_or_else(|| corrupt(prefix.as_str(), "the dump script returned nothing"))?;
        let counter = parse_number(counter).ok_or_else(|| corrupt(prefix.as_str(), "the counter is not a number"))?;
        Ok((counter, parse_triples(rest, prefix.as_str())?))
    }

    /// Replaces the snapshot's scope with its records: all at once on one server
    /// ([`Self::replace_all`]), one namespace at a time on a cluster ([`Self::replace_each`]).
    pub(crate) async fn replace(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        // One transaction (or script) carries a whole snapshot (or namespace): give its answer time
        // (a minute, and a second more per 10,000 records; 100,000 records take about 3 s on a
        // debug build).
        let answer_within = Duration::from_secs(60 + u64::try_from(snapshot.len() / 10_000).unwrap_or(u64::MAX));
        match &*self.topology {
            Topology::Server(client) => self.replace_all(client, snapshot, answer_within).await,
            topology @ Topology::Cluster { .. } => {
                let client = cluster_client(topology, answer_within)?;
                let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, client.get_async_connection())
                    .await
                    .map_err(|_| StoreError::ConnectTimeout(topology.addresses()))??;
                self.replace_each(&mut conn, snapshot).await
            }
        }
    }

    /// A cluster has no transaction across slots, so each namespace of the scope is replaced by one
    /// script in its slot: all or nothing per namespace, namespaces one after another (the
    /// snapshot's first, then those it empties). A snapshot is one moment of each namespace only
    /// (module docs of `snapshot.rs`), so this keeps what it promises.
    async fn replace_each(&self, conn: &mut ClusterConnection, snapshot: &Snapshot) -> Result<(), StoreError> {
        let mut emptied = match &snapshot.scope {
            Scope::Whole => self.namespaces().await?,
            Scope::Only(list) => list.clone(),
        };
        for ns in &snapshot.namespaces {
            emptied.remove(&ns.namespace);
            self.replace_namespace(conn, &ns.namespace, ns.counter, &ns.entries).await?;
        }
        for ns in &emptied {
            self.replace_namespace(conn, ns, 0, &[]).await?;
        }
        Ok(())
    }

    async fn replace_namespace(
        &self,
        conn: &mut ClusterConnection,
        ns: &Namespace,
        counter: u64,
        entries: &[Entry],
    ) -> Result<(), StoreError> {
        let mut invocation = self.scripts.replace.prepare_invoke();
        invocation.key(index_key(ns.tag())).key(counter_key(ns.tag())).arg(counter);
        for (key, value) in entries {
            invocation.key(key.as_str()).arg(value.version).arg(value.value.as_slice());
        }
        let _replaced: u64 = invocation.invoke_async(conn).await?;
        Ok(())
    }

    /// Replaces the snapshot's scope with its records in one `MULTI`/`EXEC`, on a connection of its
    /// own that `WATCH`es every touched namespace's counter and index: a commit in between aborts
    /// it, and it is tried again.
    async fn replace_all(
        &self,
        client: &Client,
        snapshot: &Snapshot,
        answer_within: Duration,
    ) -> Result<(), StoreError> {
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(answer_within));
        let mut conn = client.get_multiplexed_async_connection_with_config(&config).await?;
        let incoming: BTreeMap<&str, &NamespaceSnapshot> =
            snapshot.namespaces.iter().map(|ns| (ns.namespace.tag(), ns)).collect();
        for _ in 0..IMPORT_ATTEMPTS {
            let mut touched = match &snapshot.scope {
                Scope::Whole => self.namespaces().await?,
                Scope::Only(list) => list.clone(),
            };
            touched.extend(snapshot.namespaces.iter().map(|ns| ns.namespace.clone()));
            let watched: Vec<String> =
                touched.iter().flat_map(|ns| [counter_key(ns.tag()), index_key(ns.tag())]).collect();
            if !watched.is_empty() {
                redis::cmd("WATCH").arg(&watched).exec_async(&mut conn).await?;
            }
            let mut pipe = redis::pipe();
            pipe.atomic();
            for ns in &touched {
                let (index, counter) = (index_key(ns.tag()), counter_key(ns.tag()));
                let members: Vec<Vec<u8>> =
                    redis::cmd("ZRANGE").arg(&index).arg(0).arg(-1).query_async(&mut conn).await?;
                let current: Option<u64> = redis::cmd("GET").arg(&counter).query_async(&mut conn).await?;
                for chunk in members.chunks(512) {
                    pipe.cmd("DEL").arg(chunk).ignore();
                }
                pipe.cmd("DEL").arg(&index).ignore();
                let records = incoming.get(ns.tag());
                let raised = current.unwrap_or(0).max(records.map_or(0, |r| r.counter));
                if raised > 0 {
                    pipe.cmd("SET").arg(&counter).arg(raised).ignore();
                }
                if let Some(records) = records {
                    for (key, value) in &records.entries {
                        pipe.cmd("HSET")
                            .arg(key.as_str())
                            .arg("v")
                            .arg(value.version)
                            .arg("d")
                            .arg(value.value.as_slice())
                            .ignore();
                    }
                    for chunk in records.entries.chunks(512) {
                        let mut zadd = redis::cmd("ZADD");
                        zadd.arg(&index);
                        for (key, _) in chunk {
                            zadd.arg(0).arg(key.as_str());
                        }
                        pipe.add_command(zadd).ignore();
                    }
                }
            }
            // `None`: a watched key changed after WATCH, and nothing was applied.
            let applied: Option<()> = pipe.query_async(&mut conn).await?;
            if applied.is_some() {
                return Ok(());
            }
        }
        Err(StoreError::Contention { attempts: IMPORT_ATTEMPTS })
    }
}

impl Store for RedisStore {
    async fn get(&self, key: &Key) -> Result<Option<Versioned<Vec<u8>>>, StoreError> {
        let mut conn = self.conn.clone();
        let (version, value): (Option<u64>, Option<Vec<u8>>) =
            redis::cmd("HMGET").arg(key.as_str()).arg("v").arg("d").query_async(&mut conn).await?;
        match (version, value) {
            (Some(version), Some(value)) => Ok(Some(Versioned { value, version })),
            (None, None) => Ok(None),
            _ => Err(corrupt(key.as_str(), "a hash without both `v` and `d`")),
        }
    }

    async fn scan_prefix(
        &self,
        prefix: &Key,
        start_after: Option<&Key>,
        limit: usize,
    ) -> Result<Vec<Entry>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut min = Vec::new();
        match crate::txn::scan_start(prefix, start_after) {
            std::ops::Bound::Excluded(after) => {
                min.push(b'(');
                min.extend_from_slice(after.as_bytes());
            }
            _ => {
                min.push(b'[');
                min.extend_from_slice(prefix.as_bytes());
            }
        }
        // INVARIANT (Key): keys are UTF-8, which never contains 0xff, so every key that starts with
        // `prefix` sorts below `prefix` + 0xff.
        let mut max = vec![b'('];
        max.extend_from_slice(prefix.as_bytes());
        max.push(0xff);
        let mut conn = self.conn.clone();
        let flat: Vec<Vec<u8>> = self
            .scripts
            .scan
            .key(index_key(prefix.namespace_tag()))
            .arg(min)
            .arg(max)
            .arg(limit)
            .invoke_async(&mut conn)
            .await?;
        parse_triples(&flat, prefix.as_str())
    }

    async fn commit(&self, txn: Transaction) -> Result<(), StoreError> {
        let Some(tag) = txn.namespace_tag()? else { return Ok(()) };
        let mut invocation = self.scripts.commit.prepare_invoke();
        invocation.key(counter_key(tag)).key(index_key(tag));
        for (key, _) in &txn.checks {
            invocation.key(key.as_str());
        }
        for (key, _) in &txn.writes {
            invocation.key(key.as_str());
        }
        invocation.arg(txn.checks.len()).arg(txn.writes.len());
        for (_, expect) in &txn.checks {
            match expect {
                Expect::Absent => invocation.arg("a").arg(0),
                Expect::Present => invocation.arg("p").arg(0),
                Expect::Version(version) => invocation.arg("v").arg(*version),
            };
        }
        for (_, write) in &txn.writes {
            match write {
                Write::Put(value) => invocation.arg("p").arg(value.as_slice()),
                Write::Delete => invocation.arg("d").arg(0),
            };
        }
        let mut conn = self.conn.clone();
        let applied: i64 = invocation.invoke_async(&mut conn).await?;
        if applied == 1 { Ok(()) } else { Err(StoreError::Conflict) }
    }

    async fn publish(&self, channel: &str, message: &[u8]) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let _receivers: i64 =
            redis::cmd("PUBLISH").arg(channel_name(channel)).arg(message).query_async(&mut conn).await?;
        Ok(())
    }

    async fn subscribe(&self, channel: &str) -> Result<Subscription, StoreError> {
        // A connection in subscriber mode can run no other command, so each subscription has its
        // own; `subscribe` returns once the server confirmed, so later publishes are delivered. On
        // a cluster this is a classic subscription on one node: classic `PUBLISH` reaches every
        // node, and a dropped connection ends the subscription (`Closed`), which tells the caller to
        // subscribe again and catch up, where the cluster client's own (RESP3) subscriptions would
        // resubscribe silently and hide the messages lost meanwhile. Sharded pub/sub (`SPUBLISH`)
        // would spare the broadcast, but Tessera's channels carry a few messages per permission
        // change, and a shard channel's subscription moves with its slot.
        let mut pubsub = self.pubsub().await?;
        pubsub.subscribe(channel_name(channel)).await?;
        let mut messages = pubsub.into_on_message();
        let (sender, receiver) = broadcast::channel(CAPACITY);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    message = messages.next() => match message {
                        // Stop when every subscriber has gone.
                        Some(message) => if sender.send(Arc::from(message.get_payload_bytes())).is_err() { break },
                        // The connection is gone: dropping the sender tells subscribers `Closed`.
                        None => break,
                    },
                    () = sender.closed() => break,
                }
            }
        });
        Ok(Subscription::new(receiver))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_locations_name_their_seed_nodes() {
        let seeds = |location: &str| cluster_seeds(location).map(|r| r.map_err(|e| e.to_string()));
        assert_eq!(seeds("redis://h:6379/0"), None, "one server");
        assert_eq!(
            seeds("redis+cluster://a:7000,b:7001"),
            Some(Ok(vec!["redis://a:7000".to_owned(), "redis://b:7001".to_owned()]))
        );
        // Credentials, path and query apply to every seed; TLS keeps its scheme.
        assert_eq!(
            seeds("rediss+cluster://app:pw@a:7000,b:7001/0?protocol=resp2"),
            Some(Ok(vec![
                "rediss://app:pw@a:7000/0?protocol=resp2".to_owned(),
                "rediss://app:pw@b:7001/0?protocol=resp2".to_owned()
            ]))
        );
        for bad in [
            "redis+cluster://:hunter2@a:7000/3",
            "redis+cluster://:hunter2@",
            "redis+cluster://:hunter2@a:1,,b:2",
            "redis+cluster://:hunter2@a",
        ] {
            let error = seeds(bad).expect("a cluster location").expect_err(bad);
            assert!(!error.contains("hunter2"), "the password stays out of `{error}`");
        }
    }

    #[tokio::test]
    async fn an_unreachable_cluster_is_an_error_naming_no_password() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let error = RedisStore::connect(&format!("redis+cluster://:hunter2@127.0.0.1:{port}")).await.unwrap_err();
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }
}
