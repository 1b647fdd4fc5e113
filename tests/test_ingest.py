"""Articles from files: every parser, every rejection reason, corpus scanning and upload names."""

from __future__ import annotations

import json
import os
import resource
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa_bot.errors import QABotError
from qa_bot.ingest import (
    SUPPORTED_SUFFIXES,
    IngestError,
    article_id_for,
    parse_file,
    scan_corpus,
    validate_upload_name,
)

MAX_BYTES = 1024 * 1024


def write(folder: Path, relative: str, content: str | bytes) -> Path:
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_bytes(content.encode("utf-8"))
    return path


def parse(folder: Path, relative: str, content: str | bytes, max_bytes: int = MAX_BYTES) -> list:
    return parse_file(write(folder, relative, content), relative, max_bytes)


def test_article_id_ignores_whitespace_layout_but_not_words():
    assert article_id_for("One  two\n\nthree ") == article_id_for(" One two three")
    assert article_id_for("One two three") != article_id_for("One two four")
    assert len(article_id_for("x")) == 16 and int(article_id_for("x"), 16) >= 0


def test_text_file_title_is_first_line_and_text_is_the_whole_file(tmp_path):
    [article] = parse(tmp_path, "news/story.txt", "\r\n  Big News Today  \r\nThe mayor spoke.\r\n")
    assert article.title == "Big News Today"
    assert article.text == "\n  Big News Today  \nThe mayor spoke.\n"  # line endings normalised, nothing else
    assert article.path == "news/story.txt"
    assert article.source == "story.txt"
    assert article.article_id == article_id_for(article.text)


def test_markdown_title_drops_heading_marks(tmp_path):
    [article] = parse(tmp_path, "a.md", "## Heading Two\n\nBody text.\n")
    assert article.title == "Heading Two"
    assert article.text.startswith("## Heading Two")


def test_html_keeps_visible_text_only(tmp_path):
    html = """<!doctype html><html><head><title>Page  Title</title><style>p {color: red}</style>
    <script>var hidden = "secret";</script></head>
    <body><h1>Headline</h1><p>Hello <b>bold</b> world &amp; friends.<br>Second line.</p>
    <script>alert("no")</script><noscript>enable js</noscript><template><p>tpl</p></template>
    <ul><li>First item</li><li>Second item</li></ul><!-- a comment --></body></html>"""
    [article] = parse(tmp_path, "page.html", html)
    assert article.title == "Page Title"
    assert article.text == ("Headline\n\nHello bold world & friends.\nSecond line.\n\nFirst item\n\nSecond item")
    for leftover in ("secret", "alert", "enable js", "tpl", "color", "comment", "<", ">"):
        assert leftover not in article.text


def test_html_title_falls_back_to_h1_then_first_line(tmp_path):
    [with_h1] = parse(tmp_path, "a.htm", "<p>Intro para.</p><h1>The  Heading</h1>")
    [plain] = parse(tmp_path, "b.html", "<div>Just some text.</div><div>More.</div>")
    assert with_h1.title == "The Heading"
    assert plain.title == "Just some text."


def test_html_without_text_is_rejected(tmp_path):
    with pytest.raises(IngestError, match="no text"):
        parse(tmp_path, "empty.html", "<html><head><title>T</title></head><body><script>x()</script></body></html>")


def test_jsonl_bad_lines_are_reported_and_the_rest_kept(tmp_path):
    lines = [
        json.dumps({"title": "One", "text": "First text.", "url": "https://x.example/1", "date": "2024-01-02"}),
        "{not json",
        "",
        json.dumps({"title": "No text here"}),
        json.dumps(["not", "an", "object"]),
        json.dumps({"title": "Two", "text": "Second text.", "source": "Reuters"}),
    ]
    notices: list[str] = []
    articles = parse_file(write(tmp_path, "feed.jsonl", "\n".join(lines)), "feed.jsonl", MAX_BYTES, notices)
    assert [(a.title, a.text, a.path, a.source) for a in articles] == [
        ("One", "First text.", "feed.jsonl#1", "feed.jsonl"),
        ("Two", "Second text.", "feed.jsonl#6", "Reuters"),
    ]
    assert articles[0].url == "https://x.example/1" and articles[0].date == "2024-01-02"
    assert len(notices) == 3
    assert "line 2" in notices[0] and "invalid JSON" in notices[0]
    assert "line 4" in notices[1] and "text" in notices[1]
    assert "line 5" in notices[2]


