//! Signing up: the one account page Django leaves to projects. A form with
//! a username, an optional email and a password twice, checked by the
//! site's password validators; the new user is logged in at once.

use estate::auth::{Auth, CurrentUser, User, create_user, validate_username};
use estate::db::Db;
use estate::forms::{Form, FormData, FormErrors};
use estate::messages::Messages;
use estate::prelude::*;
use estate::templates::{Template, context};

fn passwords_match(form: &SignupForm) -> Result<(), FormErrors> {
    if form.password1 != form.password2 {
        return Err(FormErrors::field(
            "password2",
            "The two password fields didn’t match.",
        ));
    }
    Ok(())
}

// Form validators take the field's type by reference: here `&String`.
#[allow(clippy::ptr_arg)]
fn username_ok(username: &String) -> Result<(), String> {
    validate_username(username)
}

/// Django's `UserCreationForm`, with an email.
#[derive(Form, Debug)]
#[form(clean = "passwords_match")]
struct SignupForm {
    #[form(
        max_length = 150,
        validator = "username_ok",
        help_text = "Required. 150 characters or fewer. Letters, digits and @/./+/-/_ only."
    )]
    username: String,
    #[form(email, max_length = 254)]
    email: Option<String>,
    #[form(widget = "password", label = "Password")]
    password1: String,
    #[form(widget = "password", label = "Password confirmation")]
    password2: String,
}

fn page(form: impl serde::Serialize) -> Template {
    Template::render("registration/signup.html", context! { form })
}

/// `GET/POST /signup/`.
async fn signup(
    method: Method,
    auth: Auth,
    db: Db,
    current: CurrentUser,
    messages: Messages,
    data: FormData,
) -> estate::Result<Response> {
    if method != Method::POST {
        return Ok(page(SignupForm::unbound()).into_response());
    }
    let mut form = SignupForm::bind(data);
    let Some(new) = form.validate() else {
        return Ok(page(form).into_response());
    };
    let email = new.email.unwrap_or_default();
    let probe = User::new(&new.username, &email);
    if let Err(errors) = auth.validate_password(&new.password1, Some(&probe)) {
        for error in errors {
            form.add_error(Some("password2"), error);
        }
        return Ok(page(form).into_response());
    }
    let mut user = match create_user(&auth, &db, &new.username, &email, Some(&new.password1)).await
    {
        Ok(user) => user,
        Err(err) if err.status() == StatusCode::CONFLICT => {
            form.add_error(
                Some("username"),
                "A user with that username already exists.",
            );
            return Ok(page(form).into_response());
        }
        Err(err) => return Err(err),
    };
    current.login(&mut user).await?;
    messages.success(format!("Welcome, {}!", user.username));
    Ok(Redirect::to("/polls/").into_response())
}

/// The app.
pub(crate) fn app() -> AppModule {
    AppModule::new("accounts")
        .templates(estate::templates!("src/accounts/templates"))
        .route("/signup/", get(signup).post(signup).name("signup"))
}
