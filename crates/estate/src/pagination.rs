//! Pagination: a [`Paginator`] over a QuerySet gives one [`Page`] with one
//! `COUNT` and one page query, like Django's.
//!
//! ```ignore
//! async fn index(db: Db, Query(q): Query<PageQuery>) -> estate::Result<Template> {
//!     let page = Paginator::new(Question::objects(), 20).page(&db, q.page.as_deref()).await?;
//!     Ok(Template::render("polls/index.html", context! { page }))
//! }
//! ```
//!
//! `{% include "estate/pagination.html" %}` renders the page links.

use estate_orm::{Executor, Model, QuerySet};
use serde::Serialize;

use crate::error::Error;

/// What an out-of-range or malformed page number gives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvalidPage {
    /// 404 Not Found (Django's default for views).
    NotFound,
    /// The nearest page: the last one for a number past the end, the first
    /// for one that is not a number.
    Nearest,
}

/// Splits a query into pages of `per_page` rows.
pub struct Paginator<M> {
    query: QuerySet<M>,
    per_page: u64,
    invalid: InvalidPage,
}

impl<M: Model + Serialize> Paginator<M> {
    /// Pages of `per_page` rows (at least 1) of `query`, in its ordering.
    pub fn new(query: QuerySet<M>, per_page: u64) -> Self {
        Paginator {
            query,
            per_page: per_page.max(1),
            invalid: InvalidPage::NotFound,
        }
    }

    /// What a bad page number gives (404 by default).
    pub fn on_invalid(mut self, invalid: InvalidPage) -> Self {
        self.invalid = invalid;
        self
    }

    /// The page numbered `number` (1-based; `None` is the first), from the
    /// query string as given: `"abc"`, `"0"` and numbers past the end are
    /// invalid. An empty result has one, empty, first page.
    ///
    /// # Errors
    /// A 404 naming the problem for an invalid number (unless
    /// [`InvalidPage::Nearest`]), or a database error.
    pub async fn page<E: Executor + ?Sized>(
        &self,
        db: &E,
        number: Option<&str>,
    ) -> Result<Page<M>, Error> {
        let count = u64::try_from(self.query.count(db).await?).unwrap_or(0);
        let num_pages = count.div_ceil(self.per_page).max(1);
        let nearest = self.invalid == InvalidPage::Nearest;
        let number = match number.map(str::trim) {
            None | Some("") => 1,
            Some("last") => num_pages,
            Some(text) => match text.parse::<u64>() {
                Ok(0) if nearest => 1,
                Ok(0) => return Err(Error::not_found("That page number is less than 1")),
                Ok(n) if n > num_pages && nearest => num_pages,
                Ok(n) if n > num_pages => {
                    return Err(Error::not_found("That page contains no results"));
                }
                Ok(n) => n,
                Err(_) if nearest => 1,
                Err(_) => return Err(Error::not_found("That page number is not an integer")),
            },
        };
        let items = if count == 0 {
            Vec::new()
        } else {
            self.query
                .clone()
                .offset((number - 1) * self.per_page)
                .limit(self.per_page)
                .all(db)
                .await?
        };
        Ok(Page {
            start_index: if count == 0 {
                0
            } else {
                (number - 1) * self.per_page + 1
            },
            end_index: (number - 1) * self.per_page + items.len() as u64,
            items,
            number,
            num_pages,
            count,
            per_page: self.per_page,
            has_previous: number > 1,
            has_next: number < num_pages,
            previous_page_number: (number > 1).then(|| number - 1),
            next_page_number: (number < num_pages).then(|| number + 1),
            page_range: elided_range(number, num_pages),
        })
    }
}

/// One page of results, with what templates need to link the others.
#[derive(Clone, Debug, Serialize)]
pub struct Page<M> {
    /// The rows of this page.
    pub items: Vec<M>,
    /// This page's number, from 1.
    pub number: u64,
    /// How many pages there are (at least 1).
    pub num_pages: u64,
    /// How many rows in all.
    pub count: u64,
    /// Rows per page.
    pub per_page: u64,
    /// Whether a page comes before.
    pub has_previous: bool,
    /// Whether a page comes after.
    pub has_next: bool,
    /// The previous page's number.
    pub previous_page_number: Option<u64>,
    /// The next page's number.
    pub next_page_number: Option<u64>,
    /// The 1-based position of this page's first row in all (0 when empty).
    pub start_index: u64,
    /// The position of its last row.
    pub end_index: u64,
    /// Page numbers to show, with `None` where a run is elided (`1 2 … 9 10
    /// 11 … 19 20`), like Django's `get_elided_page_range`.
    pub page_range: Vec<Option<u64>>,
}

impl<M: Serialize> From<Page<M>> for minijinja::Value {
    /// A page in a template context: `context! { page }`.
    fn from(page: Page<M>) -> Self {
        minijinja::Value::from(minijinja::value::Serde(page))
    }
}

/// Django's elided range: 3 pages on each side of the current one, 2 at
/// each end.
fn elided_range(number: u64, num_pages: u64) -> Vec<Option<u64>> {
    const ON_EACH_SIDE: u64 = 3;
    const ON_ENDS: u64 = 2;
    if num_pages <= (ON_EACH_SIDE + ON_ENDS) * 2 {
        return (1..=num_pages).map(Some).collect();
    }
    let mut range = Vec::new();
    if number > 1 + ON_EACH_SIDE + ON_ENDS + 1 {
        range.extend((1..=ON_ENDS).map(Some));
        range.push(None);
        range.extend((number - ON_EACH_SIDE..=number).map(Some));
    } else {
        range.extend((1..=number).map(Some));
    }
    if number + ON_EACH_SIDE + ON_ENDS + 1 < num_pages {
        range.extend((number + 1..=number + ON_EACH_SIDE).map(Some));
        range.push(None);
        range.extend((num_pages - ON_ENDS + 1..=num_pages).map(Some));
    } else {
        range.extend((number + 1..=num_pages).map(Some));
    }
    range
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_elided_like_djangos() {
        assert_eq!(elided_range(1, 3), [Some(1), Some(2), Some(3)]);
        let range = elided_range(10, 20);
        assert_eq!(
            range,
            [
                Some(1),
                Some(2),
                None,
                Some(7),
                Some(8),
                Some(9),
                Some(10),
                Some(11),
                Some(12),
                Some(13),
                None,
                Some(19),
                Some(20)
            ]
        );
        assert_eq!(
            elided_range(1, 20)[..5],
            [Some(1), Some(2), Some(3), Some(4), None]
        );
    }
}
