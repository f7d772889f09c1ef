//! The connection to the target cluster: a small async runtime (two workers) and one driver
//! session over the contact points, with the user's credentials and pool size. The loader's
//! work is synchronous; it blocks on the runtime for each request it needs answered and hands
//! writes to [`crate::send`], which runs them on the same runtime.
//!
//! A session that cannot be set up is reported by cause ([`crate::error::connect_error`]): no
//! contact point answered (`cannot reach HOST:PORT (connection refused)`), the credentials were
//! refused, or the driver's own error.

use std::sync::Arc;

use scylla::client::session::Session;
use scylla::client::session_builder::SessionBuilder;

use crate::error::connect_error;
use crate::{LoadError, LoadOptions};

/// A connected session and the runtime it runs on.
pub(crate) struct Target {
    /// The runtime every request runs on.
    pub rt: tokio::runtime::Runtime,
    /// The driver's session.
    pub session: Arc<Session>,
}

impl Target {
    /// Connect to `o.hosts` as `o.credentials`, with `o.connections` per host.
    pub fn connect(o: &LoadOptions) -> Result<Target, LoadError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(LoadError::Runtime)?;
        let mut b = SessionBuilder::new();
        for h in &o.hosts {
            b = b.known_node(h);
        }
        if let Some((u, p)) = &o.credentials {
            b = b.user(u, p);
        }
        if let Some(n) = std::num::NonZeroUsize::new(o.connections) {
            b = b.pool_size(scylla::client::PoolSize::PerHost(n));
        }
        let session = rt.block_on(b.build()).map_err(|e| connect_error(&o.hosts, e))?;
        Ok(Target { rt, session: Arc::new(session) })
    }
}
