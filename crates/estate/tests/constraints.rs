//! Table constraints over several columns: unique together, checks and
//! composite indexes, enforced by every backend.

use estate::db::{Backend, ErrorKind};
use estate::orm::{ConstraintKind, create_table, create_table_sql};
use estate::prelude::*;
use estate::test::each_backend;

#[derive(Model, Debug, Clone, PartialEq)]
#[model(
    unique_together = "poll, label",
    check = "votes >= 0",
    index = "poll, votes"
)]
struct PollOption {
    id: Auto<i64>,
    poll: i64,
    #[model(max_length = 40)]
    label: String,
    votes: i32,
}

fn option(poll: i64, label: &str, votes: i32) -> PollOption {
    PollOption {
        id: Auto::new(),
        poll,
        label: label.into(),
        votes,
    }
}

#[test]
fn constraints_are_named_in_the_metadata_and_the_schema() {
    let meta = PollOption::META;
    assert_eq!(meta.constraints.len(), 2);
    assert_eq!(meta.constraints[0].name, "poll_option_poll_label_uniq");
    assert!(matches!(
        meta.constraints[0].kind,
        ConstraintKind::Unique(["poll", "label"])
    ));
    assert!(matches!(
        meta.constraints[1].kind,
        ConstraintKind::Check("votes >= 0")
    ));
    assert!(meta.constraints[1].name.ends_with("_check"));
    assert_eq!(meta.indexes[0].name, "poll_option_poll_votes_idx");
    assert_eq!(meta.indexes[0].fields, ["poll", "votes"]);
    let sql = create_table_sql(meta, Backend::MySql).join(";\n");
    assert!(
        sql.contains(
            "CREATE INDEX `poll_option_poll_votes_idx` ON `poll_option` (`poll`, `votes`)"
        ),
        "{sql}"
    );
}

#[tokio::test]
async fn unique_together_and_checks_are_enforced() {
    each_backend(async |db| {
        create_table(&db, PollOption::META).await.unwrap();
        option(1, "yes", 0).save(&db).await.unwrap();
        option(2, "yes", 0).save(&db).await.unwrap();
        let err = option(1, "yes", 3).save(&db).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::UniqueViolation, "{err}");
        let err = option(1, "no", -1).save(&db).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::CheckViolation, "{err}");
        assert_eq!(PollOption::objects().count(&db).await.unwrap(), 2);
    })
    .await;
}
