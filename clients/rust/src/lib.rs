//! Async client for the authstore PostgreSQL extension.
//!
//! [`AuthStore`] talks to a database where `CREATE EXTENSION authstore` was
//! run, over `tokio-postgres`, with a small connection pool of its own.  It
//! implements traits shaped like RustAuth's [`SecondaryStorage`] (all seven
//! methods, each one server call, the atomic ones atomic in the server) and
//! [`RateLimitStore`], plus `list_keys`/`clear` and a one-time [`TokenStore`]
//! (hashed in the server, kind-checked, consumed once).
//!
//! Keys are namespaced as RustAuth's Redis backends do:
//! `{prefix}secondary:{key}` and `{prefix}rate-limit:{key}`.
//!
//! Errors never carry a key, value or token: see [`Error`].

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::{Client, NoTls, Statement};

/// What went wrong.  Deliberately without the key, value or token of the
/// call: only a SQLSTATE and the server's primary message (authstore keeps
/// keys out of its messages; the detail, which PostgreSQL may fill with row
/// contents for some errors, is dropped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// An argument this crate refuses before asking the server.
    InvalidInput(&'static str),
    /// The server refused or failed the call.
    Database { code: String, message: String },
    /// The connection could not be made or was lost.
    Connection(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidInput(what) => write!(f, "invalid input: {what}"),
            Error::Database { code, message } => write!(f, "authstore error {code}: {message}"),
            Error::Connection(message) => write!(f, "authstore connection error: {message}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<tokio_postgres::Error> for Error {
    fn from(e: tokio_postgres::Error) -> Self {
        match e.as_db_error() {
            Some(db) => Error::Database {
                code: db.code().code().to_owned(),
                message: db.message().to_owned(),
            },
            // client-side errors (I/O, protocol) never echo parameters
            None => Error::Connection(e.to_string()),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// The boxed future every trait method returns, as in RustAuth.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// Shaped like RustAuth's `SecondaryStorage` (`openauth_core::options`).
pub trait SecondaryStorage: Send + Sync + 'static {
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<String>>;

    /// `ttl_seconds == Some(0)`: the value is already expired; the key ends
    /// up absent.
    fn set<'a>(
        &'a self,
        key: &'a str,
        value: String,
        ttl_seconds: Option<u64>,
    ) -> StoreFuture<'a, ()>;

    /// `true` when the key was absent and is now set.  `Some(0)`: `false`,
    /// nothing touched.
    fn set_if_not_exists<'a>(
        &'a self,
        key: &'a str,
        value: String,
        ttl_seconds: Option<u64>,
    ) -> StoreFuture<'a, bool>;

    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()>;

    /// Atomically remove and return the value.
    fn take<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<String>>;

    /// Atomically replace the value only if it is `expected`; `None`: only
    /// if the key is absent.  `Some(0)` as TTL: a match deletes the key.
    fn compare_and_set<'a>(
        &'a self,
        key: &'a str,
        expected: Option<String>,
        value: String,
        ttl_seconds: Option<u64>,
    ) -> StoreFuture<'a, bool>;

    /// Atomically delete the key only if it holds `expected`; `None`: the key
    /// must be absent, so nothing is deleted (`false`).
    fn delete_if_value<'a>(&'a self, key: &'a str, expected: Option<String>)
        -> StoreFuture<'a, bool>;
}

/// A rate-limit rule as RustAuth passes it: `window` in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitRule {
    pub window: u64,
    pub max: u64,
}

/// RustAuth's `RateLimitConsumeInput`.  `now_ms` is accepted and ignored:
/// authstore decides with the database server's clock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimitConsumeInput {
    pub key: String,
    pub rule: RateLimitRule,
    pub now_ms: i64,
}

/// RustAuth's `RateLimitDecision`; times in whole seconds, rounded up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitDecision {
    pub permitted: bool,
    pub retry_after: u64,
    pub limit: u64,
    pub remaining: u64,
    /// authstore reports when a denied caller may retry, not when an open
    /// window ends: equal to `retry_after` (0 while permitted).
    pub reset_after: u64,
}

/// Shaped like RustAuth's `RateLimitStore`.
pub trait RateLimitStore: Send + Sync + 'static {
    fn consume(&self, input: RateLimitConsumeInput) -> StoreFuture<'_, RateLimitDecision>;
}

