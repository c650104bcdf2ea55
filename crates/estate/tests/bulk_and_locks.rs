//! Writing many rows at once, locking rows, streaming results and showing
//! query plans — on every backend.

use estate::db::{Backend, Database, DbError, ErrorKind};
use estate::orm::chrono::{DateTime, TimeZone, Utc};
use estate::orm::rust_decimal::Decimal;
use estate::orm::{ForUpdate, Json, create_table};
use estate::prelude::*;
use estate::test::each_backend;

#[derive(Model, Debug, Clone, PartialEq)]
#[model(ordering = "id")]
struct Item {
    id: Auto<i64>,
    #[model(max_length = 10)]
    name: String,
    count: i32,
    note: Option<String>,
    active: bool,
    #[model(max_digits = 8, decimal_places = 2)]
    price: Decimal,
    seen: DateTime<Utc>,
    data: Json<Vec<i32>>,
}

fn item(n: i32) -> Item {
    Item {
        id: Auto::new(),
        name: format!("item{n}"),
        count: n,
        note: None,
        active: false,
        price: Decimal::new(100 + i64::from(n), 2),
        seen: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        data: Json(vec![n]),
    }
}

async fn items(db: &Database, n: i32) -> Vec<Item> {
    create_table(db, Item::META).await.unwrap();
    Item::objects()
        .bulk_create(db, (1..=n).map(item).collect())
        .await
        .unwrap();
    // Reloaded: MySQL does not report the keys of a multi-row insert.
    Item::objects().all(db).await.unwrap()
}

#[tokio::test]
async fn bulk_update_writes_the_named_columns_of_many_rows() {
    each_backend(async |db| {
        let mut all = items(&db, 4).await;
        let moment = Utc.with_ymd_and_hms(2026, 11, 26, 12, 30, 0).unwrap();
        for obj in &mut all {
            obj.count *= 10;
            obj.note = Some(format!("it's {}", obj.name));
            obj.active = true;
            obj.price += Decimal::new(5, 1);
            obj.seen = moment;
            obj.data = Json(vec![obj.count, -1]);
            obj.name = "not saved".into(); // not among the columns
        }
        let updated = Item::objects()
            .bulk_update(
                &db,
                &all,
                (
                    Item::COUNT,
                    Item::NOTE,
                    Item::ACTIVE,
                    Item::PRICE,
                    Item::SEEN,
                    Item::DATA,
                ),
            )
            .await
            .unwrap();
        assert_eq!(updated, 4);
        let stored = Item::objects().all(&db).await.unwrap();
        for (stored, wanted) in stored.iter().zip(&all) {
            assert_eq!(stored.count, wanted.count);
            assert_eq!(stored.note, wanted.note);
            assert!(stored.active);
            assert_eq!(stored.price, wanted.price);
            assert_eq!(stored.seen, moment);
            assert_eq!(stored.data, wanted.data);
            assert_ne!(stored.name, "not saved");
        }

        // The query's filter limits which rows change; NULLs are written too.
        for obj in &mut all {
            obj.note = None;
        }
        let updated = Item::objects()
            .filter(Item::COUNT.gt(20))
            .bulk_update(&db, &all, Item::NOTE)
            .await
            .unwrap();
        assert_eq!(updated, 2);
        let notes: Vec<Option<String>> = Item::objects().values(Item::NOTE).all(&db).await.unwrap();
        assert_eq!(notes[0].as_deref(), Some("it's item1"));
        assert_eq!(notes[3], None);

        // Bad input: nothing is written.
        all[0].count = 7;
        all[1].name = "far too long for ten".into();
        let err = Item::objects()
            .bulk_update(&db, &all, (Item::COUNT, Item::NAME))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation, "{err}");
        assert!(err.to_string().contains("name"), "{err}");
        assert_eq!(Item::objects().first(&db).await.unwrap().unwrap().count, 10);
        let err = Item::objects()
            .bulk_update(&db, &[item(9)], Item::COUNT)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("unsaved Item"), "{err}");
        // A column named twice is written once.
        assert_eq!(
            Item::objects()
                .bulk_update(&db, &all[2..], (Item::COUNT, Item::COUNT))
                .await
                .unwrap(),
            2
        );
        let err = Item::objects()
            .bulk_update(&db, &all, Item::ID)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("primary key"), "{err}");
    })
    .await;
}

