//! The polls app (Django's tutorial): models and their migrations, pages
//! under `/polls` (latest questions, ask one with a ModelForm, vote, see the
//! results) rendered from the app's templates, a `[polls]` settings section
//! and a `closepoll` command.

pub(crate) mod migrations;
pub(crate) mod models;

use std::io::Write;
use std::time::Duration;

use estate::cache::Cache;
use estate::db::Db;
use estate::forms::{FormData, ModelForm};
use estate::orm::{ErrorKind, ForeignKey};
use estate::prelude::*;
use estate::templates::{Template, context};
use serde::Deserialize;

use models::{Choice, Question};

/// The `[polls]` section of `estate.toml` (or `ESTATE_POLLS__*`).
#[derive(Debug, Deserialize)]
#[serde(default)]
pub(crate) struct PollsSettings {
    /// Polls shown per page.
    pub(crate) page_size: u32,
}

impl Default for PollsSettings {
    fn default() -> Self {
        PollsSettings { page_size: 20 }
    }
}

/// The app, ready for `App::app`.
pub(crate) fn app() -> AppModule {
    AppModule::new("polls")
        .model::<models::Question>()
        .model::<models::Choice>()
        .migrations(
            estate::migrations_dir!("src/polls/migrations"),
            migrations::all,
        )
        .prefix("/polls")
        .templates(estate::templates!("src/polls/templates"))
        .settings::<PollsSettings>("polls")
        .route("/", get(index).name("index"))
        .route("/new/", get(new_question).post(new_question).name("new"))
        .route("/{id}/", get(detail).name("detail"))
        .route("/{id}/choices/", post(add_choice).name("add_choice"))
        .route("/{id}/vote/", post(vote).name("vote"))
        .route("/{id}/results/", get(results).name("results"))
        .route("/slow", get(slow).name("slow"))
        .command(
            ManagementCommand::new(
                "closepoll",
                "Close a poll so it takes no more votes",
                |ctx| async move {
                    let id: &String = ctx.args.get_one("poll_id").expect("clap enforces it");
                    writeln!(ctx.out(), "Closed poll {id}.")?;
                    Ok(())
                },
            )
            .arg(clap::Arg::new("poll_id").required(true)),
        )
}

/// The admin site with the polls models (Django's tutorial part 7).
pub(crate) fn admin() -> AppModule {
    estate::admin::site()
        .site_header("Polls administration")
        .register(
            estate::admin::ModelAdmin::<Question>::new()
                .list_display(&["question_text", "pub_date"])
                .search_fields(&["question_text"])
                .list_filter(&["pub_date"])
                .ordering("-pub_date")
                .inline(estate::admin::Inline::<Choice>::tabular("question").extra(3)),
        )
        .register(
            estate::admin::ModelAdmin::<Choice>::new()
                .list_display(&["choice_text", "question", "votes"])
                // A search box instead of a select of every question.
                .autocomplete_fields(&["question"]),
        )
        .app()
}

/// The cache key of the number of questions asked.
const ASKED: &str = "polls:asked";

/// The latest questions, and how many were asked in all: a count kept in
/// the cache for a minute (shared by every instance when the cache is in
/// Redis) and forgotten when a question is asked here.
async fn index(ctx: AppContext, db: Db, cache: Cache) -> estate::Result<Template> {
    let page_size = ctx.settings().section::<PollsSettings>().page_size;
    let questions = Question::objects()
        .limit(u64::from(page_size))
        .all(&*db)
        .await?;
    let asked: i64 = cache
        .get_or_set(ASKED, Duration::from_secs(60), || async {
            Question::objects().count(&*db).await
        })
        .await?;
    Ok(Template::render(
        "polls/index.html",
        context! { questions, asked },
    ))
}

