//! Do-not-call lists: numbers once per list, domain scoping, a queue's list, and the dialer's
//! read leaving barred numbers out. SQLite, or PostgreSQL when SWITCHBOARD_TEST_PG names a
//! server (e.g. postgres://postgres@127.0.0.1:5432/test).

use rand::Rng;
use switchboard_store::{
    CommunicationRow, ListCommunicationFilter, ListCommunicationInput, ListInput, MemberInput,
    Page, QueueInput, Store, StoreError,
};

async fn store(dir: &std::path::Path) -> Store {
    match std::env::var("SWITCHBOARD_TEST_PG") {
        Ok(url) if !url.is_empty() => {
            let name = format!("sb_test_{:016x}", rand::thread_rng().gen::<u64>());
            switchboard_store::create_postgres_database(&url, &name)
                .await
                .expect("create test database");
            let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&url);
            Store::connect(&format!("{base}/{name}"))
                .await
                .expect("connect test database")
        }
        _ => Store::open_sqlite(dir).await.expect("sqlite"),
    }
}

fn number(n: &str, expire_at: Option<i64>) -> ListCommunicationInput {
    ListCommunicationInput {
        number: n.into(),
        description: String::new(),
        expire_at,
    }
}

fn member(name: &str, numbers: &[&str]) -> MemberInput {
    MemberInput {
        name: name.into(),
        communications: numbers
            .iter()
            .map(|n| CommunicationRow {
                destination: n.to_string(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn page() -> Page {
    Page {
        page: 1,
        size: 100,
        ..Default::default()
    }
}

#[tokio::test]
async fn lists_keep_a_number_once_and_stay_in_their_domain() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    let d1 = s.create_domain("one.lo").await.unwrap().id;
    let d2 = s.create_domain("two.lo").await.unwrap().id;
    let list = s
        .create_list(
            d1,
            &ListInput {
                name: "Opt-outs".into(),
                description: "asked not to be called".into(),
            },
            None,
        )
        .await
        .unwrap();
    assert_eq!((list.name.as_str(), list.count), ("Opt-outs", 0));
    let dup = s
        .create_list(
            d1,
            &ListInput {
                name: "Opt-outs".into(),
                ..Default::default()
            },
            None,
        )
        .await;
    assert!(matches!(
        dup,
        Err(StoreError::Conflict { field: "name", .. })
    ));

    let res = s
        .create_list_communications(
            d1,
            list.id,
            &[
                number("100", None),
                number("200", Some(5)),
                number("100", None),
            ],
        )
        .await
        .unwrap();
    assert!(res[0].is_ok() && res[1].is_ok());
    assert!(matches!(
        res[2],
        Err(StoreError::Conflict {
            field: "number",
            ..
        })
    ));
    assert_eq!(s.get_list(d1, list.id).await.unwrap().count, 2);

    // Another domain sees neither the list nor its numbers.
    assert!(matches!(
        s.get_list(d2, list.id).await,
        Err(StoreError::NotFound("list"))
    ));
    assert!(matches!(
        s.create_list_communications(d2, list.id, &[number("300", None)])
            .await,
        Err(StoreError::NotFound("list"))
    ));
    let id200 = res[1].as_ref().unwrap().id;
    assert!(s.get_list_communication(d2, list.id, id200).await.is_err());

    // Search by number and by expiry.
    let found = s
        .search_list_communications(
            d1,
            list.id,
            &ListCommunicationFilter {
                q: Some("20".into()),
                ..Default::default()
            },
            &page(),
        )
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1);
    assert_eq!(found.items[0].number, "200");
    let expiring = s
        .search_list_communications(
            d1,
            list.id,
            &ListCommunicationFilter {
                expire_at: (Some(1), Some(10)),
                ..Default::default()
            },
            &page(),
        )
        .await
        .unwrap();
    assert_eq!(expiring.items.len(), 1);

    // Renaming a number onto another of the list is a conflict; a change is kept.
    let id100 = res[0].as_ref().unwrap().id;
    assert!(matches!(
        s.update_list_communication(d1, list.id, id200, &number("100", None))
            .await,
        Err(StoreError::Conflict {
            field: "number",
            ..
        })
    ));
    let changed = s
        .update_list_communication(d1, list.id, id200, &number("201", None))
        .await
        .unwrap();
    assert_eq!((changed.number.as_str(), changed.expire_at), ("201", None));
    s.delete_list_communication(d1, list.id, id100)
        .await
        .unwrap();
    assert_eq!(s.get_list(d1, list.id).await.unwrap().count, 1);
}

#[tokio::test]
async fn a_queue_names_a_list_of_its_domain_and_the_dialer_skips_barred_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path()).await;
    let d1 = s.create_domain("one.lo").await.unwrap().id;
    let d2 = s.create_domain("two.lo").await.unwrap().id;
    let list = s
        .create_list(
            d1,
            &ListInput {
                name: "DNC".into(),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    let foreign = s
        .create_list(
            d2,
            &ListInput {
                name: "Theirs".into(),
                ..Default::default()
            },
            None,
        )
        .await
        .unwrap();
    let queue = |dnc: Option<i64>| QueueInput {
        name: "Campaign".into(),
        kind: 4,
        strategy: "fifo".into(),
        enabled: true,
        payload: serde_json::json!({}),
        dnc_list_id: dnc,
        ..Default::default()
    };
    for bad in [Some(foreign.id), Some(list.id + 1000)] {
        assert!(matches!(
            s.create_queue(d1, &queue(bad), None).await,
            Err(StoreError::Invalid(_))
        ));
    }
    let q = s
        .create_queue(d1, &queue(Some(list.id)), None)
        .await
        .unwrap();
    assert_eq!(q.dnc_list, Some((list.id, "DNC".into())));
    assert!(matches!(
        s.update_queue(d1, q.id, &queue(Some(foreign.id)), None)
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(
        s.get_queue(d1, q.id).await.unwrap().dnc_list,
        Some((list.id, "DNC".into()))
    );
    // A list in use stays.
    assert!(matches!(
        s.delete_list(d1, list.id).await,
        Err(StoreError::InUse { what: "list", .. })
    ));

    let now = switchboard_store::now_ms();
    s.create_list_communications(
        d1,
        list.id,
        &[
            number("111", None),
            number("222", Some(now + 3_600_000)),
            number("333", Some(now - 1_000)),
        ],
    )
    .await
    .unwrap();
    let ids = s
        .create_members(
            d1,
            q.id,
            &[
                member("barred", &["111"]),
                member("barred until later", &["222"]),
                member("expired bar", &["333"]),
                member("one of two", &["111", "444"]),
                member("free", &["555"]),
            ],
            None,
        )
        .await
        .unwrap();
    let blocked = s
        .dnc_blocked(d1, q.id, &["111".into(), "333".into(), "555".into()], now)
        .await
        .unwrap();
    assert_eq!(blocked.into_iter().collect::<Vec<_>>(), vec!["111"]);

    let ready = s.ready_members(d1, q.id, now, 50).await.unwrap();
    let names: Vec<&str> = ready.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, vec!["expired bar", "one of two", "free"]);
    let two = &ready[1];
    assert_eq!(
        (
            two.communications[0].state,
            two.communications[0].last_cause.as_str()
        ),
        (1, "block")
    );
    assert_eq!(two.communications[1].state, 0);
    for (id, cause) in [
        (ids[0], Some("block")),
        (ids[1], Some("block")),
        (ids[4], None),
    ] {
        let m = s.get_member(d1, Some(q.id), id).await.unwrap();
        assert_eq!(m.stop_cause.as_deref(), cause, "{}", m.name);
    }
    // A batch smaller than the barred members still fills from the rest.
    let more = s
        .create_members(
            d1,
            q.id,
            &[
                member("b1", &["111"]),
                member("b2", &["111"]),
                member("b3", &["111"]),
                member("ok", &["666"]),
            ],
            None,
        )
        .await
        .unwrap();
    let ready = s.ready_members(d1, q.id, now, 4).await.unwrap();
    assert_eq!(ready.len(), 4, "{ready:?}");
    let names: Vec<&str> = ready.iter().map(|m| m.name.as_str()).collect();
    assert!(ready.iter().any(|m| m.id == more[3]), "{names:?}");

    // Without a list nothing is barred.
    s.update_queue(d1, q.id, &queue(None), None).await.unwrap();
    assert!(s
        .dnc_blocked(d1, q.id, &["111".into()], now)
        .await
        .unwrap()
        .is_empty());
    s.delete_list(d1, list.id).await.unwrap();
}
