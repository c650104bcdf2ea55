//! The polls app's tests: Django's tutorial part 5 (the model, the index
//! and the question pages), voting, the admin of part 7, and part 2's tour
//! of the ORM. `cargo test` runs them on SQLite; with ESTATE_TEST_POSTGRES
//! and ESTATE_TEST_MYSQL set, the database tests run on those too.

use estate::db::Database;
use estate::orm::chrono::{Datelike, TimeDelta, Utc};
use estate::orm::{ErrorKind, ForeignKey};
use estate::prelude::*;
use estate::test::{TestServer, each_backend};

use super::models::{Choice, Question};

/// The site as the tests run it: development settings, the test's
/// database, and the project's apps.
fn site(db: &Database) -> App {
    App::with_settings(estate::settings::Settings::development())
        .database(db.clone())
        .templates(estate::templates!("templates"))
        .static_files(estate::static_dir!("static"))
        .app(estate::sessions::app())
        .app(estate::auth::app())
        .app(estate::messages::app())
        .app(super::app())
        .app(crate::admin())
}

/// Applies every migration to `db`, as `cargo run -- migrate` does.
async fn migrate(db: &Database) {
    site(db)
        .run_with_args(["site", "migrate"], estate::cli::CommandOutput::capture())
        .await
        .unwrap();
}

/// Django's shell session of part 2, as a test.
#[tokio::test]
async fn playing_with_the_api() {
    each_backend(async |db| {
        migrate(&db).await;
        // No questions are in the system yet.
        assert_eq!(Question::objects().count(&db).await.unwrap(), 0);

        // Create a new Question, and save it: nothing is written until save().
        let mut q = Question {
            id: Auto::new(),
            question_text: "What's new?".into(),
            pub_date: Utc::now(),
        };
        q.save(&db).await.unwrap();
        // Now it has an id.
        let id = q.id.get().unwrap();

        // Change values by changing the fields, then calling save().
        q.question_text = "What's up?".into();
        q.save(&db).await.unwrap();

        // all() returns every question in the database.
        let all = Question::objects().all(&db).await.unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].question_text, "What's up?");

        // Lookups are typed: a column constant and a comparison.
        let found = Question::objects()
            .filter(Question::QUESTION_TEXT.startswith("What"))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(found.len(), 1);

        // Get the question that was published this year.
        let this_year = Utc::now().year();
        let q = Question::objects()
            .get(&db, Question::PUB_DATE.year().eq(this_year))
            .await
            .unwrap();
        assert_eq!(q.id.get(), Some(id));

        // Asking for an id that doesn't exist is an error of kind DoesNotExist.
        let missing = Question::objects().get(&db, Question::ID.eq(id + 1)).await;
        assert_eq!(missing.unwrap_err().kind(), ErrorKind::DoesNotExist);

        // Our own method works.
        assert!(q.was_published_recently());

        // The question has no choices yet; give it three.
        assert_eq!(q.related(Choice::QUESTION).count(&db).await.unwrap(), 0);
        for choice_text in ["Not much", "The sky", "Just hacking again"] {
            let mut choice = Choice {
                id: Auto::new(),
                question: ForeignKey::to(&q).unwrap(),
                choice_text: choice_text.into(),
                votes: 0,
            };
            choice.save(&db).await.unwrap();
        }

        // A choice reaches its question with one explicit query...
        let c = Choice::objects().first(&db).await.unwrap().unwrap();
        let question = c.question.fetch(&db).await.unwrap();
        assert_eq!(question.question_text, "What's up?");
        // ...and a question its choices.
        assert_eq!(q.related(Choice::QUESTION).count(&db).await.unwrap(), 3);

        // Lookups follow relations: the choices of this year's questions.
        let this_years = Choice::objects()
            .filter(Choice::QUESTION.matching(Question::PUB_DATE.year().eq(this_year)))
            .count(&db)
            .await
            .unwrap();
        assert_eq!(this_years, 3);

        // Delete one of the choices.
        q.related(Choice::QUESTION)
            .filter(Choice::CHOICE_TEXT.startswith("Just hacking"))
            .delete(&db)
            .await
            .unwrap();
        assert_eq!(q.related(Choice::QUESTION).count(&db).await.unwrap(), 2);
    })
    .await;
}

