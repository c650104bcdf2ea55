//! The Flask-sized end of Estate: one file, one route, `cargo run -p hello`.

use estate::prelude::*;

#[tokio::main]
async fn main() -> estate::Result<()> {
    App::new()
        .debug(true) // development defaults; ESTATE_DEBUG=false turns it off
        .route("/", get(|| async { "Hello, World!" }))
        .serve("127.0.0.1:8000")
        .await
}
