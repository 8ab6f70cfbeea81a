"""What every graded notebook would repeat, stored once per class: the course's figures and the page style.

nbgrader's feedback page embeds every image as a data: URI and its stylesheet (Bootstrap, ~120 KB) inline,
and the autograded notebook keeps the released notebook's cell attachments (the pipeline figure, ~85 KB),
so each graded notebook used to leave ~400 KB, nearly all of it the same bytes. This step, applied when a
result is saved (batch.save_result), moves them out:

- feedback pages: an image whose bytes are a figure of the released notebooks (notebooks/<stage>, the cell
  attachments) and every large <style> block of the page's <head> go to OUT/feedback/_static/ once, named by
  their content's hash, and the page links them relatively (`../_static/...`): the feedback folder travels
  whole (zip it, copy it, serve it). Images the student's code made stay in the page.
- autograded notebooks (OUT/nbgrader/autograded/...): a markdown cell whose attachment is byte for byte the
  released one refers instead to the figure as a file beside the notebook, a hard link to
  OUT/nbgrader/_static/ (one copy on disk): still a valid notebook that Formgrader, JupyterLab and
  `nbgrader generate_feedback` show with the figure.

Nothing else of the page or notebook changes.
"""

import base64
import hashlib
import json
import os
import re
import shutil
from functools import lru_cache
from pathlib import Path

from autograder.course import STAGES, student_notebook

STATIC = "_static"
MIN_STYLE = 4096  # characters: smaller <style> blocks stay in the page
DATA_IMAGE = re.compile(r"data:(image/(?:png|jpeg|gif));base64,([A-Za-z0-9+/=\s]+)")
HEAD_STYLE = re.compile(r"<style([^>]*)>(.*?)</style>", re.S)
EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif"}


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


@lru_cache(maxsize=8)
def course_attachments(stages=tuple(STAGES)) -> dict[str, tuple[str, str, bytes]]:
    """{base64 payload: (attachment name, mime type, bytes)} of the released notebooks' cell attachments
    (read once per process: every saved result asks)."""
    found = {}
    for stage in stages:
        path = student_notebook(stage)
        if not path.exists():
            continue
        for cell in json.loads(path.read_text(encoding="utf-8")).get("cells", []):
            for name, bundle in (cell.get("attachments") or {}).items():
                for mime, payload in bundle.items():
                    if mime in EXTENSIONS and isinstance(payload, str):
                        found[payload] = (name, mime, base64.b64decode(payload))
    return found


def _write_once(path: Path, data: bytes) -> Path:
    """Write `path` (named by its content) unless it is already there; safe when two runs race."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_bytes(data)
        os.replace(partial, path)
    return path


class SharedAssets:
    """The course figures and page styles of one output folder, stored once."""

    def __init__(self, out: Path, stages=STAGES):
        self.out = Path(out)
        self.feedback_static = self.out / "feedback" / STATIC
        self.attachments = course_attachments(tuple(stages))

    def _figure_name(self, payload: str) -> str:
        name, mime, _ = self.attachments[payload]
        return f"{Path(name).stem}-{_digest(self.attachments[payload][2])}.{EXTENSIONS[mime]}"

    def feedback_page(self, page: str) -> str:
        """The page with the course's figures and its large head styles linked from ../_static/."""

        def figure(match: re.Match) -> str:
            payload = re.sub(r"\s", "", match.group(2))
            if payload not in self.attachments:
                return match.group(0)  # the student's own output: it stays in the page
            name = self._figure_name(payload)
            _write_once(self.feedback_static / name, self.attachments[payload][2])
            return f"../{STATIC}/{name}"

        def style(match: re.Match) -> str:
            css = match.group(2)
            if len(css) < MIN_STYLE:
                return match.group(0)
            name = f"style-{_digest(css.encode())}.css"
            _write_once(self.feedback_static / name, css.encode("utf-8"))
            media = re.search(r'media="[^"]*"', match.group(1))
            return f'<link rel="stylesheet" href="../{STATIC}/{name}"' + (f" {media.group(0)}" if media else "") + ">"

        end = page.find("</head>")
        head, body = (page[:end], page[end:]) if end >= 0 else ("", page)
        return HEAD_STYLE.sub(style, head) + DATA_IMAGE.sub(figure, body)

    def autograded_notebook(self, data: bytes, folder: Path) -> bytes:
        """The notebook with each released figure attachment replaced by a file beside it (`folder`); the
        bytes as they are when anything about them is unexpected (the copy must always be written)."""
        try:
            return self._shrink_notebook(data, folder)
        except Exception:  # noqa: BLE001 - a larger copy is better than none
            return data

    def _shrink_notebook(self, data: bytes, folder: Path) -> bytes:
        import nbformat

        notebook = nbformat.reads(data.decode("utf-8"), as_version=4)
        changed = False
        for cell in notebook.get("cells", []):
            attachments = cell.get("attachments")
            if cell.get("cell_type") != "markdown" or not attachments:
                continue
            source = cell.source
            for name, bundle in list(attachments.items()):
                shared = [p for mime, p in bundle.items() if isinstance(p, str) and p in self.attachments]
                if len(shared) != len(bundle):
                    continue  # an attachment of the student's own
                file_name = self._figure_name(shared[0])
                original = _write_once(self.out / "nbgrader" / STATIC / file_name, self.attachments[shared[0]][2])
                _link(original, folder / file_name)
                source = source.replace(f"attachment:{name}", file_name)
                del attachments[name]
                changed = True
            cell["source"] = source
            if not attachments:
                del cell["attachments"]
        if not changed:
            return data
        nbformat.validate(notebook)
        return nbformat.writes(notebook).encode("utf-8")


def _link(original: Path, target: Path) -> None:
    """A hard link to `original` at `target` (one copy on disk), or a copy where links are not possible."""
    target.parent.mkdir(parents=True, exist_ok=True)
    target.unlink(missing_ok=True)
    try:
        os.link(original, target)
    except OSError:
        shutil.copyfile(original, target)


def folder_size(folder: Path) -> int:
    """Bytes of the files under `folder`, each hard-linked file counted once (what the disk holds)."""
    seen, total = set(), 0
    for path in Path(folder).rglob("*"):
        try:
            stat = path.lstat()
        except OSError:
            continue
        if path.is_file() and not path.is_symlink() and (stat.st_dev, stat.st_ino) not in seen:
            seen.add((stat.st_dev, stat.st_ino))
            total += stat.st_size
    return total


def per_notebook_size(out: Path) -> int:
    """Bytes of what each graded notebook leaves of its own: its feedback page, its autograded copy, its log
    (files hard-linked to a class-wide copy are not its own)."""
    total = 0
    for folder in (out / "feedback", out / "logs", out / "nbgrader" / "autograded"):
        for path in folder.glob("*/**/*") if folder.exists() else ():
            if path.parent.name == STATIC or STATIC in path.relative_to(folder).parts[:1]:
                continue
            try:
                stat = path.lstat()
            except OSError:
                continue
            if path.is_file() and not path.is_symlink() and stat.st_nlink == 1:
                total += stat.st_size
    return total


def human_size(size: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"
