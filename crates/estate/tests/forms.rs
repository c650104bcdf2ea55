//! Forms as a user meets them: a contact form rendered, re-rendered with
//! errors and the submitted values, and accepted; a ModelForm creating and
//! editing rows on every backend (unique values become field errors);
//! formsets; and the layout template overridden by the project.

mod common;

use estate::db::{Database, Db};
use estate::forms::{Form, FormData, FormErrors, FormSet, ModelForm, Widget};
use estate::orm::chrono::NaiveDate;
use estate::orm::{Choices, create_table};
use estate::prelude::*;
use estate::templates::{Template, TemplateSource, Templates, context};
use estate::test::{TestServer, each_backend};

fn no_spam(subject: &str) -> Result<(), String> {
    if subject.to_lowercase().contains("viagra") {
        Err("No spam, please.".to_owned())
    } else {
        Ok(())
    }
}

fn copies_need_an_email(form: &ContactForm) -> Result<(), FormErrors> {
    if form.cc_myself && form.sender.is_none() {
        return Err(FormErrors::non_field(
            "Give your email address to get a copy.",
        ));
    }
    Ok(())
}

#[derive(Form, Debug)]
#[form(clean = "copies_need_an_email")]
struct ContactForm {
    #[form(
        max_length = 100,
        validator = "no_spam",
        help_text = "What it is about"
    )]
    subject: String,
    #[form(widget = "textarea")]
    message: String,
    #[form(email, label = "Your email")]
    sender: Option<String>,
    cc_myself: bool,
    #[form(min = 1, max = 5)]
    rating: i32,
}

fn templates_dir() -> TemplateSource {
    TemplateSource::dir(format!(
        "{}/tests/templates_fixture/forms",
        env!("CARGO_MANIFEST_DIR")
    ))
}

async fn contact(method: http::Method, data: FormData) -> Response {
    let mut form = if method == http::Method::POST {
        ContactForm::bind(data)
    } else {
        ContactForm::unbound()
    };
    if let Some(message) = form.validate() {
        return Redirect::to(&format!("/thanks?subject={}", message.subject)).into_response();
    }
    Template::render("contact.html", context! { form }).into_response()
}

fn contact_app() -> App {
    common::debug_app()
        .templates(templates_dir())
        .route("/contact", get(contact).post(contact))
}

