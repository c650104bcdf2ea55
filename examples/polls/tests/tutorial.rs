//! The tutorial (`docs/tutorial/*.md`) and this project must not drift
//! apart: every fenced code block whose info string names a file
//! (```` ```rust file=src/polls/models.rs ````) must appear in that file of
//! `examples/polls`, line for line (trailing whitespace aside), and every
//! `rust` block must name one. Blocks without `file=` are allowed only for
//! `sh`, `text`, `toml` and `html`. The rules are explained to the
//! tutorial's editors in `docs/tutorial/README.md`.

use std::path::{Path, PathBuf};

/// The languages a block may have without `file=`: commands, output, and
/// settings or markup that is not part of the finished project.
const FREE_LANGUAGES: &[&str] = &["sh", "text", "toml", "html"];

/// A fenced code block of a Markdown file.
#[derive(Debug)]
struct Block {
    /// The line of the opening fence, counted from 1.
    line: usize,
    /// The info string after the fence (`rust file=src/main.rs`).
    info: String,
    /// The lines between the fences, without the fence's indentation.
    lines: Vec<String>,
}

/// The fenced code blocks of `markdown` (backticks or tildes, three or
/// more; a block ends at a fence of the same character at least as long).
fn blocks(markdown: &str) -> Result<Vec<Block>, String> {
    let mut found = Vec::new();
    let mut lines = markdown.lines().enumerate();
    while let Some((index, line)) = lines.next() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let Some((fence, info)) = opening_fence(&line[indent..]) else {
            continue;
        };
        let mut block = Block {
            line: index + 1,
            info: info.trim().to_owned(),
            lines: Vec::new(),
        };
        let mark = fence.chars().next().unwrap_or('`');
        let mut closed = false;
        for (_, line) in lines.by_ref() {
            let trimmed = line.trim();
            if trimmed.len() >= fence.len() && trimmed.chars().all(|c| c == mark) {
                closed = true;
                break;
            }
            // Drop at most the fence's indentation, as CommonMark does.
            let spaces = line.len() - line.trim_start_matches(' ').len();
            block.lines.push(line[spaces.min(indent)..].to_owned());
        }
        if !closed {
            return Err(format!(
                "line {}: the code block is never closed",
                block.line
            ));
        }
        found.push(block);
    }
    Ok(found)
}

/// `(fence, info)` if `line` opens a code block.
fn opening_fence(line: &str) -> Option<(&str, &str)> {
    let first = line.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let length = line.len() - line.trim_start_matches(first).len();
    (length >= 3).then(|| (&line[..length], &line[length..]))
}

/// What a block's info string says: its language and the file it shows.
fn parse_info(info: &str) -> Result<(String, Option<String>), String> {
    let mut words = info.split_whitespace();
    let language = words.next().unwrap_or_default().to_owned();
    let mut file = None;
    for word in words {
        match word.split_once('=') {
            Some(("file", path)) if !path.is_empty() && file.is_none() => {
                file = Some(path.to_owned());
            }
            _ => {
                return Err(format!(
                    "`{word}` in the info string `{info}`: the only attribute is one file=PATH"
                ));
            }
        }
    }
    Ok((language, file))
}

/// Whether `needle`'s lines occur, in order and next to each other, among
/// `haystack`'s (trailing whitespace ignored on both sides).
fn occurs_in(needle: &[String], haystack: &str) -> bool {
    let hay: Vec<&str> = haystack.lines().map(str::trim_end).collect();
    let needle: Vec<&str> = needle.iter().map(|l| l.trim_end()).collect();
    !needle.is_empty() && hay.windows(needle.len()).any(|window| window == needle)
}

/// Where the block goes wrong: the longest run of its first lines found
/// in the file, and the block's next line.
fn closest(needle: &[String], haystack: &str) -> String {
    let hay: Vec<&str> = haystack.lines().map(str::trim_end).collect();
    let mut best = (0, 0);
    for start in 0..hay.len() {
        let matched = needle
            .iter()
            .zip(&hay[start..])
            .take_while(|(a, b)| a.trim_end() == **b)
            .count();
        if matched > best.0 {
            best = (matched, start);
        }
    }
    let (matched, start) = best;
    match needle.get(matched) {
        _ if matched == 0 => format!(
            "its first line `{}` is not in the file",
            needle.first().map_or("", |l| l.trim_end())
        ),
        Some(next) => format!(
            "its first {matched} line(s) match from line {} of the file, then the block has \
             `{}` where the file has `{}`",
            start + 1,
            next.trim_end(),
            hay.get(start + matched)
                .copied()
                .unwrap_or("(the end of the file)")
        ),
        None => String::new(),
    }
}

/// The problems of one Markdown file (`name`, for messages), reading the
/// project's files with `read` (`None`: no such file). Returns the
/// problems and the number of blocks checked against a file.
fn check_markdown(
    name: &str,
    markdown: &str,
    read: impl Fn(&str) -> Option<String>,
) -> (Vec<String>, usize) {
    let mut problems = Vec::new();
    let blocks = match blocks(markdown) {
        Ok(blocks) => blocks,
        Err(problem) => return (vec![format!("{name}: {problem}")], 0),
    };
    let mut checked = 0;
    for block in blocks {
        let at = format!("{name}:{}", block.line);
        let (language, file) = match parse_info(&block.info) {
            Ok(parsed) => parsed,
            Err(problem) => {
                problems.push(format!("{at}: {problem}"));
                continue;
            }
        };
        let Some(path) = file else {
            if !FREE_LANGUAGES.contains(&language.as_str()) {
                problems.push(format!(
                    "{at}: a `{language}` block needs file=PATH (the file of examples/polls it \
                     shows); only {} blocks may go without",
                    FREE_LANGUAGES.join(", ")
                ));
            }
            continue;
        };
        checked += 1;
        let Some(text) = read(&path) else {
            problems.push(format!(
                "{at}: file={path}: examples/polls/{path} does not exist"
            ));
            continue;
        };
        if !occurs_in(&block.lines, &text) {
            problems.push(format!(
                "{at}: the block is not in examples/polls/{path}: {}",
                closest(&block.lines, &text)
            ));
        }
    }
    (problems, checked)
}

