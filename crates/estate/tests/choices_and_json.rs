//! Enums as choices (stored as text or integers, with labels) and any serde
//! type as JSON, on every backend.

use std::collections::BTreeMap;
use std::collections::HashMap;

use estate::db::ErrorKind;
use estate::orm::{Choice, ChoiceValue, Choices, FieldType, Json, create_table};
use estate::prelude::*;
use estate::test::each_backend;
use serde::{Deserialize, Serialize};

#[derive(Choices, Clone, Copy, Debug, PartialEq)]
enum Status {
    Open,
    #[choice(label = "Work in progress")]
    InProgress,
    #[choice(value = "done")]
    Closed,
}

#[derive(Choices, Clone, Copy, Debug, PartialEq)]
enum Priority {
    Low = 1,
    High = 5,
    #[choice(label = "Drop everything")]
    Urgent = 9,
}

#[derive(Choices, Clone, Copy, Debug, PartialEq)]
enum Temperature {
    Freezing = -10,
    #[choice(value = -1)]
    Cold,
    Warm = 20,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Default)]
struct Settings {
    theme: String,
    size: u8,
    tags: Vec<String>,
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Ticket {
    id: Auto<i64>,
    status: Status,
    priority: Priority,
    previous: Option<Status>,
    settings: Json<Settings>,
    extra: Option<Json<BTreeMap<String, i64>>>,
}

/// The same table, read without the enum, to store values the enum lacks.
#[derive(Model, Debug, Clone)]
#[model(table = "ticket")]
struct RawTicket {
    id: Auto<i64>,
    #[model(max_length = 11)]
    status: String,
    priority: i32,
    #[model(max_length = 11)]
    previous: Option<String>,
    settings: serde_json::Value,
    extra: Option<serde_json::Value>,
}

fn ticket(status: Status, priority: Priority) -> Ticket {
    Ticket {
        id: Auto::new(),
        status,
        priority,
        previous: None,
        settings: Json(Settings {
            theme: "dark \"quoted\" ünïcode".into(),
            size: 3,
            tags: vec!["a".into(), "b".into()],
        }),
        extra: None,
    }
}

#[test]
fn choices_describe_values_and_labels() {
    assert_eq!(
        Status::CHOICES,
        [
            Choice {
                value: ChoiceValue::Text("open"),
                label: "Open",
                name: "Open"
            },
            Choice {
                value: ChoiceValue::Text("in_progress"),
                label: "Work in progress",
                name: "InProgress"
            },
            Choice {
                value: ChoiceValue::Text("done"),
                label: "Closed",
                name: "Closed"
            },
        ]
    );
    assert_eq!(Priority::Urgent.value(), ChoiceValue::Int(9));
    assert_eq!(
        Priority::from_value(ChoiceValue::Int(5)),
        Some(Priority::High)
    );
    assert_eq!(Priority::from_value(ChoiceValue::Int(2)), None);
    assert_eq!(Status::InProgress.to_string(), "Work in progress");
    assert_eq!(Temperature::Freezing.value(), ChoiceValue::Int(-10));
    assert_eq!(Temperature::Cold.value(), ChoiceValue::Int(-1));
    assert_eq!(
        Temperature::from_value(ChoiceValue::Int(20)),
        Some(Temperature::Warm)
    );

    let status = Ticket::META.field("status").unwrap();
    assert_eq!(status.field_type, FieldType::String);
    assert_eq!(status.max_length, Some(11), "fits `in_progress`");
    assert_eq!(status.choices.unwrap().len(), 3);
    let priority = Ticket::META.field("priority").unwrap();
    assert_eq!(priority.field_type, FieldType::Int);
    assert_eq!(priority.choices.unwrap()[2].label, "Drop everything");
    assert!(Ticket::META.field("previous").unwrap().null);
    assert_eq!(
        Ticket::META.field("settings").unwrap().field_type,
        FieldType::Json
    );
}

#[tokio::test]
async fn choices_round_trip_and_filter() {
    each_backend(async |db| {
        create_table(&db, Ticket::META).await.unwrap();
        let mut a = ticket(Status::Open, Priority::Low);
        a.save(&db).await.unwrap();
        let mut b = ticket(Status::InProgress, Priority::Urgent);
        b.previous = Some(Status::Open);
        b.save(&db).await.unwrap();
        ticket(Status::Closed, Priority::High)
            .save(&db)
            .await
            .unwrap();

        let loaded = Ticket::objects()
            .get_by_key(&db, b.id.get().unwrap())
            .await
            .unwrap();
        assert_eq!(loaded, b);
        let urgent_or_high = Ticket::objects()
            .filter(Ticket::PRIORITY.in_([Priority::Urgent, Priority::High]))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(urgent_or_high, 2);
        let open = Ticket::objects()
            .filter(Ticket::STATUS.eq(Status::Open) | Ticket::PREVIOUS.eq(Status::Open))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(open, 2);
        let closed = Ticket::objects()
            .filter(Ticket::STATUS.ne(Status::Closed))
            .update(&db, [Ticket::STATUS.set(Status::Closed)])
            .await
            .unwrap();
        assert_eq!(closed, 2);
        // What is stored is the short value, not the label.
        let raw: Vec<String> = RawTicket::objects()
            .values(RawTicket::STATUS)
            .distinct()
            .all(&db)
            .await
            .unwrap();
        assert_eq!(raw, ["done"]);

        // A stored value the enum does not know is a clear decode error.
        let mut odd = RawTicket::objects().first(&db).await.unwrap().unwrap();
        odd.status = "archived".into();
        odd.save(&db).await.unwrap();
        let err = Ticket::objects().all(&db).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
        assert!(
            err.to_string().contains(
                "`archived` is not a Status choice (expected one of: open, in_progress, done)"
            ),
            "{err}"
        );
    })
    .await;
}

#[tokio::test]
async fn json_fields_hold_any_serde_type() {
    each_backend(async |db| {
        create_table(&db, Ticket::META).await.unwrap();
        let mut t = ticket(Status::Open, Priority::Low);
        t.extra = Some(Json(BTreeMap::from([
            ("min".to_owned(), i64::MIN),
            ("max".to_owned(), i64::MAX),
        ])));
        t.save(&db).await.unwrap();
        let loaded = Ticket::objects().first(&db).await.unwrap().unwrap();
        assert_eq!(loaded.settings.theme, "dark \"quoted\" ünïcode");
        assert_eq!(loaded.settings.tags, ["a", "b"]);
        assert_eq!(loaded.extra.as_ref().unwrap()["max"], i64::MAX);
        assert_eq!(loaded, t);

        // A document that does not fit the type: an error naming the type.
        let mut raw = RawTicket::objects().first(&db).await.unwrap().unwrap();
        raw.settings = serde_json::json!({"theme": 7});
        raw.save(&db).await.unwrap();
        let err = Ticket::objects().first(&db).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Decode, "{err}");
        assert!(err.to_string().contains("does not match"), "{err}");
        assert!(err.to_string().contains("Settings"), "{err}");
    })
    .await;
}

#[derive(Model, Debug)]
struct Grid {
    id: Auto<i64>,
    cells: Json<HashMap<(i32, i32), String>>,
}

#[tokio::test]
async fn a_value_that_cannot_be_json_is_refused_before_any_sql() {
    each_backend(async |db| {
        create_table(&db, Grid::META).await.unwrap();
        let mut grid = Grid {
            id: Auto::new(),
            cells: Json(HashMap::from([((0, 0), "x".to_owned())])),
        };
        let err = grid.save(&db).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Validation, "{err}");
        assert!(err.to_string().contains("cells"), "{err}");
        assert!(
            err.to_string().contains("cannot be stored as JSON"),
            "{err}"
        );
        assert_eq!(Grid::objects().count(&db).await.unwrap(), 0);
    })
    .await;
}
