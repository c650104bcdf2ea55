use estate::prelude::*;

#[derive(Model)]
struct Poll {
    id: Auto<i64>,
    #[model(maxlength = 10)]
    title: String,
}

fn main() {}