/// An unsaved question published `days` from now (negative: in the past).
fn question_in(days: i64) -> Question {
    Question {
        id: Auto::new(),
        question_text: String::new(),
        pub_date: Utc::now() + TimeDelta::days(days),
    }
}

#[test]
fn was_published_recently_with_future_question() {
    // was_published_recently() is false for questions whose pub_date is
    // in the future.
    let future_question = question_in(30);
    assert!(!future_question.was_published_recently());
}

#[test]
fn was_published_recently_with_old_question() {
    // was_published_recently() is false for questions whose pub_date is
    // older than 1 day.
    let old_question = Question {
        pub_date: Utc::now() - TimeDelta::days(1) - TimeDelta::seconds(1),
        ..question_in(0)
    };
    assert!(!old_question.was_published_recently());
}

#[test]
fn was_published_recently_with_recent_question() {
    // was_published_recently() is true for questions whose pub_date is
    // within the last day.
    let recent_question = Question {
        pub_date: Utc::now()
            - TimeDelta::hours(23)
            - TimeDelta::minutes(59)
            - TimeDelta::seconds(59),
        ..question_in(0)
    };
    assert!(recent_question.was_published_recently());
}

/// A server for the site on `db`, after every migration.
async fn server(db: &Database) -> TestServer {
    migrate(db).await;
    TestServer::start(site(db)).await
}

/// Creates a question with the given text, published the given number of
/// days offset to now (negative for questions published in the past,
/// positive for questions that have yet to be published).
async fn create_question(db: &Database, question_text: &str, days: i64) -> Question {
    let question = Question {
        question_text: question_text.into(),
        ..question_in(days)
    };
    Question::objects().create(db, question).await.unwrap()
}

/// The questions an index page lists, in order.
fn listed(page: &str) -> Vec<&str> {
    page.split("<li><a href=\"/polls/")
        .skip(1)
        .filter_map(|item| {
            let start = item.find('>')? + 1;
            let end = item.find("</a>")?;
            Some(&item[start..end])
        })
        .collect()
}

#[tokio::test]
async fn index_with_no_questions() {
    // If no questions exist, an appropriate message is displayed.
    each_backend(async |db| {
        let server = server(&db).await;
        let response = server.get("/polls/").send().await;
        assert_eq!(response.status, StatusCode::OK);
        assert!(response.text().contains("No polls are available."));
        assert!(listed(&response.text()).is_empty());
    })
    .await;
}

#[tokio::test]
async fn index_with_past_question() {
    // Questions with a pub_date in the past are displayed on the index page.
    each_backend(async |db| {
        let server = server(&db).await;
        create_question(&db, "Past question.", -30).await;
        let page = server.get("/polls/").send().await.text();
        assert_eq!(listed(&page), ["Past question."]);
    })
    .await;
}

#[tokio::test]
async fn index_with_future_question() {
    // Questions with a pub_date in the future aren't displayed on the
    // index page.
    each_backend(async |db| {
        let server = server(&db).await;
        create_question(&db, "Future question.", 30).await;
        let page = server.get("/polls/").send().await.text();
        assert!(page.contains("No polls are available."), "{page}");
        assert!(listed(&page).is_empty());
    })
    .await;
}

#[tokio::test]
async fn index_with_future_question_and_past_question() {
    // Even if both past and future questions exist, only past questions
    // are displayed.
    each_backend(async |db| {
        let server = server(&db).await;
        create_question(&db, "Past question.", -30).await;
        create_question(&db, "Future question.", 30).await;
        let page = server.get("/polls/").send().await.text();
        assert_eq!(listed(&page), ["Past question."]);
    })
    .await;
}

