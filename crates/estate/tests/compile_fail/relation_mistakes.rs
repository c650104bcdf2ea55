use estate::orm::ForeignKey;
use estate::prelude::*;

#[derive(Model)]
struct Author {
    id: Auto<i64>,
}

struct NotAModel;

#[derive(Model)]
struct MissingRule {
    id: Auto<i64>,
    author: ForeignKey<Author>,
}

#[derive(Model)]
struct NullWithoutOption {
    id: Auto<i64>,
    #[model(on_delete = SetNull)]
    author: ForeignKey<Author>,
}

#[derive(Model)]
struct RuleOnPlainField {
    id: Auto<i64>,
    #[model(on_delete = Cascade)]
    votes: i32,
}

#[derive(Model)]
struct PointsAtNothing {
    id: Auto<i64>,
    #[model(on_delete = Cascade)]
    thing: ForeignKey<NotAModel>,
}

fn main() {}
