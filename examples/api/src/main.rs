//! A JSON API over the polls models, with token auth and its OpenAPI
//! document and docs page (docs/api.md walks through it).
//!
//! ```text
//! cd examples/api
//! cargo run -- migrate
//! cargo run -- createsuperuser
//! cargo run -- createtoken admin          # prints est_...
//! cargo run -- runserver                  # docs at http://127.0.0.1:8000/api/docs/
//! curl -H "Authorization: Bearer est_..." http://127.0.0.1:8000/api/questions/
//! ```

mod polls;

use estate::orm::chrono::Utc;
use estate::orm::{Col, Model as _};
use estate_api::handler::Operation;
use estate_api::{Api, ApiError, IsAuthenticatedOrReadOnly, Pagination, Problem, Resource};
use polls::models::{Choice, Question};
use schemars::JsonSchema;
use serde_json::json;

/// The API: questions and choices, readable by everyone, writable with the
/// model permissions (superusers have them all); a vote action.
fn api() -> Api {
    Api::new()
        .title("Polls API")
        .version("1.0.0")
        .description("The polls of Estate's tutorial as a JSON API.")
        .resource(
            Resource::<Question>::new("questions")
                .read_only(&["pub_date"])
                .on_create(|question, _user| question.pub_date = Utc::now())
                .computed(
                    "was_published_recently",
                    json!({"type": "boolean"}),
                    |question| json!(question.was_published_recently()),
                )
                .filter_fields(&["pub_date", "question_text"])
                .search_fields(&["question_text"])
                .ordering_fields(&["pub_date", "id", "question_text"])
                .validator(|question| {
                    if question.question_text.trim().is_empty() {
                        let mut errors = estate_api::FieldErrors::new();
                        errors.insert(
                            "question_text".into(),
                            vec!["This field may not be blank.".into()],
                        );
                        return Err(errors);
                    }
                    Ok(())
                })
                .permission(ReadOrModelPermissions),
        )
        .resource(
            Resource::<Choice>::new("choices")
                .read_only(&["votes"])
                .nested("question", &["id", "question_text"])
                .filter_fields(&["question", "votes"])
                .search_fields(&["choice_text", "question__question_text"])
                .pagination(Pagination::Cursor {
                    page_size: 20,
                    max_page_size: 100,
                })
                .detail_action("vote", estate::prelude::Method::POST, vote)
                .permission(IsAuthenticatedOrReadOnly),
        )
        .route("/stats/", Operation::get(stats).summary("Vote totals"))
}

/// Which votes to count.
#[derive(serde::Deserialize, JsonSchema)]
struct StatsQuery {
    /// Only the choices of this question.
    question: Option<i64>,
}

/// Vote totals.
#[derive(serde::Serialize, JsonSchema)]
struct Stats {
    /// Choices counted.
    choices: i64,
    /// Their votes, in all.
    votes: i64,
}

/// `GET /api/stats/`: a plain handler, documented from its types.
async fn stats(
    db: estate::db::Db,
    estate::prelude::Query(query): estate::prelude::Query<StatsQuery>,
) -> Result<estate::prelude::Json<Stats>, ApiError> {
    let mut choices = Choice::objects();
    if let Some(question) = query.question {
        choices = choices.filter(Choice::QUESTION.eq(question));
    }
    let rows = choices.all(&*db).await?;
    Ok(estate::prelude::Json(Stats {
        choices: i64::try_from(rows.len()).unwrap_or(i64::MAX),
        votes: rows.iter().map(|c| i64::from(c.votes)).sum(),
    }))
}

/// `POST /api/choices/{id}/vote/`: one more vote, counted in the database
/// (no lost update when two arrive at once).
async fn vote(request: estate_api::ActionRequest<Choice>) -> Result<serde_json::Value, ApiError> {
    let choice = request
        .object
        .ok_or_else(|| Problem::not_found("No Choice matches the given query."))?;
    let id = choice.id.get().unwrap_or_default();
    let votes: Col<Choice, i32> = Choice::VOTES;
    Choice::objects()
        .filter(Choice::ID.eq(id))
        .update(&request.db, [votes.set(votes + 1)])
        .await?;
    let votes = Choice::objects()
        .get(&request.db, Choice::ID.eq(id))
        .await?
        .votes;
    Ok(json!({"id": id, "votes": votes}))
}

/// Everyone may read; writing needs the model permissions.
struct ReadOrModelPermissions;

impl estate_api::Permission for ReadOrModelPermissions {
    fn has_permission<'a>(
        &'a self,
        request: &'a estate_api::permissions::PermissionRequest<'a>,
    ) -> estate_api::permissions::BoxFuture<'a, Result<bool, estate::Error>> {
        Box::pin(async move {
            if request.is_read() {
                return Ok(true);
            }
            estate_api::ModelPermissions::default()
                .has_permission(request)
                .await
        })
    }

    fn allows_anonymous_reads(&self) -> bool {
        true
    }
}

fn main() -> estate::Result<()> {
    estate::App::new()
        .app(estate::sessions::app())
        .app(estate::auth::app())
        .app(polls::app())
        .app(api().app())
        .run()
}
