//! The Redis backend, shared by every replica: one hash per key, a per-namespace index, Lua commits.
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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{Client, Script};
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

/// Entries per page when a namespace is read for a snapshot.
const SNAPSHOT_PAGE: usize = 1000;
/// How many times an import is tried when a watched namespace changed under it.
const IMPORT_ATTEMPTS: u32 = 8;

/// A store on a Redis server (or a Cluster's slot owners). Clones share one connection manager.
#[derive(Clone)]
pub struct RedisStore {
    client: Client,
    conn: ConnectionManager,
    scripts: Arc<Scripts>,
}

struct Scripts {
    commit: Script,
    scan: Script,
    purge: Script,
    dump: Script,
}

impl fmt::Debug for RedisStore {
    // The URL may carry a password: show only where the server is.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore").field("addr", &self.client.get_connection_info().addr()).finish_non_exhaustive()
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

impl RedisStore {
    /// Connects to `url` (`redis://[:PASSWORD@]HOST:PORT/DB`), failing if no server answers within a
    /// few seconds.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        let client = Client::open(url)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(2);
        let conn = tokio::time::timeout(CONNECT_TIMEOUT, client.get_connection_manager_with_config(config))
            .await
            .map_err(|_| StoreError::ConnectTimeout(client.get_connection_info().addr().to_string()))??;
        let scripts = Scripts {
            commit: Script::new(COMMIT_LUA),
            scan: Script::new(SCAN_LUA),
            purge: Script::new(PURGE_LUA),
            dump: Script::new(DUMP_LUA),
        };
        Ok(Self { client, conn, scripts: Arc::new(scripts) })
    }

    /// Deletes every key of `ns`, returning how many records there were. For tests and tooling:
    /// it is one script, so it blocks the server for the time it takes on a large namespace.
    pub async fn purge_namespace(&self, ns: &Namespace) -> Result<u64, StoreError> {
        let mut conn = self.conn.clone();
        let purged =
            self.scripts.purge.key(index_key(ns.tag())).key(counter_key(ns.tag())).invoke_async(&mut conn).await?;
        Ok(purged)
    }
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
    /// Every namespace with a counter or an index, found with `SCAN` (never blocking the server).
    pub(crate) async fn namespaces(&self) -> Result<BTreeSet<Namespace>, StoreError> {
        let mut conn = self.conn.clone();
        let mut found = BTreeSet::new();
        for suffix in ["idx", "ver"] {
            let pattern = format!("t:{{*}}:{suffix}");
            let mut cursor = 0u64;
            loop {
                let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(&pattern)
                    .arg("COUNT")
                    .arg(1000)
                    .query_async(&mut conn)
                    .await?;
                for key in keys {
                    let tag = std::str::from_utf8(&key)
                        .ok()
                        .and_then(|k| k.strip_prefix("t:{"))
                        .and_then(|k| k.strip_suffix(suffix))
                        .and_then(|k| k.strip_suffix("}:"));
                    // A data key may match the pattern too (`t:{a}:user:x}:idx`): its tag has a `}`.
                    if let Some(ns) = tag.filter(|t| !t.contains(['{', '}'])).and_then(|t| Namespace::from_tag(t).ok())
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

    /// Replaces the snapshot's scope with its records in one `MULTI`/`EXEC`, on a connection of its
    /// own that `WATCH`es every touched namespace's counter and index: a commit in between aborts
    /// it, and it is tried again.
    pub(crate) async fn replace(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        // One transaction carries the whole snapshot: give its answer time (a minute, and a second
        // more per 10,000 records; 100,000 records take about 3 s on a debug build).
        let answer_within = Duration::from_secs(60 + u64::try_from(snapshot.len() / 10_000).unwrap_or(u64::MAX));
        let config = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(answer_within));
        let mut conn = self.client.get_multiplexed_async_connection_with_config(&config).await?;
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
        // own; `subscribe` returns once the server confirmed, so later publishes are delivered.
        let mut pubsub = tokio::time::timeout(CONNECT_TIMEOUT, self.client.get_async_pubsub())
            .await
            .map_err(|_| StoreError::ConnectTimeout(self.client.get_connection_info().addr().to_string()))??;
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