#[tokio::test]
async fn index_with_two_past_questions() {
    // The questions index page may display multiple questions, newest
    // first.
    each_backend(async |db| {
        let server = server(&db).await;
        create_question(&db, "Past question 1.", -30).await;
        create_question(&db, "Past question 2.", -5).await;
        let page = server.get("/polls/").send().await.text();
        assert_eq!(listed(&page), ["Past question 2.", "Past question 1."]);
    })
    .await;
}

#[tokio::test]
async fn index_lists_at_most_five_questions() {
    // Only the five newest questions are listed.
    each_backend(async |db| {
        let server = server(&db).await;
        for n in 1..=6 {
            create_question(&db, &format!("Question {n}."), -n).await;
        }
        let page = server.get("/polls/").send().await.text();
        let newest: Vec<String> = (1..=5).map(|n| format!("Question {n}.")).collect();
        assert_eq!(listed(&page), newest);
    })
    .await;
}

#[tokio::test]
async fn detail_of_future_question() {
    // The detail view of a question with a pub_date in the future
    // returns a 404 not found.
    each_backend(async |db| {
        let server = server(&db).await;
        let future_question = create_question(&db, "Future question.", 5).await;
        let url = format!("/polls/{}/", future_question.id);
        let response = server.get(&url).send().await;
        assert_eq!(response.status, StatusCode::NOT_FOUND);
    })
    .await;
}

#[tokio::test]
async fn detail_of_past_question() {
    // The detail view of a question with a pub_date in the past displays
    // the question's text.
    each_backend(async |db| {
        let server = server(&db).await;
        let past_question = create_question(&db, "Past Question.", -5).await;
        let url = format!("/polls/{}/", past_question.id);
        let response = server.get(&url).send().await;
        assert_eq!(response.status, StatusCode::OK);
        assert!(response.text().contains(&past_question.question_text));
    })
    .await;
}

#[tokio::test]
async fn results_of_future_question() {
    // Like the question's page, its results are a 404 until it is published.
    each_backend(async |db| {
        let server = server(&db).await;
        let future_question = create_question(&db, "Future question.", 5).await;
        let url = format!("/polls/{}/results/", future_question.id);
        assert_eq!(server.get(&url).send().await.status, StatusCode::NOT_FOUND);
    })
    .await;
}

/// Creates a choice of `question` with no votes.
async fn create_choice(db: &Database, question: &Question, choice_text: &str) -> Choice {
    let choice = Choice {
        id: Auto::new(),
        question: ForeignKey::to(question).unwrap(),
        choice_text: choice_text.into(),
        votes: 0,
    };
    Choice::objects().create(db, choice).await.unwrap()
}

#[tokio::test]
async fn vote_counts_the_vote_and_redirects_to_the_results() {
    each_backend(async |db| {
        let server = server(&db).await;
        let question = create_question(&db, "Past question.", -1).await;
        let yes = create_choice(&db, &question, "Yes").await;
        create_choice(&db, &question, "No").await;

        let response = server
            .post(&format!("/polls/{}/vote/", question.id))
            .form(&[("choice", &yes.id.to_string())])
            .send()
            .await;
        assert_eq!(response.status, StatusCode::SEE_OTHER);
        let results = format!("/polls/{}/results/", question.id);
        assert_eq!(response.header("location"), Some(results.as_str()));

        // The vote is in the database...
        let yes = Choice::objects()
            .get(&db, Choice::ID.eq(yes.id.get().unwrap()))
            .await
            .unwrap();
        assert_eq!(yes.votes, 1);
        // ...and on the results page.
        let page = server.get(&results).send().await.text();
        assert!(page.contains("<li>Yes -- 1 vote</li>"), "{page}");
        assert!(page.contains("<li>No -- 0 votes</li>"), "{page}");
    })
    .await;
}

