use openauth_core::error::OpenAuthError;
use openauth_core::options::{SecondaryStorage, SecondaryStorageFuture};

/// authstore as RustAuth's secondary storage.
pub struct AuthstoreSecondary(pub authstore::AuthStore);

fn adapter(e: authstore::Error) -> OpenAuthError {
    // authstore's errors carry no keys, values or tokens
    OpenAuthError::Adapter(e.to_string())
}

impl SecondaryStorage for AuthstoreSecondary {
    fn get<'a>(&'a self, key: &'a str) -> SecondaryStorageFuture<'a, Option<String>> {
        Box::pin(async move { authstore::SecondaryStorage::get(&self.0, key).await.map_err(adapter) })
    }

    fn set<'a>(
        &'a self,
        key: &'a str,
        value: String,
        ttl_seconds: Option<u64>,
    ) -> SecondaryStorageFuture<'a, ()> {
        Box::pin(async move {
            authstore::SecondaryStorage::set(&self.0, key, value, ttl_seconds)
                .await
                .map_err(adapter)
        })
    }

    fn set_if_not_exists<'a>(
        &'a self,
        key: &'a str,
        value: String,
        ttl_seconds: Option<u64>,
    ) -> SecondaryStorageFuture<'a, bool> {
        Box::pin(async move {
            authstore::SecondaryStorage::set_if_not_exists(&self.0, key, value, ttl_seconds)
                .await
                .map_err(adapter)
        })
    }

    fn delete<'a>(&'a self, key: &'a str) -> SecondaryStorageFuture<'a, ()> {
        Box::pin(async move { authstore::SecondaryStorage::delete(&self.0, key).await.map_err(adapter) })
    }

    fn take<'a>(&'a self, key: &'a str) -> SecondaryStorageFuture<'a, Option<String>> {
        Box::pin(async move { authstore::SecondaryStorage::take(&self.0, key).await.map_err(adapter) })
    }

    fn compare_and_set<'a>(
        &'a self,
        key: &'a str,
        expected: Option<String>,
        value: String,
        ttl_seconds: Option<u64>,
    ) -> SecondaryStorageFuture<'a, bool> {
        Box::pin(async move {
            authstore::SecondaryStorage::compare_and_set(&self.0, key, expected, value, ttl_seconds)
                .await
                .map_err(adapter)
        })
    }

    fn delete_if_value<'a>(
        &'a self,
        key: &'a str,
        expected: Option<String>,
    ) -> SecondaryStorageFuture<'a, bool> {
        Box::pin(async move {
            authstore::SecondaryStorage::delete_if_value(&self.0, key, expected)
                .await
                .map_err(adapter)
        })
    }
}
