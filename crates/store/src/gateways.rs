//! SIP gateways: providers we register with and trunks that send us calls from known
//! addresses. The digest password is sealed with the data-at-rest key and opened only for the
//! telephony runtime ([`Store::gateway_credentials`], [`Store::registering_gateways`]).

use crate::devices::lookup;
use crate::{like_pattern, now_ms, Page, Paged, Store, StoreError, StoreResult};
use sqlx::any::AnyRow;
use sqlx::Row;
use std::net::Ipv4Addr;

/// One access-list entry of a trunk. `port` 0 admits any port; `proto` is `any`, `udp` or `tcp`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AclEntry {
    pub ip: String,
    pub proto: String,
    pub port: u16,
}

impl AclEntry {
    /// The IPv4 block of `ip` (`a.b.c.d` or `a.b.c.d/n`) as (network, prefix length).
    pub fn block(&self) -> Option<(u32, u8)> {
        parse_block(&self.ip)
    }

    /// Whether a packet from `ip:port` over `proto` is admitted; `Some(prefix length)` when it
    /// is, so that the most specific entry can win.
    pub fn admits(&self, ip: Ipv4Addr, port: u16, proto: &str) -> Option<u8> {
        let (net, len) = self.block()?;
        let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
        let proto_ok = self.proto.is_empty()
            || self.proto.eq_ignore_ascii_case("any")
            || self.proto.eq_ignore_ascii_case(proto);
        (u32::from(ip) & mask == net & mask && (self.port == 0 || self.port == port) && proto_ok)
            .then_some(len)
    }
}

/// Parses `a.b.c.d` (a /32) or `a.b.c.d/n` with n in 0..=32.
pub fn parse_block(s: &str) -> Option<(u32, u8)> {
    let (addr, len) = match s.trim().split_once('/') {
        Some((a, l)) => (a, l.parse::<u8>().ok().filter(|l| *l <= 32)?),
        None => (s.trim(), 32),
    };
    let addr: Ipv4Addr = addr.parse().ok()?;
    Some((u32::from(addr), len))
}

#[derive(Debug, Clone)]
pub struct GatewayRow {
    pub id: i64,
    pub domain_id: i64,
    pub name: String,
    pub description: String,
    pub register: bool,
    pub enable: bool,
    pub proxy: String,
    pub host: String,
    pub ipacl: Vec<AclEntry>,
    pub account: String,
    pub username: String,
    /// Whether a password is stored (the row never carries it, sealed or not).
    pub has_password: bool,
    pub expires: i64,
    pub registrar: String,
    pub schema: Option<(i64, String)>,
    pub usage: String,
    pub r_state: i64,
    pub created_at: i64,
    pub created_by: Option<(i64, String)>,
    pub updated_at: i64,
    pub updated_by: Option<(i64, String)>,
}

/// Writable gateway fields. `password`: `None` keeps the stored one (or none on create).
#[derive(Debug, Clone, Default)]
pub struct GatewayInput {
    pub name: String,
    pub description: String,
    pub register: bool,
    pub enable: bool,
    pub proxy: String,
    pub host: String,
    pub ipacl: Vec<AclEntry>,
    pub account: String,
    pub username: String,
    pub password: Option<String>,
    pub expires: i64,
    pub registrar: String,
    pub schema_id: Option<i64>,
    pub usage: String,
}

#[derive(Debug, Clone, Default)]
pub struct GatewayFilter {
    pub q: Option<String>,
    pub ids: Vec<i64>,
    pub name: Option<String>,
    /// Only register-mode (`Some(true)`) or trunk-mode (`Some(false)`) gateways.
    pub register: Option<bool>,
}