@pytest.mark.parametrize(
    "payload",
    [
        [{"title": "A", "text": "Alpha."}, {"title": "B", "text": "Beta."}],
        {"articles": [{"title": "A", "text": "Alpha."}, {"title": "B", "text": "Beta."}]},
    ],
)
def test_json_list_or_articles_object(tmp_path, payload):
    articles = parse(tmp_path, "set.json", json.dumps(payload))
    assert [(a.title, a.text, a.path) for a in articles] == [
        ("A", "Alpha.", "set.json#1"),
        ("B", "Beta.", "set.json#2"),
    ]


def test_json_single_record_without_title_uses_first_line(tmp_path):
    [article] = parse(tmp_path, "one.json", json.dumps({"text": "Opening line\r\nmore text", "date": 2024}))
    assert article.title == "Opening line"
    assert article.text == "Opening line\nmore text"
    assert article.date == "2024"


def test_invalid_json_file_names_the_line(tmp_path):
    with pytest.raises(IngestError, match="line 3"):
        parse(tmp_path, "bad.json", '[\n{"text": "a"},\n{"text": oops},\n{"text": "c"}\n]')


def test_json_record_without_text_is_rejected(tmp_path):
    notices: list[str] = []
    with pytest.raises(IngestError, match="text"):
        parse_file(write(tmp_path, "t.json", json.dumps({"title": "only a title"})), "t.json", MAX_BYTES, notices)
    assert notices and "missing" in notices[0]


def test_cp1252_file_is_decoded_and_reported(tmp_path):
    text = "Café owners in Zürich said the naïve plan — “a façade” — cost €5 million. " * 4
    notices: list[str] = []
    [article] = parse_file(write(tmp_path, "old.txt", text.encode("cp1252")), "old.txt", MAX_BYTES, notices)
    assert article.text == text
    assert len(notices) == 1 and notices[0].startswith("decoded old.txt as ")


def test_utf8_bom_is_dropped(tmp_path):
    [article] = parse(tmp_path, "bom.txt", "\ufeffTitle\nBody.")
    assert article.title == "Title" and article.text == "Title\nBody."


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file"),
        (b"  \n\t\r\n ", "empty file"),
        (b"PK\x03\x04\x00\x00binary\x00stuff", "binary"),
        (bytes(range(1, 32)) * 20, "binary"),
    ],
)
def test_unusable_files_are_rejected_with_a_reason(tmp_path, content, reason):
    with pytest.raises(IngestError, match=reason) as raised:
        parse(tmp_path, "notes/x.txt", content)
    assert str(raised.value).startswith("notes/x.txt: ")
    assert "\n" not in str(raised.value)


def test_oversized_file_is_rejected_before_reading(tmp_path, monkeypatch):
    path = write(tmp_path, "big.txt", "x" * 2048)

    def fail(*args, **kwargs):
        raise AssertionError("an oversized file must not be read")

    monkeypatch.setattr(os, "open", fail)
    monkeypatch.setattr(Path, "read_bytes", fail)
    with pytest.raises(IngestError, match=r"over the .* limit.*QA_BOT_MAX_ARTICLE_BYTES"):
        parse_file(path, "big.txt", 1024)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content=st.binary(max_size=3000), suffix=st.sampled_from(SUPPORTED_SUFFIXES))
