"""Articles from files: .txt/.md/.html/.htm pages and .json/.jsonl records.

``Article.text`` is chosen once per article here and never altered afterwards: every
character offset downstream (sentences, passages, citations) points into it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath, PureWindowsPath

import charset_normalizer
from selectolax.lexbor import LexborHTMLParser, LexborNode

from qa_bot.errors import QABotError
from qa_bot.types import Article

SUPPORTED_SUFFIXES = (".txt", ".md", ".html", ".htm", ".jsonl", ".json")
UPLOAD_SUFFIXES = (".txt", ".md", ".html", ".htm", ".jsonl")

# Control characters that never occur in text (tab, newlines and form feed excluded) plus
# U+FFFD, which a lossy decode leaves behind: their share tells binary from text.
_NON_TEXT = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufffd]")
_NON_TEXT_BYTE = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_MAX_NON_TEXT_SHARE = 0.05
_LISTED_LINES = 5  # line numbers named in one notice
_MAX_TITLE_CHARS = 200
_ENCODING_TIE = 0.05  # chaos/coherence difference under which two code pages count as tied
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_MAX_NAME_BYTES = 255  # longest file name common file systems accept

_DROPPED_HTML_TAGS = ["head", "script", "style", "noscript", "template", "svg"]
# Elements that start a new paragraph; everything else (b, a, span, ...) flows inline.
_HTML_BLOCK_NAMES = (
    "address article aside blockquote body caption dd details dialog div dl dt fieldset figcaption figure footer "
    "form h1 h2 h3 h4 h5 h6 header hgroup hr html li main nav ol p pre section summary table tbody td tfoot th "
    "thead tr ul"
)
_HTML_BLOCKS = frozenset(_HTML_BLOCK_NAMES.split())


class IngestError(QABotError):
    """A file (or the whole of it) cannot become an article; ``reason`` says why in a few words."""

    def __init__(self, relative: str, reason: str) -> None:
        super().__init__(f"{relative}: {reason}")
        self.relative = relative
        self.reason = reason


@dataclass
class CorpusScan:
    root: Path  # the corpus folder, resolved
    articles: list[Article] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # one line per skipped file/record or notice
    files: dict[str, str] = field(default_factory=dict)  # article path -> the file it came from (relative)

    def with_texts(self, articles: list[Article], max_bytes: int) -> Iterator[Article]:
        """``articles`` (from a scan made without texts) again with their texts, each file read once more, in the
        order given; so a large corpus never needs all its texts in memory at once."""
        read_from, by_path = None, {}
        for article in articles:
            relative = self.files[article.path]
            if relative != read_from:
                try:
                    by_path = {a.path: a for a in parse_file(self.root / relative, relative, max_bytes)}
                except IngestError:
                    by_path = {}
                read_from = relative
            fresh = by_path.get(article.path)
            if fresh is None or fresh.article_id != article.article_id:
                raise QABotError(f"{article.path} changed while it was being indexed; run the indexing again")
            yield fresh


def article_id_for(text: str) -> str:
    """Content hash that ignores whitespace layout, so the same text in two files is one article."""
    canonical = " ".join(text.split())
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def parse_file(path: Path, relative: str, max_bytes: int, notices: list[str] | None = None) -> list[Article]:
    """Articles in one file. Raises IngestError when nothing usable is in it.

    Lossy decodes and skipped JSON records are appended to ``notices`` (one line each).
    """
    notices = notices if notices is not None else []
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise IngestError(relative, f"unsupported file type '{suffix or path.name}'")
    try:
        _check_readable(path.stat(), relative, max_bytes)
        # O_NONBLOCK: should the path have become a named pipe since the check, open must not wait for a writer.
        with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as stream:
            _check_readable(os.fstat(stream.fileno()), relative, max_bytes)
            data = stream.read()
    except OSError as error:
        raise IngestError(relative, f"cannot read the file ({error.strerror or error})") from error
    return parse_data(data, relative, notices)


def parse_data(data: bytes, relative: str, notices: list[str] | None = None) -> list[Article]:
    """Articles in the bytes of a file named ``relative`` (its suffix says how to read them), as `parse_file`."""
    notices = notices if notices is not None else []
    suffix = PurePosixPath(relative).suffix.lower()
    text = _decode(data, relative, notices, by_line=suffix == ".jsonl")
    if not text.strip():
        raise IngestError(relative, "empty file")
    if suffix in (".html", ".htm"):
        return [_html_article(text, relative)]
    if suffix == ".json":
        return _json_articles(text, relative, notices)
    if suffix == ".jsonl":
        return _jsonl_articles(text, relative, notices)
    return [_plain_article(text, relative, markdown=suffix == ".md")]


_SPECIAL_FILE_KINDS = {
    stat.S_IFIFO: "a named pipe",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
}


def _check_readable(info: os.stat_result, relative: str, max_bytes: int) -> None:
    """Only regular files within the size limit are read: a pipe or device could block or never end."""
    if not stat.S_ISREG(info.st_mode):
        kind = _SPECIAL_FILE_KINDS.get(stat.S_IFMT(info.st_mode), "a special file")
        raise IngestError(relative, f"not a regular file ({kind})")
    if info.st_size > max_bytes:
        raise IngestError(
            relative,
            f"file is {_readable_size(info.st_size)}, over the {_readable_size(max_bytes)} limit "
            "(raise QA_BOT_MAX_ARTICLE_BYTES to include it)",
        )


def check_corpus_dir(corpus_dir: Path) -> None:
    """Refuse a corpus path that is missing or not a folder, before anything else is done."""
    if not corpus_dir.exists():
        raise QABotError(f"corpus folder '{corpus_dir}' does not exist; create it or pass the right path")
    if not corpus_dir.is_dir():
        raise QABotError(f"corpus folder '{corpus_dir}' is a file, not a folder; pass the folder holding the articles")


def scan_corpus(
    corpus_dir: Path, max_bytes: int, keep_texts: bool = True, prefer: dict[str, str] | None = None
) -> CorpusScan:
    """Every article under ``corpus_dir``, deduplicated by content, in sorted path order; without ``keep_texts``
    their texts are "" (``CorpusScan.with_texts`` reads them again).

    Of several paths holding the same text the first is kept, unless ``prefer`` (article id -> path, e.g. where
    the index has it now) names one of them: a copy appearing under another name never displaces the original.
    """
    check_corpus_dir(corpus_dir)
    root = corpus_dir.resolve()
    scan = CorpusScan(root=root)
    prefer = prefer or {}
    kept: dict[str, tuple[int, Article]] = {}  # article id -> (order found, article)
    found = 0
    for relative, path in article_files(root, scan.problems):
        notices: list[str] = []
        try:
            articles = parse_file(path, relative, max_bytes, notices)
        except IngestError as error:
            articles = []
            notices.append(f"skipped {error}")
        scan.problems.extend(notices)
        for article in articles:
            first = kept.get(article.article_id)
            if first is not None and prefer.get(article.article_id) != article.path:
                scan.problems.append(f"skipped {article.path}: same text as {first[1].path}")
                continue
            if first is not None:
                scan.problems.append(f"skipped {first[1].path}: same text as {article.path}")
                del scan.files[first[1].path]
            kept[article.article_id] = (found, article if keep_texts else replace(article, text=""))
            found += 1
            scan.files[article.path] = relative
    scan.articles = [article for _, article in sorted(kept.values(), key=lambda item: item[0])]
    return scan


def validate_upload_name(filename: str) -> str:
    """The uploaded file's name if it is a plain, visible name with an allowed extension."""
    name = filename.strip()
    if not name:
        raise QABotError("the uploaded file has no name; rename it and upload again")
    if PurePosixPath(name).is_absolute() or PureWindowsPath(name).is_absolute() or PureWindowsPath(name).drive:
        raise QABotError(f"upload name '{name}' is an absolute path; upload the file under its plain name")
    if "/" in name or "\\" in name or name in (".", ".."):
        raise QABotError(f"upload name '{name}' contains a folder path; upload the file under its plain name")
    if name.startswith("."):
        raise QABotError(f"upload name '{name}' is a hidden file name; rename it without the leading dot")
    if _NON_TEXT.search(name) or len(name.encode("utf-8", "surrogatepass")) > _MAX_NAME_BYTES:
        raise QABotError(f"upload name {name!r} has control characters or is too long; rename the file")
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise QABotError(f"cannot upload '{name}': only {', '.join(UPLOAD_SUFFIXES)} files are accepted")
    return name