/// What the telephony runtime needs to register with a provider or answer its digest
/// challenge. `Debug` leaves the password out.
#[derive(Clone)]
pub struct GatewayCredentials {
    pub domain_id: i64,
    pub domain_name: String,
    pub gateway_id: i64,
    pub name: String,
    pub register: bool,
    pub enable: bool,
    /// Trunk mode: the host the provider knows us by (the Request-URI host of our calls).
    pub host: String,
    /// The address of record, as configured (`[sip:]user[@host[:port]]`).
    pub account: String,
    /// The digest username: the configured one, else the account's user part.
    pub username: String,
    /// Plaintext; empty when none is stored.
    pub password: String,
    pub proxy: String,
    pub registrar: String,
    pub expires: i64,
}

impl std::fmt::Debug for GatewayCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayCredentials")
            .field("domain_id", &self.domain_id)
            .field("gateway_id", &self.gateway_id)
            .field("name", &self.name)
            .field("account", &self.account)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("proxy", &self.proxy)
            .finish_non_exhaustive()
    }
}

/// A trunk gateway that admits an inbound packet, and its domain.
#[derive(Debug, Clone)]
pub struct TrunkMatch {
    pub domain_id: i64,
    pub domain_name: String,
    pub gateway: GatewayRow,
}

const GATEWAY_SELECT: &str = "SELECT g.id, g.domain_id, g.name, g.description, g.register, \
    g.enable, g.proxy, g.host, g.ipacl, g.account, g.username, g.password_sealed, g.expires, \
    g.registrar, g.schema_id, g.usage, g.r_state, g.created_at, g.created_by, g.updated_at, \
    g.updated_by, s.name AS s_name, dm.name AS dm_name, \
    cb.name AS cb_name, cb.username AS cb_username, ub.name AS ub_name, ub.username AS ub_username \
    FROM sip_gateways g JOIN domains dm ON dm.id = g.domain_id \
    LEFT JOIN routing_schemas s ON s.id = g.schema_id \
    LEFT JOIN users cb ON cb.id = g.created_by LEFT JOIN users ub ON ub.id = g.updated_by";

fn gateway_from(r: &AnyRow) -> StoreResult<GatewayRow> {
    let ipacl: String = r.try_get("ipacl")?;
    let sealed: String = r.try_get("password_sealed")?;
    let schema_id: Option<i64> = r.try_get("schema_id")?;
    Ok(GatewayRow {
        id: r.try_get("id")?,
        domain_id: r.try_get("domain_id")?,
        name: r.try_get("name")?,
        description: r.try_get("description")?,
        register: crate::db::flag(r, "register"),
        enable: crate::db::flag(r, "enable"),
        proxy: r.try_get("proxy")?,
        host: r.try_get("host")?,
        ipacl: serde_json::from_str(&ipacl).unwrap_or_default(),
        account: r.try_get("account")?,
        username: r.try_get("username")?,
        has_password: !sealed.is_empty(),
        expires: r.try_get("expires")?,
        registrar: r.try_get("registrar")?,
        schema: schema_id.map(|id| {
            let name: Option<String> = r.try_get("s_name").ok().flatten();
            (id, name.unwrap_or_default())
        }),
        usage: r.try_get("usage")?,
        r_state: r.try_get("r_state")?,
        created_at: r.try_get("created_at")?,
        created_by: lookup(r, "created_by", "cb_name", "cb_username"),
        updated_at: r.try_get("updated_at")?,
        updated_by: lookup(r, "updated_by", "ub_name", "ub_username"),
    })
}

/// The associated data of a gateway password: sealed values open only in their own domain.
fn purpose(domain_id: i64) -> String {
    format!("sip_gateways.password domain={domain_id}")
}

/// The user part of an AOR: `sip:alice@host:5060` → `alice`.
fn aor_user(account: &str) -> &str {
    let a = account
        .strip_prefix("sips:")
        .or_else(|| account.strip_prefix("sip:"))
        .unwrap_or(account);
    a.split('@').next().unwrap_or(a)
}

impl Store {
    /// Sets the key that seals stored secrets (gateway passwords). Without one, writing or
    /// reading a password fails with [`StoreError::Secret`]; everything else works.
    pub fn with_secret_key(mut self, key: crate::SecretKey) -> Self {
        self.secret = Some(std::sync::Arc::new(key));
        self
    }

