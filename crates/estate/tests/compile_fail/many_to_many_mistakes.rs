use estate::orm::ManyToMany;
use estate::prelude::*;

#[derive(Model)]
struct Tag {
    id: Auto<i64>,
}

#[derive(Model)]
struct Article {
    id: Auto<i64>,
    // A many-to-many field has no column of its own.
    #[model(max_length = 10)]
    tags: ManyToMany<Tag>,
}

#[derive(Model)]
struct Post {
    id: Auto<i64>,
    // A through model needs the two fields that link it.
    #[model(through = Tag)]
    tags: ManyToMany<Tag>,
}

#[derive(Model)]
#[model(unique_together = "id, missing")]
struct Note {
    id: Auto<i64>,
}

fn main() {}
