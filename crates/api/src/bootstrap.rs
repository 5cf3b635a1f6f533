//! First-start seeding of a domain: built-in roles, a licence product, and an administrator
//! with an integration token.

use crate::auth::{hash_password, new_token, token_hash, CLASSES};
use crate::error::ApiResult;
use rand::Rng;
use switchboard_store::{Grant, Store};

/// What seeding a new domain produced.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub domain_id: i64,
    pub admin_user_id: i64,
    pub license_id: String,
    /// The administrator's integration token; shown once, stored only as a hash.
    pub admin_token: String,
}

/// Built-in roles: name, description, grants, permissions.
fn builtin_roles() -> Vec<(&'static str, &'static str, Vec<Grant>, Vec<String>)> {
    let g = |class: &str, access: &str| Grant {
        class: class.into(),
        access: access.into(),
    };
    let all = CLASSES.iter().map(|c| g(c, "xrwd")).collect();
    let user: Vec<Grant> = vec![
        g("calls", "xrwd"),
        g("recordings", "r"),
        g("users", "r"),
        g("devices", "r"),
        g("roles", "r"),
        g("license", "r"),
    ];
    // An agent is a user who also works queues.
    let mut agent = user.clone();
    agent.extend([g("cc_agent", "rw"), g("cc_queue", "r")]);
    vec![
        (
            "admin",
            "Domain administrator: every object class",
            all,
            [
                "add",
                "read",
                "write",
                "delete",
                "playback_record_file",
                "system_setting",
            ]
            .map(String::from)
            .to_vec(),
        ),
        (
            "user",
            "Calling user: own calls, recordings, directory read",
            user,
            vec!["playback_record_file".into()],
        ),
        (
            "agent",
            "Contact-center agent: calls, queues, own agent state",
            agent,
            vec!["playback_record_file".into()],
        ),
    ]
}

/// Creates domain `name` with its roles, a `CALL_CENTER` licence of `seats` seats and an
/// `admin` user holding one seat. `token` becomes the admin's integration token when given.
/// Returns `None` when the domain already exists.
pub async fn seed_domain(
    store: &Store,
    name: &str,
    seats: i64,
    token: Option<String>,
) -> ApiResult<Option<Seeded>> {
    if store.domain_by_name(name).await?.is_some() {
        return Ok(None);
    }
    let domain = store.create_domain(name).await?;
    let mut admin_role = 0;
    for (role, desc, grants, perms) in builtin_roles() {
        let row = store
            .create_role(domain.id, role, desc, &grants, &perms, true)
            .await?;
        if role == "admin" {
            admin_role = row.id;
        }
    }
    let license_id = uuid::Uuid::new_v4().to_string();
    let scopes: Vec<String> = CLASSES.iter().map(|c| c.to_string()).collect();
    store
        .create_license(
            &license_id,
            domain.id,
            "CALL_CENTER",
            "Switchboard calling and contact center",
            &scopes,
            seats,
            domain.created_at,
            0,
        )
        .await?;
    // A random password nobody knows: the administrator works through its token.
    let password: String = rand::thread_rng()
        .sample_iter(&rand::distributions::Alphanumeric)
        .take(32)
        .map(char::from)
        .collect();
    let admin = store
        .create_user(
            domain.id,
            &switchboard_store::UserInput {
                username: "admin".into(),
                password_hash: Some(hash_password(password).await?),
                name: "Administrator".into(),
                profile: "{}".into(),
                role_ids: vec![admin_role],
                license_ids: vec![license_id.clone()],
                ..Default::default()
            },
            None,
        )
        .await?;
    let (generated, key) = new_token();
    let token = token.filter(|t| !t.is_empty()).unwrap_or(generated);
    store
        .create_token(
            domain.id,
            admin.id,
            &key,
            &token_hash(&token),
            "token",
            "integration",
            0,
            None,
        )
        .await?;
    Ok(Some(Seeded {
        domain_id: domain.id,
        admin_user_id: admin.id,
        license_id,
        admin_token: token,
    }))
}

/// What `reset_admin_token` did.
#[derive(Debug, Clone)]
pub struct Reset {
    pub user_id: i64,
    pub username: String,
    /// The administrator had lost its rights and got the built-in `admin` role and a licence.
    pub restored: bool,
    pub token: String,
}

/// Recovery on the machine for a domain whose administrator token was lost: a new integration
/// token for its first administrator. A domain left with none (possible only before the API
/// guarded against it) gets its `admin` user's rights back first: the built-in `admin` role
/// and the first licence valid now.
pub async fn reset_admin_token(store: &Store, domain: &str) -> ApiResult<Reset> {
    let d = store
        .domain_by_name(domain)
        .await?
        .ok_or_else(|| crate::error::ApiError::not_found("domain"))?;
    let now = switchboard_store::now_ms();
    let rights = crate::rest::admins::Rights::load(store, d.id).await?;
    let admins = rights.admins(store, d.id, now).await?;
    let (user, restored) = match admins.first() {
        Some(&id) => (store.get_user(d.id, id).await?, false),
        None => (restore_admin(store, d.id, domain, now).await?, true),
    };
    let (token, key) = new_token();
    store
        .create_token(
            d.id,
            user.id,
            &key,
            &token_hash(&token),
            "token",
            "integration (reset on the machine)",
            0,
            None,
        )
        .await?;
    Ok(Reset {
        user_id: user.id,
        username: user.username,
        restored,
        token,
    })
}

async fn restore_admin(
    store: &Store,
    domain_id: i64,
    domain: &str,
    now: i64,
) -> ApiResult<switchboard_store::UserRow> {
    let missing = |what: &str| {
        crate::error::ApiError::new(
            409,
            "app.domain.no_admin",
            format!("domain {domain} has no administrator and no {what} to make one with"),
        )
    };
    let role = store
        .role_by_name(domain_id, "admin")
        .await?
        .ok_or_else(|| missing("built-in admin role"))?;
    let user = store
        .user_by_username(domain, "admin")
        .await?
        .ok_or_else(|| missing("user named admin"))?;
    let license = store
        .list_licenses(domain_id)
        .await?
        .into_iter()
        .find(|l| l.active(now))
        .ok_or_else(|| missing("licence valid now"))?;
    let mut role_ids: Vec<i64> = user.roles.iter().map(|r| r.0).collect();
    if !role_ids.contains(&role.id) {
        role_ids.push(role.id);
    }
    let mut license_ids: Vec<String> = user.licenses.iter().map(|l| l.license_id.clone()).collect();
    if !license_ids.contains(&license.id) {
        license_ids.push(license.id);
    }
    let input = switchboard_store::UserInput {
        username: user.username.clone(),
        password_hash: None,
        name: user.name.clone(),
        email: user.email.clone(),
        extension: user.extension.clone(),
        chat_name: user.chat_name.clone(),
        profile: user.profile.clone(),
        device_id: user.device.as_ref().map(|d| d.0),
        device_ids: user.devices.iter().map(|d| d.0).collect(),
        role_ids,
        license_ids,
    };
    Ok(store.update_user(domain_id, user.id, &input, None).await?)
}
