//! Typed async client of the Webitel-compatible REST API.
//!
//! Works against Switchboard and against Webitel's cloud: every call sends the integration (or
//! user) token in `X-Webitel-Access`, and replies are decoded tolerantly, because Webitel itself
//! answers some objects flat and others wrapped (`{"device": …}`, `{"user": …}`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), switchboard_client::Error> {
//! use switchboard_client::{Client, Search};
//! use switchboard_model::Device;
//!
//! let api = Client::new("http://127.0.0.1:8080/api", "integration-token")?;
//! let device = api
//!     .create_device(&Device {
//!         name: Some("device for user 1".into()),
//!         account: Some("sipUser1".into()),
//!         password: Some("BNZdVLryFwcB".into()),
//!         ..Default::default()
//!     })
//!     .await?;
//! let page = api.search_users(&Search::new().filter("extension", "2020")).await?;
//! # let _ = (device, page);
//! # Ok(())
//! # }
//! ```

mod decode;
mod error;

pub use decode::{decode_error, decode_list, decode_one};
pub use error::Error;
pub use switchboard_model as model;

pub use reqwest::Method;
use reqwest::Url;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Value};
use switchboard_model::{
    Device, LicenseV1, ListResponse, LoginRequest, LoginResponse, Role, RoutingOutboundCall,
    RoutingSchema, User, UserAccessToken, Userinfo,
};

/// The header that carries the access token.
pub const TOKEN_HEADER: &str = "X-Webitel-Access";

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A connection to one API endpoint with one token. Cloning is cheap and shares the
/// connection pool.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: Url,
    token: Option<String>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the token.
        f.debug_struct("Client")
            .field("base", &self.base.as_str())
            .field("token", &self.token.as_ref().map(|_| "<set>"))
            .finish()
    }
}

/// Paging, search and filters of a list request: `page`, `size`, `q`, `sort` (repeatable:
/// `field`, `-field` or `!field`), `fields` (repeatable), plus endpoint-specific filters such as
/// `extension`, `username`, `account`, `user.id`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    pub page: Option<u32>,
    pub size: Option<u32>,
    pub q: Option<String>,
    pub sort: Vec<String>,
    pub fields: Vec<String>,
    pub filters: Vec<(String, String)>,
}

impl Search {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn page(mut self, page: u32) -> Self {
        self.page = Some(page);
        self
    }

    pub fn size(mut self, size: u32) -> Self {
        self.size = Some(size);
        self
    }

    pub fn q(mut self, q: impl Into<String>) -> Self {
        self.q = Some(q.into());
        self
    }

    pub fn sort(mut self, field: impl Into<String>) -> Self {
        self.sort.push(field.into());
        self
    }

    pub fn field(mut self, field: impl Into<String>) -> Self {
        self.fields.push(field.into());
        self
    }

    pub fn filter(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.filters.push((key.into(), value.into()));
        self
    }

    fn pairs(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(p) = self.page {
            out.push(("page".into(), p.to_string()));
        }
        if let Some(s) = self.size {
            out.push(("size".into(), s.to_string()));
        }
        if let Some(q) = &self.q {
            out.push(("q".into(), q.clone()));
        }
        out.extend(self.sort.iter().map(|s| ("sort".to_string(), s.clone())));
        out.extend(
            self.fields
                .iter()
                .map(|f| ("fields".to_string(), f.clone())),
        );
        out.extend(self.filters.iter().cloned());
        out
    }
}

impl Client {
    /// A client of `api_base_url` (e.g. `http://127.0.0.1:8080/api` or
    /// `https://cloud.webitel.com/api/`) authenticating with `token`.
    pub fn new(api_base_url: &str, token: impl Into<String>) -> Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("switchboard-client/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Self::with_http(http, api_base_url, Some(token.into()))
    }

    /// A client without a token, for `POST /login`.
    pub fn anonymous(api_base_url: &str) -> Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("switchboard-client/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Self::with_http(http, api_base_url, None)
    }