    fn secret_key(&self) -> StoreResult<&crate::SecretKey> {
        self.secret.as_deref().ok_or_else(|| {
            StoreError::Secret("no data-at-rest key: the store was opened without one".into())
        })
    }

    fn sealed_password(&self, domain_id: i64, input: &GatewayInput) -> StoreResult<Option<String>> {
        match &input.password {
            None => Ok(None),
            Some(p) if p.is_empty() => Ok(Some(String::new())),
            Some(p) => Ok(Some(self.secret_key()?.seal(&purpose(domain_id), p))),
        }
    }

    /// Fails unless `schema_id` names a routing schema of the domain.
    pub(crate) async fn check_schema_in(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        domain_id: i64,
        schema_id: i64,
    ) -> StoreResult<()> {
        let found = sqlx::query("SELECT id FROM routing_schemas WHERE domain_id = $1 AND id = $2")
            .bind(domain_id)
            .bind(schema_id)
            .fetch_optional(&mut **tx)
            .await?;
        match found {
            Some(_) => Ok(()),
            None => Err(StoreError::Invalid(format!(
                "routing schema {schema_id} does not exist in this domain"
            ))),
        }
    }

    pub async fn create_gateway(
        &self,
        domain_id: i64,
        input: &GatewayInput,
        actor: Option<i64>,
    ) -> StoreResult<GatewayRow> {
        let sealed = self.sealed_password(domain_id, input)?.unwrap_or_default();
        let ipacl = serde_json::to_string(&input.ipacl).unwrap_or_else(|_| "[]".into());
        let mut w = self.begin_write().await?;
        if let Some(s) = input.schema_id {
            self.check_schema_in(&mut w.tx, domain_id, s).await?;
        }
        let row = sqlx::query(
            "INSERT INTO sip_gateways (domain_id, name, description, register, enable, proxy, \
             host, ipacl, account, username, password_sealed, expires, registrar, schema_id, \
             usage, r_state, created_at, created_by, updated_at, updated_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 0, \
             $16, $17, $16, $17) RETURNING id",
        )
        .bind(domain_id)
        .bind(&input.name)
        .bind(&input.description)
        .bind(input.register as i64)
        .bind(input.enable as i64)
        .bind(&input.proxy)
        .bind(&input.host)
        .bind(ipacl)
        .bind(&input.account)
        .bind(&input.username)
        .bind(sealed)
        .bind(input.expires)
        .bind(&input.registrar)
        .bind(input.schema_id)
        .bind(&input.usage)
        .bind(now_ms())
        .bind(actor)
        .fetch_one(&mut *w.tx)
        .await
        .map_err(|e| StoreError::unique(e, "name", &input.name))?;
        let id: i64 = row.try_get("id")?;
        w.commit().await?;
        self.get_gateway(domain_id, id).await
    }

