use estate::prelude::*;

#[derive(Model)]
struct Question {
    id: Auto<i64>,
    votes: i32,
}

#[derive(Model)]
struct Choice {
    id: Auto<i64>,
    votes: i32,
}

fn main() {
    // A Choice column cannot filter Questions.
    let _ = Question::objects().filter(Choice::VOTES.eq(1));
    // A text value cannot be compared with an integer column.
    let _ = Question::objects().filter(Question::VOTES.eq("ten"));
}