/// One-time tokens in authx's shape: issue for a subject and a kind, verify
/// or consume with the same kind.  Only SHA-256 of a token is stored (by the
/// server); a token of another kind is neither revealed nor burnt.
pub trait TokenStore: Send + Sync + 'static {
    fn issue<'a>(&'a self, subject: &'a str, kind: &'a str, ttl_seconds: u64)
        -> StoreFuture<'a, String>;
    fn verify<'a>(&'a self, token: &'a str, kind: &'a str) -> StoreFuture<'a, Option<String>>;
    fn consume<'a>(&'a self, token: &'a str, kind: &'a str) -> StoreFuture<'a, Option<String>>;
    /// Revoke a subject's tokens (of one kind, or all); returns how many.
    fn revoke<'a>(&'a self, subject: &'a str, kind: Option<&'a str>) -> StoreFuture<'a, u64>;
}

/// How to reach the database and name keys.
#[derive(Debug, Clone)]
pub struct Options {
    /// A libpq-style connection string, e.g. `host=/run/postgresql dbname=app`.
    pub conninfo: String,
    /// Prepended to every key, as RustAuth's `key_prefix` (default `openauth:`).
    pub key_prefix: String,
    /// Connections kept open at most (default 4).
    pub pool_size: usize,
}

impl Options {
    pub fn new(conninfo: impl Into<String>) -> Self {
        Options {
            conninfo: conninfo.into(),
            key_prefix: "openauth:".to_owned(),
            pool_size: 4,
        }
    }
}

/// A connection with the statements prepared on it.
struct Conn {
    client: Client,
    statements: HashMap<&'static str, Statement>,
}

impl Conn {
    async fn statement(&mut self, sql: &'static str) -> Result<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql).await?;
        self.statements.insert(sql, s.clone());
        Ok(s)
    }
}

/// A small pool: at most `size` connections, made on demand, reused, and
/// dropped when they break.
struct Pool {
    conninfo: String,
    idle: Mutex<Vec<Conn>>,
    permits: Arc<Semaphore>,
}

struct Pooled<'a> {
    pool: &'a Pool,
    conn: Option<Conn>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            if !conn.client.is_closed() {
                if let Ok(mut idle) = self.pool.idle.lock() {
                    idle.push(conn);
                }
            }
        }
    }
}

impl Pool {
    async fn get(&self) -> Result<Pooled<'_>> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Connection("pool closed".to_owned()))?;
        let reused = {
            let mut idle = self.idle.lock().map_err(|_| Error::Connection("pool poisoned".to_owned()))?;
            let mut found = None;
            while let Some(conn) = idle.pop() {
                if !conn.client.is_closed() {
                    found = Some(conn);
                    break;
                }
            }
            found
        };
        let conn = match reused {
            Some(conn) => conn,
            None => {
                let (client, connection) = tokio_postgres::connect(&self.conninfo, NoTls).await?;
                tokio::spawn(async move {
                    // the error surfaces on the client's next call
                    let _ = connection.await;
                });
                Conn {
                    client,
                    statements: HashMap::new(),
                }
            }
        };
        Ok(Pooled {
            pool: self,
            conn: Some(conn),
            _permit: permit,
        })
    }
}

impl Pooled<'_> {
    fn conn(&mut self) -> &mut Conn {
        self.conn.as_mut().expect("a pooled connection is present until dropped")
    }

    async fn query_opt(
        &mut self,
        sql: &'static str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Option<tokio_postgres::Row>> {
        let conn = self.conn();
        let statement = conn.statement(sql).await?;
        Ok(conn.client.query_opt(&statement, params).await?)
    }

    async fn query(
        &mut self,
        sql: &'static str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>> {
        let conn = self.conn();
        let statement = conn.statement(sql).await?;
        Ok(conn.client.query(&statement, params).await?)
    }
}

/// The store: cheap to clone, safe to share between tasks.
#[derive(Clone)]
pub struct AuthStore {
    pool: Arc<Pool>,
    key_prefix: Arc<str>,
}

/// PostgreSQL text cannot hold NUL; Redis values can.  Refused here with a
/// clear error rather than the server's encoding error.
fn check_text(s: &str, what: &'static str) -> Result<()> {
    if s.contains('\0') {
        return Err(Error::InvalidInput(what));
    }
    Ok(())
}

fn ttl_arg(ttl_seconds: Option<u64>) -> Option<f64> {
    ttl_seconds.map(|t| t as f64)
}

fn ceil_seconds(seconds: f64) -> u64 {
    if seconds.is_finite() && seconds > 0.0 {
        seconds.ceil() as u64
    } else {
        0
    }
}

