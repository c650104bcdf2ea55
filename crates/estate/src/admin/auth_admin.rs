//! Users and groups, in every admin site (Django's `auth.admin`): users are
//! listed with their names and flags, filtered by staff, superuser and
//! active; a new user is created from a username and a password checked
//! by the validators, then edited on the change page (which never shows
//! the password hash); a separate page sets a new password. Groups pick
//! their permissions from a list.

use axum::response::{IntoResponse, Redirect, Response};
use estate_orm::{Model, ModelMeta};
use futures_util::future::BoxFuture;
use http::{Method, StatusCode};

use super::ModelAdmin;
use super::entry::{AdminEntry, AdminRequest};
use super::history::ActionFlag;
use super::model_admin::FormPage;
use crate::auth::forms::{SetPasswordForm, UserCreationForm};
use crate::auth::{Group, User, create_user};
use crate::error::Error;
use crate::forms::{BoundForm, Form};
use crate::templates::{Template, context};

/// The groups admin.
pub(crate) fn group_admin() -> ModelAdmin<Group> {
    ModelAdmin::<Group>::new()
        .list_display(&["name"])
        .search_fields(&["name"])
        .ordering("name")
        .filter_horizontal(&["permissions"])
}

/// The users admin: Django's `UserAdmin`.
pub(crate) struct UserAdmin {
    inner: ModelAdmin<User>,
}

impl UserAdmin {
    pub(crate) fn new() -> UserAdmin {
        let mut inner = ModelAdmin::<User>::new()
            .list_display(&["username", "email", "first_name", "last_name", "is_staff"])
            .list_filter(&["is_staff", "is_superuser", "is_active", "groups"])
            .search_fields(&["username", "first_name", "last_name", "email"])
            .ordering("username")
            .filter_horizontal(&["groups", "user_permissions"])
            .exclude(&["password"]);
        inner.password_page = true;
        UserAdmin { inner }
    }

    /// The validators' help under the first password.
    fn with_help<F: Form>(
        mut form: BoundForm<F>,
        request: &AdminRequest,
        field: &str,
    ) -> BoundForm<F> {
        if let Some(field) = form.field_mut(field) {
            field.help_text = request.auth.validators().help_texts().join(" ");
        }
        form
    }

    async fn add_page(&self, mut request: AdminRequest) -> Result<Response, Error> {
        if !request.perms.add {
            return Err(Error::forbidden(
                "You do not have permission to add rows here.",
            ));
        }
        let page = |request: &AdminRequest, form: BoundForm<UserCreationForm>| {
            let bound = form.is_bound();
            super::model_admin::form_page(
                request,
                User::META,
                FormPage {
                    form,
                    bound,
                    object: None,
                    editable: true,
                    password_page: false,
                    inlines: Vec::new(),
                    fieldsets: &[],
                },
            )
        };
        if request.method != Method::POST {
            let form = Self::with_help(UserCreationForm::unbound(), &request, "password1");
            return page(&request, form);
        }
        let data = request.data.take().unwrap_or_default();
        let mut form = Self::with_help(UserCreationForm::bind(data), &request, "password1");
        let Some(new) = form.validate() else {
            return page(&request, form);
        };
        let probe = User::new(&new.username, "");
        if let Err(errors) = request.auth.validate_password(&new.password1, Some(&probe)) {
            for error in errors {
                form.add_error(Some("password2"), error);
            }
            return page(&request, form);
        }
        let user = match create_user(
            &request.auth,
            &request.db,
            &new.username,
            "",
            Some(&new.password1),
        )
        .await
        {
            Ok(user) => user,
            Err(err) if err.status() == StatusCode::CONFLICT => {
                form.add_error(
                    Some("username"),
                    "A user with that username already exists.",
                );
                return page(&request, form);
            }
            Err(err) => return Err(err),
        };
        let key = user.id.get().unwrap_or_default().to_string();
        request
            .log(
                User::META,
                &key,
                &user.username,
                ActionFlag::Addition,
                "Added.".to_owned(),
            )
            .await?;
        request.success(format!(
            "The user “{}” was added successfully. You may edit it again below.",
            user.username
        ));
        Ok(Redirect::to(&request.url("change", Some(&key))?).into_response())
    }

