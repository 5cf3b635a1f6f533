//! The typed client against the real server: every endpoint of the directory API once.

mod common;

use common::Server;
use switchboard_client::{Client, Error, Search};
use switchboard_model::{Device, LicenseUser, LoginRequest, Objclass, ObjectId, Role, User};

fn oid(id: &str) -> ObjectId {
    ObjectId {
        id: Some(id.to_string()),
        name: None,
    }
}

fn device(account: &str) -> Device {
    Device {
        name: Some(format!("device {account}")),
        account: Some(account.into()),
        password: Some("BNZdVLryFwcB".into()),
        ..Default::default()
    }
}

async fn role_id(api: &Client, name: &str) -> String {
    api.roles(&Search::new().size(100))
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|r| r.name.as_deref() == Some(name))
        .and_then(|r| r.id)
        .unwrap()
}

#[tokio::test]
async fn devices_crud_search_and_errors() {
    let srv = Server::start();
    let api = srv.client();

    let d = api.create_device(&device("sipUser1")).await.unwrap();
    let id = d.id.clone().unwrap();
    assert_eq!(d.password.as_deref(), Some("BNZdVLryFwcB"));
    assert!(d.created_at.is_some() && d.created_by.is_some());
    assert_eq!(
        api.device(&id).await.unwrap().account.as_deref(),
        Some("sipUser1")
    );

    let e = api.create_device(&device("sipUser1")).await.unwrap_err();
    assert!(e.is_conflict(), "{e}");
    let e = api.device("999999").await.unwrap_err();
    assert!(e.is_not_found(), "{e}");
    assert!(matches!(e, Error::Api(ref a) if a.id.ends_with("not_found")));

    let patched = api
        .patch_device(
            &id,
            &Device {
                name: Some("renamed".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(patched.name.as_deref(), Some("renamed"));
    assert_eq!(patched.account.as_deref(), Some("sipUser1"));
    let put = api
        .update_device(
            &id,
            &Device {
                name: Some("replaced".into()),
                account: Some("sipUser1b".into()),
                password: Some("another".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(put.account.as_deref(), Some("sipUser1b"));

    let b = api.create_device(&device("sipUser2")).await.unwrap();
    let c = api.create_device(&device("sipUser3")).await.unwrap();
    let found = api
        .search_devices(&Search::new().q("sipUser").sort("-account").size(2))
        .await
        .unwrap();
    assert_eq!(found.items.len(), 2);
    assert!(found.next);
    assert_eq!(found.items[0].account.as_deref(), Some("sipUser3"));
    let slim = api
        .search_devices(&Search::new().field("name").filter("account", "sipUser2"))
        .await
        .unwrap();
    assert_eq!(slim.items.len(), 1);
    assert!(slim.items[0].account.is_none() && slim.items[0].name.is_some());

    let gone = api.delete_device(&id).await.unwrap();
    assert_eq!(gone.len(), 1);
    let ids = [b.id.unwrap(), c.id.unwrap()];
    let gone = api
        .delete_devices(&[ids[0].as_str(), ids[1].as_str()])
        .await
        .unwrap();
    assert_eq!(gone.len(), 2);
    assert!(api
        .search_devices(&Search::new())
        .await
        .unwrap()
        .items
        .is_empty());
}

#[tokio::test]
async fn users_tokens_roles_licences_and_sessions() {
    let srv = Server::start();
    let api = srv.client();

    let licences = api.licenses().await.unwrap().items;
    assert!(licences[0].remain > 0);
    let user_role = role_id(&api, "user").await;
    assert_eq!(
        api.role(&user_role).await.unwrap().name.as_deref(),
        Some("user")
    );

    let dev = api.create_device(&device("u2020")).await.unwrap();
    let dev_id = dev.id.unwrap();
    let input = User {
        name: Some("User1".into()),
        email: Some("user1@gmail.com".into()),
        username: Some("2020".into()),
        password: Some("dl75lfLcOLLL".into()),
        extension: Some("2020".into()),
        roles: Some(vec![oid(&user_role)]),
        device: Some(oid(&dev_id)),
        devices: Some(vec![oid(&dev_id)]),
        license: Some(vec![LicenseUser {
            id: Some(licences[0].id.clone()),
            ..Default::default()
        }]),
        ..Default::default()
    };
    let u = api.create_user(&input).await.unwrap();
    let uid = u.id.clone().unwrap();
    assert_eq!(
        api.user(&uid).await.unwrap().extension.as_deref(),
        Some("2020")
    );
    assert!(api.create_user(&input).await.unwrap_err().is_conflict());
    let found = api
        .search_users(&Search::new().filter("extension", "2020"))
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1);

    let patched = api
        .patch_user(
            &uid,
            &User {
                name: Some("User One".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(patched.name.as_deref(), Some("User One"));
    assert_eq!(patched.extension.as_deref(), Some("2020"));
    let mut full = input.clone();
    full.password = None;
    full.email = Some("one@example.com".into());
    let put = api.update_user(&uid, &full).await.unwrap();
    assert_eq!(put.email.as_deref(), Some("one@example.com"));

    // Tokens: create, list, read, use, revoke.
    let t = api.create_token(&uid, Some("spa")).await.unwrap();
    let (key, secret) = (t.id.clone().unwrap(), t.token.clone().unwrap());
    let listed = api.tokens(&uid, &Search::new()).await.unwrap();
    assert!(listed.items.iter().any(|x| x.id.as_deref() == Some(&key)));
    assert!(listed.items.iter().all(|x| x.token.is_none()));
    assert_eq!(
        api.token(&uid, &key).await.unwrap().usage.as_deref(),
        Some("spa")
    );
    let as_user = api.with_token(&secret);
    let me = as_user.userinfo().await.unwrap();
    assert_eq!(me.user_id.as_deref(), Some(uid.as_str()));
    assert_eq!(me.domain, "my-company.lo");
    assert!(!me.license.is_empty() && !me.scope.is_empty());
    let e = as_user.create_user(&User::default()).await.unwrap_err();
    assert_eq!(e.status(), Some(403), "{e}");
    api.revoke_token(&uid, &key).await.unwrap();
    assert_eq!(as_user.userinfo().await.unwrap_err().status(), Some(401));

    // Sign in and out with the password.
    let anon = Client::anonymous(&srv.api()).unwrap();
    let req = LoginRequest {
        domain: "my-company.lo".into(),
        username: "2020".into(),
        password: "dl75lfLcOLLL".into(),
        extension: None,
    };
    let session = anon.login_client(&req).await.unwrap();
    assert_eq!(
        session.userinfo().await.unwrap().user_id.as_deref(),
        Some(uid.as_str())
    );
    session.logout().await.unwrap();
    assert_eq!(session.userinfo().await.unwrap_err().status(), Some(401));
    let bad = LoginRequest {
        password: "wrong".into(),
        ..req
    };
    assert_eq!(anon.login(&bad).await.unwrap_err().status(), Some(401));

    // Roles: create, read, search, delete.
    let r = api
        .create_role(&Role {
            name: Some("ops".into()),
            scope: vec![Objclass {
                class: "users".into(),
                access: "r".into(),
                ..Default::default()
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let rid = r.id.unwrap();
    assert_eq!(api.role(&rid).await.unwrap().name.as_deref(), Some("ops"));
    assert_eq!(
        api.roles(&Search::new().q("ops"))
            .await
            .unwrap()
            .items
            .len(),
        1
    );
    assert_eq!(
        api.delete_role(&rid).await.unwrap().name.as_deref(),
        Some("ops")
    );
    assert!(api.role(&rid).await.unwrap_err().is_not_found());

    // Users: delete one, delete many.
    let mk = |n: &str| User {
        username: Some(n.into()),
        name: Some(n.into()),
        ..Default::default()
    };
    let a = api.create_user(&mk("a1")).await.unwrap().id.unwrap();
    let b = api.create_user(&mk("b1")).await.unwrap().id.unwrap();
    assert_eq!(api.delete_user(&uid).await.unwrap().len(), 1);
    assert_eq!(api.delete_users(&[&a, &b]).await.unwrap().len(), 2);
    assert!(api.user(&uid).await.unwrap_err().is_not_found());
}
