//! Models on every backend: field types round-tripping with edge values,
//! saving, reloading, deleting, validation, and QuerySet lookups.

use std::str::FromStr;

use estate::db::{Database, DbError, ErrorKind};
use estate::orm::chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use estate::orm::rust_decimal::Decimal;
use estate::orm::uuid::Uuid;
use estate::orm::{Backend, create_table};
use estate::prelude::*;
use estate::test::each_backend;

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "everything")]
struct Everything {
    id: Auto<i64>,
    small: i16,
    int: i32,
    big: i64,
    flag: bool,
    float: f64,
    #[model(max_length = 200)]
    title: String,
    body: String,
    #[model(max_digits = 20, decimal_places = 6)]
    price: Decimal,
    day: NaiveDate,
    time: NaiveTime,
    at: DateTime<Utc>,
    uid: Uuid,
    data: serde_json::Value,
    blob: Vec<u8>,
    maybe_int: Option<i32>,
    maybe_text: Option<String>,
    #[model(max_digits = 5, decimal_places = 2)]
    maybe_price: Option<Decimal>,
    maybe_at: Option<DateTime<Utc>>,
    maybe_uid: Option<Uuid>,
}

fn sample() -> Everything {
    Everything {
        id: Auto::new(),
        small: i16::MIN,
        int: i32::MAX,
        big: i64::MIN,
        flag: true,
        float: -3.25,
        title: "é".repeat(200),
        body: "Unicode ✓ 日本語 and a 'quote', a \"double\", 100% _under_ \\back".into(),
        price: Decimal::from_str("12345678901234.567890").unwrap(),
        day: NaiveDate::from_ymd_opt(1999, 12, 31).unwrap(),
        time: NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).unwrap(),
        // 12:00 at +02:00 is 10:00 UTC: stored as the same instant everywhere.
        at: DateTime::parse_from_rfc3339("2024-02-29T12:00:00.123456+02:00")
            .unwrap()
            .with_timezone(&Utc),
        uid: Uuid::new_v4(),
        data: serde_json::json!({"nested": {"list": [1, 2.5, "three", null, true]}, "empty": {}}),
        blob: vec![0, 255, 10, 13, 0],
        maybe_int: None,
        maybe_text: Some(String::new()),
        maybe_price: None,
        maybe_at: None,
        maybe_uid: None,
    }
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(table = "question", ordering = "-votes, text")]
struct Question {
    id: Auto<i64>,
    #[model(max_length = 50, index)]
    text: String,
    votes: i32,
    #[model(unique, max_length = 50)]
    slug: String,
    closed_at: Option<DateTime<Utc>>,
}

fn question(text: &str, votes: i32) -> Question {
    Question {
        id: Auto::new(),
        text: text.into(),
        votes,
        slug: text.to_lowercase().replace(' ', "-"),
        closed_at: None,
    }
}

async fn seeded(db: &Database) -> Vec<Question> {
    create_table(db, Question::META).await.unwrap();
    let mut saved = Vec::new();
    for (text, votes) in [
        ("Alpha", 3),
        ("Beta", 10),
        ("Gamma", 0),
        ("Delta", 10),
        ("Epsilon", 7),
    ] {
        let mut q = question(text, votes);
        q.save(db).await.unwrap();
        saved.push(q);
    }
    saved
}

#[tokio::test]
async fn every_field_type_round_trips() {
    each_backend(async |db| {
        create_table(&db, Everything::META).await.unwrap();
        let mut original = sample();
        original.save(&db).await.unwrap();
        assert!(original.id.is_set(), "the generated key is filled in");
        let loaded = Everything::objects().all(&db).await.unwrap();
        assert_eq!(loaded, vec![original.clone()], "on {}", db.backend());

        // The other side of every nullable field, and the other extremes.
        let mut other = Everything {
            small: i16::MAX,
            int: i32::MIN,
            big: i64::MAX,
            flag: false,
            title: String::new(),
            price: Decimal::from_str("-0.000001").unwrap(),
            maybe_int: Some(-7),
            maybe_text: None,
            maybe_price: Some(Decimal::from_str("999.99").unwrap()),
            maybe_at: Some(Utc.with_ymd_and_hms(2038, 1, 19, 3, 14, 7).unwrap()),
            maybe_uid: Some(Uuid::nil()),
            ..sample()
        };
        other.save(&db).await.unwrap();
        let loaded = Everything::objects()
            .get(&db, Everything::ID.eq(other.id.get().unwrap()))
            .await
            .unwrap();
        assert_eq!(loaded, other, "on {}", db.backend());
        assert_eq!(Everything::objects().count(&db).await.unwrap(), 2);
    })
    .await;
}

