use estate::prelude::*;

#[derive(Model)]
struct Poll {
    title: String,
}

fn main() {}
