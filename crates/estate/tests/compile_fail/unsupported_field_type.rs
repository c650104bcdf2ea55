use estate::prelude::*;

#[derive(Model)]
struct Poll {
    id: Auto<i64>,
    tags: Vec<String>,
}

fn main() {}
