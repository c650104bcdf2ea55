use estate::orm::Choices;

#[derive(Choices, Clone, Copy)]
enum Mixed {
    #[choice(value = 1)]
    One,
    Two,
}

#[derive(Choices, Clone)]
enum WithData {
    Named(String),
}

#[derive(Choices, Clone, Copy)]
enum Twice {
    #[choice(value = "x")]
    A,
    #[choice(value = "x")]
    B,
}

fn main() {}
