//! `user_default_device`: the SIP credentials of the caller's default device (PROTOCOL-NOTES
//! c.1, c.2). We keep only the digest HA1 of a device, never its password, so both variants
//! carry `ha1`; the `sip` variant sends `ha1` where the reference sends `password`.

use super::WsConfig;
use crate::auth::Session;
use crate::error::{ApiError, ApiResult};
use crate::AppState;
use serde_json::{Map, Value};
use switchboard_store::StoreError;

const NO_DEVICE: &str = "store.sql_user.get_default_device.app_error";

/// Where this server is reachable, as seen by the client when the socket was opened.
#[derive(Debug, Clone)]
pub struct Origin {
    /// `ws` or `wss`.
    pub ws_scheme: &'static str,
    /// `host[:port]`.
    pub host: String,
}

impl Origin {
    /// From the upgrade request: `X-Forwarded-Proto`/`X-Forwarded-Host` from a proxy, else
    /// whether this listener serves TLS and the `Host` header.
    pub fn from_headers(headers: &axum::http::HeaderMap, tls: bool) -> Self {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(str::trim)
                .filter(|v| !v.is_empty())
        };
        let ws_scheme = match header("x-forwarded-proto") {
            Some(p) if p.eq_ignore_ascii_case("https") || p.eq_ignore_ascii_case("wss") => "wss",
            Some(p) if p.eq_ignore_ascii_case("http") || p.eq_ignore_ascii_case("ws") => "ws",
            _ if tls => "wss",
            _ => "ws",
        };
        let host = header("x-forwarded-host")
            .or_else(|| header("host"))
            .filter(|h| valid_host(h))
            .unwrap_or("localhost")
            .to_string();
        Self { ws_scheme, host }
    }
}

/// Host names and ports only, so that a forged header cannot inject anything into a URL.
fn valid_host(h: &str) -> bool {
    h.len() <= 255
        && h.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

/// The SIP-over-WebSocket URL handed to JsSIP.
pub fn sip_ws_url(cfg: &WsConfig, origin: &Origin) -> String {
    if let Some(url) = cfg.sip_ws_url.as_deref().filter(|u| !u.is_empty()) {
        return url.to_string();
    }
    if let Some(base) = cfg.public_url.as_deref().filter(|u| !u.is_empty()) {
        let base = base.trim_end_matches('/');
        let ws = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            base.to_string()
        };
        return format!("{ws}/sip");
    }
    format!("{}://{}/sip", origin.ws_scheme, origin.host)
}

/// The SIP proxy for hardware phones: configured, else the host the client used, without port.
fn sip_proxy(cfg: &WsConfig, origin: &Origin) -> String {
    if let Some(p) = cfg.sip_proxy.as_deref().filter(|p| !p.is_empty()) {
        return p.to_string();
    }
    let host = match origin.host.strip_prefix('[') {
        Some(v6) => format!("[{}]", v6.split(']').next().unwrap_or(v6)),
        None => origin.host.split(':').next().unwrap_or("").to_string(),
    };
    format!("sip:{host}")
}

fn no_device(user_id: i64, why: &str) -> ApiError {
    ApiError::new(404, NO_DEVICE, format!("UserId={user_id}, {why}"))
}

/// The reply to `user_default_device {name}`.
pub async fn default_device(
    state: &AppState,
    session: &Session,
    origin: &Origin,
    name: &str,
) -> ApiResult<Map<String, Value>> {
    let user = match state
        .store
        .get_user(session.domain_id, session.user_id)
        .await
    {
        Ok(u) => u,
        Err(StoreError::NotFound(_)) => return Err(no_device(session.user_id, "no such user")),
        Err(e) => return Err(e.into()),
    };
    let Some((device_id, _)) = user.device else {
        return Err(no_device(user.id, "the user has no default device"));
    };
    if user.extension.is_empty() {
        return Err(no_device(user.id, "the user has no extension"));
    }
    let device = match state.store.get_device(session.domain_id, device_id).await {
        Ok(d) => d,
        Err(StoreError::NotFound(_)) => {
            return Err(no_device(user.id, "the default device no longer exists"))
        }
        Err(e) => return Err(e.into()),
    };
    let realm = session.domain_name.clone();
    let cfg = &state.ws;
    let mut out = Map::new();
    if name == "sip" {
        out.insert("domain".into(), realm.into());
        out.insert("auth".into(), device.account.into());
        out.insert("extension".into(), user.extension.into());
        out.insert("ha1".into(), device.ha1.into());
        out.insert("proxy".into(), sip_proxy(cfg, origin).into());
    } else {
        out.insert("server".into(), sip_ws_url(cfg, origin).into());
        out.insert(
            "uri".into(),
            format!("sip:{}@{}", user.extension, realm).into(),
        );
        out.insert(
            "display_name".into(),
            user.display_name().replace('"', "").into(),
        );
        out.insert("extension".into(), user.extension.into());
        out.insert("realm".into(), realm.into());
        out.insert("authorization_user".into(), device.account.into());
        out.insert("ha1".into(), device.ha1.into());
        out.insert("register_expires".into(), cfg.register_expires.into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderMap;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn the_sip_url_follows_the_request() {
        let cfg = WsConfig::default();
        let o = Origin::from_headers(&headers(&[("host", "pbx.lo:8080")]), false);
        assert_eq!(sip_ws_url(&cfg, &o), "ws://pbx.lo:8080/sip");
        let o = Origin::from_headers(&headers(&[("host", "pbx.lo")]), true);
        assert_eq!(sip_ws_url(&cfg, &o), "wss://pbx.lo/sip");
        let o = Origin::from_headers(
            &headers(&[
                ("host", "10.0.0.1:8080"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "pbx.example.com"),
            ]),
            false,
        );
        assert_eq!(sip_ws_url(&cfg, &o), "wss://pbx.example.com/sip");
        assert_eq!(sip_proxy(&cfg, &o), "sip:pbx.example.com");
        let o = Origin::from_headers(&headers(&[("host", "evil/x?y")]), false);
        assert_eq!(o.host, "localhost");
        let o = Origin::from_headers(&headers(&[("host", "[::1]:8080")]), false);
        assert_eq!(sip_proxy(&cfg, &o), "sip:[::1]");
    }

    #[test]
    fn configured_urls_win() {
        let o = Origin::from_headers(&headers(&[("host", "a")]), false);
        let cfg = WsConfig {
            public_url: Some("https://pbx.example.com/".into()),
            ..WsConfig::default()
        };
        assert_eq!(sip_ws_url(&cfg, &o), "wss://pbx.example.com/sip");
        let cfg = WsConfig {
            sip_ws_url: Some("wss://sip.example.com/sip".into()),
            ..cfg
        };
        assert_eq!(sip_ws_url(&cfg, &o), "wss://sip.example.com/sip");
    }
}