def article_files(root: Path, problems: list[str]) -> list[tuple[str, Path]]:
    """(relative posix path, path) of supported files under ``root`` (resolved), sorted; reports what it leaves
    out. Hidden files and folders are left out, and so are symlinks into them (the trash is one)."""
    found: list[tuple[str, Path]] = []
    pending = [root]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(folder) as listing:  # closes the directory handle
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as error:
            problems.append(f"skipped folder {folder.relative_to(root).as_posix()}: cannot read it ({error.strerror})")
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            relative = path.relative_to(root).as_posix()
            if entry.is_symlink():
                try:
                    target = path.resolve()
                except (OSError, RuntimeError):  # a symlink loop (RuntimeError before Python 3.13)
                    problems.append(f"skipped {relative}: symlink loop")
                    continue
                if not target.is_relative_to(root):
                    problems.append(f"skipped {relative}: symlink points outside the corpus folder")
                    continue
                if any(part.startswith(".") for part in target.relative_to(root).parts):
                    problems.append(f"skipped {relative}: symlink points into a hidden folder or file")
                    continue
                if target.is_dir():  # its target is inside the corpus and scanned there
                    problems.append(f"skipped {relative}: symlink to a folder inside the corpus")
                    continue
            if entry.is_dir():
                pending.append(path)
            elif path.suffix.lower() in SUPPORTED_SUFFIXES:
                found.append((relative, path))
            elif entry.is_file():
                problems.append(
                    f"skipped {relative}: unsupported file type (supported: {', '.join(SUPPORTED_SUFFIXES)})"
                )
    found.sort(key=lambda item: item[0])
    return found