    async fn password_page(
        &self,
        mut request: AdminRequest,
        id: String,
    ) -> Result<Response, Error> {
        if !request.perms.change {
            return Err(Error::forbidden(
                "You do not have permission to change this user.",
            ));
        }
        let found = match id.parse::<i64>() {
            Ok(key) => {
                User::objects()
                    .filter(User::ID.eq(key))
                    .first(&request.db)
                    .await?
            }
            Err(_) => None,
        };
        let Some(mut user) = found else {
            return Err(Error::not_found(format!(
                "User with ID “{id}” doesn’t exist. Perhaps it was deleted?"
            )));
        };
        // The key as the row has it (the URL may write it otherwise: 001).
        let id = user.id.get().unwrap_or_default().to_string();
        let page = |request: &AdminRequest,
                    form: BoundForm<SetPasswordForm>,
                    user: &User|
         -> Result<Response, Error> {
            let status = if form.is_bound() {
                StatusCode::UNPROCESSABLE_ENTITY
            } else {
                StatusCode::OK
            };
            let page = Template::render(
                "admin/auth/user/change_password.html",
                context! {
                    site_title => request.site.site_title.clone(),
                    site_header => request.site.site_header.clone(),
                    model => super::model_admin::model_context(request, User::META)?,
                    object => context! {
                        label => user.username.clone(),
                        url => request.url("change", Some(&id))?,
                    },
                    form,
                },
            );
            Ok((status, page).into_response())
        };
        if request.method != Method::POST {
            let form = Self::with_help(SetPasswordForm::unbound(), &request, "new_password1");
            return page(&request, form, &user);
        }
        let data = request.data.take().unwrap_or_default();
        let mut form = Self::with_help(SetPasswordForm::bind(data), &request, "new_password1");
        let Some(new) = form.validate() else {
            return page(&request, form, &user);
        };
        if let Err(errors) = request
            .auth
            .validate_password(&new.new_password1, Some(&user))
        {
            for error in errors {
                form.add_error(Some("new_password2"), error);
            }
            return page(&request, form, &user);
        }
        user.password = request.auth.hash_password(&new.new_password1).await;
        User::objects()
            .filter(User::ID.eq(user.id))
            .update(&request.db, [User::PASSWORD.set(user.password.clone())])
            .await?;
        request
            .log(
                User::META,
                &id,
                &user.username,
                ActionFlag::Change,
                "Changed password.".to_owned(),
            )
            .await?;
        // Changing one's own password keeps this session logged in.
        request.current.update_session_auth_hash(&user)?;
        request.success("Password changed successfully.".to_owned());
        Ok(Redirect::to(&request.url("change", Some(&id))?).into_response())
    }
}

impl AdminEntry for UserAdmin {
    fn meta(&self) -> &'static ModelMeta {
        User::META
    }

    fn changelist(&self, request: AdminRequest) -> BoxFuture<'_, Result<Response, Error>> {
        self.inner.changelist(request)
    }

    fn add(&self, request: AdminRequest) -> BoxFuture<'_, Result<Response, Error>> {
        Box::pin(self.add_page(request))
    }

    fn change(&self, request: AdminRequest, id: String) -> BoxFuture<'_, Result<Response, Error>> {
        self.inner.change(request, id)
    }

    fn delete(&self, request: AdminRequest, id: String) -> BoxFuture<'_, Result<Response, Error>> {
        self.inner.delete(request, id)
    }

    fn history(&self, request: AdminRequest, id: String) -> BoxFuture<'_, Result<Response, Error>> {
        self.inner.history(request, id)
    }

    fn autocomplete_targets(&self) -> Vec<(&'static str, &'static ModelMeta)> {
        self.inner.autocomplete_targets()
    }

    fn searchable(&self) -> bool {
        self.inner.searchable()
    }

    fn search_rows<'a>(
        &'a self,
        db: &'a estate_orm::Database,
        term: &'a str,
        page: u64,
    ) -> BoxFuture<'a, Result<super::widgets::SearchPage, Error>> {
        self.inner.search_rows(db, term, page)
    }

    fn password(
        &self,
        request: AdminRequest,
        id: String,
    ) -> BoxFuture<'_, Result<Response, Error>> {
        Box::pin(self.password_page(request, id))
    }
}
