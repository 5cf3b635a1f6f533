//! Guards against a domain locking itself out through its own API: the last administrator
//! keeps its rights and its last token, and nobody gives or takes away a role granting more
//! than they hold themselves.
//!
//! An administrator is a user whose roles give full access (`xrwd`) to `users` and who holds
//! a licence valid now for a class its roles grant: with that, every other right can be
//! repaired through the API.

use std::collections::HashMap;

use switchboard_store::{Grant, LicenseRow, RoleRow, Store, UserRow};

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};

const ADMIN_CLASS: &str = "users";
const FULL_ACCESS: &str = "xrwd";

/// The 409 of a change that would leave the domain without an administrator.
fn last_admin(id: &str, detail: impl Into<String>) -> ApiError {
    ApiError::new(409, id, detail)
}

/// A domain's roles and licences, as they stand.
pub(crate) struct Rights {
    roles: HashMap<i64, RoleRow>,
    licenses: HashMap<String, LicenseRow>,
}

impl Rights {
    pub(crate) async fn load(store: &Store, domain_id: i64) -> ApiResult<Self> {
        let roles = store.domain_roles(domain_id).await?;
        let licenses = store.list_licenses(domain_id).await?;
        Ok(Self {
            roles: roles.into_iter().map(|r| (r.id, r)).collect(),
            licenses: licenses.into_iter().map(|l| (l.id.clone(), l)).collect(),
        })
    }

    /// Whether holding these roles and licences makes an administrator at `now` (ms).
    pub(crate) fn admin(&self, role_ids: &[i64], license_ids: &[String], now: i64) -> bool {
        let grants: Vec<&Grant> = role_ids
            .iter()
            .filter_map(|id| self.roles.get(id))
            .flat_map(|r| r.scopes.iter())
            .collect();
        let full = FULL_ACCESS.chars().all(|letter| {
            grants
                .iter()
                .any(|g| g.class == ADMIN_CLASS && g.access.contains(letter))
        });
        let licensed = license_ids
            .iter()
            .filter_map(|id| self.licenses.get(id))
            .filter(|l| l.active(now))
            .flat_map(|l| l.scopes.iter())
            .any(|class| grants.iter().any(|g| g.class.eq_ignore_ascii_case(class)));
        full && licensed
    }

    pub(crate) fn user_is_admin(&self, u: &UserRow, now: i64) -> bool {
        let roles: Vec<i64> = u.roles.iter().map(|r| r.0).collect();
        let licenses: Vec<String> = u.licenses.iter().map(|l| l.license_id.clone()).collect();
        self.admin(&roles, &licenses, now)
    }

    /// The domain's administrators now: among the holders of a role granting anything on
    /// `users` (one statement), those whose rights add up.
    pub(crate) async fn admins(
        &self,
        store: &Store,
        domain_id: i64,
        now: i64,
    ) -> ApiResult<Vec<i64>> {
        let candidates: Vec<i64> = self
            .roles
            .values()
            .filter(|r| r.scopes.iter().any(|g| g.class == ADMIN_CLASS))
            .map(|r| r.id)
            .collect();
        let users = store.users_with_roles(domain_id, &candidates).await?;
        Ok(users
            .iter()
            .filter(|u| self.user_is_admin(u, now))
            .map(|u| u.id)
            .collect())
    }

    /// Refuses a change after which none of the domain's administrators is left: `leaving`
    /// are the users who stop being administrators with it. A domain that has none already
    /// is not held to it, so it can be repaired.
    pub(crate) async fn keep_an_admin(
        &self,
        store: &Store,
        domain_id: i64,
        leaving: &[i64],
        now: i64,
    ) -> ApiResult<()> {
        let admins = self.admins(store, domain_id, now).await?;
        if !admins.is_empty() && admins.iter().all(|a| leaving.contains(a)) {
            return Err(last_admin(
                "app.user.last_admin",
                "the change would leave the domain without an administrator (full access to \
                 users and a valid licence): make another user an administrator first",
            ));
        }
        Ok(())
    }

    /// Refuses giving or taking away a role that grants more than the caller holds.
    pub(crate) fn require_held(&self, c: &Caller, changed: &[i64]) -> ApiResult<()> {
        for id in changed {
            let Some(role) = self.roles.get(id) else {
                continue;
            };
            let held = role.scopes.iter().all(|g| {
                g.access.chars().all(|letter| {
                    c.scopes
                        .iter()
                        .any(|mine| mine.class == g.class && mine.access.contains(letter))
                })
            });
            if !held {
                return Err(ApiError::new(
                    403,
                    "app.user.roles.not_held",
                    format!(
                        "role {:?} grants rights the caller does not hold; only a user \
                         holding them can give or take it",
                        role.name
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Refuses revoking the last live token of the domain's last administrator.
pub(crate) async fn keep_admin_token(
    store: &Store,
    domain_id: i64,
    user_id: i64,
    now: i64,
) -> ApiResult<()> {
    let user = store.get_user(domain_id, user_id).await?;
    let rights = Rights::load(store, domain_id).await?;
    if !rights.user_is_admin(&user, now) {
        return Ok(());
    }
    if rights.admins(store, domain_id, now).await? != [user_id] {
        return Ok(());
    }
    let page = switchboard_store::Page {
        page: 1,
        size: 1,
        sort: None,
    };
    let live = store.list_tokens(domain_id, user_id, &page).await?;
    if !live.next {
        return Err(last_admin(
            "app.token.last_admin",
            "this is the last token of the domain's last administrator: issue another first",
        ));
    }
    Ok(())
}