/// The Markdown files of `docs/tutorial`, sorted.
fn tutorial_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/tutorial");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    files.sort();
    files
}

/// A file of this project, relative to its folder.
fn project_file(path: &str) -> Option<String> {
    if path.split('/').any(|part| part == "..") {
        return None;
    }
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).ok()
}

fn display_name(path: &Path) -> String {
    format!(
        "docs/tutorial/{}",
        path.file_name().unwrap().to_string_lossy()
    )
}

#[test]
fn the_tutorial_shows_this_project() {
    let files = tutorial_files();
    let names: Vec<String> = files.iter().map(|p| display_name(p)).collect();
    for expected in [
        "README.md",
        "01-project.md",
        "02-models-and-admin.md",
        "03-views-and-templates.md",
        "04-forms-and-generic-views.md",
        "05-tests.md",
        "06-static-files.md",
        "07-admin.md",
    ] {
        let expected = format!("docs/tutorial/{expected}");
        assert!(names.contains(&expected), "{expected} is missing");
    }
    let mut problems = Vec::new();
    let mut checked = 0;
    for (path, name) in files.iter().zip(&names) {
        let markdown = std::fs::read_to_string(path).unwrap();
        let (found, count) = check_markdown(name, &markdown, project_file);
        problems.extend(found);
        checked += count;
    }
    assert!(
        problems.is_empty(),
        "the tutorial and examples/polls differ:\n{}",
        problems.join("\n")
    );
    assert!(checked >= 20, "only {checked} blocks name a file");
}

#[test]
fn a_changed_block_fails_naming_the_file_line_and_path() {
    // The real tutorial's first block with file=, with one line changed.
    let files = tutorial_files();
    let (path, markdown) = files
        .iter()
        .map(|path| (path, std::fs::read_to_string(path).unwrap()))
        .find(|(_, text)| text.contains(" file="))
        .expect("a block with file=");
    let name = display_name(path);
    let block = blocks(&markdown)
        .unwrap()
        .into_iter()
        .find(|b| b.info.contains(" file="))
        .unwrap();
    let (_, file) = parse_info(&block.info).unwrap();
    let file = file.unwrap();
    let (problems, _) = check_markdown(&name, &markdown, project_file);
    assert!(problems.is_empty(), "{problems:?}");

    let changed_line = block.line + 1 + block.lines.len() / 2;
    let changed: String = markdown
        .lines()
        .enumerate()
        .map(|(i, line)| {
            if i + 1 == changed_line {
                format!("{line} // changed\n")
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    let (problems, _) = check_markdown(&name, &changed, project_file);
    assert_eq!(problems.len(), 1, "{problems:?}");
    let expected = format!(
        "{name}:{}: the block is not in examples/polls/{file}",
        block.line
    );
    assert!(problems[0].starts_with(&expected), "{}", problems[0]);
    assert!(problems[0].contains("// changed"), "{}", problems[0]);
}

#[test]
fn the_rules_on_small_examples() {
    let project = |path: &str| match path {
        "src/lib.rs" => Some("fn a() {}\n\nfn b() {   \n    1\n}\n".to_owned()),
        _ => None,
    };
    let check = |markdown: &str| check_markdown("t.md", markdown, project).0;

    // An excerpt, trailing whitespace aside, or a fence longer than three.
    assert!(check("```rust file=src/lib.rs\nfn b() {\n    1\n}\n```\n").is_empty());
    assert!(check("````rust file=src/lib.rs\nfn a() {}\n````\n").is_empty());
    // Indented under a list item.
    assert!(check("1. Step:\n\n   ```rust file=src/lib.rs\n   fn a() {}\n   ```\n").is_empty());
    // Free languages.
    assert!(check("```sh\ncargo test\n```\n\n```text\nok\n```\n").is_empty());

    let one = |markdown: &str| {
        let problems = check(markdown);
        assert_eq!(problems.len(), 1, "{problems:?}");
        problems.into_iter().next().unwrap()
    };
    // Lines out of order, or not next to each other.
    let problem = one("text\n\n```rust file=src/lib.rs\nfn b() {\nfn a() {}\n```\n");
    assert!(problem.starts_with("t.md:3: the block is not in examples/polls/src/lib.rs"));
    assert!(
        one("```rust file=src/lib.rs\nfn a() {}\nfn b() {\n```\n")
            .contains("where the file has ``")
    );
    // Rust must name its file; other languages too unless they are free.
    assert!(
        one("```rust\nfn main() {}\n```\n").starts_with("t.md:1: a `rust` block needs file=PATH")
    );
    assert!(one("```\nplain\n```\n").contains("a `` block needs file=PATH"));
    assert!(one("```css\na {}\n```\n").contains("a `css` block needs file=PATH"));
    // The file must exist, the attribute be spelt right, the block closed.
    assert!(one("```html file=templates/x.html\n<p>\n```\n").contains("does not exist"));
    assert!(one("```rust fiel=src/lib.rs\nfn a() {}\n```\n").contains("`fiel=src/lib.rs`"));
    assert!(one("```rust file=src/lib.rs\nfn a() {}\n").contains("never closed"));
    assert!(one("```rust file=src/lib.rs\n```\n").contains("not in examples/polls"));
    assert!(one("```rust file=../secret\nx\n```\n").contains("does not exist"));
}
