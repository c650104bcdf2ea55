use estate::prelude::*;

#[derive(Model)]
struct Poll {
    id: Auto<i64>,
    #[model(max_length = 10)]
    votes: i32,
}

fn main() {}
