//! The files of a new project and a new app, embedded in the tool
//! (`template/`), with their placeholders filled in.

use crate::scaffold::File;

/// The files of project `name` on database `db`, depending on the Estate
/// crate at `estate_path`.
pub(crate) fn project(
    name: &str,
    db: &str,
    estate_path: &str,
    secret_key: &str,
) -> Result<Vec<File>, String> {
    let crate_name = name.replace('-', "_");
    let (database_url, db_name) = match db {
        "sqlite" => (
            "sqlite://db.sqlite3".to_owned(),
            "SQLite, db.sqlite3".to_owned(),
        ),
        "postgres" => (
            format!("postgres://postgres@127.0.0.1:5432/{crate_name}"),
            "PostgreSQL".to_owned(),
        ),
        "mysql" => (
            format!("mysql://root@127.0.0.1:3306/{crate_name}"),
            "MySQL/MariaDB".to_owned(),
        ),
        other => {
            return Err(format!(
                "unknown database `{other}`: sqlite, postgres or mysql"
            ));
        }
    };
    // TOML strings: the path may hold backslashes (Windows).
    let estate_path = estate_path.replace('\\', "/");
    let values = [
        ("__PROJECT__", name),
        ("__ESTATE_PATH__", estate_path.as_str()),
        ("__DATABASE_URL__", database_url.as_str()),
        ("__DB_NAME__", db_name.as_str()),
        ("__SECRET_KEY__", secret_key),
    ];
    macro_rules! file {
        ($path:literal, $source:literal) => {
            File::new(
                $path,
                include_str!(concat!("../template/project/", $source)),
                &values,
            )
        };
    }
    Ok(vec![
        file!("Cargo.toml", "Cargo.toml.tmpl"),
        file!("estate.toml", "estate.toml.tmpl"),
        file!(".env.example", "env.example.tmpl"),
        file!(".gitignore", "gitignore.tmpl"),
        file!("README.md", "README.md.tmpl"),
        file!("src/main.rs", "src/main.rs.tmpl"),
        file!("src/pages/mod.rs", "src/pages/mod.rs.tmpl"),
        file!("src/pages/models.rs", "src/pages/models.rs.tmpl"),
        file!("src/pages/tests.rs", "src/pages/tests.rs.tmpl"),
        file!(
            "src/pages/migrations/mod.rs",
            "src/pages/migrations/mod.rs.tmpl"
        ),
        file!(
            "src/pages/migrations/0001_initial.rs",
            "src/pages/migrations/0001_initial.rs.tmpl"
        ),
        file!(
            "src/pages/templates/pages/index.html",
            "src/pages/templates/pages/index.html"
        ),
        file!(
            "src/pages/templates/pages/detail.html",
            "src/pages/templates/pages/detail.html"
        ),
        file!("templates/base.html", "templates/base.html"),
        file!("static/css/site.css", "static/css/site.css"),
    ])
}

/// The files of app `name`, relative to the project's folder.
pub(crate) fn app(name: &str) -> Vec<File> {
    let values = [("__APP__", name)];
    macro_rules! file {
        ($path:expr, $source:literal) => {
            File::new(
                $path,
                include_str!(concat!("../template/app/", $source)),
                &values,
            )
        };
    }
    vec![
        file!(format!("src/{name}/mod.rs"), "mod.rs.tmpl"),
        file!(format!("src/{name}/models.rs"), "models.rs.tmpl"),
        file!(format!("src/{name}/tests.rs"), "tests.rs.tmpl"),
        file!(
            format!("src/{name}/migrations/mod.rs"),
            "migrations/mod.rs.tmpl"
        ),
        file!(
            format!("src/{name}/templates/{name}/index.html"),
            "index.html.tmpl"
        ),
    ]
}
