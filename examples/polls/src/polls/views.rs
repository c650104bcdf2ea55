//! The polls pages: generic views for the list, a question and its
//! results, a handler for voting.

use estate::db::Db;
use estate::forms::FormData;
use estate::orm::chrono::Utc;
use estate::prelude::*;
use estate::shortcuts::get_object_or_404;
use estate::templates::{ContextValue, Template, context};
use estate::views::{DetailView, ListView};

use super::models::{Choice, Question};

/// The last five published questions, not including those set to be
/// published in the future (Django's `IndexView`).
pub(crate) fn index() -> Route {
    ListView::<Question>::new()
        .queryset(|| {
            Question::objects()
                .filter(Question::PUB_DATE.lte(Utc::now()))
                .order_by([Question::PUB_DATE.desc()])
                .limit(5)
        })
        .template("polls/index.html")
        .context_object_name("latest_question_list")
        .into()
}

/// A published question with its voting form (Django's `DetailView`);
/// questions not published yet are a 404.
pub(crate) fn detail() -> Route {
    DetailView::<Question>::new()
        .queryset(|| Question::objects().filter(Question::PUB_DATE.lte(Utc::now())))
        .template("polls/detail.html")
        .context_with(with_choices)
        .into()
}

/// The votes of a published question (Django's `ResultsView`).
pub(crate) fn results() -> Route {
    DetailView::<Question>::new()
        .queryset(|| Question::objects().filter(Question::PUB_DATE.lte(Utc::now())))
        .template("polls/results.html")
        .context_with(with_choices)
        .into()
}

/// Counts a vote for the chosen choice, then redirects to the results;
/// without a valid choice, shows the question again with an error.
pub(crate) async fn vote(
    db: Db,
    urls: Urls,
    Path(question_id): Path<i64>,
    data: FormData,
) -> estate::Result<Response> {
    let question = get_object_or_404(&*db, Question::ID.eq(question_id)).await?;
    let choice_id = data.get("choice").and_then(|id| id.parse::<i64>().ok());
    let counted = match choice_id {
        // One UPDATE ... SET votes = votes + 1: the database adds, so two
        // votes at the same moment both count (Django's F("votes") + 1).
        Some(choice_id) => {
            Choice::objects()
                .filter(Choice::ID.eq(choice_id) & Choice::QUESTION.eq(question_id))
                .update(&*db, [Choice::VOTES.set(Choice::VOTES + 1)])
                .await?
        }
        None => 0,
    };
    if counted == 0 {
        // Redisplay the question voting form.
        let choices = choices_of(&db, question_id).await?;
        let page = Template::render(
            "polls/detail.html",
            context! { question, choices, error_message => "You didn't select a choice." },
        );
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    // Always redirect after a successful POST: going back or reloading
    // then cannot vote twice.
    Ok(Redirect::to(&urls.reverse("polls:results", (question_id,))?).into_response())
}

/// The question's `choices`, for the page of a `DetailView`: Django's
/// templates ask for `question.choice_set.all`, Estate's cannot run queries.
async fn with_choices(question: Question, db: Db) -> estate::Result<ContextValue> {
    let choices = choices_of(&db, question.id.get().unwrap_or_default()).await?;
    Ok(context! { choices })
}

/// The choices of question `question_id`, in the order they were added.
async fn choices_of(db: &Db, question_id: i64) -> estate::Result<Vec<Choice>> {
    let choices = Choice::objects()
        .filter(Choice::QUESTION.eq(question_id))
        .order_by([Choice::ID.asc()])
        .all(&**db)
        .await?;
    Ok(choices)
}
