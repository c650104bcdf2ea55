use estate::forms::Form;

#[derive(Form)]
struct Contact {
    #[form(maxlength = 10)]
    subject: String,
}

#[derive(Form)]
struct Message {
    #[form(widget = "textbox")]
    body: String,
}

#[derive(Form)]
struct Tuple(String);

fn main() {}
