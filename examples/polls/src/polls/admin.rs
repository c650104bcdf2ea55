//! The polls app's models in the admin.

use estate::admin::{AdminSite, Inline, ModelAdmin};

use super::models::{Choice, Question};

/// Registers the polls models with the admin site: questions, with their
/// choices edited on the question's page.
pub(crate) fn register(site: AdminSite) -> AdminSite {
    site.register(
        ModelAdmin::<Question>::new()
            .fieldset("", &["question_text"])
            .fieldset("Date information", &["pub_date"])
            .inline(Inline::<Choice>::tabular("question").extra(3))
            .list_display(&["question_text", "pub_date", "was_published_recently"])
            .computed(
                "was_published_recently",
                "Published recently?",
                published_recently,
            )
            .list_filter(&["pub_date"])
            .search_fields(&["question_text"]),
    )
}

/// The change list's "Published recently?" column.
fn published_recently(question: &Question) -> String {
    let recent = question.was_published_recently();
    if recent { "Yes" } else { "No" }.to_owned()
}
