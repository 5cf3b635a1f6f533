//! `/api/sip/gateways`: SIP gateways, in register mode (we register with a provider) or trunk
//! mode (a provider sends from addresses on the gateway's access list). The password is sealed
//! by the store and no reply carries it.

use super::{ms, oid};
use crate::auth::{Access, Caller};
use crate::error::{ApiError, ApiResult};
use crate::extract::{path_id, JsonBody, Params};
use crate::AppState;
use axum::extract::{Path, State};
use axum::Json;
use regex::Regex;
use serde_json::Value;
use std::sync::OnceLock;
use switchboard_model::{Gateway, GatewayAcl, ListResponse};
use switchboard_store::{AclEntry, GatewayFilter, GatewayInput, GatewayRow};

const CLASS: &str = "gateways";

pub const DEFAULT_EXPIRES: i64 = 600;
pub const MIN_EXPIRES: i64 = 32;
pub const MAX_EXPIRES: i64 = 3600;

fn to_wire(row: &GatewayRow) -> Gateway {
    Gateway {
        id: Some(row.id.to_string()),
        name: Some(row.name.clone()),
        description: Some(row.description.clone()),
        proxy: Some(row.proxy.clone()),
        host: Some(row.host.clone()),
        ipacl: Some(
            row.ipacl
                .iter()
                .map(|a| GatewayAcl {
                    ip: a.ip.clone(),
                    proto: a.proto.clone(),
                    port: (a.port != 0).then_some(i32::from(a.port)),
                })
                .collect(),
        ),
        account: Some(row.account.clone()),
        username: Some(row.username.clone()),
        // Write only: the plaintext stays with the store and the telephony runtime.
        password: None,
        expires: Some(i32::try_from(row.expires).unwrap_or(i32::MAX)),
        registrar: Some(row.registrar.clone()),
        register: Some(row.register),
        schema: row.schema.as_ref().map(oid),
        usage: Some(row.usage.clone()),
        enable: Some(row.enable),
        r_state: Some(i32::try_from(row.r_state).unwrap_or(0)),
        created_at: ms(row.created_at),
        created_by: row.created_by.as_ref().map(oid),
        updated_at: ms(row.updated_at),
        updated_by: row.updated_by.as_ref().map(oid),
    }
}

fn invalid(field: &str, detail: impl Into<String>) -> ApiError {
    ApiError::bad_request(format!("app.gateway.valid.{field}"), detail)
}

fn aor_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^(?:sips?:)?[\w\-.!~*()&=+$,;?/]+(?:@([\w\-.]+)(?::(\d{1,5}))?)?$")
            .expect("the AOR pattern compiles")
    })
}

