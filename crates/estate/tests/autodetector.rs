//! The autodetector: what `makemigrations` proposes for each kind of model
//! change, and that replaying its operations always reaches the models'
//! state (so running it again finds nothing).

use estate::db::DbError;
use estate::orm::migrations::autodetector::{Answers, NoInput, Questioner, detect};
use estate::orm::migrations::{
    ConstraintState, FieldState, IndexState, ModelKey, ModelState, Operation, ProjectState,
};
use estate::orm::{FieldType, OnDelete, Value};

fn project(models: Vec<ModelState>) -> ProjectState {
    let mut state = ProjectState::new();
    for model in models {
        state.models.insert(model.key(), model);
    }
    state
}

fn question(text_field: &str, max_length: u32) -> ModelState {
    ModelState::new("polls", "Question", "polls_question")
        .field(FieldState::auto("id"))
        .field(FieldState::new(text_field, FieldType::String).max_length(max_length))
}

fn no_defaults(_: &ModelKey, _: &str) -> Option<Value> {
    None
}

/// Detects, checks that replaying reaches `to`, and names the operations.
fn changes(
    from: &ProjectState,
    to: &ProjectState,
    questioner: &mut dyn Questioner,
) -> Result<Vec<String>, DbError> {
    let found = detect(from, to, &no_defaults, questioner)?;
    let mut replayed = from.clone();
    let mut names = Vec::new();
    for operations in found.operations.values() {
        for operation in operations {
            operation.state_forwards(&mut replayed)?;
            names.push(operation.describe());
        }
    }
    assert_eq!(&replayed, to, "replaying the operations reaches the models");
    let again = detect(&replayed, to, &no_defaults, &mut NoInput)?;
    assert!(again.is_empty(), "nothing left to detect: {again:?}");
    Ok(names)
}

/// Answers every fill question with a fixed value.
struct Fill(Value);

impl Questioner for Fill {
    fn fill_value(&mut self, _: &ModelState, _: &FieldState) -> Result<Value, DbError> {
        Ok(self.0.clone())
    }
}

#[test]
fn an_unchanged_project_has_no_changes() {
    let state = project(vec![question("text", 50)]);
    assert!(changes(&state, &state, &mut NoInput).unwrap().is_empty());
}

#[test]
fn new_models_come_after_the_models_they_point_at() {
    let choice = ModelState::new("polls", "Choice", "polls_choice")
        .field(FieldState::auto("id"))
        .field(
            FieldState::new("question", FieldType::BigInt)
                .column("question_id")
                .references(ModelKey::new("polls", "Question"), OnDelete::Cascade),
        );
    let names = changes(
        &ProjectState::new(),
        &project(vec![question("text", 50), choice]),
        &mut NoInput,
    )
    .unwrap();
    // "Choice" sorts first, but points at Question.
    assert_eq!(names, ["Create model Question", "Create model Choice"]);
}

#[test]
fn a_rename_is_asked_not_guessed() {
    let from = project(vec![question("question_text", 50)]);
    let to = project(vec![question("text", 50)]);
    // Not confirmed: the field goes and a NOT NULL one comes, which needs a value.
    let err = changes(&from, &to, &mut NoInput).unwrap_err();
    assert!(
        err.to_string().contains("NOT NULL field `Question.text`"),
        "{err}"
    );
    let names = changes(&from, &to, &mut Fill(Value::String(String::new()))).unwrap();
    assert_eq!(
        names,
        [
            "Add field text to Question",
            "Remove field question_text from Question"
        ]
    );
    // Confirmed (the --rename answer): the column is renamed and keeps its data.
    let mut no_input = NoInput;
    let mut answers = Answers {
        renames: vec!["Question.question_text=text".into()],
        inner: &mut no_input,
    };
    let names = changes(&from, &to, &mut answers).unwrap();
    assert_eq!(names, ["Rename field question_text on Question to text"]);
}

