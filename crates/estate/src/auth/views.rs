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

use super::forms::{INVALID_LOGIN, LoginForm, PasswordChangeForm};
use super::guards::LoginRequired;
use super::models::User;
use super::redirects::is_safe_redirect;
use super::{Auth, CurrentUser};
use crate::db::Db;
use crate::error::Error;
use crate::forms::{Form, FormData};
use crate::http::RequestIsSecure;
use crate::routing::{Urls, get};
use crate::templates::{Template, context};

/// The request facts the login and logout pages need.
pub(crate) struct RequestFacts {
    host: String,
    secure: bool,
    address: Option<String>,
    query_next: Option<String>,
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
        let secure = parts
            .extensions
            .get::<RequestIsSecure>()
            .is_some_and(|s| s.0);
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
    fn safe_next(&self, form_next: Option<String>) -> Option<String> {
        form_next
            .filter(|n| !n.is_empty())
            .or_else(|| self.query_next.clone())
            .filter(|next| is_safe_redirect(next, &self.host, self.secure))
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
    let throttle = auth.throttle();
    let address = facts.address.as_deref();
    if let Some(wait) = throttle.refused(&credentials.username, address).await {
        let minutes = wait.as_secs().div_ceil(60).max(1);
        form.add_error(
            None,
            format!(
                "Too many failed login attempts. Please try again in {minutes} minute{}.",
                if minutes == 1 { "" } else { "s" }
            ),
        );
        let mut response =
            (StatusCode::TOO_MANY_REQUESTS, login_page(form, &shown_next)).into_response();
        response
            .headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from(wait.as_secs()));
        return Ok(response);
    }
    match auth
        .authenticate(&db, &credentials.username, &credentials.password)
        .await?
    {
        Some(mut user) => {
            throttle.succeeded(&credentials.username).await;
            current.login(&mut user).await?;
            let target = next.unwrap_or_else(|| auth.settings().login_redirect_url.clone());
            Ok(Redirect::to(&target).into_response())
        }
        None => {
            throttle.failed(&credentials.username, address).await;
            form.add_error(None, INVALID_LOGIN);
            Ok(login_page(form, &shown_next).into_response())
        }
    }
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
    if !user.check_password(auth.hashers(), &change.old_password) {
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
    user.set_password(auth.hashers(), &change.new_password1);
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
}
