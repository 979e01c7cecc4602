"""The briefing as a printable PDF (A4), rendered from its HTML with WeasyPrint.

Chinese text is set in Noto Sans CJK SC, shipped by the PyPI package ``noto-cjk-sans-otc`` (SIL Open
Font License 1.1) and located at run time with importlib.resources; nothing depends on fonts
installed on the machine, so the PDF looks the same everywhere and never shows missing-glyph boxes.

The package holds the whole Noto Sans CJK collection (one .ttc, ~65,000 glyphs per face). WeasyPrint
embeds only the glyphs a document uses, but without HarfBuzz-subset it does so with fontTools while
keeping every glyph id, which takes 10-20 s per face and document. So the Simplified Chinese face is
first cut down here to the characters the documents use (once per process, grown when a later
document brings new characters); WeasyPrint then subsets and embeds from that small font, which
takes about a second. Only the Regular weight is used (the package has no other).
"""
from __future__ import annotations

import atexit
import hashlib
import html as html_lib
import io
import logging
import os
import shutil
import tempfile
import threading
from importlib import resources
from pathlib import Path

FONT_PACKAGE = "noto_cjk_sans_otc"
FONT_FILE = "NotoSansCJK-Regular.ttc"
FONT_FAMILY = "Fengqiao Noto Sans SC"
SC_FACE_NAME = "Noto Sans CJK SC"

# Always kept in the subset: printable ASCII, CJK and full-width punctuation, arrows and symbols
# the briefing uses, so that a document with a new region name only adds its few characters.
_BASE_CHARS = (
    "".join(chr(c) for c in range(0x20, 0x7F))
    + "，。、；：？！“”‘’（）《》【】—–•◦▪…·～％↑↓→←⚠●○■□▲△★☆℃±×÷≤≥　０１２３４５６７８９"
)

PRINT_CSS = """
@page {
  size: A4;
  margin: 14mm 12mm 16mm 12mm;
  @bottom-center { content: "第 " counter(page) " 页 / 共 " counter(pages) " 页";
                   font-family: "%(family)s"; font-size: 8pt; color: #8c8c8c; }
}
html, body { font-family: "%(family)s", sans-serif !important; }
/* The package has the Regular weight only: a synthetic bold looks the same in print but is a second
   embedded font to cut down, so everything is set in the one weight. */
* { font-weight: normal !important; }
body { background: #fff !important; font-size: 9.5pt !important; line-height: 1.5 !important; }
.page { box-shadow: none !important; margin: 0 !important; max-width: none !important; padding: 0 !important; }
.masthead h1 { font-family: "%(family)s", serif !important; font-size: 22pt !important; letter-spacing: 0 !important; }
h2 { font-size: 13pt !important; margin: 14pt 0 6pt !important; break-after: avoid; }
table { font-size: 8.5pt !important; margin: 4pt 0 8pt !important; }
th, td { padding: 2pt 4pt !important; }
tr, .chart, .map, figure, p.hint { break-inside: avoid; }
.badge { font-size: 8pt !important; line-height: 14pt !important; }
.note { font-size: 8pt !important; }
footer { font-size: 7.5pt !important; }
"""


def font_path() -> Path:
    """The CJK font file inside its installed package (importlib.resources, never a fixed path)."""
    resource = resources.files(FONT_PACKAGE).joinpath(FONT_FILE)
    path = Path(str(resource))
    if not path.is_file():
        raise FileNotFoundError(f"the font {FONT_FILE} is missing from the package {FONT_PACKAGE}: "
                                "reinstall the environment from uv.lock")
    return path


def sc_face_index(path: Path) -> int:
    """Index of the Simplified Chinese face in the collection (so glyphs take their mainland forms)."""
    from fontTools.ttLib import TTCollection  # fontTools is heavy: loaded only when a PDF is made

    collection = TTCollection(str(path), lazy=True)
    try:
        for i, font in enumerate(collection.fonts):
            if font["name"].getDebugName(1) == SC_FACE_NAME:
                return i
    finally:
        collection.close()
    raise ValueError(f"{path.name} has no face named {SC_FACE_NAME}")


class _SubsetCache:
    """One small font per process holding every character rendered so far."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chars: frozenset[str] = frozenset()
        self._path: Path | None = None
        self._dir: Path | None = None

    def font_for(self, text: str) -> Path:
        needed = frozenset(ch for ch in text if ch.isprintable() or ch == " ")
        with self._lock:
            if self._path is not None and needed <= self._chars:
                return self._path
            chars = self._chars | needed | frozenset(_BASE_CHARS) | frozenset(PRINT_CSS)
            if self._dir is None:
                self._dir = Path(tempfile.mkdtemp(prefix="fengqiao-font-"))
                atexit.register(shutil.rmtree, self._dir, True)
            digest = hashlib.sha256("".join(sorted(chars)).encode("utf-8")).hexdigest()[:16]
            target = self._dir / f"noto-sans-sc-{digest}.otf"
            if not target.exists():
                target.write_bytes(_subset(font_path(), chars))
            self._chars, self._path = chars, target
            return target


def _subset(path: Path, chars) -> bytes:
    # fontTools is heavy: loaded only when a PDF is made.
    from fontTools import subset
    from fontTools.ttLib import TTFont

    font = TTFont(str(path), fontNumber=sc_face_index(path), lazy=True)
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.hinting = False
    options.desubroutinize = True
    subsetter = subset.Subsetter(options)
    subsetter.populate(text="".join(sorted(chars)))
    try:
        subsetter.subset(font)
        out = io.BytesIO()
        font.save(out)
    finally:
        font.close()
    return out.getvalue()


_CACHE = _SubsetCache()


class _QuietSubsetNotice(logging.Filter):
    """WeasyPrint logs, once per font and document, that it subsets with fontTools because the
    system lacks HarfBuzz-subset; that is expected here (the font arrives pre-cut), so drop it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "instead of HarfBuzz-Subset" not in record.getMessage()


logging.getLogger("weasyprint").addFilter(_QuietSubsetNotice())


def font_face_css(text: str = "") -> str:
    """``@font-face`` for the CJK font, as a file:// URL resolved now (covers ``text``)."""
    url = _CACHE.font_for(text).resolve().as_uri()
    return f'@font-face {{ font-family: "{FONT_FAMILY}"; src: url("{url}"); }}\n'


def html_to_pdf(html: str, target: Path) -> Path:
    """Render ``html`` (the briefing) to ``target`` as A4 PDF with the embedded CJK font; atomically."""
    # WeasyPrint is heavy (Pango, fonts): loaded only when a PDF is made.
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    css = font_face_css(_visible_text(html)) + PRINT_CSS % {"family": FONT_FAMILY}
    document = HTML(string=html, base_url=str(target.parent))
    # Not full_fonts=True: embedding the cut-down CID-keyed font whole garbles the text layer
    # (some characters extract wrongly), while WeasyPrint's own subsetting keeps it exact.
    data = document.write_pdf(stylesheets=[CSS(string=css, font_config=fonts)], font_config=fonts)
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)
    return target


def _visible_text(html: str) -> str:
    """Every character of the HTML (tags included: cheap, and a superset of what is drawn)."""
    return html_lib.unescape(html)
