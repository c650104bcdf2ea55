use estate::orm::rust_decimal::Decimal;
use estate::prelude::*;

#[derive(Model)]
struct Product {
    id: Auto<i64>,
    price: Decimal,
}

fn main() {}