    pub async fn get_gateway(&self, domain_id: i64, id: i64) -> StoreResult<GatewayRow> {
        let row = sqlx::query(&format!(
            "{GATEWAY_SELECT} WHERE g.domain_id = $1 AND g.id = $2"
        ))
        .bind(domain_id)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("gateway"))?;
        gateway_from(&row)
    }

    /// A gateway by its name (bridge endpoints may name one).
    pub async fn gateway_by_name(
        &self,
        domain_id: i64,
        name: &str,
    ) -> StoreResult<Option<GatewayRow>> {
        let row = sqlx::query(&format!(
            "{GATEWAY_SELECT} WHERE g.domain_id = $1 AND g.name = $2"
        ))
        .bind(domain_id)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(gateway_from).transpose()
    }

    pub async fn search_gateways(
        &self,
        domain_id: i64,
        f: &GatewayFilter,
        page: &Page,
    ) -> StoreResult<Paged<GatewayRow>> {
        let order = page.order_by(
            &[
                ("id", "g.id"),
                ("name", "g.name"),
                ("proxy", "g.proxy"),
                ("host", "g.host"),
                ("account", "g.account"),
                ("enable", "g.enable"),
                ("register", "g.register"),
                ("r_state", "g.r_state"),
                ("created_at", "g.created_at"),
                ("updated_at", "g.updated_at"),
            ],
            "g.id ASC",
        );
        let ids_clause = id_list_clause("g.id", &f.ids);
        let q = f.q.as_deref().unwrap_or("");
        let register = match f.register {
            None => -1,
            Some(r) => r as i64,
        };
        let rows = sqlx::query(&format!(
            "{GATEWAY_SELECT} WHERE g.domain_id = $1{ids_clause} \
             AND ($2 = '' OR LOWER(g.name) LIKE $3 ESCAPE '\\' OR LOWER(g.proxy) LIKE $3 ESCAPE '\\' \
                  OR LOWER(g.host) LIKE $3 ESCAPE '\\' OR LOWER(g.account) LIKE $3 ESCAPE '\\') \
             AND ($4 = '' OR g.name = $4) AND ($5 < 0 OR g.register = $5) \
             ORDER BY {order} LIMIT $6 OFFSET $7"
        ))
        .bind(domain_id)
        .bind(q)
        .bind(like_pattern(q))
        .bind(f.name.as_deref().unwrap_or(""))
        .bind(register)
        .bind(page.size + 1)
        .bind(page.offset())
        .fetch_all(&self.pool)
        .await?;
        let rows = rows
            .iter()
            .map(gateway_from)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok(Paged::from_rows(rows, page.size))
    }

    pub async fn update_gateway(
        &self,
        domain_id: i64,
        id: i64,
        input: &GatewayInput,
        actor: Option<i64>,
    ) -> StoreResult<GatewayRow> {
        let sealed = self.sealed_password(domain_id, input)?;
        let ipacl = serde_json::to_string(&input.ipacl).unwrap_or_else(|_| "[]".into());
        let mut w = self.begin_write().await?;
        if let Some(s) = input.schema_id {
            self.check_schema_in(&mut w.tx, domain_id, s).await?;
        }
        // `$15` NULL keeps the sealed password as it is.
        let res = sqlx::query(
            "UPDATE sip_gateways SET name = $3, description = $4, register = $5, enable = $6, \
             proxy = $7, host = $8, ipacl = $9, account = $10, username = $11, expires = $12, \
             registrar = $13, schema_id = $14, password_sealed = COALESCE($15, password_sealed), \
             usage = $16, updated_at = $17, updated_by = $18 \
             WHERE domain_id = $1 AND id = $2",
        )
        .bind(domain_id)
        .bind(id)
        .bind(&input.name)
        .bind(&input.description)
        .bind(input.register as i64)
        .bind(input.enable as i64)
        .bind(&input.proxy)
        .bind(&input.host)
        .bind(ipacl)
        .bind(&input.account)
        .bind(&input.username)
        .bind(input.expires)
        .bind(&input.registrar)
        .bind(input.schema_id)
        .bind(sealed)
        .bind(&input.usage)
        .bind(now_ms())
        .bind(actor)
        .execute(&mut *w.tx)
        .await
        .map_err(|e| StoreError::unique(e, "name", &input.name))?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound("gateway"));
        }
        w.commit().await?;
        self.get_gateway(domain_id, id).await
    }

    pub async fn delete_gateway(&self, domain_id: i64, id: i64) -> StoreResult<GatewayRow> {
        let row = self.get_gateway(domain_id, id).await?;
        sqlx::query("DELETE FROM sip_gateways WHERE domain_id = $1 AND id = $2")
            .bind(domain_id)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(row)
    }

    /// Records the registration client's state of a gateway (`r_state`, uac_registrant's
    /// numbers: 3 registered, 4–7 failed).
    pub async fn set_gateway_state(
        &self,
        domain_id: i64,
        gateway_id: i64,
        r_state: i64,
    ) -> StoreResult<()> {
        let res =
            sqlx::query("UPDATE sip_gateways SET r_state = $3 WHERE domain_id = $1 AND id = $2")
                .bind(domain_id)
                .bind(gateway_id)
                .bind(r_state)
                .execute(&self.pool)
                .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::NotFound("gateway"));
        }
        Ok(())
    }

    fn credentials_from(&self, r: &AnyRow) -> StoreResult<GatewayCredentials> {
        let domain_id: i64 = r.try_get("domain_id")?;
        let sealed: String = r.try_get("password_sealed")?;
        let password = if sealed.is_empty() {
            String::new()
        } else {
            self.secret_key()?.open(&purpose(domain_id), &sealed)?
        };
        let account: String = r.try_get("account")?;
        let username: String = r.try_get("username")?;
        Ok(GatewayCredentials {
            domain_id,
            domain_name: r.try_get("dm_name")?,
            gateway_id: r.try_get("id")?,
            name: r.try_get("name")?,
            register: crate::db::flag(r, "register"),
            enable: crate::db::flag(r, "enable"),
            host: r.try_get("host")?,
            username: if username.is_empty() {
                aor_user(&account).to_string()
            } else {
                username
            },
            account,
            password,
            proxy: r.try_get("proxy")?,
            registrar: r.try_get("registrar")?,
            expires: r.try_get("expires")?,
        })
    }

    /// The gateway's credentials with the password in plaintext, for the telephony runtime
    /// (digest challenges of the provider). Never for an HTTP reply.
    pub async fn gateway_credentials(
        &self,
        domain_id: i64,
        gateway_id: i64,
    ) -> StoreResult<GatewayCredentials> {
        let row = sqlx::query(&format!(
            "{GATEWAY_SELECT} WHERE g.domain_id = $1 AND g.id = $2"
        ))
        .bind(domain_id)
        .bind(gateway_id)
        .fetch_optional(&self.pool)
        .await?
        .ok_or(StoreError::NotFound("gateway"))?;
        self.credentials_from(&row)
    }

    /// Every enabled register-mode gateway of every domain, with its credentials: the work
    /// list of the registration client. One query.
    pub async fn registering_gateways(&self) -> StoreResult<Vec<GatewayCredentials>> {
        let rows = sqlx::query(&format!(
            "{GATEWAY_SELECT} WHERE g.register = 1 AND g.enable = 1 ORDER BY g.domain_id, g.id"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| self.credentials_from(r)).collect()
    }

    /// The enabled trunk gateway whose access list admits a packet from `ip:port` over `proto`
    /// (`udp`, `tcp`, …), in whichever domain it is. With `to_host` (the To/R-URI host, with or
    /// without the port) a gateway whose `host` names it is preferred; then the most specific
    /// entry (longest prefix, a fixed port, a fixed transport); then the oldest gateway.
    pub async fn trunk_for_source(
        &self,
        ip: std::net::IpAddr,
        port: u16,
        proto: &str,
        to_host: Option<&str>,
    ) -> StoreResult<Option<TrunkMatch>> {
        let ip = match ip {
            std::net::IpAddr::V4(v4) => v4,
            std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => v4,
                None => return Ok(None),
            },
        };
        let rows = sqlx::query(&format!(
            "{GATEWAY_SELECT} WHERE g.register = 0 AND g.enable = 1 AND g.ipacl <> '[]' \
             ORDER BY g.id"
        ))
        .fetch_all(&self.pool)
        .await?;
        let mut best: Option<((bool, u8, bool, bool), TrunkMatch)> = None;
        for r in &rows {
            let gw = gateway_from(r)?;
            let Some(rank) = gw
                .ipacl
                .iter()
                .filter_map(|a| {
                    a.admits(ip, port, proto).map(|len| {
                        let any_proto = a.proto.is_empty() || a.proto.eq_ignore_ascii_case("any");
                        (len, a.port != 0, !any_proto)
                    })
                })
                .max()
            else {
                continue;
            };
            let host_ok = to_host.is_some_and(|h| host_matches(&gw.host, h));
            let key = (host_ok, rank.0, rank.1, rank.2);
            // Strictly better only: among equals the first (oldest) stays.
            if best.as_ref().is_none_or(|(k, _)| key > *k) {
                best = Some((
                    key,
                    TrunkMatch {
                        domain_id: gw.domain_id,
                        domain_name: r.try_get("dm_name")?,
                        gateway: gw,
                    },
                ));
            }
        }
        Ok(best.map(|(_, m)| m))
    }
}

