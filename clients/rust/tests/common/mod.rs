//! Shared by the live tests: a store on the server the test command started.
#![allow(dead_code)]

use authstore::{AuthStore, Options};

/// The connection string of the test server.  Missing is a failure, not a
/// skip: `test.sh` always sets it.
pub fn conninfo() -> String {
    std::env::var("AUTHSTORE_TEST_DSN")
        .expect("AUTHSTORE_TEST_DSN must name a database with authstore (run clients/rust/test.sh)")
}

/// A store whose keys live under a prefix of the test's own.
pub fn store(prefix: &str, pool_size: usize) -> AuthStore {
    let mut o = Options::new(conninfo());
    o.key_prefix = format!("test-{prefix}:");
    o.pool_size = pool_size;
    AuthStore::new(o).expect("valid options")
}

/// A store on a pinned server clock (superuser only: the test server's role).
pub fn store_at(prefix: &str, unix_seconds: f64) -> AuthStore {
    let mut o = Options::new(format!(
        "{} options='-c authstore.test_clock={unix_seconds}'",
        conninfo()
    ));
    o.key_prefix = format!("test-{prefix}:");
    o.pool_size = 1;
    AuthStore::new(o).expect("valid options")
}