def _readable_size(size: int) -> str:
    """'850 bytes', '2.4 KB', '20.0 MB': small limits set through QA_BOT_MAX_ARTICLE_BYTES read sensibly too."""
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size / 1024 / 1024:.1f} MB"


def _decode(data: bytes, relative: str, notices: list[str], by_line: bool = False) -> str:
    """Text of ``data`` with \\n line endings; UTF-8 first, then charset detection.

    NUL bytes outside UTF-16 mean binary: the whole file, or with ``by_line`` (JSONL, one record
    per line) only the lines holding them, unless so much of the file is binary that it is not text.
    """
    if b"\x00" in data and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
        if not by_line or len(_NON_TEXT_BYTE.findall(data)) > _MAX_NON_TEXT_SHARE * len(data):
            raise IngestError(relative, "binary file, not text")
        data = _blank_lines_with_nul(data, relative, notices)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        best = _detect_encoding(data)
        if best is not None:
            text = str(best)
            notices.append(f"decoded {relative} as {best.encoding}")
        else:
            text = data.decode("utf-8", errors="replace")
            notices.append(f"decoded {relative} as UTF-8 with undecodable bytes replaced by \ufffd")
    if len(_NON_TEXT.findall(text)) > _MAX_NON_TEXT_SHARE * len(text):
        raise IngestError(relative, "binary file, not text")
    return _clean(text)


def _blank_lines_with_nul(data: bytes, relative: str, notices: list[str]) -> bytes:
    """The lines holding NUL bytes emptied (so line numbers stay), reported in one notice."""
    lines = data.split(b"\n")
    bad = [number for number, line in enumerate(lines, start=1) if b"\x00" in line]
    for number in bad:
        lines[number - 1] = b""
    shown = ", ".join(map(str, bad[:_LISTED_LINES]))
    if len(bad) == 1:
        notices.append(f"skipped {relative} line {shown}: binary data (NUL byte)")
    else:
        more = f" and {len(bad) - _LISTED_LINES} more" if len(bad) > _LISTED_LINES else ""
        notices.append(f"skipped {relative} lines {shown}{more}: binary data (NUL bytes)")
    return b"\n".join(lines)


def _detect_encoding(data: bytes) -> charset_normalizer.CharsetMatch | None:
    """charset-normalizer's guess, except that Windows-1252 wins near-ties.

    Its ranking among near-equal single-byte code pages is arbitrary (French or English text
    came back as cp1250/cp775, turning "très" into "trčs"); Windows-1252 is the usual legacy
    encoding of Western articles, and real Polish/Greek/Cyrillic text does not tie with it.
    """
    matches = charset_normalizer.from_bytes(data)
    best = matches.best()
    western = next((match for match in matches if match.encoding == "cp1252"), None)
    if (
        best is not None
        and western is not None
        and western.chaos <= best.chaos + _ENCODING_TIE
        and western.coherence >= best.coherence - _ENCODING_TIE
    ):
        return western
    return best


def _clean(text: str) -> str:
    """Unix line endings, and no lone surrogates (JSON escapes can smuggle them in; UTF-8 cannot hold them)."""
    return _SURROGATE.sub("\ufffd", text.replace("\r\n", "\n").replace("\r", "\n"))


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "")


def _plain_article(text: str, relative: str, markdown: bool) -> Article:
    title = _first_line(text)
    if markdown:
        title = title.lstrip("#").strip() or title
    return _article(title, text, relative)


def _article(
    title: str,
    text: str,
    path: str,
    source: str | None = None,
    url: str | None = None,
    date: str | None = None,
) -> Article:
    return Article(
        article_id=article_id_for(text),
        title=_shorten_title(title),
        text=text,
        source=source or PurePosixPath(path.split("#")[0]).name,
        path=path,
        url=url,
        date=date,
    )