impl AuthStore {
    /// A store; connections are opened on first use.
    pub fn new(options: Options) -> Result<Self> {
        if options.pool_size == 0 {
            return Err(Error::InvalidInput("pool_size must be greater than zero"));
        }
        if options.key_prefix.is_empty() {
            return Err(Error::InvalidInput("key prefix must not be empty"));
        }
        check_text(&options.key_prefix, "key prefix contains NUL")?;
        Ok(AuthStore {
            pool: Arc::new(Pool {
                conninfo: options.conninfo,
                idle: Mutex::new(Vec::new()),
                permits: Arc::new(Semaphore::new(options.pool_size)),
            }),
            key_prefix: options.key_prefix.into(),
        })
    }

    /// A store with the default options and this connection string.
    pub fn connect(conninfo: impl Into<String>) -> Result<Self> {
        Self::new(Options::new(conninfo))
    }

    fn secondary_prefix(&self) -> String {
        format!("{}secondary:", self.key_prefix)
    }

    fn secondary_key(&self, key: &str) -> Result<String> {
        check_text(key, "key contains NUL")?;
        Ok(format!("{}secondary:{key}", self.key_prefix))
    }

    fn rate_limit_key(&self, key: &str) -> Result<String> {
        check_text(key, "key contains NUL")?;
        Ok(format!("{}rate-limit:{key}", self.key_prefix))
    }

    /// The secondary-storage keys (without the namespace), in bytewise
    /// order.  The prefix is literal: `*`, `?`, `[` in keys are ordinary.
    pub async fn list_keys(&self) -> Result<Vec<String>> {
        let prefix = self.secondary_prefix();
        let mut c = self.pool.get().await?;
        let rows = c
            .query("SELECT k FROM auth_kv_keys($1) AS k", &[&prefix])
            .await?;
        Ok(rows
            .iter()
            .filter_map(|r| r.get::<_, String>(0).strip_prefix(prefix.as_str()).map(str::to_owned))
            .collect())
    }

    /// Delete every secondary-storage key; rate-limit state and other
    /// prefixes are untouched.  Returns how many live keys were removed.
    pub async fn clear(&self) -> Result<u64> {
        let prefix = self.secondary_prefix();
        let mut c = self.pool.get().await?;
        let row = c
            .query_opt("SELECT auth_kv_clear($1)", &[&prefix])
            .await?
            .ok_or_else(|| Error::Connection("no row returned".to_owned()))?;
        Ok(row.get::<_, i64>(0).max(0) as u64)
    }

    /// Forget a rate-limit key's state.
    pub async fn reset_rate_limit(&self, key: &str) -> Result<bool> {
        let key = self.rate_limit_key(key)?;
        let mut c = self.pool.get().await?;
        let row = c.query_opt("SELECT auth_rl_reset($1)", &[&key]).await?;
        Ok(row.map(|r| r.get::<_, bool>(0)).unwrap_or(false))
    }

    async fn one_bool(
        &self,
        sql: &'static str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<bool> {
        let mut c = self.pool.get().await?;
        let row = c.query_opt(sql, params).await?;
        Ok(row.and_then(|r| r.get::<_, Option<bool>>(0)).unwrap_or(false))
    }

    async fn one_text(
        &self,
        sql: &'static str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Option<String>> {
        let mut c = self.pool.get().await?;
        let row = c.query_opt(sql, params).await?;
        Ok(row.and_then(|r| r.get::<_, Option<String>>(0)))
    }
}

impl SecondaryStorage for AuthStore {
    fn get<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<String>> {
        Box::pin(async move {
            let key = self.secondary_key(key)?;
            self.one_text("SELECT auth_kv_get($1)", &[&key]).await
        })
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: String,
        ttl_seconds: Option<u64>,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let key = self.secondary_key(key)?;
            check_text(&value, "value contains NUL")?;
            // Some(0): the server leaves the key absent, as RustAuth defines it
            let ttl = ttl_arg(ttl_seconds);
            let mut c = self.pool.get().await?;
            c.query_opt("SELECT auth_kv_set($1, $2, $3)", &[&key, &value, &ttl])
                .await?;
            Ok(())
        })
    }

    fn set_if_not_exists<'a>(
        &'a self,
        key: &'a str,
        value: String,
        ttl_seconds: Option<u64>,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let key = self.secondary_key(key)?;
            check_text(&value, "value contains NUL")?;
            if ttl_seconds == Some(0) {
                return Ok(false);
            }
            let ttl = ttl_arg(ttl_seconds);
            self.one_bool(
                "SELECT auth_kv_set_if_not_exists($1, $2, $3)",
                &[&key, &value, &ttl],
            )
            .await
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let key = self.secondary_key(key)?;
            self.one_bool("SELECT auth_kv_delete($1)", &[&key]).await?;
            Ok(())
        })
    }

    fn take<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<String>> {
        Box::pin(async move {
            let key = self.secondary_key(key)?;
            self.one_text("SELECT auth_kv_take($1)", &[&key]).await
        })
    }

    fn compare_and_set<'a>(
        &'a self,
        key: &'a str,
        expected: Option<String>,
        value: String,
        ttl_seconds: Option<u64>,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let key = self.secondary_key(key)?;
            check_text(&value, "value contains NUL")?;
            if let Some(e) = &expected {
                if e.contains('\0') {
                    // no stored value can hold NUL, so none can match
                    return Ok(false);
                }
            }
            let ttl = ttl_arg(ttl_seconds);
            self.one_bool(
                "SELECT auth_kv_compare_and_set($1, $2, $3, $4)",
                &[&key, &expected, &value, &ttl],
            )
            .await
        })
    }

    fn delete_if_value<'a>(
        &'a self,
        key: &'a str,
        expected: Option<String>,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let key = self.secondary_key(key)?;
            match &expected {
                None => return Ok(false),
                Some(e) if e.contains('\0') => return Ok(false),
                Some(_) => {}
            }
            self.one_bool("SELECT auth_kv_delete_if_value($1, $2)", &[&key, &expected])
                .await
        })
    }
}

