//! `cairn admin`: one request to a running node's admin interface.

use std::io::Write;
use std::net::SocketAddr;

use super::Outcome;
use crate::args::AdminArgs;

pub fn run(a: AdminArgs, out: &mut dyn Write) -> anyhow::Result<Outcome> {
    let token = match (&a.token, &a.data) {
        (Some(t), _) => Some(t.clone()),
        (None, Some(d)) => match std::fs::read_to_string(d.join("cairn_admin.token")) {
            Ok(t) => Some(t.trim().to_string()),
            // No token file: the node runs without authentication.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => anyhow::bail!("{}: {e}", d.join("cairn_admin.token").display()),
        },
        (None, None) => None,
    };
    let addr = SocketAddr::new(a.host, a.port);
    let reply = cairn_server::admin::request(addr, token.as_deref(), &a.command)
        .map_err(|e| anyhow::anyhow!("admin interface at {addr}: {e}"))?;
    let text = reply.map_err(|e| anyhow::anyhow!("{e}"))?;
    write!(out, "{text}")?;
    Ok(Outcome::Ok)
}
