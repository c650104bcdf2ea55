//! The login, logout and password-change pages, mounted by the auth app
//! under `/accounts/` with Django's names (`auth:login`, `auth:logout`,
//! `auth:password_change`, `auth:password_change_done`) and Django's
//! templates (`registration/login.html`, ...), which a project overrides by
//! adding its own under `templates/registration/`.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query};
use axum::response::{IntoResponse, Redirect, Response};
use estate_orm::Model;
use http::header::{HOST, RETRY_AFTER};
use http::{HeaderValue, Method, StatusCode};

use super::forms::{
    INVALID_LOGIN, LoginForm, PasswordChangeForm, PasswordResetForm, SetPasswordForm,
};
use super::guards::LoginRequired;
use super::login::LoginOutcome;
use super::models::User;
use super::redirects::is_safe_redirect;
use super::{Auth, CurrentUser};
use crate::db::Db;
use crate::error::Error;
use crate::forms::{Form, FormData};
use crate::http::RequestIsSecure;
use crate::mail::{EmailMessage, Mailer};
use crate::routing::{Urls, get};
use crate::sessions::Session;
use crate::templates::{Template, Templates, context};

/// The request facts the login and logout pages need.
pub(crate) struct RequestFacts {
    pub(crate) host: String,
    pub(crate) secure: bool,
    pub(crate) address: Option<String>,
    pub(crate) query_next: Option<String>,
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for RequestFacts {
    type Rejection = Error;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        let host = parts
            .headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let secure = RequestIsSecure::from_extensions(&parts.extensions).is_some_and(|s| s.0);
        let address = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip().to_string());
        let query: Query<HashMap<String, String>> =
            Query::try_from_uri(&parts.uri).unwrap_or_else(|_| Query(HashMap::new()));
        Ok(RequestFacts {
            host,
            secure,
            address,
            query_next: query.0.get("next").cloned(),
        })
    }
}

impl RequestFacts {
    /// `next` from the form or the query string, when it stays on this site.
    pub(crate) fn safe_next(&self, form_next: Option<String>) -> Option<String> {
        form_next
            .filter(|n| !n.is_empty())
            .or_else(|| self.query_next.clone())
            .map(|next| {
                next.trim_matches(|c: char| c.is_ascii_whitespace())
                    .to_owned()
            })
            .filter(|next| is_safe_redirect(next, &self.host, self.secure))
            // A redirect target must also be a valid header value.
            .filter(|next| HeaderValue::from_str(next).is_ok())
    }
}

fn login_page(form: impl serde::Serialize, next: &str) -> Template {
    Template::render("registration/login.html", context! { form, next })
}

/// `GET/POST /accounts/login/`: Django's `LoginView`, with failed logins
/// limited per account and per address.
pub(crate) async fn login(
    method: Method,
    auth: Auth,
    db: Db,
    current: CurrentUser,
    facts: RequestFacts,
    data: FormData,
) -> Result<Response, Error> {
    let next = facts.safe_next(data.get("next").map(str::to_owned));
    let shown_next = next.clone().unwrap_or_default();
    if method != Method::POST {
        return Ok(login_page(LoginForm::unbound(), &shown_next).into_response());
    }
    let mut form = LoginForm::bind(data);
    let Some(credentials) = form.validate() else {
        return Ok(login_page(form, &shown_next).into_response());
    };
    let outcome = auth
        .throttled_login(
            &db,
            &current,
            &credentials.username,
            &credentials.password,
            facts.address.as_deref(),
            |_| true,
        )
        .await?;
    match outcome {
        LoginOutcome::LoggedIn => {
            let target = next.unwrap_or_else(|| auth.settings().login_redirect_url.clone());
            Ok(Redirect::to(&target).into_response())
        }
        LoginOutcome::Refused => {
            form.add_error(None, INVALID_LOGIN);
            Ok(login_page(form, &shown_next).into_response())
        }
        LoginOutcome::Throttled(wait) => {
            form.add_error(None, throttled_message(wait));
            Ok(throttled(
                (StatusCode::TOO_MANY_REQUESTS, login_page(form, &shown_next)).into_response(),
                wait,
            ))
        }
    }
}

/// What a refused login says when over the limits.
pub(crate) fn throttled_message(wait: std::time::Duration) -> String {
    let minutes = wait.as_secs().div_ceil(60).max(1);
    format!(
        "Too many failed login attempts. Please try again in {minutes} minute{}.",
        if minutes == 1 { "" } else { "s" }
    )
}

/// `Retry-After` on a refused login.
pub(crate) fn throttled(mut response: Response, wait: std::time::Duration) -> Response {
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(wait.as_secs()));
    response
}

