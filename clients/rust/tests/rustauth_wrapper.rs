//! The wrapper README.md shows a RustAuth user, compiled against a local
//! copy of the shape of RustAuth's trait (rustauth-core is not packaged in
//! Debian, so the crate cannot depend on it), and run against the server.

/// The shape of `openauth_core`'s error and `SecondaryStorage` trait,
/// including its default (non-atomic) `compare_and_set`/`delete_if_value`,
/// which the wrapper must override.
mod openauth_core {
    pub mod error {
        #[derive(Debug)]
        #[allow(dead_code)] // the payload is for the caller, as in RustAuth
        pub enum OpenAuthError {
            Adapter(String),
        }
    }

    pub mod options {
        use super::error::OpenAuthError;
        use std::future::Future;
        use std::pin::Pin;

        pub type SecondaryStorageFuture<'a, T> =
            Pin<Box<dyn Future<Output = Result<T, OpenAuthError>> + Send + 'a>>;

        pub trait SecondaryStorage: Send + Sync + 'static {
            fn get<'a>(&'a self, key: &'a str) -> SecondaryStorageFuture<'a, Option<String>>;
            fn set<'a>(
                &'a self,
                key: &'a str,
                value: String,
                ttl_seconds: Option<u64>,
            ) -> SecondaryStorageFuture<'a, ()>;
            fn set_if_not_exists<'a>(
                &'a self,
                key: &'a str,
                value: String,
                ttl_seconds: Option<u64>,
            ) -> SecondaryStorageFuture<'a, bool>;
            fn delete<'a>(&'a self, key: &'a str) -> SecondaryStorageFuture<'a, ()>;
            fn take<'a>(&'a self, key: &'a str) -> SecondaryStorageFuture<'a, Option<String>>;
            fn compare_and_set<'a>(
                &'a self,
                key: &'a str,
                expected: Option<String>,
                value: String,
                ttl_seconds: Option<u64>,
            ) -> SecondaryStorageFuture<'a, bool> {
                Box::pin(async move {
                    if self.get(key).await? != expected {
                        return Ok(false);
                    }
                    self.set(key, value, ttl_seconds).await?;
                    Ok(true)
                })
            }
            fn delete_if_value<'a>(
                &'a self,
                key: &'a str,
                expected: Option<String>,
            ) -> SecondaryStorageFuture<'a, bool> {
                Box::pin(async move {
                    let expected = match expected {
                        Some(expected) => expected,
                        None => return Ok(false),
                    };
                    if self.get(key).await?.as_deref() != Some(expected.as_str()) {
                        return Ok(false);
                    }
                    self.delete(key).await?;
                    Ok(true)
                })
            }
        }
    }
}

include!("wrapper/example.rs");

mod common;

#[test]
fn readme_shows_the_compiled_wrapper() {
    let readme = include_str!("../README.md");
    let example = include_str!("wrapper/example.rs");
    assert!(
        readme.contains(example),
        "README.md must show tests/wrapper/example.rs verbatim"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn wrapper_runs_against_the_server_and_cas_is_atomic() {
    use openauth_core::options::SecondaryStorage;
    use std::sync::Arc;

    let s = AuthstoreSecondary(common::store("wrapper", 1));
    s.set("k", "v1".to_owned(), Some(60)).await.unwrap();
    assert_eq!(s.get("k").await.unwrap().as_deref(), Some("v1"));
    assert!(s.compare_and_set("k", Some("v1".into()), "v2".into(), None).await.unwrap());
    assert!(!s.delete_if_value("k", Some("v1".into())).await.unwrap());
    assert_eq!(s.take("k").await.unwrap().as_deref(), Some("v2"));
    assert!(s.set_if_not_exists("k", "v3".to_owned(), Some(0)).await.is_ok());
    s.delete("k").await.unwrap();

    // through the wrapper, over separate connections, one CAS wins
    s.set("race", "start".to_owned(), None).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..12 {
        let w = Arc::new(AuthstoreSecondary(common::store("wrapper", 1)));
        tasks.push(tokio::spawn(async move {
            w.compare_and_set("race", Some("start".into()), format!("w{i}"), None)
                .await
                .unwrap()
        }));
    }
    let mut winners = 0;
    for t in tasks {
        if t.await.unwrap() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1);
    s.0.clear().await.unwrap();
}
