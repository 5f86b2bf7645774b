//! Parity tests against a live server (RustAuth's contract and live test
//! list: set/get/delete, TTL expiry, ttl 0, set-if-not-exists, take, CAS,
//! delete-if, list/clear with glob metacharacters, clear preserving
//! rate-limit state, rate-limit windows and concurrency).  Concurrency tests
//! give every task a store of its own with one connection, so the calls
//! really run in separate server sessions.

mod common;

use std::sync::Arc;
use std::time::Duration;

use authstore::{
    Error, RateLimitConsumeInput, RateLimitRule, RateLimitStore, SecondaryStorage, TokenStore,
};

fn rl(key: &str, window: u64, max: u64) -> RateLimitConsumeInput {
    RateLimitConsumeInput {
        key: key.to_owned(),
        rule: RateLimitRule { window, max },
        now_ms: 0,
    }
}

/// RateLimitStore::consume (TokenStore has a consume too).
async fn hit(
    s: &authstore::AuthStore,
    input: RateLimitConsumeInput,
) -> Result<authstore::RateLimitDecision, Error> {
    RateLimitStore::consume(s, input).await
}

/// Run `n` tasks, each on its own connection, and count the `true`s.
async fn count_winners<F, Fut>(prefix: &str, n: usize, f: F) -> usize
where
    F: Fn(authstore::AuthStore, usize) -> Fut,
    Fut: std::future::Future<Output = bool> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(n));
    let mut tasks = Vec::new();
    for i in 0..n {
        let s = common::store(prefix, 1);
        // open the connection before the race starts
        let _ = s.get("warm-up").await.unwrap();
        let fut = f(s, i);
        let b = barrier.clone();
        tasks.push(tokio::spawn(async move {
            b.wait().await;
            fut.await
        }));
    }
    let mut wins = 0;
    for t in tasks {
        if t.await.unwrap() {
            wins += 1;
        }
    }
    wins
}

#[tokio::test]
async fn set_get_delete() {
    let s = common::store("sgd", 2);
    assert_eq!(s.get("k").await.unwrap(), None);
    s.set("k", "v".into(), None).await.unwrap();
    assert_eq!(s.get("k").await.unwrap().as_deref(), Some("v"));
    s.set("k", "w".into(), Some(60)).await.unwrap();
    assert_eq!(s.get("k").await.unwrap().as_deref(), Some("w"));
    s.delete("k").await.unwrap();
    assert_eq!(s.get("k").await.unwrap(), None);
    // deleting an absent key is not an error
    s.delete("k").await.unwrap();
    // an empty value is a value
    s.set("e", String::new(), None).await.unwrap();
    assert_eq!(s.get("e").await.unwrap().as_deref(), Some(""));
    s.clear().await.unwrap();
}