/// `POST /accounts/logout/`: Django's `LogoutView` (POST only, so a link
/// or an image on another site cannot log people out).
pub(crate) async fn logout(
    auth: Auth,
    current: CurrentUser,
    facts: RequestFacts,
    // A form body is optional (a script may POST with only the CSRF header).
    data: Result<FormData, Error>,
) -> Response {
    current.logout().await;
    let form_next = data.ok().and_then(|d| d.get("next").map(str::to_owned));
    let next = facts
        .safe_next(form_next)
        .or_else(|| auth.settings().logout_redirect_url.clone());
    match next {
        Some(target) => Redirect::to(&target).into_response(),
        None => Template::render("registration/logged_out.html", context! {}).into_response(),
    }
}

/// The validators' help under the new password.
fn with_password_help<F: Form>(
    mut form: crate::forms::BoundForm<F>,
    auth: &Auth,
) -> crate::forms::BoundForm<F> {
    if let Some(field) = form.field_mut("new_password1") {
        field.help_text = auth.validators().help_texts().join(" ");
    }
    form
}

/// `GET/POST /accounts/password_change/`: Django's `PasswordChangeView`.
pub(crate) async fn password_change(
    method: Method,
    auth: Auth,
    db: Db,
    urls: Urls,
    LoginRequired(current): LoginRequired,
    data: FormData,
) -> Result<Response, Error> {
    let page = |form| Template::render("registration/password_change_form.html", context! { form });
    if method != Method::POST {
        return Ok(page(with_password_help(PasswordChangeForm::unbound(), &auth)).into_response());
    }
    let mut form = with_password_help(PasswordChangeForm::bind(data), &auth);
    let Some(change) = form.validate() else {
        return Ok(page(form).into_response());
    };
    let mut user = current
        .user()
        .ok_or_else(|| Error::msg("a logged-in user is required"))?;
    if !auth.check_password(&user, &change.old_password).await {
        form.add_error(
            Some("old_password"),
            "Your old password was entered incorrectly. Please enter it again.",
        );
        return Ok(page(form).into_response());
    }
    if let Err(errors) = auth.validate_password(&change.new_password1, Some(&user)) {
        for error in errors {
            form.add_error(Some("new_password2"), error);
        }
        return Ok(page(form).into_response());
    }
    user.password = auth.hash_password(&change.new_password1).await;
    User::objects()
        .filter(User::ID.eq(user.id))
        .update(&db, [User::PASSWORD.set(user.password.clone())])
        .await?;
    // This session stays logged in; the user's other sessions end.
    current.update_session_auth_hash(&user)?;
    Ok(Redirect::to(&urls.reverse("auth:password_change_done", ())?).into_response())
}

/// `GET /accounts/password_change/done/`.
pub(crate) async fn password_change_done(_: LoginRequired) -> Template {
    Template::render("registration/password_change_done.html", context! {})
}

/// The session key holding a reset token between the link and the form
/// (so the token leaves the address bar before any page is shown).
const RESET_TOKEN_KEY: &str = "_password_reset_token";
/// What the link's token becomes in the address (Django's).
const RESET_URL_TOKEN: &str = "set-password";

/// Sends one reset email; failures are logged (the page must look the
/// same whatever happened).
async fn send_reset_email(mailer: Mailer, message: EmailMessage) {
    if let Err(err) = mailer.send(message).await {
        tracing::error!(target: "estate::auth", "cannot send a password reset email: {err}");
    }
}

/// `GET/POST /accounts/password_reset/`: Django's `PasswordResetView`. The
/// answer is the same whether or not an account has the address, and the
/// email is sent in the background so the time taken does not tell either.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn password_reset(
    method: Method,
    auth: Auth,
    db: Db,
    mailer: Mailer,
    templates: Templates,
    urls: Urls,
    facts: RequestFacts,
    data: FormData,
) -> Result<Response, Error> {
    let page = |form| Template::render("registration/password_reset_form.html", context! { form });
    if method != Method::POST {
        return Ok(page(PasswordResetForm::unbound()).into_response());
    }
    let mut form = PasswordResetForm::bind(data);
    let Some(request) = form.validate() else {
        return Ok(page(form).into_response());
    };
    let users = User::objects()
        .filter(User::EMAIL.iexact(&request.email))
        .filter(User::IS_ACTIVE.eq(true))
        .all(&db)
        .await?;
    let tokens = auth.reset_tokens();
    let protocol = if facts.secure { "https" } else { "http" };
    for user in users.into_iter().filter(User::has_usable_password) {
        let Some(id) = user.id.get() else { continue };
        let uid = super::tokens::encode_uid(id);
        let token = tokens.make(&user);
        let link = urls.reverse_kwargs(
            "auth:password_reset_confirm",
            [("uidb64", uid.as_str()), ("token", token.as_str())],
        )?;
        let context = context! {
            email => user.email.clone(),
            domain => facts.host.clone(),
            site_name => facts.host.clone(),
            protocol,
            uid,
            token,
            reset_url => format!("{protocol}://{}{link}", facts.host),
            user => context! { username => user.username.clone(), first_name => user.first_name.clone() },
        };
        let subject =
            templates.render_to_string("registration/password_reset_subject.txt", &context)?;
        let body = templates.render_to_string("registration/password_reset_email.txt", &context)?;
        // One line, as Django makes it.
        let subject = subject.lines().map(str::trim).collect::<Vec<_>>().join(" ");
        let message = EmailMessage::new()
            .subject(subject.trim())
            .text(body)
            .to(user.email.clone());
        tokio::spawn(send_reset_email(mailer.clone(), message));
    }
    Ok(Redirect::to(&urls.reverse("auth:password_reset_done", ())?).into_response())
}