#[tokio::test]
async fn save_inserts_then_updates_and_delete_removes() {
    each_backend(async |db| {
        create_table(&db, Question::META).await.unwrap();
        let mut q = question("What's new?", 0);
        q.save(&db).await.unwrap();
        let id = q.id.get().unwrap();
        q.votes = 5;
        q.save(&db).await.unwrap();
        assert_eq!(q.id.get(), Some(id), "an update keeps the key");
        assert_eq!(Question::objects().count(&db).await.unwrap(), 1);

        let mut copy = Question::objects()
            .get(&db, Question::ID.eq(id))
            .await
            .unwrap();
        assert_eq!(copy.votes, 5);
        q.text = "Changed".into();
        q.save(&db).await.unwrap();
        copy.refresh(&db).await.unwrap();
        assert_eq!(copy.text, "Changed");

        assert_eq!(q.delete(&db).await.unwrap().total, 1);
        assert_eq!(Question::objects().count(&db).await.unwrap(), 0);
        let err = copy.refresh(&db).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DoesNotExist);

        let unsaved = question("Never saved", 1);
        let err = unsaved.delete(&db).await.unwrap_err();
        assert!(
            err.message().contains("cannot delete an unsaved Question"),
            "{err}"
        );
    })
    .await;
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Token {
    #[model(primary_key)]
    key: Uuid,
    #[model(default = "reader")]
    scope: String,
}

#[tokio::test]
async fn explicit_keys_insert_once_then_update() {
    each_backend(async |db| {
        create_table(&db, Token::META).await.unwrap();
        let mut token = Token {
            key: Uuid::new_v4(),
            scope: "reader".into(),
        };
        token.save(&db).await.unwrap();
        token.scope = "writer".into();
        token.save(&db).await.unwrap();
        let all = Token::objects().all(&db).await.unwrap();
        assert_eq!(all, vec![token.clone()]);
        // The same value saved again is still one row (MySQL reports 0
        // changed rows for it).
        token.save(&db).await.unwrap();
        assert_eq!(Token::objects().count(&db).await.unwrap(), 1);
        let default = (Token::META.field("scope").unwrap().default.unwrap())();
        assert_eq!(default, estate::db::Value::String("reader".into()));
    })
    .await;
}