/// `host` of a gateway against the host a request is addressed to: equal ignoring case, or
/// equal hosts when one side gives no port.
fn host_matches(gateway_host: &str, to_host: &str) -> bool {
    fn split(h: &str) -> (&str, Option<&str>) {
        let h = h
            .strip_prefix("sips:")
            .or_else(|| h.strip_prefix("sip:"))
            .unwrap_or(h);
        match h.rsplit_once(':') {
            Some((host, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
                (host, Some(port))
            }
            _ => (h, None),
        }
    }
    if gateway_host.is_empty() {
        return false;
    }
    let (gh, gp) = split(gateway_host.trim());
    let (th, tp) = split(to_host.trim());
    gh.eq_ignore_ascii_case(th)
        && match (gp, tp) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        }
}

/// ` AND col IN (1,2,3)` for a non-empty id list (integers only, so inlining is safe).
pub(crate) fn id_list_clause(col: &str, ids: &[i64]) -> String {
    if ids.is_empty() {
        return String::new();
    }
    let list = ids
        .iter()
        .map(|i| i.to_string())
        .collect::<Vec<_>>()
        .join(",");
    format!(" AND {col} IN ({list})")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acl(ip: &str, proto: &str, port: u16) -> AclEntry {
        AclEntry {
            ip: ip.into(),
            proto: proto.into(),
            port,
        }
    }

    #[test]
    fn access_list_entries_admit_by_block_port_and_transport() {
        let src: Ipv4Addr = "203.0.113.7".parse().unwrap();
        assert_eq!(
            acl("203.0.113.7", "any", 0).admits(src, 5060, "udp"),
            Some(32)
        );
        assert_eq!(acl("203.0.113.0/24", "", 0).admits(src, 1, "tcp"), Some(24));
        assert_eq!(acl("0.0.0.0/0", "any", 0).admits(src, 1, "tcp"), Some(0));
        assert_eq!(acl("203.0.114.0/24", "any", 0).admits(src, 1, "udp"), None);
        assert_eq!(acl("203.0.113.7", "tcp", 0).admits(src, 5060, "udp"), None);
        assert_eq!(
            acl("203.0.113.7", "UDP", 0).admits(src, 5060, "udp"),
            Some(32)
        );
        assert_eq!(
            acl("203.0.113.7", "any", 5080).admits(src, 5060, "udp"),
            None
        );
        assert_eq!(
            acl("203.0.113.7", "any", 5060).admits(src, 5060, "udp"),
            Some(32)
        );
        assert_eq!(acl("bogus", "any", 0).admits(src, 5060, "udp"), None);
        assert_eq!(parse_block("10.0.0.0/33"), None);
        assert_eq!(parse_block("10.0.0.1/8"), Some((0x0a00_0001, 8)));
    }

    #[test]
    fn hosts_match_with_or_without_a_port() {
        assert!(host_matches("Trunk.Example.com", "trunk.example.com:5060"));
        assert!(host_matches("sip:10.0.0.1:5080", "10.0.0.1:5080"));
        assert!(!host_matches("10.0.0.1:5080", "10.0.0.1:5060"));
        assert!(!host_matches("", "10.0.0.1"));
        assert!(!host_matches("a.example", "b.example"));
    }

    #[test]
    fn the_digest_username_defaults_to_the_aor_user() {
        assert_eq!(aor_user("sip:alice@pbx.example:5060"), "alice");
        assert_eq!(aor_user("bob"), "bob");
        assert_eq!(aor_user("sips:carol@x"), "carol");
    }
}