impl RateLimitStore for AuthStore {
    fn consume(&self, input: RateLimitConsumeInput) -> StoreFuture<'_, RateLimitDecision> {
        Box::pin(async move {
            if input.rule.window == 0 {
                return Err(Error::InvalidInput("rate limit window must be greater than zero"));
            }
            if input.rule.max == 0 {
                return Err(Error::InvalidInput("rate limit max must be greater than zero"));
            }
            let max = i32::try_from(input.rule.max)
                .map_err(|_| Error::InvalidInput("rate limit max must fit in a 32-bit integer"))?;
            let window = input.rule.window as f64;
            let key = self.rate_limit_key(&input.key)?;
            let mut c = self.pool.get().await?;
            let row = c
                .query_opt(
                    "SELECT allowed, remaining, retry_after FROM auth_rl_hit($1, $2, $3)",
                    &[&key, &window, &max],
                )
                .await?
                .ok_or_else(|| Error::Connection("no row returned".to_owned()))?;
            let permitted: bool = row.get(0);
            let remaining: i32 = row.get(1);
            let retry_after = ceil_seconds(row.get::<_, f64>(2));
            Ok(RateLimitDecision {
                permitted,
                retry_after: if permitted { 0 } else { retry_after },
                limit: input.rule.max,
                remaining: remaining.max(0) as u64,
                reset_after: if permitted { 0 } else { retry_after },
            })
        })
    }
}

impl TokenStore for AuthStore {
    fn issue<'a>(
        &'a self,
        subject: &'a str,
        kind: &'a str,
        ttl_seconds: u64,
    ) -> StoreFuture<'a, String> {
        Box::pin(async move {
            if ttl_seconds == 0 {
                return Err(Error::InvalidInput("token ttl must be greater than zero"));
            }
            check_text(subject, "subject contains NUL")?;
            check_text(kind, "kind contains NUL")?;
            let ttl = ttl_seconds as f64;
            self.one_text("SELECT auth_token_issue($1, $2, $3)", &[&subject, &kind, &ttl])
                .await?
                .ok_or_else(|| Error::Connection("no token returned".to_owned()))
        })
    }

    fn verify<'a>(&'a self, token: &'a str, kind: &'a str) -> StoreFuture<'a, Option<String>> {
        Box::pin(async move {
            if token.contains('\0') || kind.contains('\0') {
                return Ok(None);
            }
            self.one_text("SELECT auth_token_verify($1, $2)", &[&token, &kind])
                .await
        })
    }

    fn consume<'a>(&'a self, token: &'a str, kind: &'a str) -> StoreFuture<'a, Option<String>> {
        Box::pin(async move {
            if token.contains('\0') || kind.contains('\0') {
                return Ok(None);
            }
            self.one_text("SELECT auth_token_consume($1, $2)", &[&token, &kind])
                .await
        })
    }

    fn revoke<'a>(&'a self, subject: &'a str, kind: Option<&'a str>) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            check_text(subject, "subject contains NUL")?;
            if let Some(k) = kind {
                check_text(k, "kind contains NUL")?;
            }
            let mut c = self.pool.get().await?;
            let row = c
                .query_opt("SELECT auth_token_revoke($1, $2)", &[&subject, &kind])
                .await?
                .ok_or_else(|| Error::Connection("no row returned".to_owned()))?;
            Ok(row.get::<_, i64>(0).max(0) as u64)
        })
    }
}