/// A hostname (RFC 1123 labels) or an IPv4 address.
fn valid_host(host: &str) -> bool {
    if host.parse::<std::net::Ipv4Addr>().is_ok() {
        return true;
    }
    // A dotted quad that does not parse is a bad address, not a hostname.
    if host
        .split('.')
        .all(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return false;
    }
    host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

fn valid_port(port: &str) -> bool {
    !port.is_empty()
        && port.len() <= 5
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u32>().is_ok_and(|p| (1..=65535).contains(&p))
}

/// `[sip:|sips:]host[:port]` with host an IPv4 address or a hostname.
pub(crate) fn valid_sip_host(value: &str) -> bool {
    let v = value
        .strip_prefix("sips:")
        .or_else(|| value.strip_prefix("sip:"))
        .unwrap_or(value);
    match v.rsplit_once(':') {
        Some((host, port)) => valid_host(host) && valid_port(port),
        None => valid_host(v),
    }
}

/// A gateway's proxy: [`valid_sip_host`], optionally with `;transport=udp|tcp|tls` (how the
/// provider is reached; `sips:` alone means TLS).
fn valid_proxy(value: &str) -> bool {
    let mut parts = value.split(';');
    let host = parts.next().unwrap_or_default();
    valid_sip_host(host)
        && parts.all(|p| {
            p.split_once('=').is_some_and(|(name, v)| {
                name.eq_ignore_ascii_case("transport")
                    && ["udp", "tcp", "tls"]
                        .iter()
                        .any(|t| v.eq_ignore_ascii_case(t))
            })
        })
}

fn valid_account(account: &str) -> bool {
    let Some(c) = aor_regex().captures(account) else {
        return false;
    };
    let host_ok = c.get(1).is_none_or(|h| valid_host(h.as_str()));
    let port_ok = c.get(2).is_none_or(|p| valid_port(p.as_str()));
    host_ok && port_ok
}

fn password_error(detail: impl Into<String>) -> ApiError {
    ApiError::bad_request("sip.gateway.password.invalid", detail)
}

fn valid_password(p: &str) -> ApiResult<()> {
    if p.len() > 128 {
        return Err(password_error("password is at most 128 characters"));
    }
    if !p
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~'))
    {
        return Err(password_error(
            "password may contain only the characters A-Z a-z 0-9 - _ . ~",
        ));
    }
    Ok(())
}

fn acl_entry(i: usize, a: &GatewayAcl) -> ApiResult<AclEntry> {
    let ip = a.ip.trim();
    if switchboard_store::parse_ipv4_block(ip).is_none() {
        return Err(invalid(
            "ipacl",
            format!("ipacl[{i}].ip {ip:?} is not an IPv4 address or CIDR block (a.b.c.d[/n])"),
        ));
    }
    let proto = match a.proto.trim().to_ascii_lowercase().as_str() {
        "" | "any" => "any".to_string(),
        p @ ("udp" | "tcp") => p.to_string(),
        other => {
            return Err(invalid(
                "ipacl",
                format!("ipacl[{i}].proto {other:?} is not one of any, udp, tcp"),
            ))
        }
    };
    let port = match a.port {
        None | Some(0) => 0,
        Some(p) => u16::try_from(p).map_err(|_| {
            invalid(
                "ipacl",
                format!("ipacl[{i}].port {p} is not a port (1-65535, or null for any)"),
            )
        })?,
    };
    Ok(AclEntry {
        ip: ip.to_string(),
        proto,
        port,
    })
}

/// The gateway's stored state with `g` applied: `base` is the stored gateway on PUT/PATCH;
/// `merge` keeps absent fields (PATCH), otherwise absent fields take their create defaults
/// (PUT). An absent or empty password always keeps the stored one.
async fn apply(
    st: &AppState,
    c: &Caller,
    base: Option<&GatewayRow>,
    g: &Gateway,
    merge: bool,
) -> ApiResult<GatewayInput> {
    let text = |new: &Option<String>, old: Option<&String>| -> String {
        match (new, merge) {
            (Some(v), _) => v.trim().to_string(),
            (None, true) => old.cloned().unwrap_or_default(),
            (None, false) => String::new(),
        }
    };
    let name = text(&g.name, base.map(|b| &b.name));
    if name.is_empty() {
        return Err(invalid("name", "name is required"));
    }
    if name.chars().count() > 100 {
        return Err(invalid("name", "name is at most 100 characters"));
    }
    let register = match (g.register, merge, base) {
        (Some(r), _, _) => r,
        (None, true, Some(b)) => b.register,
        _ => false,
    };
    let enable = match (g.enable, merge, base) {
        (Some(e), _, _) => e,
        (None, true, Some(b)) => b.enable,
        _ => true,
    };
    let proxy = text(&g.proxy, base.map(|b| &b.proxy));
    let host = text(&g.host, base.map(|b| &b.host));
    let account = text(&g.account, base.map(|b| &b.account));
    let username = text(&g.username, base.map(|b| &b.username));
    let registrar = text(&g.registrar, base.map(|b| &b.registrar));
    let expires = match (g.expires, merge, base) {
        (Some(e), _, _) => i64::from(e),
        (None, true, Some(b)) => b.expires,
        _ => DEFAULT_EXPIRES,
    };
    let ipacl = match (&g.ipacl, merge, base) {
        (Some(list), _, _) => list
            .iter()
            .enumerate()
            .map(|(i, a)| acl_entry(i, a))
            .collect::<ApiResult<Vec<_>>>()?,
        (None, true, Some(b)) => b.ipacl.clone(),
        _ => Vec::new(),
    };
    let schema_id = match (&g.schema, merge, base) {
        (Some(s), _, _) => super::schemas::schema_ref(st, c, s, "gateway").await?,
        (None, true, Some(b)) => b.schema.as_ref().map(|s| s.0),
        _ => None,
    };
    let password = g.password.clone().filter(|p| !p.is_empty());
    if !proxy.is_empty() && !valid_proxy(&proxy) {
        return Err(invalid(
            "proxy",
            format!(
                "proxy {proxy:?} is not [sip:|sips:]host[:port][;transport=udp|tcp|tls] with an IPv4 address or hostname"
            ),
        ));
    }
    if proxy.is_empty() {
        return Err(invalid(
            "proxy",
            "proxy is required: the provider's address, [sip:]host[:port]",
        ));
    }
    if register {
        if account.is_empty() {
            return Err(invalid(
                "account",
                "account is required in register mode: the address of record, [sip:]user[@host[:port]]",
            ));
        }
        if !valid_account(&account) {
            return Err(invalid(
                "account",
                format!(
                    "account {account:?} is not an address of record, [sip:]user[@host[:port]]"
                ),
            ));
        }
        if username
            .chars()
            .any(|ch| ch.is_whitespace() || ch == ':' || ch == '@')
        {
            return Err(invalid(
                "username",
                "username may not contain spaces, ':' or '@'",
            ));
        }
        if !registrar.is_empty() && !valid_sip_host(&registrar) {
            return Err(invalid(
                "registrar",
                format!("registrar {registrar:?} is not [sip:|sips:]host[:port]"),
            ));
        }
        if !(MIN_EXPIRES..=MAX_EXPIRES).contains(&expires) {
            return Err(invalid(
                "expires",
                format!("expires is {expires}; it must be between {MIN_EXPIRES} and {MAX_EXPIRES} seconds"),
            ));
        }
        match &password {
            Some(p) => valid_password(p)?,
            None if base.is_some_and(|b| b.has_password) => {}
            None => {
                return Err(password_error(
                    "password is required in register mode (characters A-Z a-z 0-9 - _ . ~)",
                ))
            }
        }
    } else {
        if host.is_empty() {
            return Err(invalid(
                "host",
                "host is required in trunk mode: the host calls are sent to and arrive for",
            ));
        }
        if !valid_sip_host(&host) {
            return Err(invalid(
                "host",
                format!("host {host:?} is not an IPv4 address or hostname with an optional :port"),
            ));
        }
        if let Some(p) = &password {
            valid_password(p)?;
        }
    }
    Ok(GatewayInput {
        name,
        description: text(&g.description, base.map(|b| &b.description)),
        register,
        enable,
        proxy,
        host,
        ipacl,
        account,
        username,
        password,
        expires,
        registrar,
        schema_id,
        usage: text(&g.usage, base.map(|b| &b.usage)),
    })
}

/// Create a gateway. The reply never carries the password.
#[utoipa::path(post, path = "/api/sip/gateways", tag = "gateways", request_body = Gateway,
    responses((status = 200, body = Gateway), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn create(
    State(st): State<AppState>,
    c: Caller,
    JsonBody(g): JsonBody<Gateway>,
) -> ApiResult<Json<Gateway>> {
    c.require(CLASS, Access::Create)?;
    let input = apply(&st, &c, None, &g, false).await?;
    let row = st
        .store
        .create_gateway(c.domain_id, &input, Some(c.user_id))
        .await?;
    Ok(Json(to_wire(&row)))
}

/// Search gateways: `q` (name, proxy, host, account), `id`, `name`, `register`, paging, `sort`.
#[utoipa::path(get, path = "/api/sip/gateways", tag = "gateways",
    params(("page" = Option<i32>, Query), ("size" = Option<i32>, Query), ("q" = Option<String>, Query),
           ("sort" = Option<String>, Query), ("fields" = Option<String>, Query), ("id" = Option<Vec<String>>, Query)),
    responses((status = 200, body = ListResponse<Gateway>), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn search(State(st): State<AppState>, c: Caller, p: Params) -> ApiResult<Json<Value>> {
    c.require(CLASS, Access::Read)?;
    let page = p.page()?;
    let mut ids = p.ints("id")?;
    ids.extend(p.ints("ids")?);
    let filter = GatewayFilter {
        q: p.get("q").map(str::to_string),
        ids,
        name: p.get("name").map(str::to_string),
        register: p.get("register").map(|v| v == "true" || v == "1"),
    };
    let res = st
        .store
        .search_gateways(c.domain_id, &filter, &page)
        .await?;
    Ok(Json(super::page_json(&p, &page, &res, to_wire)))
}

/// Read a gateway (without its password).
#[utoipa::path(get, path = "/api/sip/gateways/{id}", tag = "gateways",
    params(("id" = String, Path)),
    responses((status = 200, body = Gateway), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn read(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Gateway>> {
    c.require(CLASS, Access::Read)?;
    let row = st
        .store
        .get_gateway(c.domain_id, path_id(&id, "gateway")?)
        .await?;
    Ok(Json(to_wire(&row)))
}

async fn write(
    st: AppState,
    c: Caller,
    id: String,
    g: Gateway,
    merge: bool,
) -> ApiResult<Json<Gateway>> {
    c.require(CLASS, Access::Update)?;
    let id = path_id(&id, "gateway")?;
    let base = st.store.get_gateway(c.domain_id, id).await?;
    let input = apply(&st, &c, Some(&base), &g, merge).await?;
    let row = st
        .store
        .update_gateway(c.domain_id, id, &input, Some(c.user_id))
        .await?;
    Ok(Json(to_wire(&row)))
}

/// Replace a gateway; absent fields take their defaults, an absent password stays.
#[utoipa::path(put, path = "/api/sip/gateways/{id}", tag = "gateways", request_body = Gateway,
    params(("id" = String, Path)),
    responses((status = 200, body = Gateway), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn update(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    JsonBody(g): JsonBody<Gateway>,
) -> ApiResult<Json<Gateway>> {
    write(st, c, id, g, false).await
}

/// Change some fields of a gateway.
#[utoipa::path(patch, path = "/api/sip/gateways/{id}", tag = "gateways", request_body = Gateway,
    params(("id" = String, Path)),
    responses((status = 200, body = Gateway), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn patch(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
    JsonBody(g): JsonBody<Gateway>,
) -> ApiResult<Json<Gateway>> {
    write(st, c, id, g, true).await
}

/// Delete a gateway; answers the deleted gateway.
#[utoipa::path(delete, path = "/api/sip/gateways/{id}", tag = "gateways",
    params(("id" = String, Path)),
    responses((status = 200, body = Gateway), (status = "default", body = switchboard_model::AppError)),
    security(("AccessToken" = [])))]
pub async fn delete(
    State(st): State<AppState>,
    c: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Gateway>> {
    c.require(CLASS, Access::Delete)?;
    let row = st
        .store
        .delete_gateway(c.domain_id, path_id(&id, "gateway")?)
        .await?;
    Ok(Json(to_wire(&row)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sip_hosts_are_ipv4_or_hostnames_with_an_optional_port() {
        for ok in [
            "sip:203.0.113.7:5060",
            "sips:pbx.example.com",
            "203.0.113.7",
            "trunk-1.example.org:5080",
            "localhost",
        ] {
            assert!(valid_sip_host(ok), "{ok}");
        }
        for bad in [
            "",
            "sip:",
            "300.1.1.1",
            "1.2.3",
            "host:0",
            "host:70000",
            "-bad.example",
            "a b",
            "sip:host:port",
        ] {
            assert!(!valid_sip_host(bad), "{bad}");
        }
    }

    #[test]
    fn proxies_may_name_their_transport() {
        for ok in [
            "sip:203.0.113.7:5060",
            "sip:203.0.113.7;transport=tcp",
            "sips:pbx.example.com:5061;transport=TLS",
            "trunk.example.org;transport=udp",
        ] {
            assert!(valid_proxy(ok), "{ok}");
        }
        for bad in [
            "sip:203.0.113.7;transport=sctp",
            "sip:203.0.113.7;lr",
            "sip:203.0.113.7;",
            "300.1.1.1;transport=tcp",
        ] {
            assert!(!valid_proxy(bad), "{bad}");
        }
    }

    #[test]
    fn accounts_are_addresses_of_record() {
        for ok in [
            "sip:1001@pbx.example.com",
            "1001",
            "user.name@10.0.0.1:5060",
            "sips:a~b@x",
        ] {
            assert!(valid_account(ok), "{ok}");
        }
        for bad in [
            "",
            "a b@x",
            "user@",
            "user@host:99999",
            "user@ho st",
            "sip:@x",
        ] {
            assert!(!valid_account(bad), "{bad}");
        }
    }

    #[test]
    fn passwords_use_the_unreserved_characters_only() {
        assert!(valid_password("Abc-123_x.y~z").is_ok());
        let err = valid_password("has space").unwrap_err();
        assert_eq!(err.0.id, "sip.gateway.password.invalid");
        assert!(valid_password("quote\"").is_err());
        assert!(valid_password("пароль").is_err());
    }

    #[test]
    fn access_list_entries_are_checked_and_normalised() {
        let e = acl_entry(
            0,
            &GatewayAcl {
                ip: " 10.0.0.0/8 ".into(),
                proto: "UDP".into(),
                port: Some(5060),
            },
        )
        .unwrap();
        assert_eq!(
            (e.ip.as_str(), e.proto.as_str(), e.port),
            ("10.0.0.0/8", "udp", 5060)
        );
        let any = acl_entry(
            0,
            &GatewayAcl {
                ip: "10.0.0.1".into(),
                proto: String::new(),
                port: None,
            },
        )
        .unwrap();
        assert_eq!((any.proto.as_str(), any.port), ("any", 0));
        for (ip, proto, port) in [
            ("10.0.0.0/40", "any", None),
            ("example.com", "any", None),
            ("10.0.0.1", "tls", None),
            ("10.0.0.1", "any", Some(70000)),
            ("10.0.0.1", "any", Some(-1)),
        ] {
            let a = GatewayAcl {
                ip: ip.into(),
                proto: proto.into(),
                port,
            };
            assert_eq!(
                acl_entry(3, &a).unwrap_err().0.id,
                "app.gateway.valid.ipacl"
            );
        }
    }
}
