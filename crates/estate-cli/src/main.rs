//! `estate`: start a project or an app for the Estate web framework (Django's
//! `django-admin startproject` and `startapp`).
//!
//! ```text
//! estate new mysite [--db sqlite|postgres|mysql]   # a project that builds and runs
//! estate new mysite --run                         # ...and run it: migrate, superuser, server
//! estate startapp polls                           # an app, inside a project
//! ```
//!
//! Everything else (`runserver`, `migrate`, `makemigrations`,
//! `createsuperuser`...) is a command of the project's own binary:
//! `cargo run -- --help` inside the project.

mod names;
mod scaffold;
mod templates;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Arg, ArgMatches, Command};

fn cli() -> Command {
    Command::new("estate")
        .about("Start Estate projects and apps")
        .subcommand_required(true)
        .arg_required_else_help(true)
        .subcommand(
            Command::new("new")
                .about("Create a project in a new folder: builds and runs as it is")
                .arg(Arg::new("name").required(true).help("The project's name and folder"))
                .arg(
                    Arg::new("db")
                        .long("db")
                        .value_parser(["sqlite", "postgres", "mysql"])
                        .default_value("sqlite")
                        .help("The database in estate.toml"),
                )
                .arg(
                    Arg::new("run")
                        .long("run")
                        .action(clap::ArgAction::SetTrue)
                        .help("Then build it, migrate, create a superuser (asked for) and runserver"),
                )
                .arg(
                    Arg::new("estate-path")
                        .long("estate-path")
                        .value_name("DIR")
                        .help("The Estate checkout to depend on (default: the one this tool was built from)"),
                ),
        )
        .subcommand(
            Command::new("startapp")
                .about("Add an app to the project in the current folder")
                .arg(Arg::new("name").required(true).help("The app's name (a Rust module name)")),
        )
}

fn main() -> ExitCode {
    let matches = cli().get_matches();
    let result = match matches.subcommand() {
        Some(("new", args)) => new_project(args),
        Some(("startapp", args)) => start_app(args),
        _ => unreachable!("clap requires a subcommand"),
    };
    match result {
        Ok(message) => {
            if !message.is_empty() {
                println!("{message}");
            }
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("estate: {message}");
            ExitCode::from(2)
        }
    }
}

/// The Estate checkout this tool was built from.
fn default_checkout() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn new_project(args: &ArgMatches) -> Result<String, String> {
    let name: &String = args.get_one("name").expect("required");
    names::check_project(name)?;
    let db: &String = args.get_one("db").expect("has a default");
    let checkout = match args.get_one::<String>("estate-path") {
        Some(path) => PathBuf::from(path),
        None => default_checkout(),
    };
    let checkout = checkout.canonicalize().map_err(|err| {
        format!(
            "cannot find the Estate checkout at {}: {err}; pass --estate-path",
            checkout.display()
        )
    })?;
    let estate_crate = checkout.join("crates/estate");
    if !estate_crate.join("Cargo.toml").exists() {
        return Err(format!(
            "{} is not an Estate checkout (no crates/estate/Cargo.toml); pass --estate-path",
            checkout.display()
        ));
    }
    let folder = std::env::current_dir()
        .map_err(|err| format!("cannot read the current folder: {err}"))?
        .join(name);
    let files = templates::project(name, db, &estate_crate.to_string_lossy(), &secret_key()?)?;
    scaffold::write_new_folder(&folder, &files)?;
    // The versions Estate is tested with, rather than whatever is newest.
    let lock = checkout.join("Cargo.lock");
    if lock.exists() {
        std::fs::copy(&lock, folder.join("Cargo.lock"))
            .map_err(|err| format!("cannot copy {}: {err}", lock.display()))?;
    }
    if args.get_flag("run") {
        run_project(&folder)?;
        return Ok(String::new());
    }
    let database = match db.as_str() {
        "sqlite" => "the SQLite file db.sqlite3 (created by migrate)".to_owned(),
        _ => format!("the {db} database `{name}` of estate.toml's database_url (create it first)"),
    };
    Ok(format!(
        "Created the project {name} in {}, on {database}.\n\nNext:\n  cd {name}\n  cargo run -- \
         migrate\n  cargo run -- createsuperuser\n  cargo run -- runserver    # then open \
         http://127.0.0.1:8000/admin/",
        folder.display()
    ))
}

/// `--run`: the project's first steps, each through `cargo run` in its
/// folder, with this terminal: migrate, createsuperuser (only when someone
/// can answer its questions), runserver.
fn run_project(folder: &Path) -> Result<(), String> {
    use std::io::IsTerminal as _;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let step = |args: &[&str]| -> Result<(), String> {
        println!("==> cargo run -- {}", args.join(" "));
        let status = std::process::Command::new(&cargo)
            .args(["run", "--quiet", "--"])
            .args(args)
            .current_dir(folder)
            .status()
            .map_err(|err| format!("cannot run {cargo}: {err}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!(
                "`cargo run -- {}` failed in {}; fix what it printed and run it again there",
                args.join(" "),
                folder.display()
            ))
        }
    };
    println!(
        "Created {}. The first build compiles Estate too: a few minutes.",
        folder.display()
    );
    step(&["migrate"])?;
    if std::io::stdin().is_terminal() {
        step(&["createsuperuser"])?;
    } else {
        println!("(no terminal to ask for a password: run `cargo run -- createsuperuser` later)");
    }
    step(&["runserver"])
}

fn start_app(args: &ArgMatches) -> Result<String, String> {
    let name: &String = args.get_one("name").expect("required");
    names::check_app(name)?;
    let root =
        std::env::current_dir().map_err(|err| format!("cannot read the current folder: {err}"))?;
    if !root.join("Cargo.toml").exists() || !root.join("src/main.rs").exists() {
        return Err(format!(
            "{} is not a project folder (no Cargo.toml and src/main.rs); run startapp inside \
             the folder `estate new` made",
            root.display()
        ));
    }
    for taken in [format!("src/{name}"), format!("src/{name}.rs")] {
        if root.join(&taken).exists() {
            return Err(format!(
                "{taken} already exists: the project has a module `{name}`; choose another \
                 name (nothing was written)"
            ));
        }
    }
    scaffold::write_files(&root, &templates::app(name))?;
    Ok(format!(
        "Created the app {name} in src/{name}/. Register it in src/main.rs:\n  mod {name};     \
         // at the top\n  .app({name}::app())     // in main, before .app(admin())\nThen add \
         models to src/{name}/models.rs, register them in `{name}::register` (and call it in \
         `admin()`), and run `cargo run -- makemigrations` and `cargo run -- migrate`."
    ))
}

/// A development key: 50 random characters after Estate's insecure prefix
/// (so `check --deploy` reports it if it reaches production).
fn secret_key() -> Result<String, String> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789!@#%^&*(-_=+)";
    let mut bytes = [0u8; 50];
    getrandom::fill(&mut bytes).map_err(|err| format!("no random source: {err}"))?;
    let key: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    Ok(format!("estate-insecure-{key}"))
}