/// `GET /accounts/password_reset/done/`.
pub(crate) async fn password_reset_done() -> Template {
    Template::render("registration/password_reset_done.html", context! {})
}

/// The active user a reset link names, if any.
async fn reset_user(db: &Db, uidb64: &str) -> Result<Option<User>, Error> {
    let Some(id) = super::tokens::decode_uid(uidb64) else {
        return Ok(None);
    };
    Ok(User::objects()
        .filter(User::ID.eq(id))
        .filter(User::IS_ACTIVE.eq(true))
        .first(&**db)
        .await?)
}

fn invalid_link() -> Response {
    Template::render(
        "registration/password_reset_confirm.html",
        context! { validlink => false },
    )
    .into_response()
}

/// `GET/POST /accounts/reset/{uidb64}/{token}/`: Django's
/// `PasswordResetConfirmView`. A valid link's token moves into the session
/// and the browser is sent to `.../set-password/`, so the token never sits
/// in a page's address (where a Referer could leak it); there the new
/// password is chosen.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn password_reset_confirm(
    method: Method,
    axum::extract::Path((uidb64, token)): axum::extract::Path<(String, String)>,
    auth: Auth,
    db: Db,
    urls: Urls,
    session: Session,
    data: FormData,
) -> Result<Response, Error> {
    let Some(mut user) = reset_user(&db, &uidb64).await? else {
        return Ok(invalid_link());
    };
    let tokens = auth.reset_tokens();
    if token != RESET_URL_TOKEN {
        if !tokens.check(&user, &token) {
            return Ok(invalid_link());
        }
        session.insert(RESET_TOKEN_KEY, &token)?;
        let here = urls.reverse_kwargs(
            "auth:password_reset_confirm",
            [("uidb64", uidb64.as_str()), ("token", RESET_URL_TOKEN)],
        )?;
        return Ok(Redirect::to(&here).into_response());
    }
    let stored: Option<String> = session.get(RESET_TOKEN_KEY);
    if !stored.is_some_and(|t| tokens.check(&user, &t)) {
        return Ok(invalid_link());
    }
    let page = |form| {
        Template::render(
            "registration/password_reset_confirm.html",
            context! { form, validlink => true },
        )
    };
    if method != Method::POST {
        return Ok(page(with_password_help(SetPasswordForm::unbound(), &auth)).into_response());
    }
    let mut form = with_password_help(SetPasswordForm::bind(data), &auth);
    let Some(new) = form.validate() else {
        return Ok(page(form).into_response());
    };
    if let Err(errors) = auth.validate_password(&new.new_password1, Some(&user)) {
        for error in errors {
            form.add_error(Some("new_password2"), error);
        }
        return Ok(page(form).into_response());
    }
    user.password = auth.hash_password(&new.new_password1).await;
    User::objects()
        .filter(User::ID.eq(user.id))
        .update(&db, [User::PASSWORD.set(user.password.clone())])
        .await?;
    // The new password hash spends the token; the session forgets it.
    session.remove(RESET_TOKEN_KEY);
    Ok(Redirect::to(&urls.reverse("auth:password_reset_complete", ())?).into_response())
}

/// `GET /accounts/reset/done/`.
pub(crate) async fn password_reset_complete() -> Template {
    Template::render("registration/password_reset_complete.html", context! {})
}

/// The auth app's pages.
pub(crate) fn routes(module: crate::AppModule) -> crate::AppModule {
    module
        .prefix("/accounts")
        .route("/login/", get(login).post(login).name("login"))
        .route("/logout/", crate::routing::post(logout).name("logout"))
        .route(
            "/password_change/",
            get(password_change)
                .post(password_change)
                .name("password_change"),
        )
        .route(
            "/password_change/done/",
            get(password_change_done).name("password_change_done"),
        )
        .route(
            "/password_reset/",
            get(password_reset)
                .post(password_reset)
                .name("password_reset"),
        )
        .route(
            "/password_reset/done/",
            get(password_reset_done).name("password_reset_done"),
        )
        .route(
            "/reset/{uidb64}/{token}/",
            get(password_reset_confirm)
                .post(password_reset_confirm)
                .name("password_reset_confirm"),
        )
        .route(
            "/reset/done/",
            get(password_reset_complete).name("password_reset_complete"),
        )
}
