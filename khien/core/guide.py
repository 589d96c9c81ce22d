"""The user guide inside the platform: `docs/user-guide/<slug>.<lang>.md` read at /guide/<slug>/.

A government network without Internet access cannot read the guide on a code host: the platform serves it
itself, in the reader's language (the other language, with a note, when a page has no version in theirs).
The pages are Markdown files of the repository, rendered with Python-Markdown: tables, fenced code, an anchor
on every heading; links between guide pages lead to their /guide/ addresses; no images and no raw HTML (a
`<organization>` in the prose is text). Rendered pages are kept in memory until their file changes (mtime).

Signed-in users only, as the rest of the platform (the guide holds no secret, but the platform is closed).
The folder is the setting `GUIDE_DIR` (default: `docs/user-guide` of the checkout beside the package); when it
is missing — an installation without the docs — the pages say the guide is not installed.
"""
from __future__ import annotations

import re
import unicodedata
from html import unescape
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from xml.etree import ElementTree

import markdown
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from markdown.extensions import Extension
from markdown.treeprocessors import Treeprocessor

SLUG = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*\Z")
# A link to another page of the guide, as the files write it: `soc-connect.en.md`, `intel.vi.md#section`.
GUIDE_LINK = re.compile(r"(?P<slug>[a-z0-9]+(?:-[a-z0-9]+)*)\.(?P<lang>[a-z]{2})\.md(?P<fragment>#[^\s]*)?\Z")
SAFE_SCHEMES = ("http://", "https://", "mailto:")
# The order of the index: the registry first (who is who), then the work of an analyst, then the SOC's.
# A page not named here comes after these, by name.
ORDER = ("registry", "incidents", "notifications", "intel", "intel-warnings", "intel-exchange", "intel-api",
         "telemetry", "soc-connect")


def languages() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def guide_dir() -> Path | None:
    """The folder of the guide's files, or None when it is not there (the guide is not installed)."""
    configured = getattr(settings, "GUIDE_DIR", None)
    folder = Path(configured) if configured else Path(settings.BASE_DIR) / "docs" / "user-guide"
    return folder.resolve() if folder.is_dir() else None


def _file(folder: Path, slug: str, language: str) -> Path | None:
    """`<slug>.<language>.md` inside the folder — never a path that leads out of it (`..`, a link elsewhere)."""
    if not SLUG.match(slug or "") or language not in languages():
        return None
    path = folder / f"{slug}.{language}.md"
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if resolved.parent != folder or not resolved.is_file():
        return None
    return resolved


@dataclass(frozen=True)
class Head:
    title: str
    summary: str  # the audience line under the title ("For SOC operators of …"), or ""


@dataclass(frozen=True)
class Rendered:
    html: str
    sections: tuple[tuple[str, str], ...]  # (anchor, heading text) of the second-level headings


@dataclass(frozen=True)
class Page:
    slug: str
    language: str        # the language of the file shown
    head: Head
    fallback: bool       # the reader's language has no version of this page
    other_languages: tuple[str, ...]  # the other versions of the page