def test_random_bytes_raise_nothing_but_ingest_error(content, suffix):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"random{suffix}"
        path.write_bytes(content)
        try:
            articles = parse_file(path, path.name, MAX_BYTES)
        except IngestError:
            return
    for article in articles:
        assert article.text.strip()
        assert article.article_id == article_id_for(article.text)
        article.text.encode("utf-8")  # storable: no lone surrogates


def test_scan_missing_or_non_folder_corpus(tmp_path):
    with pytest.raises(QABotError, match="does not exist; create it"):
        scan_corpus(tmp_path / "nowhere", MAX_BYTES)
    write(tmp_path, "file.txt", "text")
    with pytest.raises(QABotError, match="is a file, not a folder"):
        scan_corpus(tmp_path / "file.txt", MAX_BYTES)


def test_scan_is_recursive_sorted_and_reports_what_it_skips(tmp_path):
    corpus = tmp_path / "corpus"
    write(corpus, "b.txt", "Bee\nText b.")
    write(corpus, "a/z.md", "# Zed\nText z.")
    write(corpus, "a/deeper/y.html", "<title>Why</title><p>Text y.</p>")
    write(corpus, "c.jsonl", '{"text": "Text c."}\n')
    write(corpus, ".hidden.txt", "Hidden text.")
    write(corpus, ".git/config.txt", "Hidden folder text.")
    write(corpus, "photo.png", b"\x89PNG\x00")
    write(corpus, "bad.txt", b"\x00\x01\x02")
    scan = scan_corpus(corpus, MAX_BYTES)
    assert [a.path for a in scan.articles] == ["a/deeper/y.html", "a/z.md", "b.txt", "c.jsonl#1"]
    assert sorted(scan.problems) == [
        "skipped bad.txt: binary file, not text",
        "skipped photo.png: unsupported file type (supported: .txt, .md, .html, .htm, .jsonl, .json)",
    ]


def test_duplicates_are_indexed_once_first_sorted_path_wins(tmp_path):
    corpus = tmp_path / "corpus"
    write(corpus, "z.txt", "Same story.\nSame  words.")
    write(corpus, "a.txt", "Same story.\n\nSame words.\n")
    write(corpus, "m.jsonl", '{"title": "t", "text": "Same story. Same words."}\n{"text": "Other."}\n')
    scan = scan_corpus(corpus, MAX_BYTES)
    assert [a.path for a in scan.articles] == ["a.txt", "m.jsonl#2"]
    assert scan.problems == ["skipped m.jsonl#1: same text as a.txt", "skipped z.txt: same text as a.txt"]


def test_symlinks_outside_the_corpus_are_not_followed(tmp_path):
    corpus = tmp_path / "corpus"
    secret = write(tmp_path, "outside/secret.txt", "Secret outside text.")
    write(corpus, "inside.txt", "Inside text.")
    (corpus / "leak.txt").symlink_to(secret)
    (corpus / "leakdir").symlink_to(secret.parent, target_is_directory=True)
    (corpus / "alias.txt").symlink_to(corpus / "inside.txt")
    scan = scan_corpus(corpus, MAX_BYTES)
    assert [a.text for a in scan.articles] == ["Inside text."]
    assert "Secret" not in " ".join(scan.problems)
    assert "skipped leak.txt: symlink points outside the corpus folder" in scan.problems
    assert "skipped leakdir: symlink points outside the corpus folder" in scan.problems
    assert "skipped inside.txt: same text as alias.txt" in scan.problems


def test_ten_thousand_tiny_files_with_few_file_handles(tmp_path):
    corpus = tmp_path / "corpus"
    for folder in range(10):
        (corpus / f"f{folder}").mkdir(parents=True)
        for number in range(1000):
            (corpus / f"f{folder}" / f"{number:04d}.txt").write_text(f"Note {folder}-{number}\nBody {number}.\n")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    open_now = len(os.listdir("/proc/self/fd"))
    resource.setrlimit(resource.RLIMIT_NOFILE, (open_now + 16, hard))  # a leak of handles would fail fast
    try:
        scan = scan_corpus(corpus, MAX_BYTES)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert len(scan.articles) == 10_000 and scan.problems == []
    assert scan.articles[0].path == "f0/0000.txt" and scan.articles[-1].path == "f9/0999.txt"


