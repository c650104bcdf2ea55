//! Django's `django.shortcuts` for handlers: [`get_object_or_404`].

use estate_orm::{Condition, ErrorKind, Executor, Model};

use crate::error::Error;

/// The one row of `M` matching `condition`, or a 404 ("No Question matches
/// the given query.", as Django says) when there is none. More than one
/// match, or a database failure, stays an error (500).
///
/// ```
/// use estate::db::Db;
/// use estate::prelude::*;
/// use estate::shortcuts::get_object_or_404;
/// # #[derive(Model, Debug, Clone)]
/// # #[model(table = "polls_question")]
/// # struct Question { id: Auto<i64>, #[model(max_length = 200)] question_text: String }
///
/// async fn detail(db: Db, Path(id): Path<i64>) -> estate::Result<String> {
///     let question = get_object_or_404(&*db, Question::ID.eq(id)).await?;
///     Ok(question.question_text)
/// }
/// ```
///
/// # Errors
/// 404 when no row matches; 500 for several or a database failure.
pub async fn get_object_or_404<M: Model, E: Executor + ?Sized>(
    db: &E,
    condition: Condition<M>,
) -> Result<M, Error> {
    match M::objects().get(db, condition).await {
        Ok(object) => Ok(object),
        Err(err) if err.kind() == ErrorKind::DoesNotExist => Err(Error::not_found(format!(
            "No {} matches the given query.",
            M::META.name
        ))),
        Err(err) => Err(err.into()),
    }
}