#[tokio::test]
async fn validation_names_the_field_and_writes_nothing() {
    each_backend(async |db| {
        create_table(&db, Question::META).await.unwrap();
        let mut q = question(&"x".repeat(51), 1);
        let err = q.save(&db).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation);
        assert_eq!(err.field(), Some("text"));
        assert_eq!(
            err.to_string(),
            "text: ensure this value has at most 50 characters (it has 51)"
        );
        // 50 multi-byte characters are fine: the limit counts characters.
        let mut ok = question(&"é".repeat(50), 1);
        ok.save(&db).await.unwrap();
        assert_eq!(Question::objects().count(&db).await.unwrap(), 1);

        create_table(&db, Everything::META).await.unwrap();
        let mut bad = Everything {
            price: Decimal::from_str("1.1234567").unwrap(),
            ..sample()
        };
        let err = bad.save(&db).await.unwrap_err();
        assert_eq!(err.field(), Some("price"));
        assert!(
            err.message().contains("no more than 6 decimal places"),
            "{err}"
        );
        let mut bad = Everything {
            maybe_price: Some(Decimal::from_str("1000").unwrap()),
            ..sample()
        };
        let err = bad.save(&db).await.unwrap_err();
        assert!(
            err.message()
                .contains("no more than 3 digits before the decimal point"),
            "{err}"
        );
        assert_eq!(Everything::objects().count(&db).await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn unique_columns_raise_unique_violations() {
    each_backend(async |db| {
        create_table(&db, Question::META).await.unwrap();
        question("Same", 1).save(&db).await.unwrap();
        let err = question("Same", 2).save(&db).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UniqueViolation, "{err}");
    })
    .await;
}

fn texts(questions: &[Question]) -> Vec<&str> {
    questions.iter().map(|q| q.text.as_str()).collect()
}

#[tokio::test]
async fn lookups_filter_order_and_slice() {
    each_backend(async |db| {
        let saved = seeded(&db).await;
        let objects = Question::objects();

        // Default ordering: -votes, text.
        let all = objects.all(&db).await.unwrap();
        assert_eq!(texts(&all), ["Beta", "Delta", "Epsilon", "Alpha", "Gamma"]);

        let eq = objects
            .clone()
            .filter(Question::VOTES.eq(10))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(texts(&eq), ["Beta", "Delta"]);
        let ne = objects
            .clone()
            .filter(Question::VOTES.ne(10))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(ne, 3);
        let lt = objects
            .clone()
            .filter(Question::VOTES.lt(7))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(texts(&lt), ["Alpha", "Gamma"]);
        let lte = objects
            .clone()
            .filter(Question::VOTES.lte(7))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(lte, 3);
        let gt = objects
            .clone()
            .filter(Question::VOTES.gt(7))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(gt, 2);
        let gte = objects
            .clone()
            .filter(Question::VOTES.gte(7))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(gte, 3);
        let range = objects
            .clone()
            .filter(Question::VOTES.range(1, 7))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(texts(&range), ["Epsilon", "Alpha"]);
        let in_ = objects
            .clone()
            .filter(Question::TEXT.in_(["Alpha", "Gamma", "Nope"]))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(texts(&in_), ["Alpha", "Gamma"]);
        let none: Vec<&str> = Vec::new();
        assert_eq!(
            objects
                .clone()
                .filter(Question::TEXT.in_(none))
                .count(&db)
                .await
                .unwrap(),
            0
        );
        let by_key = objects
            .clone()
            .filter(Question::ID.in_(saved.iter().take(2).map(|q| q.id.get().unwrap())))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(by_key, 2);

        // and / or / not, exclude
        let either = objects
            .clone()
            .filter(Question::TEXT.eq("Alpha") | Question::VOTES.eq(0))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(texts(&either), ["Alpha", "Gamma"]);
        let both = objects
            .clone()
            .filter(Question::VOTES.eq(10) & !Question::TEXT.eq("Beta"))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(texts(&both), ["Delta"]);
        let excluded = objects
            .clone()
            .exclude(Question::VOTES.gte(7))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(texts(&excluded), ["Alpha", "Gamma"]);

        // order_by, limit, offset, first, count of a slice, exists
        let ordered = objects
            .clone()
            .order_by([Question::TEXT.asc()])
            .offset(1)
            .limit(2)
            .all(&db)
            .await
            .unwrap();
        assert_eq!(texts(&ordered), ["Beta", "Delta"]);
        let by_votes_then_text_desc = objects
            .clone()
            .order_by([Question::VOTES.asc(), Question::TEXT.desc()])
            .all(&db)
            .await
            .unwrap();
        assert_eq!(
            texts(&by_votes_then_text_desc),
            ["Gamma", "Alpha", "Epsilon", "Delta", "Beta"]
        );
        let first = objects.clone().first(&db).await.unwrap().unwrap();
        assert_eq!(first.text, "Beta");
        assert_eq!(objects.clone().limit(2).count(&db).await.unwrap(), 2);
        assert_eq!(objects.clone().offset(4).count(&db).await.unwrap(), 1);
        assert!(
            objects
                .clone()
                .filter(Question::VOTES.eq(3))
                .exists(&db)
                .await
                .unwrap()
        );
        assert!(
            !objects
                .clone()
                .filter(Question::VOTES.eq(4))
                .exists(&db)
                .await
                .unwrap()
        );
        assert!(
            objects
                .clone()
                .filter(Question::VOTES.eq(4))
                .first(&db)
                .await
                .unwrap()
                .is_none()
        );

        // isnull
        let mut closed = saved[0].clone();
        closed.closed_at = Some(Utc::now());
        closed.save(&db).await.unwrap();
        let open = objects
            .clone()
            .filter(Question::CLOSED_AT.isnull(true))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(open, 4);
        let shut = objects
            .clone()
            .filter(Question::CLOSED_AT.isnull(false))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(texts(&shut), ["Alpha"]);
        let before = objects
            .clone()
            .filter(Question::CLOSED_AT.lt(Utc::now()))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(before, 1);
    })
    .await;
}

#[tokio::test]
async fn get_reports_none_and_many() {
    each_backend(async |db| {
        seeded(&db).await;
        let err = Question::objects()
            .get(&db, Question::TEXT.eq("Zeta"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DoesNotExist);
        assert_eq!(err.to_string(), "Question matching query does not exist");
        let err = Question::objects()
            .get(&db, Question::VOTES.eq(10))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::MultipleObjectsReturned);
        let one = Question::objects()
            .get(&db, Question::SLUG.eq("gamma"))
            .await
            .unwrap();
        assert_eq!(one.votes, 0);
    })
    .await;
}

#[tokio::test]
async fn queryset_delete_removes_matching_rows() {
    each_backend(async |db| {
        seeded(&db).await;
        let deleted = Question::objects()
            .filter(Question::VOTES.gte(7))
            .delete(&db)
            .await
            .unwrap();
        assert_eq!(deleted.total, 3);
        assert_eq!(deleted.per_model["Question"], 3);
        assert_eq!(Question::objects().count(&db).await.unwrap(), 2);
        let err = Question::objects().limit(1).delete(&db).await.unwrap_err();
        assert!(err.message().contains("cannot delete a sliced query"));
    })
    .await;
}

#[tokio::test]
async fn lookup_values_are_matched_literally() {
    each_backend(async |db| {
        create_table(&db, Question::META).await.unwrap();
        let mut hostile = vec![
            "'; DROP TABLE question; --",
            "100%",
            "under_score",
            "back\\slash",
            "\"quoted\"",
        ];
        if db.backend() != Backend::Postgres {
            hostile.push("nul\0byte");
        }
        for (i, text) in hostile.iter().enumerate() {
            let mut q = question(text, i as i32);
            q.slug = format!("s{i}");
            q.save(&db).await.unwrap();
        }
        for text in &hostile {
            let found = Question::objects()
                .get(&db, Question::TEXT.eq(*text))
                .await
                .unwrap();
            assert_eq!(found.text, *text, "on {}", db.backend());
        }
        assert_eq!(
            Question::objects().count(&db).await.unwrap(),
            hostile.len() as i64
        );
    })
    .await;
}

#[tokio::test]
async fn models_work_inside_transactions() {
    each_backend(async |db| {
        create_table(&db, Question::META).await.unwrap();
        let failed: Result<(), DbError> = db
            .atomic(async |tx| {
                question("Inside", 1).save(tx).await?;
                assert_eq!(Question::objects().count(tx).await?, 1);
                Err(DbError::new(ErrorKind::Other, "roll it back"))
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(Question::objects().count(&db).await.unwrap(), 0);
    })
    .await;
}

#[test]
fn metadata_describes_the_model() {
    let meta = Question::META;
    assert_eq!(meta.name, "Question");
    assert_eq!(meta.table, "question");
    assert_eq!(meta.verbose_name, "question");
    assert_eq!(meta.verbose_name_plural, "questions");
    assert_eq!(meta.pk().name, "id");
    assert!(meta.pk().is_auto());
    let text = meta.field("text").unwrap();
    assert_eq!(text.max_length, Some(50));
    assert!(text.index);
    assert!(meta.field("slug").unwrap().unique);
    assert!(meta.field("closed_at").unwrap().null);
    assert_eq!(meta.ordering, &[("votes", true), ("text", false)]);
    assert_eq!(
        Everything::META.field("price").unwrap().max_digits,
        Some(20)
    );
    assert!(
        Question::objects()
            .filter(Question::VOTES.gt(1))
            .sql(Backend::Postgres)
            .starts_with(r#"SELECT "question"."id", "question"."text""#)
    );
}

#[tokio::test]
async fn text_lookups_have_the_same_meaning_on_every_backend() {
    each_backend(async |db| {
        create_table(&db, Question::META).await.unwrap();
        for (i, text) in [
            "Hello World",
            "hello world",
            "100% sure",
            "100 percent",
            "snake_case",
            "snakeXcase",
            "glob*star?[x]",
            "Ünïcode Ärger",
        ]
        .iter()
        .enumerate()
        {
            let mut q = question(text, i as i32);
            q.slug = format!("s{i}");
            q.save(&db).await.unwrap();
        }
        let find = async |condition| {
            let mut found: Vec<String> = Question::objects()
                .filter(condition)
                .all(&db)
                .await
                .unwrap()
                .into_iter()
                .map(|q| q.text)
                .collect();
            found.sort();
            found
        };
        let backend = db.backend();
        assert_eq!(
            find(Question::TEXT.contains("World")).await,
            ["Hello World"],
            "{backend}"
        );
        assert_eq!(
            find(Question::TEXT.icontains("WORLD")).await,
            ["Hello World", "hello world"],
            "{backend}"
        );
        assert_eq!(
            find(Question::TEXT.startswith("hello")).await,
            ["hello world"],
            "{backend}"
        );
        assert_eq!(
            find(Question::TEXT.istartswith("HELLO")).await,
            ["Hello World", "hello world"],
            "{backend}"
        );
        assert_eq!(
            find(Question::TEXT.endswith("World")).await,
            ["Hello World"],
            "{backend}"
        );
        assert_eq!(
            find(Question::TEXT.iendswith("world")).await,
            ["Hello World", "hello world"],
            "{backend}"
        );
        assert_eq!(
            find(Question::TEXT.iexact("hello WORLD")).await,
            ["Hello World", "hello world"],
            "{backend}"
        );
        // Wildcards in the value are literal text.
        assert_eq!(
            find(Question::TEXT.contains("0%")).await,
            ["100% sure"],
            "{backend}"
        );
        assert_eq!(
            find(Question::TEXT.icontains("0%")).await,
            ["100% sure"],
            "{backend}"
        );
        assert_eq!(
            find(Question::TEXT.contains("e_c")).await,
            ["snake_case"],
            "{backend}"
        );
        assert_eq!(
            find(Question::TEXT.icontains("E_C")).await,
            ["snake_case"],
            "{backend}"
        );
        assert_eq!(
            find(Question::TEXT.contains("*star?[")).await,
            ["glob*star?[x]"],
            "{backend}"
        );
        assert_eq!(
            find(Question::TEXT.contains("Ärger")).await,
            ["Ünïcode Ärger"],
            "{backend}"
        );
        assert!(
            find(Question::TEXT.contains("ärger")).await.is_empty(),
            "{backend}"
        );
        assert!(
            find(Question::TEXT.contains("%")).await.len() == 1,
            "{backend}"
        );
        assert_eq!(
            find(Question::TEXT.startswith("100") & !Question::TEXT.contains("%")).await,
            ["100 percent"],
            "{backend}"
        );
    })
    .await;
}

#[tokio::test]
async fn update_with_f_expressions_loses_no_concurrent_increment() {
    each_backend(async |db| {
        let saved = seeded(&db).await;
        let beta = saved[1].id.get().unwrap();
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let db = db.clone();
                tokio::spawn(async move {
                    Question::objects()
                        .filter(Question::ID.eq(beta))
                        .update(&db, [Question::VOTES.set(Question::VOTES + 1)])
                        .await
                        .unwrap()
                })
            })
            .collect();
        for task in tasks {
            assert_eq!(task.await.unwrap(), 1);
        }
        let beta_now = Question::objects()
            .get(&db, Question::ID.eq(beta))
            .await
            .unwrap();
        assert_eq!(beta_now.votes, 30, "10 + 20 on {}", db.backend());

        // Arithmetic chains and plain values; only matching rows change.
        let changed = Question::objects()
            .filter(Question::VOTES.lt(5))
            .update(
                &db,
                [
                    Question::VOTES.set((Question::VOTES + 2) * 10),
                    Question::CLOSED_AT.set(Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()),
                ],
            )
            .await
            .unwrap();
        assert_eq!(changed, 2);
        let alpha = Question::objects()
            .get(&db, Question::TEXT.eq("Alpha"))
            .await
            .unwrap();
        assert_eq!(alpha.votes, 50);
        assert!(alpha.closed_at.is_some());
        let gamma = Question::objects()
            .get(&db, Question::TEXT.eq("Gamma"))
            .await
            .unwrap();
        assert_eq!(gamma.votes, 20);
        let untouched = Question::objects()
            .get(&db, Question::TEXT.eq("Epsilon"))
            .await
            .unwrap();
        assert_eq!((untouched.votes, untouched.closed_at), (7, None));
        Question::objects()
            .update(
                &db,
                [
                    Question::TEXT.set("same"),
                    Question::VOTES.set(Question::VOTES - Question::VOTES),
                ],
            )
            .await
            .unwrap();
        assert_eq!(
            Question::objects()
                .filter(Question::VOTES.eq(0))
                .count(&db)
                .await
                .unwrap(),
            5
        );
    })
    .await;
}

#[tokio::test]
async fn bulk_create_and_get_or_create() {
    each_backend(async |db| {
        create_table(&db, Question::META).await.unwrap();
        let many: Vec<Question> = (0..1500)
            .map(|i| {
                let mut q = question(&format!("Q{i}"), i % 7);
                q.slug = format!("q{i}");
                q
            })
            .collect();
        let created = Question::objects().bulk_create(&db, many).await.unwrap();
        assert_eq!(Question::objects().count(&db).await.unwrap(), 1500);
        if db.features().supports_returning {
            let keys: Vec<i64> = created.iter().map(|q| q.id.get().unwrap()).collect();
            assert!(
                keys.windows(2).all(|w| w[0] < w[1]),
                "keys in insertion order"
            );
            let stored = Question::objects()
                .get_by_key(&db, keys[1234])
                .await
                .unwrap();
            assert_eq!(stored.text, "Q1234");
        }

        // One bad row: nothing is written.
        let bad = vec![question("fine", 1), question(&"x".repeat(51), 1)];
        let err = Question::objects().bulk_create(&db, bad).await.unwrap_err();
        assert_eq!(err.field(), Some("text"));
        assert_eq!(Question::objects().count(&db).await.unwrap(), 1500);

        let (first, created) = Question::objects()
            .get_or_create(&db, Question::SLUG.eq("new"), || {
                let mut q = question("New", 1);
                q.slug = "new".into();
                q
            })
            .await
            .unwrap();
        assert!(created);
        let (again, created) = Question::objects()
            .get_or_create(&db, Question::SLUG.eq("new"), || unreachable!("exists"))
            .await
            .unwrap();
        assert!(!created);
        assert_eq!(again.id, first.id);

        let (updated, created) = Question::objects()
            .update_or_create(
                &db,
                Question::SLUG.eq("new"),
                |q| q.votes = 99,
                || unreachable!(),
            )
            .await
            .unwrap();
        assert!(!created);
        assert_eq!(updated.votes, 99);
        let (made, created) = Question::objects()
            .update_or_create(
                &db,
                Question::SLUG.eq("other"),
                |_| {},
                || {
                    let mut q = question("Other", 5);
                    q.slug = "other".into();
                    q
                },
            )
            .await
            .unwrap();
        assert!(created && made.id.is_set());
        let via_create = Question::objects()
            .create(&db, question("Created", 3))
            .await
            .unwrap();
        assert!(via_create.id.is_set());
    })
    .await;
}

#[tokio::test]
async fn date_parts_compare_in_utc() {
    each_backend(async |db| {
        create_table(&db, Everything::META).await.unwrap();
        for (day, at) in [
            (
                NaiveDate::from_ymd_opt(2024, 2, 29).unwrap(),
                "2024-02-29T23:30:00.5+00:00",
            ),
            // 01:30 at +02:00 is still the 31st in UTC.
            (
                NaiveDate::from_ymd_opt(2023, 12, 31).unwrap(),
                "2024-01-01T01:30:00+02:00",
            ),
            (
                NaiveDate::from_ymd_opt(2025, 7, 4).unwrap(),
                "2025-07-04T12:00:00+00:00",
            ),
        ] {
            let mut row = Everything {
                day,
                at: DateTime::parse_from_rfc3339(at)
                    .unwrap()
                    .with_timezone(&Utc),
                ..sample()
            };
            row.save(&db).await.unwrap();
        }
        let count = async |condition| {
            Everything::objects()
                .filter(condition)
                .count(&db)
                .await
                .unwrap()
        };
        let backend = db.backend();
        assert_eq!(count(Everything::DAY.year().eq(2024)).await, 1, "{backend}");
        assert_eq!(
            count(Everything::DAY.year().gte(2024)).await,
            2,
            "{backend}"
        );
        assert_eq!(count(Everything::DAY.month().eq(12)).await, 1, "{backend}");
        assert_eq!(count(Everything::DAY.day().eq(29)).await, 1, "{backend}");
        assert_eq!(
            count(Everything::AT.year().eq(2023)).await,
            1,
            "UTC, not local: {backend}"
        );
        assert_eq!(count(Everything::AT.month().eq(2)).await, 1, "{backend}");
        assert_eq!(count(Everything::AT.day().eq(31)).await, 1, "{backend}");
        assert_eq!(count(Everything::AT.day().lt(10)).await, 1, "{backend}");
        assert_eq!(
            count(Everything::MAYBE_AT.year().eq(2024)).await,
            0,
            "NULLs never match: {backend}"
        );
    })
    .await;
}

#[tokio::test]
async fn aggregates_have_one_type_on_every_backend() {
    use estate::orm::{Avg, Count, Max, Min, Sum};
    each_backend(async |db| {
        let saved = seeded(&db).await; // votes: 3, 10, 0, 10, 7
        let (count, sum, avg, max) = Question::objects()
            .aggregate(
                &db,
                (
                    Count::all(),
                    Sum::of(Question::VOTES),
                    Avg::of(Question::VOTES),
                    Max::of(Question::TEXT),
                ),
            )
            .await
            .unwrap();
        let backend = db.backend();
        assert_eq!(count, 5, "{backend}");
        assert_eq!(sum, Some(30), "{backend}");
        assert_eq!(avg, Some(6.0), "{backend}");
        assert_eq!(max.as_deref(), Some("Gamma"), "{backend}");

        // Filtered aggregates and the empty case.
        let (popular, popular_votes, min) = Question::objects()
            .aggregate(
                &db,
                (
                    Count::all().filter(Question::VOTES.gte(7)),
                    Sum::of(Question::VOTES).filter(Question::VOTES.lt(5)),
                    Min::of(Question::VOTES),
                ),
            )
            .await
            .unwrap();
        assert_eq!(
            (popular, popular_votes, min),
            (3, Some(3), Some(0)),
            "{backend}"
        );
        let (none, nothing) = Question::objects()
            .filter(Question::VOTES.gt(100))
            .aggregate(&db, (Count::all(), Sum::of(Question::VOTES)))
            .await
            .unwrap();
        assert_eq!((none, nothing), (0, None), "{backend}");

        // Per group.
        let mut closed = saved[1].clone();
        closed.closed_at = Some(Utc::now());
        closed.save(&db).await.unwrap();
        let groups = Question::objects()
            .group_by(Question::VOTES)
            .aggregate(&db, (Count::all(), Count::of(Question::CLOSED_AT)))
            .await
            .unwrap();
        assert_eq!(
            groups,
            vec![(0, (1, 0)), (3, (1, 0)), (7, (1, 0)), (10, (2, 1))],
            "{backend}"
        );
    })
    .await;
}