@pytest.mark.parametrize("name", ["report.txt", "Notes.MD", "page.html", "old.htm", "feed.jsonl", "  spaced.txt  "])
def test_upload_names_that_are_accepted(name):
    assert validate_upload_name(name) == name.strip()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("../../etc/passwd.txt", "folder path"),
        ("sub/dir.txt", "folder path"),
        ("..\\evil.txt", "folder path"),
        ("/etc/x.txt", "absolute path"),
        ("C:\\x.txt", "absolute path"),
        ("", "no name"),
        ("   ", "no name"),
        (".hidden.txt", "hidden"),
        ("..", "folder path"),
        ("data.json", "only .txt"),
        ("tool.exe", "only .txt"),
        ("noext", "only .txt"),
        ("bad\x00name.txt", "control characters"),
        ("x" * 300 + ".txt", "too long"),
    ],
)
def test_upload_names_that_are_refused(name, reason):
    with pytest.raises(QABotError, match=reason):
        validate_upload_name(name)


@pytest.mark.parametrize(
    ("encoding", "text"),
    [
        ("latin-1", "Le café est très bon à Paris, où l'été est chaud. Ça va très bien. " * 3),
        ("cp1250", "Zażółć gęślą jaźń. Łódź jest dużym miastem w Polsce, a Kraków był stolicą. " * 3),
        ("cp1251", "Привет, как дела? Москва — столица России. Это большой город. " * 3),
        ("utf-16", "Título\nEl café está aquí. Größe — “quotes”.\n"),  # NUL bytes, but a BOM says text
    ],
)
def test_legacy_encodings_are_detected(tmp_path, encoding, text):
    [article] = parse(tmp_path, "legacy.txt", text.encode(encoding))
    assert article.text == text


def test_broken_and_looping_symlinks_are_reported(tmp_path):
    corpus = tmp_path / "corpus"
    write(corpus, "real.txt", "Real text.")
    (corpus / "loop.txt").symlink_to(corpus / "loop.txt")
    (corpus / "broken.txt").symlink_to(corpus / "missing.txt")
    scan = scan_corpus(corpus, MAX_BYTES)
    assert [a.path for a in scan.articles] == ["real.txt"]
    assert "skipped loop.txt: symlink loop" in scan.problems
    assert any(p.startswith("skipped broken.txt: cannot read the file") for p in scan.problems)


def test_absurdly_nested_json_is_rejected_not_crashing(tmp_path):
    deep = "[" * 100_000 + "]" * 100_000
    with pytest.raises(IngestError, match="nested too deeply"):
        parse(tmp_path, "deep.json", deep)
    notices: list[str] = []
    articles = parse_file(
        write(tmp_path, "deep.jsonl", f'{{"text": {deep}}}\n{{"text": "Fine."}}\n'), "deep.jsonl", MAX_BYTES, notices
    )
    assert [a.text for a in articles] == ["Fine."]
    assert notices == ["skipped deep.jsonl line 1: invalid JSON (nested too deeply)"]


def call_or_unblock(function, fifo: Path, seconds: float = 30.0):
    """function() in a thread; if it is still blocked after ``seconds``, open the FIFO's other end and fail."""
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(function)
    try:
        return future.result(timeout=seconds)
    except TimeoutError:
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # a writer that closes at once: the reader sees EOF
        pytest.fail(f"blocked for {seconds} s on the named pipe {fifo.name}")
    finally:
        pool.shutdown(wait=True)