    /// A client over a caller-configured `reqwest::Client` (timeouts, proxies, roots).
    pub fn with_http(
        http: reqwest::Client,
        api_base_url: &str,
        token: Option<String>,
    ) -> Result<Self> {
        let mut base = Url::parse(api_base_url.trim())
            .map_err(|e| Error::InvalidUrl(format!("{api_base_url:?}: {e}")))?;
        if base.cannot_be_a_base() || !matches!(base.scheme(), "http" | "https") {
            return Err(Error::InvalidUrl(format!(
                "{api_base_url:?}: expected an http(s) URL such as http://127.0.0.1:8080/api"
            )));
        }
        let path = base.path().trim_end_matches('/').to_string();
        base.set_path(&path);
        base.set_query(None);
        base.set_fragment(None);
        Ok(Self {
            http,
            base,
            token: token.filter(|t| !t.is_empty()),
        })
    }

    /// The same endpoint and connection pool with another token (e.g. a user's).
    pub fn with_token(&self, token: impl Into<String>) -> Self {
        Self {
            http: self.http.clone(),
            base: self.base.clone(),
            token: Some(token.into()).filter(|t| !t.is_empty()),
        }
    }

    /// The API base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// The full URL of `segments` under the base, each segment percent-encoded.
    pub fn url(&self, segments: &[&str], query: &[(String, String)]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        url
    }

    async fn send(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Vec<u8>> {
        let mut req = self.http.request(method, self.url(segments, query));
        if let Some(t) = &self.token {
            req = req.header(TOKEN_HEADER, t);
        }
        req = req.header(reqwest::header::ACCEPT, "application/json");
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if !status.is_success() {
            return Err(Error::Api(decode_error(status.as_u16(), &bytes)));
        }
        Ok(bytes.to_vec())
    }

    async fn one<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&Value>,
        wrappers: &[&str],
    ) -> Result<T> {
        let b = self.send(method, segments, &[], body).await?;
        decode_one(&b, wrappers)
    }

