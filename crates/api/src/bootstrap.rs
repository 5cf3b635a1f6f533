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