def _shorten_title(title: str) -> str:
    """A title fit for a citation line: at most _MAX_TITLE_CHARS, cut at a word boundary with an ellipsis."""
    if len(title) <= _MAX_TITLE_CHARS:
        return title
    cut = title[:_MAX_TITLE_CHARS]
    at_word = cut[: cut.rfind(" ")].rstrip() if " " in cut else ""
    return (at_word or cut[: _MAX_TITLE_CHARS - 1]) + "…"


def _html_article(html: str, relative: str) -> Article:
    tree = LexborHTMLParser(html)
    title_node = tree.css_first("title")
    title = " ".join(title_node.text().split()) if title_node is not None else ""
    h1 = tree.css_first("h1")
    if not title and h1 is not None:
        title = " ".join(h1.text().split())
    tree.strip_tags(_DROPPED_HTML_TAGS)
    text = _html_text(tree.root) if tree.root is not None else ""
    if not text:
        raise IngestError(relative, "no text in the HTML page")
    return _article(title or _first_line(text), text, relative)


def _html_text(root: LexborNode) -> str:
    """Visible text: one paragraph (blank-line separated) per block element, <br> as a line break."""
    paragraphs: list[str] = []
    current: list[str] = []
    current_block_id: int | None = None

    def flush() -> None:
        lines = (" ".join(line.split()) for line in "".join(current).split("\n"))
        paragraph = "\n".join(line for line in lines if line)
        if paragraph:
            paragraphs.append(paragraph)
        current.clear()

    for node in root.traverse(include_text=True):
        if node.tag == "br":
            current.append("\n")
            continue
        if node.tag != "-text":
            continue
        block_id = _block_id_of(node)
        if block_id != current_block_id:
            flush()
            current_block_id = block_id
        current.append(node.text_content or "")
    flush()
    return "\n\n".join(paragraphs)


def _block_id_of(node: LexborNode) -> int | None:
    """Identity of the nearest enclosing block element (node objects are recreated on access)."""
    parent = node.parent
    while parent is not None and parent.tag not in _HTML_BLOCKS:
        parent = parent.parent
    return parent.mem_id if parent is not None else None


def _json_articles(text: str, relative: str, notices: list[str]) -> list[Article]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise IngestError(relative, f"invalid JSON at line {error.lineno}: {error.msg}") from error
    except RecursionError as error:
        raise IngestError(relative, "invalid JSON: nested too deeply") from error
    if isinstance(data, dict) and "articles" in data:
        data = data["articles"]
    records = data if isinstance(data, list) else [data]
    none_usable = 'no usable records (each needs a non-empty "text")'
    return _record_articles(enumerate(records, start=1), relative, "record", none_usable, notices)


def _jsonl_articles(text: str, relative: str, notices: list[str]) -> list[Article]:
    none_usable = 'no usable records (each line needs a JSON object with a non-empty "text")'
    return _record_articles(_jsonl_records(text, relative, notices), relative, "line", none_usable, notices)


def _jsonl_records(text: str, relative: str, notices: list[str]) -> Iterator[tuple[int, object]]:
    """(line number, record) for each non-blank line; a line that is not JSON is skipped with a notice."""
    for line_number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            notices.append(f"skipped {relative} line {line_number}: invalid JSON ({error.msg})")
            continue
        except RecursionError:
            notices.append(f"skipped {relative} line {line_number}: invalid JSON (nested too deeply)")
            continue
        yield line_number, record


def _record_articles(
    numbered: Iterable[tuple[int, object]], relative: str, unit: str, none_usable: str, notices: list[str]
) -> list[Article]:
    """Articles from numbered JSON records; a record that is not an article is skipped with a notice naming its
    ``unit`` ("record", "line") and number, which also makes its sync key."""
    articles: list[Article] = []
    for number, record in numbered:
        try:
            articles.append(_record_article(record, f"{relative}#{number}"))
        except _BadRecord as bad:
            notices.append(f"skipped {relative} {unit} {number}: {bad}")
    if not articles:
        raise IngestError(relative, none_usable)
    return articles


class _BadRecord(ValueError):
    pass


def _record_article(record: object, path: str) -> Article:
    """Article from one JSON record; its ``path`` carries the record number as the sync key."""
    if not isinstance(record, dict):
        raise _BadRecord("not a JSON object")
    text = _record_field(record, "text")
    if text is None or not text.strip():
        raise _BadRecord('missing "text"')
    text = text.strip()
    title = _record_field(record, "title")
    return _article(
        title=" ".join(title.split()) if title and title.strip() else _first_line(text),
        text=text,
        path=path,
        source=_record_field(record, "source"),
        url=_record_field(record, "url"),
        date=_record_field(record, "date"),
    )


def _record_field(record: dict, key: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _BadRecord(f'"{key}" must be a string')
    return _clean(str(value)) or None
