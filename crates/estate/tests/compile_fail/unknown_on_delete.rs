use estate::orm::ForeignKey;
use estate::prelude::*;

#[derive(Model)]
struct Author {
    id: Auto<i64>,
}

#[derive(Model)]
struct Book {
    id: Auto<i64>,
    #[model(on_delete = Cascde)]
    author: ForeignKey<Author>,
}

fn main() {}