#[tokio::test]
async fn bulk_update_splits_large_batches() {
    each_backend(async |db| {
        let mut all = items(&db, 2100).await;
        for obj in &mut all {
            obj.count = -obj.count;
        }
        // 9 parameters per row: more than one statement.
        let updated = Item::objects()
            .bulk_update(
                &db,
                &all,
                (Item::COUNT, Item::NOTE, Item::ACTIVE, Item::SEEN),
            )
            .await
            .unwrap();
        assert_eq!(updated, 2100);
        assert_eq!(
            Item::objects()
                .filter(Item::COUNT.lt(0))
                .count(&db)
                .await
                .unwrap(),
            2100
        );
    })
    .await;
}

#[tokio::test]
async fn select_for_update_locks_rows_until_the_transaction_ends() {
    each_backend(async |db| {
        let first_id = items(&db, 3).await[0].id.get().unwrap();
        // Outside a transaction the lock would be useless: refused.
        let err = Item::objects()
            .select_for_update(ForUpdate::Wait)
            .all(&db)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("outside a transaction"), "{err}");

        let other = db.clone();
        db.atomic(async |tx| {
            // By key: InnoDB would lock every row a scan passes.
            let first = Item::objects()
                .filter(Item::ID.eq(first_id))
                .select_for_update(ForUpdate::Wait)
                .all(tx)
                .await?;
            assert_eq!(first.len(), 1);
            if db.backend() == Backend::Sqlite {
                // No row locks on SQLite: the write transaction is the lock.
                return Ok::<_, DbError>(());
            }
            // Another transaction skips the locked row, or refuses to wait.
            other
                .atomic(async |tx2| {
                    let free = Item::objects()
                        .select_for_update(ForUpdate::SkipLocked)
                        .all(tx2)
                        .await?;
                    let counts: Vec<i32> = free.iter().map(|i| i.count).collect();
                    assert_eq!(counts, [2, 3]);
                    let err = Item::objects()
                        .filter(Item::ID.eq(first_id))
                        .select_for_update(ForUpdate::NoWait)
                        .first(tx2)
                        .await
                        .unwrap_err();
                    assert_ne!(err.kind(), ErrorKind::DoesNotExist, "{err}");
                    Ok::<_, DbError>(())
                })
                .await?;
            Ok(())
        })
        .await
        .unwrap();
        // Committed: free for everyone again.
        let all = db
            .atomic(async |tx| {
                Item::objects()
                    .select_for_update(ForUpdate::NoWait)
                    .all(tx)
                    .await
            })
            .await
            .unwrap();
        assert_eq!(all.len(), 3);
    })
    .await;
}

#[derive(Model, Debug, Clone)]
struct Owner {
    id: Auto<i64>,
    #[model(max_length = 10)]
    name: String,
}

#[derive(Model, Debug, Clone)]
struct Pet {
    id: Auto<i64>,
    #[model(on_delete = Cascade)]
    owner: estate::orm::ForeignKey<Owner>,
}

#[tokio::test]
async fn select_for_update_with_select_related_locks_the_main_rows() {
    each_backend(async |db| {
        create_table(&db, Owner::META).await.unwrap();
        create_table(&db, Pet::META).await.unwrap();
        let mut ann = Owner {
            id: Auto::new(),
            name: "Ann".into(),
        };
        ann.save(&db).await.unwrap();
        let mut pet = Pet {
            id: Auto::new(),
            owner: estate::orm::ForeignKey::to(&ann).unwrap(),
        };
        pet.save(&db).await.unwrap();
        let pets = db
            .atomic(async |tx| {
                Pet::objects()
                    .select_related(Pet::OWNER)
                    .select_for_update(ForUpdate::Wait)
                    .all(tx)
                    .await
            })
            .await
            .unwrap();
        assert_eq!(pets[0].owner.get().unwrap().name, "Ann");
    })
    .await;
}

#[tokio::test]
async fn for_each_streams_rows_and_explain_shows_the_plan() {
    each_backend(async |db| {
        items(&db, 50).await;
        let mut total = 0;
        let rows = Item::objects()
            .filter(Item::COUNT.gt(10))
            .for_each(&db, |item| {
                total += item.count;
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(rows, 40);
        assert_eq!(total, (11..=50).sum::<i32>());
        // An error from the callback stops the query and comes back.
        let mut seen = 0;
        let err = Item::objects()
            .for_each(&db, |_| {
                seen += 1;
                if seen == 3 {
                    return Err(DbError::new(ErrorKind::Other, "enough"));
                }
                Ok(())
            })
            .await
            .unwrap_err();
        assert_eq!(err.to_string(), "enough");
        assert_eq!(seen, 3);
        // The pool is still usable afterwards.
        assert_eq!(Item::objects().count(&db).await.unwrap(), 50);

        let plan = Item::objects()
            .filter(Item::COUNT.gt(10))
            .explain(&db)
            .await
            .unwrap();
        assert!(plan.contains("item"), "{plan}");
    })
    .await;
}