#[tokio::test]
async fn a_form_renders_accessibly_and_keeps_what_was_typed() {
    let server = TestServer::start(contact_app()).await;
    let page = server.get("/contact").send().await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(
        html.contains(r#"<label for="id_subject">Subject:</label>"#),
        "{html}"
    );
    assert!(
        html.contains(
            r#"<input type="text" name="subject" id="id_subject" required aria-describedby="id_subject_helptext" maxlength="100">"#
        ),
        "{html}"
    );
    assert!(
        html.contains(r#"<div class="helptext" id="id_subject_helptext">What it is about</div>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<textarea name="message" id="id_message" required cols="40" rows="10">"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<label for="id_sender">Your email:</label>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<input type="email" name="sender" id="id_sender">"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<input type="checkbox" name="cc_myself" id="id_cc_myself">"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<input type="number" name="rating" id="id_rating" required>"#),
        "{html}"
    );
    assert!(html.contains(r#"name="csrfmiddlewaretoken""#), "{html}");

    // Errors: messages under the fields, values kept (and escaped).
    let response = server
        .post("/contact")
        .form(&[
            ("subject", "<script>alert(1)</script>"),
            ("message", ""),
            ("sender", "not-an-email"),
            ("rating", "9"),
        ])
        .send()
        .await;
    assert_eq!(response.status, StatusCode::OK);
    let html = response.text();
    assert!(
        html.contains(r#"value="&lt;script&gt;alert(1)&lt;/script&gt;""#),
        "the value is kept, escaped: {html}"
    );
    assert!(!html.contains("<script>alert(1)"), "{html}");
    assert!(
        html.contains(
            r#"<ul class="errorlist" id="id_message_error"><li>This field is required.</li></ul>"#
        ),
        "{html}"
    );
    assert!(
        html.contains(r#"<textarea name="message" id="id_message" required aria-describedby="id_message_error" aria-invalid="true""#),
        "{html}"
    );
    assert!(html.contains("Enter a valid email address."), "{html}");
    assert!(html.contains(r#"value="not-an-email""#), "{html}");
    assert!(
        html.contains("Ensure this value is less than or equal to 5."),
        "{html}"
    );

    // A field validator and the form-wide check.
    let html = server
        .post("/contact")
        .form(&[
            ("subject", "Cheap VIAGRA"),
            ("message", "m"),
            ("rating", "3"),
        ])
        .send()
        .await
        .text();
    assert!(html.contains("No spam, please."), "{html}");
    let html = server
        .post("/contact")
        .form(&[
            ("subject", "Hi"),
            ("message", "m"),
            ("rating", "3"),
            ("cc_myself", "on"),
        ])
        .send()
        .await
        .text();
    assert!(
        html.contains(
            r#"<ul class="errorlist nonfield"><li>Give your email address to get a copy.</li></ul>"#
        ),
        "{html}"
    );
    assert!(
        html.contains(r#"<input type="checkbox" name="cc_myself" id="id_cc_myself" checked>"#),
        "{html}"
    );

    // Valid: the handler gets the typed value.
    let done = server
        .post("/contact")
        .form(&[
            ("subject", "Hello"),
            ("message", "Hi there"),
            ("rating", "4"),
            ("sender", "a@example.com"),
        ])
        .send()
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(done.header("location"), Some("/thanks?subject=Hello"));

    // Not a form body: 415 with the reason.
    let wrong = server
        .post("/contact")
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await;
    assert_eq!(wrong.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(
        wrong.text().contains("application/x-www-form-urlencoded"),
        "{}",
        wrong.text()
    );
    server.shutdown().await;
}

#[test]
fn typed_values_and_errors_without_a_server() {
    let mut form = ContactForm::bind(
        FormData::new()
            .with("subject", "  Hello  ")
            .with("message", "Text")
            .with("rating", "2")
            .with("sender", ""),
    );
    let value = form.validate().expect("valid");
    assert_eq!(value.subject, "Hello", "surrounding spaces are stripped");
    assert_eq!(value.sender, None, "an empty optional field is None");
    assert!(!value.cc_myself);
    assert_eq!(value.rating, 2);

    let mut form = ContactForm::bind(FormData::new().with("rating", "two"));
    assert!(form.validate().is_none());
    assert_eq!(form.errors().get("rating"), ["Enter a whole number."]);
    assert_eq!(form.errors().get("subject"), ["This field is required."]);

    // An unbound form is never valid and has no errors.
    let mut unbound = ContactForm::unbound();
    assert!(unbound.validate().is_none());
    assert!(unbound.errors().is_empty());
}

#[test]
fn the_project_overrides_the_form_layout() {
    let overriding = TemplateSource::dir(format!(
        "{}/tests/templates_fixture/forms_override",
        env!("CARGO_MANIFEST_DIR")
    ));
    let templates = Templates::from_sources(vec![overriding, TemplateSource::builtin()], false);
    let form = ContactForm::unbound();
    let html = templates
        .render_to_string("as_p.html", context! { form })
        .unwrap();
    assert!(html.starts_with("<form class=\"custom\">"), "{html}");
    assert!(
        html.contains(
            r#"<p><label for="id_subject">Subject:</label> <input type="text" name="subject""#
        ),
        "{html}"
    );

    // Field by field, by hand.
    let edit = ContactForm {
        subject: "Re: <b>".into(),
        message: "Body".into(),
        sender: None,
        cc_myself: true,
        rating: 3,
    }
    .edit();
    let templates =
        Templates::from_sources(vec![templates_dir(), TemplateSource::builtin()], false);
    let html = templates
        .render_to_string("by_hand.html", context! { form => edit })
        .unwrap();
    assert_eq!(
        html.trim(),
        r#"Subject|id_subject|Re: &lt;b&gt;|<input type="text" name="subject" value="Re: &lt;b&gt;" id="id_subject" required aria-describedby="id_subject_helptext" maxlength="100">|0"#
    );
}

#[derive(Choices, Clone, Copy, Debug, PartialEq)]
enum Status {
    Draft,
    Published,
}

#[derive(Model, Debug, Clone)]
#[model(table = "forms_article")]
struct Article {
    id: Auto<i64>,
    #[model(max_length = 50, verbose_name = "title", help_text = "Shown in lists")]
    title: String,
    #[model(max_length = 50, unique)]
    slug: String,
    status: Status,
    published: Option<NaiveDate>,
    #[model(default = 0)]
    views: i32,
    featured: bool,
}

fn article_form() -> ModelForm<Article> {
    ModelForm::<Article>::new()
        .exclude(&["views"])
        .widget("status", Widget::RadioSelect)
}

async fn new_article(db: Db, method: http::Method, data: FormData) -> estate::Result<Response> {
    let mut form = article_form();
    if method == http::Method::POST {
        form = form.bind(data);
        if let Some(article) = form.save(&*db).await? {
            return Ok(Redirect::to(&format!("/articles/{}", article.id)).into_response());
        }
    }
    Ok(Template::render("article.html", context! { form }).into_response())
}

async fn edit_article(
    db: Db,
    Path(id): Path<i64>,
    method: http::Method,
    data: FormData,
) -> estate::Result<Response> {
    let article = Article::objects().get(&*db, Article::ID.eq(id)).await?;
    let mut form = article_form().instance(article);
    if method == http::Method::POST {
        form = form.bind(data);
        if form.save(&*db).await?.is_some() {
            return Ok(Redirect::to("/done").into_response());
        }
    }
    Ok(Template::render("article.html", context! { form }).into_response())
}

async fn count(db: &Database) -> i64 {
    Article::objects().count(db).await.unwrap()
}

#[tokio::test]
async fn a_model_form_creates_and_edits_rows_on_every_backend() {
    each_backend(async |db| {
        create_table(&db, Article::META).await.unwrap();
        let app = common::debug_app()
            .database(db.clone())
            .templates(templates_dir())
            .route("/articles/new", get(new_article).post(new_article))
            .route("/articles/{id}", get(edit_article).post(edit_article));
        let server = TestServer::start(app).await;

        // GET: every editable field from the model's metadata.
        let html = server.get("/articles/new").send().await.text();
        assert!(html.contains(r#"<label for="id_title">Title:</label>"#), "{html}");
        assert!(html.contains(r#"<div class="helptext" id="id_title_helptext">Shown in lists</div>"#), "{html}");
        assert!(html.contains(r#"name="title" id="id_title" required aria-describedby="id_title_helptext" maxlength="50""#), "{html}");
        assert!(html.contains(r#"<label for="id_status_0">Status:</label>"#), "{html}");
        assert!(html.contains(r#"<input type="radio" name="status" value="published" required id="id_status_1"> Published</label>"#), "{html}");
        assert!(html.contains(r#"<input type="date" name="published" id="id_published">"#), "{html}");
        assert!(!html.contains("id_views"), "excluded: {html}");
        assert!(!html.contains(r#"name="id""#), "the auto key is not editable: {html}");

        // POST with errors: re-rendered with messages and the values kept.
        let html = server
            .post("/articles/new")
            .form(&[
                ("title", "A title that is far too long for the fifty characters allowed"),
                ("slug", "first"),
                ("status", "archived"),
                ("published", "2024-13-45"),
            ])
            .send()
            .await
            .text();
        assert!(html.contains("Ensure this value has at most 50 characters (it has 61)."), "{html}");
        assert!(html.contains("Select a valid choice. archived is not one of the available choices."), "{html}");
        assert!(html.contains("Enter a valid date."), "{html}");
        assert!(html.contains(r#"value="first""#), "{html}");
        assert!(html.contains(r#"value="2024-13-45""#), "{html}");
        assert_eq!(count(&db).await, 0, "nothing saved");

        // Valid: saved, with the default for the excluded field.
        let created = server
            .post("/articles/new")
            .form(&[
                ("title", "First"),
                ("slug", "first"),
                ("status", "published"),
                ("published", "2024-05-01"),
                ("featured", "on"),
            ])
            .send()
            .await;
        assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.text());
        let saved = Article::objects().get(&db, Article::SLUG.eq("first")).await.unwrap();
        assert_eq!(created.header("location"), Some(format!("/articles/{}", saved.id).as_str()));
        assert_eq!(saved.title, "First");
        assert_eq!(saved.status, Status::Published);
        assert_eq!(saved.published, NaiveDate::from_ymd_opt(2024, 5, 1));
        assert_eq!(saved.views, 0);
        assert!(saved.featured);

        // The same slug again: a field error from the unique constraint.
        let html = server
            .post("/articles/new")
            .form(&[("title", "Second"), ("slug", "first"), ("status", "draft")])
            .send()
            .await
            .text();
        assert!(
            html.contains(r#"<ul class="errorlist" id="id_slug_error"><li>Article with this Slug already exists.</li></ul>"#),
            "{html}"
        );
        assert!(html.contains(r#"value="Second""#), "{html}");
        assert_eq!(count(&db).await, 1);

        // Editing: the form shows the row, and saving updates it.
        let url = format!("/articles/{}", saved.id);
        let html = server.get(&url).send().await.text();
        assert!(html.contains(r#"value="First""#), "{html}");
        assert!(html.contains(r#"value="published" required id="id_status_1" checked>"#), "{html}");
        assert!(html.contains(r#"value="2024-05-01""#), "{html}");
        let updated = server
            .post(&url)
            .form(&[("title", "First, edited"), ("slug", "first"), ("status", "draft")])
            .send()
            .await;
        assert_eq!(updated.status, StatusCode::SEE_OTHER, "{}", updated.text());
        let row = Article::objects().get(&db, Article::ID.eq(saved.id.get().unwrap())).await.unwrap();
        assert_eq!(row.title, "First, edited");
        assert_eq!(row.status, Status::Draft);
        assert_eq!(row.published, None, "the cleared date is NULL");
        assert!(!row.featured, "an unticked box is false");
        assert_eq!(count(&db).await, 1);
        server.shutdown().await;
    })
    .await;
}

#[test]
fn model_form_mistakes_name_the_model_and_field() {
    let panic =
        std::panic::catch_unwind(|| ModelForm::<Article>::new().fields(&["titel"])).unwrap_err();
    let message = panic.downcast_ref::<String>().unwrap();
    assert!(
        message.contains("ModelForm<Article>: `titel` is not a field of Article"),
        "{message}"
    );
    assert!(message.contains("title, slug"), "{message}");
}

#[tokio::test]
async fn a_model_form_without_a_required_field_says_how_to_fix_it() {
    let mut form = ModelForm::<Article>::new()
        .fields(&["title"])
        .bind(FormData::new().with("title", "T"));
    let err = form.validate().unwrap_err().to_string();
    assert!(
        err.contains("`slug` is not in the form and has no default"),
        "{err}"
    );
}

#[derive(Form, Debug, PartialEq)]
struct Item {
    #[form(max_length = 20)]
    name: String,
    quantity: i32,
}

#[test]
fn formsets_skip_untouched_extra_forms_and_report_deletions() {
    let data = FormData::new()
        .with("form-TOTAL_FORMS", "3")
        .with("form-INITIAL_FORMS", "1")
        .with("form-0-name", "Apples")
        .with("form-0-quantity", "3")
        .with("form-0-DELETE", "on")
        .with("form-1-name", "Pears")
        .with("form-1-quantity", "2")
        .with("form-2-name", "")
        .with("form-2-quantity", "");
    let existing = [Item {
        name: "Apples".into(),
        quantity: 3,
    }];
    let mut formset = FormSet::<Item>::new()
        .initial(&existing)
        .can_delete(true)
        .bind(data);
    let result = formset.validate().expect("valid");
    assert_eq!(
        result.forms,
        [Item {
            name: "Pears".into(),
            quantity: 2
        }]
    );
    assert_eq!(result.deleted, [0]);

    // An error in one form; the others are fine.
    let data = FormData::new()
        .with("form-TOTAL_FORMS", "2")
        .with("form-INITIAL_FORMS", "0")
        .with("form-0-name", "Plums")
        .with("form-0-quantity", "x")
        .with("form-1-name", "Figs")
        .with("form-1-quantity", "1");
    let mut formset = FormSet::<Item>::new().bind(data);
    assert!(formset.validate().is_none());
    assert_eq!(
        formset.errors()[0].get("quantity"),
        ["Enter a whole number."]
    );
    assert!(formset.errors()[1].is_empty());

    // Tampered or missing management data, and too many forms.
    let mut formset = FormSet::<Item>::new().bind(FormData::new().with("form-0-name", "x"));
    assert!(formset.validate().is_none());
    assert!(formset.non_form_errors()[0].contains("ManagementForm data is missing"));
    let data = FormData::new()
        .with("form-TOTAL_FORMS", "2")
        .with("form-INITIAL_FORMS", "0")
        .with("form-0-name", "a")
        .with("form-0-quantity", "1")
        .with("form-1-name", "b")
        .with("form-1-quantity", "1");
    let mut formset = FormSet::<Item>::new().max_num(1).bind(data);
    assert!(formset.validate().is_none());
    assert_eq!(formset.non_form_errors(), ["Please submit at most 1 form."]);
}

#[test]
fn a_formset_renders_its_management_form_and_forms() {
    let templates =
        Templates::from_sources(vec![templates_dir(), TemplateSource::builtin()], false);
    let formset = FormSet::<Item>::new().extra(2).initial(&[Item {
        name: "Apples".into(),
        quantity: 3,
    }]);
    let html = templates
        .render_to_string("formset.html", context! { formset })
        .unwrap();
    assert!(
        html.contains(
            r#"<input type="hidden" name="form-TOTAL_FORMS" value="3" id="id_form-TOTAL_FORMS">"#
        ),
        "{html}"
    );
    assert!(
        html.contains(r#"<input type="hidden" name="form-INITIAL_FORMS" value="1""#),
        "{html}"
    );
    assert!(
        html.contains(r#"name="form-0-name" value="Apples" id="id_form-0-name""#),
        "{html}"
    );
    assert!(
        html.contains(r#"<label for="id_form-2-quantity">Quantity:</label>"#),
        "{html}"
    );
}

#[derive(Model, Debug, Clone)]
#[model(table = "forms_code")]
struct Code {
    #[model(primary_key, max_length = 10)]
    code: String,
    #[model(max_length = 20)]
    owner: String,
    blob: Vec<u8>,
    flagged: Option<bool>,
}

#[tokio::test]
async fn a_create_form_never_overwrites_an_existing_row() {
    each_backend(async |db| {
        create_table(&db, Code::META).await.unwrap();
        let mut alice = Code {
            code: "a".into(),
            owner: "alice".into(),
            blob: vec![1, 2],
            flagged: None,
        };
        alice.insert(&db).await.unwrap();

        // Binary data is not editable; a nullable bool is yes/no/unknown.
        let form = ModelForm::<Code>::new();
        let names: Vec<&str> = form_fields(&form);
        assert_eq!(names, ["code", "owner", "flagged"]);

        let post = |owner: &str| {
            FormData::new()
                .with("code", "a")
                .with("owner", owner)
                .with("flagged", "true")
        };
        let mut form = ModelForm::<Code>::new()
            .exclude(&["blob"])
            .bind(post("mallory"));
        // `blob` has no default: build the row from an instance instead.
        assert!(form.validate().is_err());
        let mut form = ModelForm::<Code>::new()
            .fields(&["code", "owner"])
            .bind(post("mallory"));
        let err = form.save(&db).await.unwrap_err().to_string();
        assert!(err.contains("`blob` is not in the form"), "{err}");

        // Inside a transaction, the duplicate is a field error and the
        // transaction carries on (a savepoint undoes just the insert).
        let result: Result<(), estate::db::DbError> = db
            .atomic(async |tx| {
                let template = Code {
                    code: String::new(),
                    owner: String::new(),
                    blob: vec![],
                    flagged: None,
                };
                let mut form = ModelForm::<Code>::new()
                    .fields(&["code", "owner", "flagged"])
                    .start_from(template)
                    .bind(post("mallory"));
                assert!(form.save(tx).await.unwrap().is_none());
                assert_eq!(
                    form.errors().get("code"),
                    ["Code with this Code already exists."]
                );
                let mut other = ModelForm::<Code>::new()
                    .fields(&["code", "owner", "flagged"])
                    .start_from(Code {
                        code: String::new(),
                        owner: String::new(),
                        blob: vec![],
                        flagged: None,
                    })
                    .bind(post("bob").with("code", "b"));
                let saved = other.save(tx).await.unwrap().expect("saved");
                assert_eq!(saved.flagged, Some(true));
                Ok(())
            })
            .await;
        result.unwrap();
        let alice = Code::objects().get(&db, Code::CODE.eq("a")).await.unwrap();
        assert_eq!(alice.owner, "alice", "never overwritten");
        assert_eq!(Code::objects().count(&db).await.unwrap(), 2);

        // Editing with a changed key updates that row, not another.
        let bob = Code::objects().get(&db, Code::CODE.eq("b")).await.unwrap();
        let mut edit = ModelForm::<Code>::new()
            .fields(&["code", "owner"])
            .instance(bob)
            .bind(FormData::new().with("code", "c").with("owner", "bob"));
        edit.save(&db).await.unwrap().expect("saved");
        let codes: Vec<String> = Code::objects()
            .order_by([Code::CODE.asc()])
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.code)
            .collect();
        assert_eq!(codes, ["a", "c"]);
    })
    .await;
}

fn form_fields<M: Model>(form: &ModelForm<M>) -> Vec<&str> {
    form.field_names()
}

#[derive(Form, Debug, PartialEq)]
struct Line {
    #[form(max_length = 20)]
    name: String,
    #[form(initial = 1)]
    quantity: i32,
}

#[test]
fn formset_review_findings_stay_fixed() {
    // An untouched extra form showing a field's initial value is skipped.
    let data = FormData::new()
        .with("form-TOTAL_FORMS", "1")
        .with("form-INITIAL_FORMS", "0")
        .with("form-0-name", "")
        .with("form-0-quantity", "1");
    let mut formset = FormSet::<Line>::new().bind(data);
    assert_eq!(formset.validate().expect("valid").forms, []);

    // A forged count: an error, not thousands of forms.
    let data = FormData::new()
        .with("form-TOTAL_FORMS", "100000")
        .with("form-INITIAL_FORMS", "0");
    let mut formset = FormSet::<Line>::new().bind(data);
    assert!(formset.validate().is_none());
    assert_eq!(
        formset.non_form_errors(),
        ["Please submit at most 1000 forms."]
    );

    // min_num forms are shown.
    let templates =
        Templates::from_sources(vec![templates_dir(), TemplateSource::builtin()], false);
    let formset = FormSet::<Line>::new().extra(0).min_num(2);
    let html = templates
        .render_to_string("formset.html", context! { formset })
        .unwrap();
    assert!(
        html.contains(r#"name="form-TOTAL_FORMS" value="2""#),
        "{html}"
    );

    // The posted INITIAL_FORMS decides which forms are existing rows.
    let data = FormData::new()
        .with("form-TOTAL_FORMS", "1")
        .with("form-INITIAL_FORMS", "1")
        .with("form-0-name", "Kept")
        .with("form-0-quantity", "1")
        .with("form-0-DELETE", "on");
    let mut formset = FormSet::<Line>::new().can_delete(true).bind(data);
    assert_eq!(formset.validate().expect("valid").deleted, [0]);
}

#[test]
fn errors_render_as_django_lists_and_fields_keep_their_adjustments() {
    let templates =
        Templates::from_sources(vec![templates_dir(), TemplateSource::builtin()], false);
    let mut form = ContactForm::bind(FormData::new().with("subject", "<b>"));
    assert!(form.validate().is_none());
    form.add_error(None, "Bad <x>");
    let html = templates
        .render_to_string("errors.html", context! { form })
        .unwrap();
    assert_eq!(
        html.trim(),
        r#"<ul class="errorlist nonfield"><li>Bad &lt;x&gt;</li></ul>|<ul class="errorlist" id="id_message_error"><li>This field is required.</li></ul>|1|This field is required."#
    );

    let form = ModelForm::<Article>::new()
        .label("title", "Headline")
        .fields(&["title", "slug"]);
    assert_eq!(form.field_names(), ["title", "slug"]);
    let html = Templates::from_sources(vec![templates_dir(), TemplateSource::builtin()], false)
        .render_to_string("plain.html", context! { form })
        .unwrap();
    assert!(html.contains("Headline:"), "{html}");
}

#[derive(Model, Debug, Clone)]
#[model(table = "forms_writer", ordering = "name")]
struct Writer {
    id: Auto<i64>,
    #[model(max_length = 30)]
    name: String,
}

#[derive(Model, Debug, Clone)]
#[model(table = "forms_label", ordering = "name")]
struct Label {
    id: Auto<i64>,
    #[model(max_length = 30)]
    name: String,
}

#[derive(Model, Debug, Clone)]
#[model(table = "forms_post")]
struct Post {
    id: Auto<i64>,
    #[model(max_length = 30)]
    title: String,
    #[model(on_delete = Cascade)]
    writer: estate::orm::ForeignKey<Writer>,
    labels: estate::orm::ManyToMany<Label>,
}

#[tokio::test]
async fn relation_fields_are_selects_of_the_related_rows() {
    each_backend(async |db| {
        for meta in [Writer::META, Label::META, Post::META] {
            create_table(&db, meta).await.unwrap();
        }
        let mut ann = Writer { id: Auto::new(), name: "Ann <A>".into() };
        ann.save(&db).await.unwrap();
        let mut bob = Writer { id: Auto::new(), name: "Bob".into() };
        bob.save(&db).await.unwrap();
        let mut labels = Vec::new();
        for name in ["rust", "django", "web"] {
            let mut label = Label { id: Auto::new(), name: name.into() };
            label.save(&db).await.unwrap();
            labels.push(label.id.get().unwrap());
        }
        let templates =
            Templates::from_sources(vec![templates_dir(), TemplateSource::builtin()], false);

        // Unbound: selects of the rows, in the related models' ordering.
        let form = ModelForm::<Post>::new().with_choices(&db).await.unwrap();
        assert_eq!(form.field_names(), ["title", "writer", "labels"]);
        let html = templates.render_to_string("plain.html", context! { form }).unwrap();
        let ann_id = ann.id.get().unwrap();
        assert!(
            html.contains(&format!(
                r#"<select name="writer" id="id_writer" required><option value="" selected>---------</option><option value="{ann_id}">Ann &lt;A&gt;</option>"#
            )),
            "{html}"
        );
        assert!(html.contains(r#"<select name="labels" id="id_labels" multiple>"#), "{html}");
        assert!(html.contains(&format!(r#"<option value="{}">django</option>"#, labels[1])), "{html}");

        // A key that is not one of the rows.
        let mut form = ModelForm::<Post>::new()
            .with_choices(&db)
            .await
            .unwrap()
            .bind(FormData::new().with("title", "T").with("writer", "999999").with("labels", "888888"));
        assert!(form.save(&db).await.unwrap().is_none());
        assert_eq!(
            form.errors().get("writer"),
            ["Select a valid choice. That choice is not one of the available choices."]
        );
        assert_eq!(
            form.errors().get("labels"),
            ["Select a valid choice. 888888 is not one of the available choices."]
        );

        // Saved with its links, in one go.
        let data = FormData::new()
            .with("title", "Forms")
            .with("writer", &bob.id.get().unwrap().to_string())
            .with("labels", &labels[0].to_string())
            .with("labels", &labels[2].to_string());
        let mut form = ModelForm::<Post>::new().with_choices(&db).await.unwrap().bind(data);
        let post = form.save(&db).await.unwrap().expect("saved");
        let linked: Vec<String> = Post::LABELS
            .of(&post)
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.name)
            .collect();
        assert_eq!(linked, ["rust", "web"]);
        assert_eq!(*post.writer.id(), bob.id.get().unwrap());

        // Editing shows the current links; saving replaces them.
        let form = ModelForm::<Post>::new().instance(post.clone()).with_choices(&db).await.unwrap();
        let html = templates.render_to_string("plain.html", context! { form }).unwrap();
        assert!(html.contains(&format!(r#"<option value="{}" selected>rust</option>"#, labels[0])), "{html}");
        assert!(html.contains(&format!(r#"<option value="{}">django</option>"#, labels[1])), "{html}");
        let mut edit = ModelForm::<Post>::new()
            .instance(post.clone())
            .with_choices(&db)
            .await
            .unwrap()
            .bind(
                FormData::new()
                    .with("title", "Forms, again")
                    .with("writer", &ann_id.to_string())
                    .with("labels", &labels[1].to_string()),
            );
        edit.save(&db).await.unwrap().expect("saved");
        let linked: Vec<String> = Post::LABELS
            .of(&post)
            .all(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|l| l.name)
            .collect();
        assert_eq!(linked, ["django"]);

        // A form whose choices were never loaded could not show the links:
        // leaving the field out changes nothing (rather than removing all).
        let mut blind = ModelForm::<Post>::new().instance(post.clone()).bind(
            FormData::new()
                .with("title", "Forms, blind")
                .with("writer", &ann_id.to_string()),
        );
        blind.save(&db).await.unwrap().expect("saved");
        assert_eq!(Post::LABELS.of(&post).count(&db).await.unwrap(), 1);
    })
    .await;
}