#[test]
fn renamed_models_and_tables() {
    let from = project(vec![question("text", 50)]);
    let mut renamed = question("text", 50);
    renamed.name = "Poll".into();
    renamed.table = "polls_poll".into();
    let to = project(vec![renamed]);
    let mut no_input = NoInput;
    let mut answers = Answers {
        renames: vec!["Question=Poll".into()],
        inner: &mut no_input,
    };
    let names = changes(&from, &to, &mut answers).unwrap();
    assert_eq!(
        names,
        [
            "Rename model Question to Poll",
            "Rename table for Poll to polls_poll"
        ]
    );
    // Without the answer: a new model and a deleted one.
    let names = changes(&from, &to, &mut NoInput).unwrap();
    assert_eq!(names, ["Create model Poll", "Delete model Question"]);
}

#[test]
fn altered_fields_and_their_fill_values() {
    let from = project(vec![
        question("text", 50).field(FieldState::new("note", FieldType::String).null()),
    ]);
    let to = project(vec![
        question("text", 200).field(FieldState::new("note", FieldType::String)),
    ]);
    let err = changes(&from, &to, &mut NoInput).unwrap_err();
    assert!(err.to_string().contains("`Question.note`"), "{err}");
    let names = changes(&from, &to, &mut Fill(Value::String("-".into()))).unwrap();
    assert_eq!(
        names,
        [
            "Alter field text on Question",
            "Alter field note on Question"
        ]
    );
    let found = detect(
        &from,
        &to,
        &no_defaults,
        &mut Fill(Value::String("-".into())),
    )
    .unwrap();
    let Operation::AlterField { fill, .. } = &found.operations["polls"][1] else {
        panic!("an AlterField");
    };
    assert_eq!(fill, &Some(Value::String("-".into())));
    // A declared default fills without asking.
    let defaults = |_: &ModelKey, field: &str| (field == "note").then(|| Value::String("d".into()));
    let found = detect(&from, &to, &defaults, &mut NoInput).unwrap();
    assert_eq!(found.operations["polls"].len(), 2);
}

#[test]
fn indexes_and_constraints() {
    let base = question("text", 50).field(FieldState::new("votes", FieldType::Int));
    let from = project(vec![base.clone().index(IndexState {
        name: "old_idx".into(),
        fields: vec!["votes".into()],
    })]);
    let to = project(vec![
        base.index(IndexState {
            name: "new_idx".into(),
            fields: vec!["text".into(), "votes".into()],
        })
        .constraint(ConstraintState::Check {
            name: "votes_check".into(),
            sql: "votes >= 0".into(),
        }),
    ]);
    let names = changes(&from, &to, &mut NoInput).unwrap();
    assert_eq!(
        names,
        [
            "Remove index old_idx from Question",
            "Create index new_idx on Question",
            "Create constraint votes_check on Question"
        ]
    );
}

#[test]
fn choices_and_other_code_side_options_need_no_migration() {
    use estate::orm::Choices;
    use estate::prelude::*;

    #[derive(Choices, Clone, Copy, Debug, PartialEq)]
    enum Status {
        Open,
        Closed,
    }

    #[derive(Choices, Clone, Copy, Debug, PartialEq)]
    enum MoreStatus {
        Open,
        Closed,
        Archived,
    }

    #[derive(Model)]
    #[model(table = "ticket", ordering = "id", verbose_name = "ticket")]
    struct Ticket {
        id: Auto<i64>,
        #[model(max_length = 10)]
        status: Status,
    }

    #[derive(Model)]
    #[model(table = "ticket", verbose_name = "issue")]
    struct Ticket2 {
        id: Auto<i64>,
        #[model(max_length = 10, help_text = "where it stands", default = MoreStatus::Open)]
        status: MoreStatus,
    }

    let mut before = ProjectState::from_models([("polls", Ticket::META)]);
    let after = ProjectState::from_models([("polls", Ticket2::META)]);
    // Same table, another Rust name: line the keys up to compare fields only.
    let model = before.models.pop_first().unwrap().1;
    let mut model = model;
    model.name = "Ticket2".into();
    before.models.insert(model.key(), model);
    assert!(changes(&before, &after, &mut NoInput).unwrap().is_empty());
}
