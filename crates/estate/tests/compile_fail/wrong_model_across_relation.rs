use estate::orm::ForeignKey;
use estate::prelude::*;

#[derive(Model)]
struct Question {
    id: Auto<i64>,
    #[model(max_length = 20)]
    slug: String,
}

#[derive(Model)]
struct Choice {
    id: Auto<i64>,
    #[model(on_delete = Cascade)]
    question: ForeignKey<Question>,
    votes: i32,
}

fn main() {
    // The condition after `matching` is on the related model, not this one.
    let _ = Choice::objects().filter(Choice::QUESTION.matching(Choice::VOTES.eq(1)));
    // A subquery must yield the same kind of value as the column.
    let _ = Question::objects().filter(Question::ID.in_query(Question::SLUG, &Question::objects()));
}
