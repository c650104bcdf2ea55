//! Selected columns as typed values, distinct rows, and orderings: last,
//! reverse, NULLs first or last, random — on every backend.

use estate::orm::{OrderBy, create_table};
use estate::prelude::*;
use estate::test::each_backend;

#[derive(Model, Debug, Clone, PartialEq)]
struct Entry {
    id: Auto<i64>,
    #[model(max_length = 20)]
    city: String,
    score: i32,
    rank: Option<i32>,
    goal: i32,
}

async fn fill(db: &estate::db::Database) {
    create_table(db, Entry::META).await.unwrap();
    let rows = [
        ("Oslo", 3, Some(2)),
        ("Lima", 5, None),
        ("Oslo", 1, Some(1)),
        ("Rome", 4, None),
        ("Lima", 2, Some(3)),
    ];
    for (city, score, rank) in rows {
        let mut entry = Entry {
            id: Auto::new(),
            city: city.into(),
            score,
            rank,
            goal: 3,
        };
        entry.save(db).await.unwrap();
    }
}

#[tokio::test]
async fn values_give_typed_columns() {
    each_backend(async |db| {
        fill(&db).await;
        let pairs: Vec<(String, i32)> = Entry::objects()
            .filter(Entry::SCORE.gte(3))
            .order_by([Entry::SCORE.desc()])
            .values((Entry::CITY, Entry::SCORE))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(
            pairs,
            [("Lima".into(), 5), ("Rome".into(), 4), ("Oslo".into(), 3)]
        );
        // One column gives plain values, NULLs as None.
        let ranks: Vec<Option<i32>> = Entry::objects()
            .order_by([Entry::ID.asc()])
            .values(Entry::RANK)
            .all(&db)
            .await
            .unwrap();
        assert_eq!(ranks, [Some(2), None, Some(1), None, Some(3)]);
        // Distinct values, ordered by the selected column.
        let cities: Vec<String> = Entry::objects()
            .order_by([Entry::CITY.asc(), Entry::SCORE.desc()])
            .values(Entry::CITY)
            .distinct()
            .all(&db)
            .await
            .unwrap();
        assert_eq!(cities, ["Lima", "Oslo", "Rome"]);
        let first = Entry::objects()
            .values((Entry::ID, Entry::CITY))
            .first(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(first.1, "Oslo");
        let none = Entry::objects()
            .filter(Entry::SCORE.gt(100))
            .values(Entry::CITY)
            .first(&db)
            .await
            .unwrap();
        assert_eq!(none, None);

        // Into a struct of your own.
        #[derive(Debug, PartialEq)]
        struct CityScore {
            city: String,
            score: i32,
        }
        impl From<(String, i32)> for CityScore {
            fn from((city, score): (String, i32)) -> Self {
                CityScore { city, score }
            }
        }
        let best: Vec<CityScore> = Entry::objects()
            .order_by([Entry::SCORE.desc()])
            .limit(1)
            .values((Entry::CITY, Entry::SCORE))
            .all_as(&db)
            .await
            .unwrap();
        assert_eq!(
            best,
            [CityScore {
                city: "Lima".into(),
                score: 5
            }]
        );
    })
    .await;
}

#[tokio::test]
async fn last_reverse_nulls_and_random_orderings() {
    each_backend(async |db| {
        fill(&db).await;
        let scores = |entries: Vec<Entry>| entries.iter().map(|e| e.score).collect::<Vec<_>>();

        // last(): by key without an ordering, else the ordering's last row.
        let last = Entry::objects().last(&db).await.unwrap().unwrap();
        assert_eq!(last.score, 2);
        let lowest = Entry::objects()
            .order_by([Entry::SCORE.desc()])
            .last(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(lowest.score, 1);
        let err = Entry::objects().limit(2).last(&db).await.unwrap_err();
        assert!(err.to_string().contains("sliced"), "{err}");
        let reversed = Entry::objects()
            .order_by([Entry::SCORE.asc()])
            .reverse()
            .all(&db)
            .await
            .unwrap();
        assert_eq!(scores(reversed), [5, 4, 3, 2, 1]);

        // NULLs where asked, on every backend (MySQL has no NULLS LAST).
        let ranks = |entries: Vec<Entry>| entries.iter().map(|e| e.rank).collect::<Vec<_>>();
        let nulls_last = Entry::objects()
            .order_by([Entry::RANK.asc().nulls_last(), Entry::SCORE.asc()])
            .all(&db)
            .await
            .unwrap();
        assert_eq!(ranks(nulls_last), [Some(1), Some(2), Some(3), None, None]);
        let nulls_first = Entry::objects()
            .order_by([Entry::RANK.desc().nulls_first(), Entry::SCORE.asc()])
            .all(&db)
            .await
            .unwrap();
        assert_eq!(ranks(nulls_first), [None, None, Some(3), Some(2), Some(1)]);
        // last() flips where NULLs go too.
        let last = Entry::objects()
            .order_by([Entry::RANK.asc().nulls_last(), Entry::SCORE.asc()])
            .last(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!((last.rank, last.score), (None, 5));

        // Random: every row, in some order.
        let mut shuffled = scores(
            Entry::objects()
                .order_by([OrderBy::random()])
                .all(&db)
                .await
                .unwrap(),
        );
        shuffled.sort_unstable();
        assert_eq!(shuffled, [1, 2, 3, 4, 5]);

        // distinct() on whole rows changes nothing here but stays valid SQL.
        assert_eq!(Entry::objects().distinct().all(&db).await.unwrap().len(), 5);
    })
    .await;
}

#[tokio::test]
async fn columns_compare_with_columns_and_expressions() {
    each_backend(async |db| {
        fill(&db).await;
        let over_goal = Entry::objects()
            .filter(Entry::SCORE.f().gt(Entry::GOAL))
            .order_by([Entry::SCORE.desc()])
            .values(Entry::SCORE)
            .all(&db)
            .await
            .unwrap();
        assert_eq!(over_goal, [5, 4]);
        let doubled = Entry::objects()
            .filter((Entry::SCORE * 2).lte(Entry::GOAL + 1))
            .order_by([Entry::SCORE.asc()])
            .values(Entry::SCORE)
            .all(&db)
            .await
            .unwrap();
        assert_eq!(doubled, [1, 2]);
        let at_goal = Entry::objects()
            .filter(Entry::GOAL.f().eq(Entry::SCORE))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(at_goal, 1);
        let cities = Entry::objects()
            .filter(Entry::CITY.f().ne("Oslo") & Entry::CITY.f().lt(Entry::CITY))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(cities, 0, "a value is never less than itself");
    })
    .await;
}
