//! Many-to-many relations on every backend: generated and custom through
//! tables, add/remove/set/clear, lookups both ways, prefetching, and what
//! deleting either side does to the links.

use estate::db::{Database, ErrorKind};
use estate::orm::{ForeignKey, ManyToMany, create_table, create_table_sql};
use estate::prelude::*;
use estate::test::{assert_num_queries, each_backend};

#[derive(Model, Debug, Clone, PartialEq)]
#[model(ordering = "name")]
struct Tag {
    id: Auto<i64>,
    #[model(max_length = 30, unique)]
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(ordering = "title")]
struct Article {
    id: Auto<i64>,
    #[model(max_length = 60)]
    title: String,
    #[model(related_name = "articles")]
    tags: ManyToMany<Tag>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(ordering = "name")]
struct Person {
    id: Auto<i64>,
    #[model(max_length = 30)]
    name: String,
    friends: ManyToMany<Person>,
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Club {
    id: Auto<i64>,
    #[model(max_length = 30)]
    name: String,
    #[model(through = Membership, through_fields = "club, person")]
    members: ManyToMany<Person>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[model(unique_together = "club, person")]
struct Membership {
    id: Auto<i64>,
    #[model(on_delete = Cascade)]
    club: ForeignKey<Club>,
    #[model(on_delete = Cascade)]
    person: ForeignKey<Person>,
    #[model(max_length = 20)]
    role: String,
}

async fn tag(db: &Database, name: &str) -> Tag {
    let mut tag = Tag {
        id: Auto::new(),
        name: name.into(),
    };
    tag.save(db).await.unwrap();
    tag
}

async fn article(db: &Database, title: &str) -> Article {
    let mut article = Article {
        id: Auto::new(),
        title: title.into(),
        tags: ManyToMany::default(),
    };
    article.save(db).await.unwrap();
    article
}

async fn person(db: &Database, name: &str) -> Person {
    let mut person = Person {
        id: Auto::new(),
        name: name.into(),
        friends: ManyToMany::default(),
    };
    person.save(db).await.unwrap();
    person
}

fn names(tags: &[Tag]) -> Vec<&str> {
    tags.iter().map(|t| t.name.as_str()).collect()
}

#[tokio::test]
async fn links_are_added_removed_set_and_cleared() {
    each_backend(async |db| {
        create_table(&db, Tag::META).await.unwrap();
        create_table(&db, Article::META).await.unwrap();
        let rust = tag(&db, "rust").await;
        let sql = tag(&db, "sql").await;
        let web = tag(&db, "web").await;
        let post = article(&db, "Post").await;

        // add: instances or keys; existing links are not duplicated.
        Article::TAGS.add(&db, &post, [&rust, &sql]).await.unwrap();
        Article::TAGS.add(&db, &post, [&rust]).await.unwrap();
        Article::TAGS
            .add(&db, &post, [web.id.get().unwrap()])
            .await
            .unwrap();
        let linked = Article::TAGS.of(&post).all(&db).await.unwrap();
        assert_eq!(names(&linked), ["rust", "sql", "web"]);

        // remove returns how many links went; the tags themselves stay.
        assert_eq!(
            Article::TAGS
                .remove(&db, &post, [&sql, &sql])
                .await
                .unwrap(),
            1
        );
        assert_eq!(Article::TAGS.remove(&db, &post, [&sql]).await.unwrap(), 0);
        assert_eq!(Tag::objects().count(&db).await.unwrap(), 3);
        assert_eq!(Article::TAGS.of(&post).count(&db).await.unwrap(), 2);

        // set: exactly these, in one transaction.
        Article::TAGS.set(&db, &post, [&sql, &web]).await.unwrap();
        let linked = Article::TAGS.of(&post).all(&db).await.unwrap();
        assert_eq!(names(&linked), ["sql", "web"]);
        Article::TAGS
            .set(&db, &post, Vec::<&Tag>::new())
            .await
            .unwrap();
        assert_eq!(Article::TAGS.of(&post).count(&db).await.unwrap(), 0);

        Article::TAGS.add(&db, &post, [&rust, &web]).await.unwrap();
        assert_eq!(Article::TAGS.clear(&db, &post).await.unwrap(), 2);
        assert!(!Article::TAGS.of(&post).exists(&db).await.unwrap());

        // Unsaved rows cannot be linked, and nothing is written.
        let draft = Tag {
            id: Auto::new(),
            name: "draft".into(),
        };
        let err = Article::TAGS
            .add(&db, &post, [&rust, &draft])
            .await
            .unwrap_err();
        assert!(err.to_string().contains("unsaved Tag"), "{err}");
        assert_eq!(Article::TAGS.of(&post).count(&db).await.unwrap(), 0);
        let unsaved = Article {
            id: Auto::new(),
            title: "Unsaved".into(),
            tags: ManyToMany::default(),
        };
        let err = Article::TAGS.add(&db, &unsaved, [&rust]).await.unwrap_err();
        assert!(err.to_string().contains("unsaved Article"), "{err}");
        assert_eq!(Article::TAGS.of(&unsaved).count(&db).await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn lookups_go_through_the_links_both_ways() {
    each_backend(async |db| {
        create_table(&db, Tag::META).await.unwrap();
        create_table(&db, Article::META).await.unwrap();
        let rust = tag(&db, "rust").await;
        let sql = tag(&db, "sql").await;
        let unused = tag(&db, "unused").await;
        let one = article(&db, "One").await;
        let two = article(&db, "Two").await;
        article(&db, "Three").await;
        Article::TAGS.add(&db, &one, [&rust, &sql]).await.unwrap();
        Article::TAGS.add(&db, &two, [&rust]).await.unwrap();

        // Reverse: the articles with a tag, by constant or related_name.
        let titles = |a: Vec<Article>| a.into_iter().map(|a| a.title).collect::<Vec<_>>();
        let tagged = Article::TAGS.reverse_of(&rust).all(&db).await.unwrap();
        assert_eq!(titles(tagged), ["One", "Two"]);
        assert_eq!(sql.articles().count(&db).await.unwrap(), 1);
        assert_eq!(unused.articles().count(&db).await.unwrap(), 0);

        // Filters: articles with a matching tag, once each.
        let with_s = Article::objects()
            .filter(Article::TAGS.any(Tag::NAME.startswith("s") | Tag::NAME.eq("rust")))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(titles(with_s), ["One", "Two"]);
        let untagged = Article::objects()
            .exclude(Article::TAGS.any(Tag::NAME.contains("")))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(titles(untagged), ["Three"]);
        // Tags used by an article titled "Two".
        let on_two = Tag::objects()
            .filter(Article::TAGS.reverse_any(Article::TITLE.eq("Two")))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(names(&on_two), ["rust"]);
    })
    .await;
}

#[tokio::test]
async fn prefetch_related_loads_each_relation_with_one_query() {
    each_backend(async |db| {
        create_table(&db, Tag::META).await.unwrap();
        create_table(&db, Article::META).await.unwrap();
        create_table(&db, Person::META).await.unwrap();
        create_table(&db, Club::META).await.unwrap();
        create_table(&db, Membership::META).await.unwrap();
        let rust = tag(&db, "rust").await;
        let sql = tag(&db, "sql").await;
        for (title, tags) in [("A", vec![&rust, &sql]), ("B", vec![&sql]), ("C", vec![])] {
            let a = article(&db, title).await;
            Article::TAGS.add(&db, &a, tags).await.unwrap();
        }

        let articles = assert_num_queries(
            2,
            Article::objects().prefetch_related(Article::TAGS).all(&db),
        )
        .await
        .unwrap();
        let loaded: Vec<Vec<&str>> = articles
            .iter()
            .map(|a| names(a.tags.get().expect("prefetched")))
            .collect();
        assert_eq!(loaded, [vec!["rust", "sql"], vec!["sql"], vec![]]);
        // Without prefetch_related nothing is loaded.
        let plain = Article::objects().first(&db).await.unwrap().unwrap();
        assert!(plain.tags.get().is_none());
        let first = Article::objects()
            .prefetch_related(Article::TAGS)
            .first(&db)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(names(first.tags.get().unwrap()), ["rust", "sql"]);

        // A foreign key: the targets of many rows in one query.
        let ann = person(&db, "Ann").await;
        let bob = person(&db, "Bob").await;
        let mut chess = Club {
            id: Auto::new(),
            name: "Chess".into(),
            members: ManyToMany::default(),
        };
        chess.save(&db).await.unwrap();
        for (who, role) in [(&ann, "chair"), (&bob, "member")] {
            let mut m = Membership {
                id: Auto::new(),
                club: ForeignKey::to(&chess).unwrap(),
                person: ForeignKey::to(who).unwrap(),
                role: role.into(),
            };
            m.save(&db).await.unwrap();
        }
        let memberships = assert_num_queries(
            3,
            Membership::objects()
                .prefetch_related(Membership::PERSON)
                .prefetch_related(Membership::CLUB)
                .order_by([Membership::ROLE.asc()])
                .all(&db),
        )
        .await
        .unwrap();
        let who: Vec<(&str, &str)> = memberships
            .iter()
            .map(|m| {
                (
                    m.person.get().unwrap().name.as_str(),
                    m.club.get().unwrap().name.as_str(),
                )
            })
            .collect();
        assert_eq!(who, [("Ann", "Chess"), ("Bob", "Chess")]);
    })
    .await;
}

#[tokio::test]
async fn deleting_either_side_removes_the_links() {
    each_backend(async |db| {
        create_table(&db, Tag::META).await.unwrap();
        create_table(&db, Article::META).await.unwrap();
        let rust = tag(&db, "rust").await;
        let sql = tag(&db, "sql").await;
        let one = article(&db, "One").await;
        let two = article(&db, "Two").await;
        Article::TAGS.add(&db, &one, [&rust, &sql]).await.unwrap();
        Article::TAGS.add(&db, &two, [&rust]).await.unwrap();

        let deleted = one.delete(&db).await.unwrap();
        assert_eq!(deleted.per_model["Article"], 1);
        assert_eq!(deleted.per_model["Article_tags"], 2);
        assert_eq!(rust.articles().count(&db).await.unwrap(), 1);

        let deleted = rust.delete(&db).await.unwrap();
        assert_eq!(deleted.per_model["Article_tags"], 1);
        assert_eq!(Article::TAGS.of(&two).count(&db).await.unwrap(), 0);
        assert_eq!(Article::objects().count(&db).await.unwrap(), 1);
    })
    .await;
}

#[tokio::test]
async fn custom_through_models_and_links_to_the_same_model() {
    each_backend(async |db| {
        create_table(&db, Person::META).await.unwrap();
        create_table(&db, Club::META).await.unwrap();
        create_table(&db, Membership::META).await.unwrap();
        let ann = person(&db, "Ann").await;
        let bob = person(&db, "Bob").await;
        let cy = person(&db, "Cy").await;
        let mut chess = Club {
            id: Auto::new(),
            name: "Chess".into(),
            members: ManyToMany::default(),
        };
        chess.save(&db).await.unwrap();

        // A custom through model's rows are created as models...
        for who in [&ann, &bob] {
            let mut m = Membership {
                id: Auto::new(),
                club: ForeignKey::to(&chess).unwrap(),
                person: ForeignKey::to(who).unwrap(),
                role: "member".into(),
            };
            m.save(&db).await.unwrap();
        }
        let members = Club::MEMBERS.of(&chess).all(&db).await.unwrap();
        assert_eq!(members.len(), 2);
        // ...so add() says how instead of writing half a row.
        let err = Club::MEMBERS.add(&db, &chess, [&cy]).await.unwrap_err();
        assert!(
            err.to_string().contains("create `Membership` rows"),
            "{err}"
        );
        // remove and clear work, and delete Membership rows.
        assert_eq!(Club::MEMBERS.remove(&db, &chess, [&ann]).await.unwrap(), 1);
        assert_eq!(Membership::objects().count(&db).await.unwrap(), 1);
        assert_eq!(Club::MEMBERS.clear(&db, &chess).await.unwrap(), 1);
        assert_eq!(Membership::objects().count(&db).await.unwrap(), 0);
        // The unique_together constraint holds.
        for _ in 0..2 {
            let mut m = Membership {
                id: Auto::new(),
                club: ForeignKey::to(&chess).unwrap(),
                person: ForeignKey::to(&cy).unwrap(),
                role: "member".into(),
            };
            if let Err(err) = m.save(&db).await {
                assert_eq!(err.kind(), ErrorKind::UniqueViolation, "{err}");
            }
        }
        assert_eq!(Membership::objects().count(&db).await.unwrap(), 1);

        // A model linked to itself: from_person_id / to_person_id.
        Person::FRIENDS.add(&db, &ann, [&bob, &cy]).await.unwrap();
        Person::FRIENDS.add(&db, &bob, [&ann]).await.unwrap();
        let friends: Vec<String> = Person::FRIENDS
            .of(&ann)
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(friends, ["Bob", "Cy"]);
        let befriended_cy = Person::FRIENDS.reverse_of(&cy).all(&db).await.unwrap();
        assert_eq!(befriended_cy.len(), 1);
        assert_eq!(befriended_cy[0].name, "Ann");
    })
    .await;
}

#[test]
fn generated_through_tables_are_described_like_models() {
    let link = Article::META.many_to_many("tags").unwrap();
    let through = (link.through)();
    assert_eq!(through.table, "article_tags");
    assert_eq!(
        (link.source_column, link.target_column),
        ("article_id", "tag_id")
    );
    assert!(link.auto_created);
    assert_eq!(link.related_name, Some("articles"));
    let friends = Person::META.many_to_many("friends").unwrap();
    assert_eq!(
        (friends.source_column, friends.target_column),
        ("from_person_id", "to_person_id")
    );
    let members = Club::META.many_to_many("members").unwrap();
    assert!(!members.auto_created);
    assert_eq!((members.through)().table, "membership");
    assert_eq!(
        (members.source_column, members.target_column),
        ("club_id", "person_id")
    );
    let sql = create_table_sql(through, estate::db::Backend::Postgres).join(";\n");
    assert!(
        sql.contains(
            r#"CONSTRAINT "article_tags_article_tag_uniq" UNIQUE ("article_id", "tag_id")"#
        ),
        "{sql}"
    );
    assert!(
        sql.contains(r#""tag_id" bigint NOT NULL REFERENCES "tag" ("id")"#),
        "{sql}"
    );
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Label {
    #[model(primary_key, max_length = 20)]
    code: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
struct Parcel {
    #[model(primary_key, max_length = 20)]
    code: String,
    labels: ManyToMany<Label>,
}

#[tokio::test]
async fn text_keys_link_on_every_backend() {
    each_backend(async |db| {
        create_table(&db, Label::META).await.unwrap();
        create_table(&db, Parcel::META).await.unwrap();
        let mut fragile = Label {
            code: "FRAGILE".into(),
        };
        fragile.save(&db).await.unwrap();
        let mut parcel = Parcel {
            code: "P-1".into(),
            labels: ManyToMany::default(),
        };
        parcel.save(&db).await.unwrap();
        Parcel::LABELS.add(&db, &parcel, [&fragile]).await.unwrap();
        Parcel::LABELS
            .add(&db, &parcel, ["FRAGILE".to_owned()])
            .await
            .unwrap();
        let labels = Parcel::LABELS.of(&parcel).all(&db).await.unwrap();
        assert_eq!(labels, [fragile]);
    })
    .await;
}
