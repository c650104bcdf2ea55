//! The ORM against hand-written sqlx, in one process, on the same database:
//! fetch one row by key, fetch 20 rows by a key list, fetch 1000 rows, insert
//! 1000 rows in a transaction, and an F-expression update.
//!
//! ```text
//! cargo run --release -p estate-bench --bin orm                 # SQLite (a temporary file)
//! cargo run --release -p estate-bench --bin orm -- postgres://postgres@127.0.0.1:5432/test
//! ```
//!
//! Each operation runs in alternating rounds (ORM, sqlx, ORM, ...) and the
//! report gives the time per operation and `sqlx / ORM`: 1.00 means the ORM
//! costs nothing over sqlx; the goal is at least 0.90.

use std::time::{Duration, Instant};

use estate::db::{Database, RawSql, params};
use estate::orm::{Model, create_table};
use estate::prelude::*;
use sqlx::Row as _;

/// TechEmpower's `World` table.
#[derive(Model, Debug, Clone)]
#[model(table = "bench_world")]
struct World {
    id: Auto<i64>,
    random_number: i32,
}

const ROWS: i64 = 10_000;
const ROUNDS: usize = 5;

/// The baseline's pool: sqlx's own driver for the backend.
enum Pool {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

/// Times `iterations` runs of `op`.
/// Times two versions of an operation, interleaved one call at a time (and
/// alternating which goes first), so both see the same machine state: the
/// same caches, the same background noise.
async fn paired<F, Fut, G, Gut>(iterations: usize, mut orm: F, mut sqlx: G) -> (Duration, Duration)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
    G: FnMut(usize) -> Gut,
    Gut: std::future::Future<Output = ()>,
{
    let (mut orm_time, mut sqlx_time) = (Duration::ZERO, Duration::ZERO);
    for i in 0..iterations {
        if i % 2 == 0 {
            let started = Instant::now();
            orm(i).await;
            orm_time += started.elapsed();
            let started = Instant::now();
            sqlx(i).await;
            sqlx_time += started.elapsed();
        } else {
            let started = Instant::now();
            sqlx(i).await;
            sqlx_time += started.elapsed();
            let started = Instant::now();
            orm(i).await;
            orm_time += started.elapsed();
        }
    }
    (orm_time, sqlx_time)
}

fn key(i: usize) -> i64 {
    (i as i64 * 7919) % ROWS + 1
}

macro_rules! sqlx_fetch_one {
    ($pool:expr, $sql:literal, $id:expr) => {{
        let row = sqlx::query($sql).bind($id).fetch_one($pool).await.unwrap();
        let world = (row.get::<i64, _>(0), row.get::<i32, _>(1));
        std::hint::black_box(world);
    }};
}

struct Report {
    name: &'static str,
    orm: Duration,
    sqlx: Duration,
    iterations: usize,
}

async fn run(url: &str) -> Vec<Report> {
    let db = Database::connect(url).await.expect("connect (ORM)");
    let pool = &match db.backend() {
        estate::orm::Backend::Postgres => Pool::Postgres(sqlx::PgPool::connect(url).await.unwrap()),
        // The same pragmas Estate uses (WAL, synchronous = NORMAL, foreign
        // keys), so only the ORM differs.
        _ => {
            use std::str::FromStr;
            let options = sqlx::sqlite::SqliteConnectOptions::from_str(url)
                .unwrap()
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5));
            Pool::Sqlite(sqlx::SqlitePool::connect_with(options).await.unwrap())
        }
    };
    let _ = db
        .execute("DROP TABLE IF EXISTS bench_world", params![])
        .await;
    create_table(&db, World::META).await.unwrap();
    let rows: Vec<World> = (0..ROWS)
        .map(|i| World {
            id: Auto::new(),
            random_number: (i * 31 % 10_000) as i32,
        })
        .collect();
    World::objects().bulk_create(&db, rows).await.unwrap();

    let mut reports = vec![
        Report {
            name: "fetch one by key",
            orm: Duration::ZERO,
            sqlx: Duration::ZERO,
            iterations: 2000,
        },
        Report {
            name: "fetch 20 by key list",
            orm: Duration::ZERO,
            sqlx: Duration::ZERO,
            iterations: 500,
        },
        Report {
            name: "fetch 1000 rows",
            orm: Duration::ZERO,
            sqlx: Duration::ZERO,
            iterations: 50,
        },
        Report {
            name: "insert 1000 in a transaction",
            orm: Duration::ZERO,
            sqlx: Duration::ZERO,
            iterations: 10,
        },
        Report {
            name: "update with F-expression",
            orm: Duration::ZERO,
            sqlx: Duration::ZERO,
            iterations: 1000,
        },
    ];
    for _ in 0..ROUNDS {
        // 1. one row by key
        let n = reports[0].iterations;
        let (orm, sqlx) = paired(
            n,
            |i| {
                let db = &db;
                async move {
                    std::hint::black_box(World::objects().get_by_key(db, key(i)).await.unwrap());
                }
            },
            |i| async move {
                match pool {
                    Pool::Sqlite(p) => sqlx_fetch_one!(
                        p,
                        "SELECT id, random_number FROM bench_world WHERE id = ? LIMIT 1",
                        key(i)
                    ),
                    Pool::Postgres(p) => sqlx_fetch_one!(
                        p,
                        "SELECT id, random_number FROM bench_world WHERE id = $1 LIMIT 1",
                        key(i)
                    ),
                }
            },
        )
        .await;
        reports[0].orm += orm;
        reports[0].sqlx += sqlx;

        // 2. twenty rows by key list
        let n = reports[1].iterations;
        let (orm, sqlx) = paired(
            n,
            |i| {
                let db = &db;
                async move {
                    let keys: Vec<i64> = (0..20).map(|k| key(i * 20 + k)).collect();
                    std::hint::black_box(
                        World::objects()
                            .filter(World::ID.in_(keys))
                            .all(db)
                            .await
                            .unwrap(),
                    );
                }
            },
            |i| async move {
                let keys: Vec<i64> = (0..20).map(|k| key(i * 20 + k)).collect();
                let marks: Vec<String> = match pool {
                    Pool::Sqlite(_) => vec!["?".into(); 20],
                    Pool::Postgres(_) => (1..=20).map(|n| format!("${n}")).collect(),
                };
                let sql = format!(
                    "SELECT id, random_number FROM bench_world WHERE id IN ({})",
                    marks.join(", ")
                );
                match pool {
                    Pool::Sqlite(p) => {
                        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                        for k in &keys {
                            q = q.bind(*k);
                        }
                        let rows = q.fetch_all(p).await.unwrap();
                        std::hint::black_box(
                            rows.iter()
                                .map(|r| (r.get::<i64, _>(0), r.get::<i32, _>(1)))
                                .collect::<Vec<_>>(),
                        );
                    }
                    Pool::Postgres(p) => {
                        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
                        for k in &keys {
                            q = q.bind(*k);
                        }
                        let rows = q.fetch_all(p).await.unwrap();
                        std::hint::black_box(
                            rows.iter()
                                .map(|r| (r.get::<i64, _>(0), r.get::<i32, _>(1)))
                                .collect::<Vec<_>>(),
                        );
                    }
                }
            },
        )
        .await;
        reports[1].orm += orm;
        reports[1].sqlx += sqlx;

        // 3. a thousand rows
        let n = reports[2].iterations;
        let (orm, sqlx) = paired(
            n,
            |_| {
                let db = &db;
                async move {
                    std::hint::black_box(
                        World::objects()
                            .order_by([World::ID.asc()])
                            .limit(1000)
                            .all(db)
                            .await
                            .unwrap(),
                    );
                }
            },
            |_| async move {
                let sql = match pool {
                    Pool::Sqlite(_) => {
                        "SELECT id, random_number FROM bench_world ORDER BY id ASC LIMIT ?"
                    }
                    Pool::Postgres(_) => {
                        "SELECT id, random_number FROM bench_world ORDER BY id ASC LIMIT $1"
                    }
                };
                match pool {
                    Pool::Sqlite(p) => {
                        let rows = sqlx::query(sql).bind(1000i64).fetch_all(p).await.unwrap();
                        std::hint::black_box(
                            rows.iter()
                                .map(|r| (r.get::<i64, _>(0), r.get::<i32, _>(1)))
                                .collect::<Vec<_>>(),
                        );
                    }
                    Pool::Postgres(p) => {
                        let rows = sqlx::query(sql).bind(1000i64).fetch_all(p).await.unwrap();
                        std::hint::black_box(
                            rows.iter()
                                .map(|r| (r.get::<i64, _>(0), r.get::<i32, _>(1)))
                                .collect::<Vec<_>>(),
                        );
                    }
                }
            },
        )
        .await;
        reports[2].orm += orm;
        reports[2].sqlx += sqlx;

        // 4. a thousand inserts in one transaction
        let n = reports[3].iterations;
        let (orm, sqlx) = paired(
            n,
            |_| {
                let db = &db;
                async move {
                    let rows: Vec<World> = (0..1000)
                        .map(|i| World {
                            id: Auto::new(),
                            random_number: i,
                        })
                        .collect();
                    std::hint::black_box(World::objects().bulk_create(db, rows).await.unwrap());
                }
            },
            |_| async move {
                match pool {
                    Pool::Sqlite(p) => {
                        let mut tx = p.begin().await.unwrap();
                        let mut builder = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                            "INSERT INTO bench_world (random_number) ",
                        );
                        builder.push_values(0..1000, |mut row, i: i32| {
                            row.push_bind(i);
                        });
                        builder.push(" RETURNING id");
                        let ids = builder.build().fetch_all(&mut *tx).await.unwrap();
                        std::hint::black_box(ids.len());
                        tx.commit().await.unwrap();
                    }
                    Pool::Postgres(p) => {
                        let mut tx = p.begin().await.unwrap();
                        let mut builder = sqlx::QueryBuilder::<sqlx::Postgres>::new(
                            "INSERT INTO bench_world (random_number) ",
                        );
                        builder.push_values(0..1000, |mut row, i: i32| {
                            row.push_bind(i);
                        });
                        builder.push(" RETURNING id");
                        let ids = builder.build().fetch_all(&mut *tx).await.unwrap();
                        std::hint::black_box(ids.len());
                        tx.commit().await.unwrap();
                    }
                }
            },
        )
        .await;
        reports[3].orm += orm;
        reports[3].sqlx += sqlx;

        // 5. an F-expression update
        let n = reports[4].iterations;
        let (orm, sqlx) = paired(
            n,
            |i| {
                let db = &db;
                async move {
                    World::objects()
                        .filter(World::ID.eq(key(i)))
                        .update(db, [World::RANDOM_NUMBER.set(World::RANDOM_NUMBER + 1)])
                        .await
                        .unwrap();
                }
            },
            |i| async move {
                match pool {
                    Pool::Sqlite(p) => {
                        sqlx::query(
                            "UPDATE bench_world SET random_number = random_number + ? WHERE id = ?",
                        )
                        .bind(1i32)
                        .bind(key(i))
                        .execute(p)
                        .await
                        .unwrap();
                    }
                    Pool::Postgres(p) => {
                        sqlx::query(
                        "UPDATE bench_world SET random_number = random_number + $1 WHERE id = $2",
                    )
                    .bind(1i32)
                    .bind(key(i))
                    .execute(p)
                    .await
                    .unwrap();
                    }
                }
            },
        )
        .await;
        reports[4].orm += orm;
        reports[4].sqlx += sqlx;
    }
    let _ = db.execute("DROP TABLE bench_world", params![]).await;
    reports
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = std::env::args().nth(1).unwrap_or_else(|| {
        let path =
            std::env::temp_dir().join(format!("estate-orm-bench-{}.sqlite3", std::process::id()));
        format!("sqlite://{}", path.display())
    });
    let backend = url.split(':').next().unwrap_or_default().to_owned();
    let reports = run(&url).await;
    println!("| backend | operation | ORM µs/op | sqlx µs/op | sqlx / ORM |");
    println!("|---|---|---:|---:|---:|");
    for r in reports {
        let per = |d: Duration| d.as_secs_f64() * 1e6 / (r.iterations * ROUNDS) as f64;
        println!(
            "| {backend} | {} | {:.1} | {:.1} | {:.2} |",
            r.name,
            per(r.orm),
            per(r.sqlx),
            r.sqlx.as_secs_f64() / r.orm.as_secs_f64()
        );
    }
}