#[tokio::test]
async fn vote_without_a_choice_shows_the_question_again() {
    each_backend(async |db| {
        let server = server(&db).await;
        let question = create_question(&db, "Past question.", -1).await;
        create_choice(&db, &question, "Yes").await;
        let other = create_question(&db, "Another question.", -1).await;
        let elsewhere = create_choice(&db, &other, "Elsewhere").await;

        let url = format!("/polls/{}/vote/", question.id);
        let not_chosen: &[(&str, &str)] = &[];
        let not_a_choice = [("choice", "seven")];
        let elsewhere_id = elsewhere.id.to_string();
        let of_another_question = [("choice", elsewhere_id.as_str())];
        for form in [not_chosen, &not_a_choice, &of_another_question] {
            let response = server.post(&url).form(form).send().await;
            assert_eq!(
                response.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{form:?}"
            );
            let page = response.text();
            // The text is escaped in the page, like any value.
            assert!(page.contains("You didn&#x27;t select a choice."), "{page}");
            assert!(
                page.contains("<label for=\"choice1\">Yes</label>"),
                "{page}"
            );
        }
        let votes = Choice::objects()
            .values(Choice::VOTES)
            .all(&db)
            .await
            .unwrap();
        assert_eq!(votes, [0, 0], "nothing was counted");
    })
    .await;
}

#[tokio::test]
async fn the_stylesheet_is_linked_and_served() {
    // Part 6: the index links the app's stylesheet, which DEBUG serves.
    let db = Database::connect("sqlite::memory:").await.unwrap();
    let server = server(&db).await;
    let page = server.get("/polls/").send().await.text();
    assert!(
        page.contains(r#"<link rel="stylesheet" href="/static/polls/style.css">"#),
        "{page}"
    );
    let css = server.get("/static/polls/style.css").send().await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.text().contains("images/background.svg"));
    let image = server
        .get("/static/polls/images/background.svg")
        .send()
        .await;
    assert_eq!(image.status, StatusCode::OK);
}

#[tokio::test]
async fn the_admin_lists_questions_with_their_options() {
    // Part 7: the change list's columns, filter and search, the question's
    // page with its fieldsets and choices, and the project's base_site.html.
    each_backend(async |db| {
        let server = server(&db).await;
        let auth = server.context().get::<estate::auth::Auth>().unwrap();
        let password = "a long enough passphrase";
        estate::auth::create_superuser(auth, &db, "admin", "", Some(password))
            .await
            .unwrap();
        let browser = server.client();
        let login = browser
            .post("/admin/login/")
            .form(&[("username", "admin"), ("password", password)])
            .send()
            .await;
        assert_eq!(login.status, StatusCode::SEE_OTHER, "{}", login.text());

        let recent = create_question(&db, "Recent question?", 0).await;
        create_question(&db, "Old question?", -30).await;
        let index = browser.get("/admin/").send().await.text();
        assert!(index.contains("Polls Administration"), "{index}");

        let list = browser.get("/admin/polls/question/").send().await.text();
        for header in ["Question text", "Date published", "Published recently?"] {
            assert!(list.contains(header), "{header}: {list}");
        }
        assert!(
            list.contains("<td>Yes</td>") && list.contains("<td>No</td>"),
            "{list}"
        );
        assert!(list.contains("Past 7 days"), "the date filter: {list}");
        let found = browser
            .get("/admin/polls/question/?q=recent")
            .send()
            .await
            .text();
        assert!(found.contains("Recent question?") && !found.contains("Old question?"));

        let change = format!("/admin/polls/question/{}/change/", recent.id);
        let form = browser.get(&change).send().await.text();
        assert!(form.contains("Date information"), "{form}");
        // Three empty rows for new choices.
        assert!(form.contains(r#"name="choice-2-choice_text""#), "{form}");
    })
    .await;
}