#[tokio::test]
async fn ttl_expiry() {
    let s = common::store("ttl", 1);
    s.set("short", "v".into(), Some(1)).await.unwrap();
    s.set("long", "v".into(), Some(60)).await.unwrap();
    assert_eq!(s.get("short").await.unwrap().as_deref(), Some("v"));
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(s.get("short").await.unwrap(), None);
    assert_eq!(s.take("short").await.unwrap(), None);
    assert_eq!(s.get("long").await.unwrap().as_deref(), Some("v"));
    // an expired key is absent for set-if-not-exists and CAS
    s.set("exp", "old".into(), Some(1)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(!s.compare_and_set("exp", Some("old".into()), "x".into(), None).await.unwrap());
    assert!(s.set_if_not_exists("exp", "new".into(), None).await.unwrap());
    assert_eq!(s.get("exp").await.unwrap().as_deref(), Some("new"));
    s.clear().await.unwrap();
}

#[tokio::test]
async fn ttl_zero() {
    let s = common::store("ttl0", 1);
    // set with Some(0) deletes the key and stores nothing
    s.set("k", "v".into(), None).await.unwrap();
    s.set("k", "w".into(), Some(0)).await.unwrap();
    assert_eq!(s.get("k").await.unwrap(), None);
    s.set("never", "w".into(), Some(0)).await.unwrap();
    assert_eq!(s.get("never").await.unwrap(), None);
    // set-if-not-exists with Some(0): false, nothing touched
    assert!(!s.set_if_not_exists("absent", "v".into(), Some(0)).await.unwrap());
    assert_eq!(s.get("absent").await.unwrap(), None);
    s.set("live", "v".into(), None).await.unwrap();
    assert!(!s.set_if_not_exists("live", "x".into(), Some(0)).await.unwrap());
    assert_eq!(s.get("live").await.unwrap().as_deref(), Some("v"));
    // CAS with Some(0): a match deletes (as RustAuth's Redis backend does);
    // expecting absence is false and stores nothing
    assert!(!s.compare_and_set("live", Some("x".into()), "y".into(), Some(0)).await.unwrap());
    assert_eq!(s.get("live").await.unwrap().as_deref(), Some("v"));
    assert!(s.compare_and_set("live", Some("v".into()), "y".into(), Some(0)).await.unwrap());
    assert_eq!(s.get("live").await.unwrap(), None);
    assert!(!s.compare_and_set("live", None, "y".into(), Some(0)).await.unwrap());
    assert_eq!(s.get("live").await.unwrap(), None);
    s.clear().await.unwrap();
}

#[tokio::test]
async fn set_if_not_exists() {
    let s = common::store("nx", 1);
    assert!(s.set_if_not_exists("lock", "a".into(), Some(30)).await.unwrap());
    assert!(!s.set_if_not_exists("lock", "b".into(), Some(30)).await.unwrap());
    assert_eq!(s.get("lock").await.unwrap().as_deref(), Some("a"));
    assert!(s.set_if_not_exists("forever", "a".into(), None).await.unwrap());
    s.clear().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn set_if_not_exists_concurrent_one_winner() {
    let wins = count_winners("nxrace", 12, |s, i| async move {
        s.set_if_not_exists("lock", format!("owner-{i}"), Some(30)).await.unwrap()
    })
    .await;
    assert_eq!(wins, 1);
    common::store("nxrace", 1).clear().await.unwrap();
}

#[tokio::test]
async fn take() {
    let s = common::store("take", 1);
    s.set("otp", "123456".into(), Some(300)).await.unwrap();
    assert_eq!(s.take("otp").await.unwrap().as_deref(), Some("123456"));
    assert_eq!(s.take("otp").await.unwrap(), None);
    assert_eq!(s.get("otp").await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn take_concurrent_one_winner() {
    common::store("takerace", 1).set("otp", "x".into(), None).await.unwrap();
    let wins = count_winners("takerace", 12, |s, _| async move {
        s.take("otp").await.unwrap().is_some()
    })
    .await;
    assert_eq!(wins, 1);
}

#[tokio::test]
async fn compare_and_set() {
    let s = common::store("cas", 1);
    assert!(s.compare_and_set("k", None, "v1".into(), Some(60)).await.unwrap());
    assert!(!s.compare_and_set("k", None, "v2".into(), Some(60)).await.unwrap());
    assert!(!s.compare_and_set("k", Some("v0".into()), "v2".into(), None).await.unwrap());
    assert!(!s.compare_and_set("k", Some("V1".into()), "v2".into(), None).await.unwrap());
    assert_eq!(s.get("k").await.unwrap().as_deref(), Some("v1"));
    assert!(s.compare_and_set("k", Some("v1".into()), "v2".into(), None).await.unwrap());
    assert_eq!(s.get("k").await.unwrap().as_deref(), Some("v2"));
    assert!(!s.compare_and_set("absent", Some("v1".into()), "x".into(), None).await.unwrap());
    assert_eq!(s.get("absent").await.unwrap(), None);
    s.clear().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compare_and_set_concurrent_one_winner() {
    common::store("casrace", 1).set("k", "start".into(), None).await.unwrap();
    let wins = count_winners("casrace", 16, |s, i| async move {
        s.compare_and_set("k", Some("start".into()), format!("w{i}"), Some(60))
            .await
            .unwrap()
    })
    .await;
    assert_eq!(wins, 1);
    // expecting absence: one winner too
    let wins = count_winners("casrace", 16, |s, i| async move {
        s.compare_and_set("fresh", None, format!("w{i}"), Some(60)).await.unwrap()
    })
    .await;
    assert_eq!(wins, 1);
    common::store("casrace", 1).clear().await.unwrap();
}

#[tokio::test]
async fn delete_if_value() {
    let s = common::store("delif", 1);
    s.set("lock", "owner-1".into(), Some(30)).await.unwrap();
    assert!(!s.delete_if_value("lock", Some("owner-2".into())).await.unwrap());
    assert!(!s.delete_if_value("lock", None).await.unwrap());
    assert_eq!(s.get("lock").await.unwrap().as_deref(), Some("owner-1"));
    assert!(s.delete_if_value("lock", Some("owner-1".into())).await.unwrap());
    assert_eq!(s.get("lock").await.unwrap(), None);
    assert!(!s.delete_if_value("lock", Some("owner-1".into())).await.unwrap());
    assert!(!s.delete_if_value("lock", None).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn delete_if_value_concurrent_one_winner() {
    common::store("delrace", 1).set("lock", "me".into(), None).await.unwrap();
    let wins = count_winners("delrace", 12, |s, _| async move {
        s.delete_if_value("lock", Some("me".into())).await.unwrap()
    })
    .await;
    assert_eq!(wins, 1);
}

#[tokio::test]
async fn list_and_clear_with_glob_metacharacters() {
    let s = common::store("glob", 1);
    let other = common::store("glob-other", 1);
    let keys = ["a*", "b?", "[c]", "d\\e", "%_", "plain"];
    for k in keys {
        s.set(k, "v".into(), None).await.unwrap();
    }
    other.set("*", "v".into(), None).await.unwrap();
    let mut expected: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
    expected.sort();
    assert_eq!(s.list_keys().await.unwrap(), expected);
    assert_eq!(s.clear().await.unwrap(), keys.len() as u64);
    assert!(s.list_keys().await.unwrap().is_empty());
    // another prefix is untouched
    assert_eq!(other.list_keys().await.unwrap(), vec!["*".to_owned()]);
    other.clear().await.unwrap();
}

#[tokio::test]
async fn clear_preserves_rate_limit_state() {
    let s = common::store("clear-rl", 1);
    s.set("k", "v".into(), None).await.unwrap();
    let d = hit(&s, rl("ip", 60, 1)).await.unwrap();
    assert!(d.permitted);
    s.clear().await.unwrap();
    assert_eq!(s.get("k").await.unwrap(), None);
    let d = hit(&s, rl("ip", 60, 1)).await.unwrap();
    assert!(!d.permitted, "clear() must not reset rate limits");
    assert!(s.reset_rate_limit("ip").await.unwrap());
}

#[tokio::test]
async fn rate_limit_window() {
    let s = common::store("rl", 1);
    for i in 1..=3 {
        let d = hit(&s, rl("ip", 60, 3)).await.unwrap();
        assert!(d.permitted);
        assert_eq!((d.limit, d.remaining, d.retry_after), (3, 3 - i, 0));
    }
    let d = hit(&s, rl("ip", 60, 3)).await.unwrap();
    assert!(!d.permitted);
    assert_eq!(d.remaining, 0);
    assert!(d.retry_after > 0 && d.retry_after <= 60, "{d:?}");
    assert_eq!(d.reset_after, d.retry_after);
    // keys are independent
    assert!(hit(&s, rl("other-ip", 60, 3)).await.unwrap().permitted);
    // bad rules are refused before the server is asked
    assert_eq!(
        hit(&s, rl("ip", 0, 3)).await.unwrap_err(),
        Error::InvalidInput("rate limit window must be greater than zero")
    );
    assert!(matches!(hit(&s, rl("ip", 60, 0)).await, Err(Error::InvalidInput(_))));
    assert!(matches!(hit(&s, rl("ip", 60, u64::MAX)).await, Err(Error::InvalidInput(_))));
    s.reset_rate_limit("ip").await.unwrap();
    s.reset_rate_limit("other-ip").await.unwrap();
}

/// authstore resets a window when the elapsed time is >= the window (like
/// Better Auth 1.7) and decides on the server's clock, not on `now_ms`.
#[tokio::test]
async fn rate_limit_window_boundary_and_server_clock() {
    let t0 = 4102444800.0;
    let at = |t: f64| common::store_at("rl-clock", t);
    assert!(hit(&at(t0), rl("ip", 10, 1)).await.unwrap().permitted);
    // now_ms far in the future changes nothing: the server's clock decides
    let mut late = rl("ip", 10, 1);
    late.now_ms = i64::MAX;
    let d = hit(&at(t0 + 9.999), late).await.unwrap();
    assert!(!d.permitted);
    assert_eq!(d.retry_after, 1, "0.001 s left rounds up to 1 s");
    // exactly one window later: a new window (elapsed >= window)
    assert!(hit(&at(t0 + 10.0), rl("ip", 10, 1)).await.unwrap().permitted);
    at(t0).reset_rate_limit("ip").await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rate_limit_concurrent_exactly_max() {
    let wins = count_winners("rlrace", 20, |s, _| async move {
        hit(&s, rl("burst", 60, 5)).await.unwrap().permitted
    })
    .await;
    assert_eq!(wins, 5);
    common::store("rlrace", 1).reset_rate_limit("burst").await.unwrap();
}

#[tokio::test]
async fn namespaces_are_redis_compatible() {
    // what the server stores: {prefix}secondary:{key}, {prefix}rate-limit:{key}
    let (client, conn) = tokio_postgres::connect(&common::conninfo(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let s = common::store("ns", 1);
    s.set("session:abc", "v".into(), None).await.unwrap();
    hit(&s, rl("1.2.3.4|/sign-in", 60, 5)).await.unwrap();
    let kv: Vec<String> = client
        .query("SELECT k FROM auth_kv_keys('test-ns:') k", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(kv, vec!["test-ns:secondary:session:abc".to_owned()]);
    let reset: bool = client
        .query_one("SELECT auth_rl_reset('test-ns:rate-limit:1.2.3.4|/sign-in')", &[])
        .await
        .unwrap()
        .get(0);
    assert!(reset);
    s.clear().await.unwrap();
}

/// Redis stores NUL bytes; PostgreSQL text cannot.  The crate refuses them
/// with a clear error and stores nothing.
#[tokio::test]
async fn nul_in_values_differs_from_redis() {
    let s = common::store("nul", 1);
    assert_eq!(
        s.set("k", "a\0b".into(), None).await.unwrap_err(),
        Error::InvalidInput("value contains NUL")
    );
    assert_eq!(s.get("k").await.unwrap(), None);
    assert!(matches!(s.get("k\0").await, Err(Error::InvalidInput(_))));
    // no stored value can equal one with NUL
    s.set("k", "ab".into(), None).await.unwrap();
    assert!(!s.compare_and_set("k", Some("a\0b".into()), "x".into(), None).await.unwrap());
    assert!(!s.delete_if_value("k", Some("a\0b".into())).await.unwrap());
    s.clear().await.unwrap();
}

#[tokio::test]
async fn errors_never_carry_keys_values_or_tokens() {
    let s = common::store("errors", 1);
    let secret_key = format!("secret-{}", "k".repeat(2000));
    let e = s.set(&secret_key, "secret-value".into(), None).await.unwrap_err();
    assert!(matches!(&e, Error::Database { code, .. } if code == "54000"), "{e:?}");
    for shown in [e.to_string(), format!("{e:?}")] {
        assert!(!shown.contains("secret"), "{shown}");
    }
    let e = s
        .compare_and_set(&secret_key, Some("secret-old".into()), "secret-new".into(), None)
        .await
        .unwrap_err();
    assert!(!format!("{e} {e:?}").contains("secret"));
    let e = s.issue("secret-subject", "k", 0).await.unwrap_err();
    assert!(!format!("{e} {e:?}").contains("secret"));
    // a server that cannot be reached: the message names no key
    let mut o = authstore::Options::new("host=/nonexistent-dir port=1 connect_timeout=1");
    o.pool_size = 1;
    let bad = authstore::AuthStore::new(o).unwrap();
    let e = bad.get("secret-key").await.unwrap_err();
    assert!(matches!(e, Error::Connection(_)));
    assert!(!format!("{e} {e:?}").contains("secret"));
}

#[tokio::test]
async fn tokens_hashed_kind_checked_consumed_once() {
    let s = common::store("tokens", 1);
    let t = s.issue("user-1", "reset", 60).await.unwrap();
    assert_eq!(t.len(), 43);
    // a wrong kind neither reveals nor burns it
    assert_eq!(s.verify(&t, "verify-email").await.unwrap(), None);
    assert_eq!(TokenStore::consume(&s, &t, "verify-email").await.unwrap(), None);
    assert_eq!(s.verify(&t, "reset").await.unwrap().as_deref(), Some("user-1"));
    assert_eq!(TokenStore::consume(&s, &t, "reset").await.unwrap().as_deref(), Some("user-1"));
    assert_eq!(TokenStore::consume(&s, &t, "reset").await.unwrap(), None);
    // only a hash is stored: the token string is nowhere in the table
    let (client, conn) = tokio_postgres::connect(&common::conninfo(), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let t2 = s.issue("user-1", "reset", 60).await.unwrap();
    let found: i64 = client
        .query_one(
            "SELECT count(*) FROM authstore.token WHERE position($1::bytea in hash) > 0 \
             OR subject = $2",
            &[&t2.as_bytes(), &t2],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(found, 0);
    assert_eq!(s.revoke("user-1", Some("reset")).await.unwrap(), 1);
    assert_eq!(s.verify(&t2, "reset").await.unwrap(), None);
    assert!(matches!(s.issue("user-1", "reset", 0).await, Err(Error::InvalidInput(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn token_consume_concurrent_one_winner() {
    let t = common::store("tokrace", 1).issue("user-2", "login", 60).await.unwrap();
    let t = Arc::new(t);
    let wins = count_winners("tokrace", 12, move |s, _| {
        let t = t.clone();
        async move { TokenStore::consume(&s, &t, "login").await.unwrap().is_some() }
    })
    .await;
    assert_eq!(wins, 1);
}

/// More tasks than connections: the pool makes them take turns.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pool_shares_few_connections() {
    let s = common::store("pool", 2);
    let mut tasks = Vec::new();
    for i in 0..40 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            s.set(&format!("k{i}"), i.to_string(), None).await.unwrap();
            s.get(&format!("k{i}")).await.unwrap()
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        assert_eq!(t.await.unwrap(), Some(i.to_string()));
    }
    assert_eq!(s.list_keys().await.unwrap().len(), 40);
    assert_eq!(s.clear().await.unwrap(), 40);
}
