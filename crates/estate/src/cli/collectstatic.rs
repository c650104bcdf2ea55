//! The `collectstatic` command: copies every static folder into
//! `static_root` with hashed names, compressed copies and a manifest (see
//! [`crate::http::collectstatic`]), ready for the site to serve outside DEBUG.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction};

use super::command::{CommandContext, ManagementCommand};
use crate::error::Error;
use crate::http::collectstatic;
use crate::http::static_files::StaticSources;

pub(crate) fn command() -> ManagementCommand {
    ManagementCommand::new(
        "collectstatic",
        "Collect static files into static_root (hashed names, gzip/brotli copies, manifest)",
        |ctx: CommandContext| async move {
            let settings = ctx.app.settings();
            let Some(root) = settings.static_root.as_deref() else {
                return Err(Error::msg(
                    "collectstatic needs a `static_root`: set `static_root = \"staticfiles\"` \
                     in estate.toml (or ESTATE_STATIC_ROOT) to the folder the site serves \
                     static files from",
                ));
            };
            let root = std::path::absolute(root)?;
            let sources = ctx
                .app
                .context()
                .get::<StaticSources>()
                .map(|s| s.0.clone())
                .unwrap_or_default();
            for source in &sources {
                if overlaps(&source.dir, &root) {
                    return Err(Error::msg(format!(
                        "static_root {} overlaps the static folder {}: collecting would \
                         copy the folder into itself; choose a static_root outside every \
                         static folder",
                        root.display(),
                        source.dir.display()
                    )));
                }
            }
            let mut out = ctx.out();
            if ctx.args.get_flag("clear") && root.exists() {
                // Asked at a terminal, as Django does; --noinput skips it.
                if out.is_terminal() && !ctx.args.get_flag("noinput") {
                    write!(
                        out,
                        "This will DELETE everything in {}.\nType 'yes' to continue: ",
                        root.display()
                    )?;
                    out.flush()?;
                    let mut answer = String::new();
                    std::io::stdin().read_line(&mut answer)?;
                    if answer.trim() != "yes" {
                        writeln!(out, "Collecting static files cancelled.")?;
                        return Ok(());
                    }
                }
                clear(&root)?;
                writeln!(out, "Cleared {}", root.display())?;
            }
            let show_bar = out.is_terminal();
            let mut bar_out = out.clone();
            let target = root.clone();
            let url = settings.static_url.clone();
            // Compression is CPU work: keep it off the async workers.
            let collected = tokio::task::spawn_blocking(move || {
                collectstatic::collect(&sources, &target, &url, &mut |done, total| {
                    if show_bar {
                        let _ = write!(bar_out, "\r{}", progress_bar(done, total));
                        let _ = bar_out.flush();
                    }
                })
            })
            .await
            .map_err(|err| Error::msg(format!("collectstatic stopped: {err}")))??;
            if show_bar {
                writeln!(out)?;
            }
            for warning in &collected.warnings {
                writeln!(out, "warning: {warning}")?;
            }
            writeln!(
                out,
                "{} static file{} copied to {} (with hashed names), {} compressed cop{}, \
                 manifest {}.",
                collected.paths.len(),
                if collected.paths.len() == 1 { "" } else { "s" },
                root.display(),
                collected.compressed,
                if collected.compressed == 1 {
                    "y"
                } else {
                    "ies"
                },
                collectstatic::MANIFEST,
            )?;
            Ok(())
        },
    )
    .arg(
        Arg::new("clear")
            .long("clear")
            .action(ArgAction::SetTrue)
            .help("Delete everything in static_root first (old hashed files included)"),
    )
    .arg(
        Arg::new("noinput")
            .long("noinput")
            .visible_alias("no-input")
            .action(ArgAction::SetTrue)
            .help("Do not ask before --clear deletes static_root's contents"),
    )
}

/// Whether one folder is the other or inside it.
fn overlaps(source: &Path, root: &Path) -> bool {
    let real = |p: &Path| -> PathBuf {
        std::fs::canonicalize(p).unwrap_or_else(|_| std::path::absolute(p).unwrap_or_default())
    };
    let (source, root) = (real(source), real(root));
    source.starts_with(&root) || root.starts_with(&source)
}

/// Removes what is inside `root`, keeping the folder itself.
fn clear(root: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(root)? {
        let path = entry?.path();
        if path.is_dir() && !path.is_symlink() {
            std::fs::remove_dir_all(&path)?;
        } else {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// `[#########...........] 12/40`
fn progress_bar(done: usize, total: usize) -> String {
    const WIDTH: usize = 30;
    let filled = (done * WIDTH).checked_div(total).unwrap_or(WIDTH);
    format!(
        "[{}{}] {done}/{total}",
        "#".repeat(filled),
        ".".repeat(WIDTH - filled)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_bar_fills_in_proportion() {
        assert_eq!(progress_bar(0, 3), format!("[{}] 0/3", ".".repeat(30)));
        assert_eq!(progress_bar(3, 3), format!("[{}] 3/3", "#".repeat(30)));
        assert!(progress_bar(1, 2).starts_with(&format!("[{}.", "#".repeat(15))));
        assert_eq!(progress_bar(0, 0), format!("[{}] 0/0", "#".repeat(30)));
    }
}