    async fn list<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        search: &Search,
    ) -> Result<ListResponse<T>> {
        let b = self
            .send(Method::GET, segments, &search.pairs(), None)
            .await?;
        decode_list(&b)
    }

    async fn deleted<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Vec<T>> {
        let b = self.send(Method::DELETE, segments, query, body).await?;
        decode::decode_deleted(&b)
    }

    fn body<T: Serialize>(v: &T) -> Result<Value> {
        serde_json::to_value(v).map_err(|e| Error::Decode {
            what: "request body",
            source: e,
            body: String::new(),
        })
    }

    // ---- devices ---------------------------------------------------------------------------

    /// `POST /devices` with the device itself as the body; the reply may be the device (as the
    /// integration guide shows) or `{"device": …}`.
    pub async fn create_device(&self, device: &Device) -> Result<Device> {
        let b = Self::body(device)?;
        self.one(Method::POST, &["devices"], Some(&b), &["device"])
            .await
    }

    /// `GET /devices/{id}`.
    pub async fn device(&self, id: &str) -> Result<Device> {
        self.one(Method::GET, &["devices", id], None, &["device"])
            .await
    }

    /// `GET /devices` (filters: `q`, `name`, `account`, `ids`, `user.id`).
    pub async fn search_devices(&self, search: &Search) -> Result<ListResponse<Device>> {
        self.list(&["devices"], search).await
    }

    /// `PUT /devices/{id}`: replaces the device.
    pub async fn update_device(&self, id: &str, device: &Device) -> Result<Device> {
        let b = Self::body(device)?;
        self.one(Method::PUT, &["devices", id], Some(&b), &["device"])
            .await
    }

    /// `PATCH /devices/{id}`: changes the fields that are set.
    pub async fn patch_device(&self, id: &str, device: &Device) -> Result<Device> {
        let b = Self::body(device)?;
        self.one(Method::PATCH, &["devices", id], Some(&b), &["device"])
            .await
    }

    /// `DELETE /devices/{id}`; answers the deleted devices (empty if the server says nothing).
    pub async fn delete_device(&self, id: &str) -> Result<Vec<Device>> {
        self.deleted(&["devices", id], &[], None).await
    }

    /// `DELETE /devices` with `{"ids": [...]}`.
    pub async fn delete_devices(&self, ids: &[&str]) -> Result<Vec<Device>> {
        self.deleted(&["devices"], &[], Some(&json!({ "ids": ids })))
            .await
    }

    // ---- dialer members ---------------------------------------------------------------------

    /// `GET /call_center/queues/{id}` (the whole queue, payload included).
    pub async fn queue(&self, id: &str) -> Result<switchboard_model::Queue> {
        self.one(Method::GET, &["call_center", "queues", id], None, &[])
            .await
    }

    /// `GET /call_center/queues/{queue_id}/members` (filters: `q`, `destination`, `name`,
    /// `stop_cause`, `id`; paging, `fields`).
    pub async fn members(
        &self,
        queue_id: &str,
        search: &Search,
    ) -> Result<ListResponse<switchboard_model::Member>> {
        self.list(&["call_center", "queues", queue_id, "members"], search)
            .await
    }

    /// `POST /call_center/queues/{queue_id}/members/bulk`: all items or none; the new ids in
    /// item order.
    pub async fn create_members(
        &self,
        queue_id: &str,
        bulk: &switchboard_model::MemberBulk,
    ) -> Result<Vec<String>> {
        let b = Self::body(bulk)?;
        let r: switchboard_model::MemberBulkResponse = self
            .one(
                Method::POST,
                &["call_center", "queues", queue_id, "members", "bulk"],
                Some(&b),
                &[],
            )
            .await?;
        Ok(r.ids)
    }

    // ---- do-not-call lists -------------------------------------------------------------------

    /// `POST /call_center/list`.
    pub async fn create_list(
        &self,
        list: &switchboard_model::DncList,
    ) -> Result<switchboard_model::DncList> {
        let b = Self::body(list)?;
        self.one(Method::POST, &["call_center", "list"], Some(&b), &[])
            .await
    }

    /// `GET /call_center/list/{list_id}/communication` (filters: `q`, `id`,
    /// `expire_at.from/.to`; paging, `fields`).
    pub async fn list_communications(
        &self,
        list_id: &str,
        search: &Search,
    ) -> Result<ListResponse<switchboard_model::ListCommunication>> {
        self.list(&["call_center", "list", list_id, "communication"], search)
            .await
    }

    /// `POST /call_center/list/{list_id}/communication/bulk`: the numbers written and the
    /// items refused, by index.
    pub async fn create_list_communications(
        &self,
        list_id: &str,
        bulk: &switchboard_model::ListCommunicationBulk,
    ) -> Result<switchboard_model::ListCommunicationBulkResponse> {
        let b = Self::body(bulk)?;
        self.one(
            Method::POST,
            &["call_center", "list", list_id, "communication", "bulk"],
            Some(&b),
            &[],
        )
        .await
    }

    // ---- users -----------------------------------------------------------------------------

    /// `POST /users` with the user itself as the body (roles, device, devices, license).
    pub async fn create_user(&self, user: &User) -> Result<User> {
        let b = Self::body(user)?;
        self.one(Method::POST, &["users"], Some(&b), &["user", "created"])
            .await
    }

    /// `GET /users/{id}`: `{"user": …}` or the user itself.
    pub async fn user(&self, id: &str) -> Result<User> {
        self.one(Method::GET, &["users", id], None, &["user"]).await
    }

    /// `GET /users` (filters: `q`, `name`, `username`, `extension`, `id`).
    pub async fn search_users(&self, search: &Search) -> Result<ListResponse<User>> {
        self.list(&["users"], search).await
    }

    /// `PUT /users/{id}`: replaces the user.
    pub async fn update_user(&self, id: &str, user: &User) -> Result<User> {
        let b = Self::body(user)?;
        self.one(Method::PUT, &["users", id], Some(&b), &["user", "updated"])
            .await
    }

    /// `PATCH /users/{id}`: changes the fields that are set.
    pub async fn patch_user(&self, id: &str, user: &User) -> Result<User> {
        let b = Self::body(user)?;
        self.one(
            Method::PATCH,
            &["users", id],
            Some(&b),
            &["user", "updated"],
        )
        .await
    }

    /// `DELETE /users/{id}`.
    pub async fn delete_user(&self, id: &str) -> Result<Vec<User>> {
        self.deleted(&["users", id], &[], None).await
    }

    /// `DELETE /users` with `{"selection": [...]}`.
    pub async fn delete_users(&self, ids: &[&str]) -> Result<Vec<User>> {
        self.deleted(&["users"], &[], Some(&json!({ "selection": ids })))
            .await
    }

    // ---- user access tokens ----------------------------------------------------------------

    /// `POST /users/{id}/tokens`: a new access token; its `token` field is the bearer string and
    /// appears only in this reply.
    pub async fn create_token(
        &self,
        user_id: &str,
        usage: Option<&str>,
    ) -> Result<UserAccessToken> {
        let body = match usage {
            Some(u) => json!({ "usage": u }),
            None => json!({}),
        };
        self.one(
            Method::POST,
            &["users", user_id, "tokens"],
            Some(&body),
            &["token", "created"],
        )
        .await
    }

    /// `GET /users/{id}/tokens`.
    pub async fn tokens(
        &self,
        user_id: &str,
        search: &Search,
    ) -> Result<ListResponse<UserAccessToken>> {
        self.list(&["users", user_id, "tokens"], search).await
    }

    /// `GET /users/{id}/tokens/{token_id}` (metadata only).
    pub async fn token(&self, user_id: &str, token_id: &str) -> Result<UserAccessToken> {
        self.one(
            Method::GET,
            &["users", user_id, "tokens", token_id],
            None,
            &["token"],
        )
        .await
    }

    /// `DELETE /users/{id}/tokens/{token_id}`: the token stops working.
    pub async fn revoke_token(&self, user_id: &str, token_id: &str) -> Result<UserAccessToken> {
        let b = self
            .send(
                Method::DELETE,
                &["users", user_id, "tokens", token_id],
                &[],
                None,
            )
            .await?;
        decode_one(&b, &["token", "deleted", "revoked"])
    }

    // ---- roles and licences ----------------------------------------------------------------

    /// `GET /roles` (filter `q`).
    pub async fn roles(&self, search: &Search) -> Result<ListResponse<Role>> {
        self.list(&["roles"], search).await
    }

    /// `GET /roles/{id}`.
    pub async fn role(&self, id: &str) -> Result<Role> {
        self.one(Method::GET, &["roles", id], None, &["role"]).await
    }

    /// `POST /roles` with `{"role": …}`; the reply may be `{"created": …}`, `{"role": …}` or flat.
    pub async fn create_role(&self, role: &Role) -> Result<Role> {
        let b = json!({ "role": Self::body(role)? });
        self.one(Method::POST, &["roles"], Some(&b), &["created", "role"])
            .await
    }

    /// `DELETE /roles/{id}`.
    pub async fn delete_role(&self, id: &str) -> Result<Role> {
        self.one(Method::DELETE, &["roles", id], None, &["deleted", "role"])
            .await
    }

    /// `GET /license`: licence products with `limit` and `remain` seats.
    pub async fn licenses(&self) -> Result<ListResponse<LicenseV1>> {
        self.list(&["license"], &Search::default()).await
    }

    // ---- session ---------------------------------------------------------------------------

    /// `GET /userinfo`: the session of this client's token.
    pub async fn userinfo(&self) -> Result<Userinfo> {
        self.one(Method::GET, &["userinfo"], None, &[]).await
    }

    /// `POST /login {domain, username, password}`; needs no token.
    pub async fn login(&self, req: &LoginRequest) -> Result<LoginResponse> {
        let b = Self::body(req)?;
        self.one(Method::POST, &["login"], Some(&b), &[]).await
    }

    /// Signs in and returns a client that uses the new session token.
    pub async fn login_client(&self, req: &LoginRequest) -> Result<Client> {
        let resp = self.login(req).await?;
        Ok(self.with_token(resp.authorization.access_token))
    }

    /// `POST /users/logout`: revokes this client's token (Webitel's path; Switchboard also
    /// serves `POST /logout`).
    pub async fn logout(&self) -> Result<()> {
        self.send(Method::POST, &["users", "logout"], &[], Some(&json!({})))
            .await
            .map(drop)
    }

    // ---- routing ---------------------------------------------------------------------------

    /// `POST /routing/schema`: a routing schema (`type` and the flow in `schema`).
    pub async fn create_schema(&self, schema: &RoutingSchema) -> Result<RoutingSchema> {
        let b = Self::body(schema)?;
        self.one(Method::POST, &["routing", "schema"], Some(&b), &["schema"])
            .await
    }

    /// `DELETE /routing/schema/{id}`.
    pub async fn delete_schema(&self, id: &str) -> Result<()> {
        self.send(Method::DELETE, &["routing", "schema", id], &[], None)
            .await
            .map(drop)
    }

    /// `POST /routing/outbound/calls`: an outbound route (`pattern` → `schema`).
    pub async fn create_outbound_route(
        &self,
        route: &RoutingOutboundCall,
    ) -> Result<RoutingOutboundCall> {
        let b = Self::body(route)?;
        self.one(
            Method::POST,
            &["routing", "outbound", "calls"],
            Some(&b),
            &["routing"],
        )
        .await
    }

    /// `DELETE /routing/outbound/calls/{id}`.
    pub async fn delete_outbound_route(&self, id: &str) -> Result<()> {
        self.send(
            Method::DELETE,
            &["routing", "outbound", "calls", id],
            &[],
            None,
        )
        .await
        .map(drop)
    }

    // ---- contact center --------------------------------------------------------------------

    /// `POST /call_center/agents`, e.g. `{"user": {"id": "10"}}` (the integration guide's
    /// optional step); the reply is Webitel's Agent, `{"id": "5", "user": {…}, …}`.
    pub async fn create_agent(&self, agent: &Value) -> Result<Value> {
        self.one(Method::POST, &["call_center", "agents"], Some(agent), &[])
            .await
    }

    /// `DELETE /call_center/agents/{id}`.
    pub async fn delete_agent(&self, id: &str) -> Result<()> {
        self.send(Method::DELETE, &["call_center", "agents", id], &[], None)
            .await
            .map(drop)
    }

    /// Any JSON request under the base (`segments` percent-encoded, `query` as given), for the
    /// endpoints without a typed method, e.g. `call_center/queues/{id}/skills`. A reply
    /// without a body is `{}`.
    pub async fn json(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(String, String)],
        body: Option<&Value>,
    ) -> Result<Value> {
        let b = self.send(method, segments, query, body).await?;
        if b.iter().all(u8::is_ascii_whitespace) {
            return Ok(json!({}));
        }
        serde_json::from_slice(&b).map_err(|e| Error::Decode {
            what: "reply",
            source: e,
            body: String::from_utf8_lossy(&b).chars().take(200).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_with_or_without_trailing_slash() {
        for base in [
            "http://127.0.0.1:8080/api",
            "http://127.0.0.1:8080/api/",
            " http://127.0.0.1:8080/api// ",
        ] {
            let c = Client::new(base, "t").unwrap();
            assert_eq!(c.base_url(), "http://127.0.0.1:8080/api");
            assert_eq!(
                c.url(&["users", "10", "tokens"], &[]).as_str(),
                "http://127.0.0.1:8080/api/users/10/tokens"
            );
        }
        let c = Client::new("https://cloud.webitel.com/", "t").unwrap();
        assert_eq!(
            c.url(&["devices"], &[]).as_str(),
            "https://cloud.webitel.com/devices"
        );
    }

    #[test]
    fn segments_are_escaped_and_queries_repeat() {
        let c = Client::new("http://h/api", "t").unwrap();
        let q = Search::new()
            .page(2)
            .size(5)
            .q("a b")
            .sort("-name")
            .field("id")
            .field("name")
            .filter("extension", "2020")
            .pairs();
        assert_eq!(
            c.url(&["users", "a/b"], &q).as_str(),
            "http://h/api/users/a%2Fb?page=2&size=5&q=a+b&sort=-name&fields=id&fields=name&extension=2020"
        );
    }

    #[test]
    fn bad_base_urls_are_refused() {
        assert!(matches!(
            Client::new("127.0.0.1:8080", "t"),
            Err(Error::InvalidUrl(_))
        ));
        assert!(matches!(
            Client::new("ftp://h/api", "t"),
            Err(Error::InvalidUrl(_))
        ));
    }

    #[test]
    fn debug_hides_the_token() {
        let c = Client::new("http://h/api", "very-secret").unwrap();
        assert!(!format!("{c:?}").contains("very-secret"));
    }
}