/// The question, or a 404 naming it.
async fn question(db: &Db, id: i64) -> estate::Result<Question> {
    match Question::objects().get(&**db, Question::ID.eq(id)).await {
        Ok(question) => Ok(question),
        Err(err) if err.kind() == ErrorKind::DoesNotExist => {
            Err(Error::not_found(format!("No poll {id}.")))
        }
        Err(err) => Err(err.into()),
    }
}

/// Ask a question: a ModelForm over the question's text, dated now.
async fn new_question(
    db: Db,
    cache: Cache,
    method: Method,
    data: FormData,
) -> estate::Result<Response> {
    let mut form = ModelForm::<Question>::new()
        .fields(&["question_text"])
        .start_from(Question {
            id: Auto::new(),
            question_text: String::new(),
            pub_date: estate::orm::chrono::Utc::now(),
        });
    if method == Method::POST {
        form = form.bind(data);
        if let Some(question) = form.save(&*db).await? {
            cache.delete(ASKED).await?;
            let id = question.id.get().unwrap_or_default();
            return Ok(Redirect::to(&format!("/polls/{id}/")).into_response());
        }
    }
    Ok(Template::render("polls/new.html", context! { form }).into_response())
}

fn choice_form(question: &Question) -> ModelForm<Choice> {
    ModelForm::<Choice>::new()
        .fields(&["choice_text"])
        .start_from(Choice {
            id: Auto::new(),
            question: ForeignKey::new(question.id.get().unwrap_or_default()),
            choice_text: String::new(),
            votes: 0,
        })
}

async fn detail_page(
    db: &Db,
    question: Question,
    choice_form: ModelForm<Choice>,
    error: Option<&str>,
) -> estate::Result<Template> {
    let choices = question.related(Choice::QUESTION).all(&**db).await?;
    Ok(Template::render(
        "polls/detail.html",
        context! { question, choices, choice_form, error },
    ))
}

/// A question with its voting form.
async fn detail(db: Db, Path(id): Path<i64>) -> estate::Result<Template> {
    let question = question(&db, id).await?;
    let form = choice_form(&question);
    detail_page(&db, question, form, None).await
}

/// Adds a choice to a question.
async fn add_choice(db: Db, Path(id): Path<i64>, data: FormData) -> estate::Result<Response> {
    let question = question(&db, id).await?;
    let mut form = choice_form(&question).bind(data);
    if form.save(&*db).await?.is_some() {
        return Ok(Redirect::to(&format!("/polls/{id}/")).into_response());
    }
    Ok(detail_page(&db, question, form, None)
        .await?
        .into_response())
}

/// Counts a vote with an F-expression (no lost updates), then shows the
/// results.
async fn vote(
    db: Db,
    messages: estate::messages::Messages,
    Path(id): Path<i64>,
    data: FormData,
) -> estate::Result<Response> {
    let question = question(&db, id).await?;
    let chosen = data.get("choice").and_then(|c| c.parse::<i64>().ok());
    let updated = match chosen {
        Some(choice) => {
            Choice::objects()
                .filter(Choice::ID.eq(choice))
                .filter(Choice::QUESTION.eq(id))
                .update(&*db, [Choice::VOTES.set(Choice::VOTES + 1)])
                .await?
        }
        None => 0,
    };
    if updated == 0 {
        let form = choice_form(&question);
        let page = detail_page(&db, question, form, Some("You didn't select a choice.")).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    messages.success("Thanks for voting.");
    Ok(Redirect::to(&format!("/polls/{id}/results/")).into_response())
}

/// The votes so far.
async fn results(db: Db, Path(id): Path<i64>) -> estate::Result<Template> {
    let question = question(&db, id).await?;
    let choices = question.related(Choice::QUESTION).all(&*db).await?;
    Ok(Template::render(
        "polls/results.html",
        context! { question, choices },
    ))
}

/// Takes a moment, to show that shutdown waits for requests in flight.
async fn slow() -> &'static str {
    tokio::time::sleep(Duration::from_millis(500)).await;
    "done"
}