def test_a_named_pipe_named_like_an_article_is_skipped_in_one_line_without_blocking(tmp_path):
    corpus = tmp_path / "corpus"
    write(corpus, "real.txt", "Real text.")
    os.mkfifo(corpus / "pipe.txt")
    scan = call_or_unblock(lambda: scan_corpus(corpus, MAX_BYTES), corpus / "pipe.txt")
    assert [a.path for a in scan.articles] == ["real.txt"]
    assert scan.problems == ["skipped pipe.txt: not a regular file (a named pipe)"]
    with pytest.raises(IngestError, match="not a regular file"):
        call_or_unblock(lambda: parse_file(corpus / "pipe.txt", "pipe.txt", MAX_BYTES), corpus / "pipe.txt")


def test_a_file_swapped_for_a_pipe_after_its_check_still_never_blocks(tmp_path, monkeypatch):
    """Belt and braces: the open itself must not block even if the path changed after it was checked."""
    os.mkfifo(tmp_path / "swapped.txt")
    write(tmp_path, "ok.txt", "fine")
    real_stat = Path.stat
    monkeypatch.setattr(Path, "stat", lambda self, **kw: real_stat(tmp_path / "ok.txt"))
    with pytest.raises(IngestError, match="not a regular file"):
        call_or_unblock(
            lambda: parse_file(tmp_path / "swapped.txt", "swapped.txt", MAX_BYTES), tmp_path / "swapped.txt"
        )


def test_one_nul_byte_in_jsonl_drops_only_its_line(tmp_path):
    lines = [
        json.dumps({"title": "One", "text": "First text."}),
        json.dumps({"title": "Two", "text": "Second\u0000 text."}).replace("\\u0000", "\x00"),
        json.dumps({"title": "Three", "text": "Third text."}),
    ]
    assert "\x00" in lines[1]
    notices: list[str] = []
    articles = parse_file(write(tmp_path, "feed.jsonl", "\n".join(lines)), "feed.jsonl", MAX_BYTES, notices)
    assert [(a.title, a.path) for a in articles] == [("One", "feed.jsonl#1"), ("Three", "feed.jsonl#3")]
    assert notices == ["skipped feed.jsonl line 2: binary data (NUL byte)"]


def test_many_lines_with_nul_bytes_are_reported_in_one_line(tmp_path):
    good = json.dumps({"text": "Kept text."})
    content = "\n".join([good] + ['{"text": "bad\x00"}'] * 12 + [json.dumps({"text": "Also kept."})])
    notices: list[str] = []
    articles = parse_file(write(tmp_path, "feed.jsonl", content), "feed.jsonl", MAX_BYTES, notices)
    assert [a.text for a in articles] == ["Kept text.", "Also kept."]
    assert notices == ["skipped feed.jsonl lines 2, 3, 4, 5, 6 and 7 more: binary data (NUL bytes)"]


def test_a_binary_file_named_jsonl_is_still_one_rejection(tmp_path):
    notices: list[str] = []
    with pytest.raises(IngestError, match="binary file"):
        parse_file(write(tmp_path, "x.jsonl", bytes(range(256)) * 40), "x.jsonl", MAX_BYTES, notices)
    assert notices == []


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("giant.txt", "word " * 400_000),
        ("giant.md", "# " + "heading " * 300_000),
        ("giant.html", "<title>" + "t" * 1_000_000 + "</title><p>Body.</p>"),
        ("giant.jsonl", json.dumps({"title": "x" * 500_000, "text": "Body."})),
    ],
)
def test_a_giant_title_is_shortened_and_the_text_kept_whole(tmp_path, name, content):
    [article] = parse(tmp_path, name, content, max_bytes=10 * MAX_BYTES)
    assert len(article.title) <= 201 and article.title.endswith("…")
    assert len(article.text) >= len("Body.") and ("word " * 1000 in article.text or name != "giant.txt")
    if name == "giant.txt":
        assert article.text == content
        assert article.title == "word " * 39 + "word…"  # cut at a word boundary