def _stamp(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return str(path), stat.st_mtime_ns, stat.st_size


def _plain(text: str) -> str:
    """A line of Markdown as text: links keep their words, emphasis and code marks go."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[*_`]+", "", text).strip()


@lru_cache(maxsize=256)
def _head(path: str, mtime_ns: int, size: int) -> Head:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    title, summary, paragraph = "", "", []
    for number, line in enumerate(lines):
        if not title:
            if line.startswith("# "):
                title = _plain(line[2:])
            continue
        if line.strip():
            paragraph.append(line.strip())
        elif paragraph:
            break
    text = " ".join(paragraph)
    if text.startswith("*") and not text.startswith("**"):  # the italic audience line of most pages
        first = _plain(text).split(". ")[0].rstrip(".")
        summary = first + "." if first else ""
    return Head(title=title or Path(path).name.split(".")[0], summary=summary)


def heading_anchor(value: str, separator: str = "-") -> str:
    """An ASCII anchor for a heading, Vietnamese included: "Đăng ký nguồn" → "dang-ky-nguon"."""
    value = value.replace("đ", "d").replace("Đ", "D")
    value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    value = re.sub(r"[^\w\s-]", "", value).strip().lower()
    return re.sub(rf"[{separator}\s]+", separator, value)


def _platform_page(href: str) -> bool:
    """Whether `href` is a page of the platform (an absolute path its URLs resolve): kept as a link, so that a guide
    step opens the page it names. Any other path keeps its words only."""
    from django.urls import Resolver404, resolve

    if not href.startswith("/") or href.startswith("//"):
        return False
    try:
        resolve(href.split("#", 1)[0].split("?", 1)[0])
    except Resolver404:
        return False
    return True


class _GuideLinks(Treeprocessor):
    """Links to guide pages lead to /guide/<slug>/ (with `?lang=` when they name the other language's file);
    other links that are not web addresses (`../api.md`, a file of the repository) keep their words only;
    an image becomes its alternative text."""

    def __init__(self, md, language: str):
        super().__init__(md)
        self.language = language

    def run(self, root):
        for parent in list(root.iter()):
            for index, element in enumerate(list(parent)):
                if element.tag == "img":
                    replacement = ElementTree.Element("span")
                    replacement.text = element.get("alt", "")
                    replacement.tail = element.tail
                    parent.remove(element)
                    parent.insert(index, replacement)
                elif element.tag == "a":
                    self._link(element)

    def _link(self, element):
        href = element.get("href", "")
        if element.get("class") == "headerlink" or href.startswith("#") or href.startswith(SAFE_SCHEMES):
            return
        if _platform_page(href):  # `[Monitoring → Sources](/telemetry/sources/)`: the page the guide names
            return
        found = GUIDE_LINK.match(href.removeprefix("./"))
        folder = guide_dir()
        target_file = _file(folder, found["slug"], found["lang"]) if found and folder else None
        if target_file is not None:
            target = reverse("core:guide_page", args=[found["slug"]])
            if found["lang"] != self.language:
                target += f"?lang={found['lang']}"
                element.set("hreflang", found["lang"])
                element.set("lang", found["lang"])
            element.set("href", target + (found["fragment"] or ""))
            if len(element) == 0 and (element.text or "").strip() == href:  # `[intel.en.md](intel.en.md)`
                element.text = _head(*_stamp(target_file)).title  # the page's title, not its file name
            return
        element.tag = "span"  # a file of the repository (`../api.md`) or a page that is not there: words only
        element.attrib.clear()


class _GuideExtension(Extension):
    def __init__(self, language: str):
        super().__init__()
        self.language = language

    def extendMarkdown(self, md):
        md.preprocessors.deregister("html_block")  # raw HTML is shown as text, never passed through
        md.inlinePatterns.deregister("html")
        md.treeprocessors.register(_GuideLinks(md, self.language), "guide_links", 4)  # after the inline pass


@lru_cache(maxsize=64)
def _render(path: str, mtime_ns: int, size: int, language: str) -> Rendered:
    with translation.override(language):  # the heading links' title in the language of the page
        converter = markdown.Markdown(
            extensions=["tables", "fenced_code", "sane_lists", "toc", _GuideExtension(language)],
            extension_configs={"toc": {"permalink": "#", "permalink_title": _("Link to this section"),
                                       "slugify": heading_anchor}},
            output_format="html",
        )
        html = converter.convert(Path(path).read_text(encoding="utf-8"))
    sections = []
    for top in converter.toc_tokens:
        for token in (top["children"] if top["level"] == 1 else [top]):
            if token["level"] == 2:
                sections.append((token["id"], unescape(token["name"])))  # text: the template escapes it
    return Rendered(html=html, sections=tuple(sections))


def index(language: str) -> list[Page]:
    """Every page of the guide, titled in the reader's language (or the other one's title when it has none)."""
    folder = guide_dir()
    if folder is None:
        return []
    slugs = set()
    for path in folder.glob("*.md"):
        found = GUIDE_LINK.match(path.name)
        if found and found["lang"] in languages() and _file(folder, found["slug"], found["lang"]):
            slugs.add(found["slug"])
    ordered = sorted(slugs, key=lambda s: (ORDER.index(s) if s in ORDER else len(ORDER), s))
    return [page for page in (find(slug, language) for slug in ordered) if page]


def find(slug: str, language: str, asked: str | None = None) -> Page | None:
    """The page `slug` in `asked` (a `?lang=` of a link) or else the reader's language, or else another."""
    folder = guide_dir()
    if folder is None:
        return None
    wanted = asked if asked in languages() else language
    order = [wanted] + [code for code in languages() if code != wanted]
    present = [code for code in order if _file(folder, slug, code)]
    if not present:
        return None
    shown = present[0]
    return Page(slug=slug, language=shown, head=_head(*_stamp(_file(folder, slug, shown))),
                fallback=shown != wanted, other_languages=tuple(c for c in present if c != shown))


def rendered(page: Page) -> Rendered:
    folder = guide_dir()
    path = _file(folder, page.slug, page.language) if folder else None
    if path is None:  # removed since `find` saw it
        raise Http404(page.slug)
    return _render(*_stamp(path), page.language)


# --- Pages --------------------------------------------------------------------------------------------------


@login_required
@require_GET
def guide_index(request):
    language = translation.get_language()
    return render(request, "core/guide_index.html", {
        "installed": guide_dir() is not None,
        "pages": index(language),
    })


@login_required
@require_GET
def guide_page(request, slug: str):
    if guide_dir() is None:
        return render(request, "core/guide_index.html", {"installed": False, "pages": []}, status=404)
    language = translation.get_language()
    page = find(slug, language, request.GET.get("lang"))
    if page is None:
        raise Http404(slug)
    asked = request.GET.get("lang")
    return render(request, "core/guide_page.html", {
        "page": page,
        "content": rendered(page),
        "wanted_language": asked if asked in languages() else language,
    })
