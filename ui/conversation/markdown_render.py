"""Markdown -> HTML that Qt's rich text (QTextBrowser, QLabel) draws well.

Uses the `markdown` package with fenced code and tables. Fenced code blocks
are coloured with Pygments when it is installed (inline styles: Qt's rich
text has no class selectors) and always sit on a tinted, padded block: a
one-cell table, since Qt ignores padding and background on <div>/<pre>.
"""

from __future__ import annotations

import functools
import html
import importlib
import re
from collections.abc import Callable
from types import SimpleNamespace

# markdown and Pygments are imported on first use (~60 ms at start-up otherwise).


@functools.cache
def _pygments() -> SimpleNamespace | None:
    """Pygments' pieces, or None: it is optional (code blocks are then monospace on a tint)."""
    try:
        from pygments import highlight  # noqa: PLC0415
        from pygments.formatters import HtmlFormatter  # noqa: PLC0415
        from pygments.lexers import get_lexer_by_name  # noqa: PLC0415
        from pygments.styles import get_style_by_name  # noqa: PLC0415
        from pygments.util import ClassNotFound  # noqa: PLC0415
    except ImportError:  # pragma: no cover - exercised only without pygments
        return None
    return SimpleNamespace(highlight=highlight, HtmlFormatter=HtmlFormatter,
                           get_lexer_by_name=get_lexer_by_name,
                           get_style_by_name=get_style_by_name, ClassNotFound=ClassNotFound)

LIGHT_STYLE = "friendly"
DARK_STYLE = "github-dark"
_CODE_BLOCK = re.compile(r'<pre><code(?: class="language-([\w+#.-]+)")?>(.*?)</code></pre>', re.S)
EXTENSIONS = ["fenced_code", "tables", "sane_lists"]


def has_highlighting() -> bool:
    return _pygments() is not None


def code_background(dark: bool) -> str:
    pyg = _pygments()
    if pyg is not None:
        try:
            colour = pyg.get_style_by_name(DARK_STYLE if dark else LIGHT_STYLE).background_color
        except pyg.ClassNotFound:  # pragma: no cover
            colour = None
        if colour:
            return str(colour)
    return "#1f2428" if dark else "#f3f4f6"


def highlight_code(code: str, language: str | None, dark: bool) -> str:
    """HTML (inline styles, no wrapper) for a code block's text.

    Only blocks that name their language are coloured: guessing is slow and
    often wrong on prose-like text.
    """
    pyg = _pygments() if language else None
    if pyg is None:
        return html.escape(code)
    try:
        lexer = pyg.get_lexer_by_name(language)
    except pyg.ClassNotFound:
        return html.escape(code)
    formatter = pyg.HtmlFormatter(nowrap=True, noclasses=True, style=DARK_STYLE if dark else LIGHT_STYLE)
    return pyg.highlight(code, lexer, formatter).rstrip("\n")


def code_block_html(code: str, language: str | None, dark: bool) -> str:
    body = highlight_code(code.rstrip("\n"), language, dark)
    foreground = "#e6edf3" if dark else "#1f2328"
    border = "#3d444d" if dark else "#d8dee4"
    # Qt paints a cell's bgcolor but not a collapsed table's, and a <pre>'s not at all.
    return (
        f'<table width="100%" border="1" cellspacing="0" cellpadding="10" '
        f'style="border-collapse:collapse; border-style:solid; border-color:{border};'
        f' margin-top:6px; margin-bottom:10px;">'
        f'<tr><td bgcolor="{code_background(dark)}" style="padding:10px;">'
        f'<pre style="margin:0; color:{foreground}">{body}</pre></td></tr></table>'
    )


def render_markdown(text: str, dark: bool = False) -> str:
    """Markdown to an HTML fragment with highlighted code blocks (each in a <pre>)."""
    import markdown  # noqa: PLC0415

    body = markdown.markdown(text, extensions=EXTENSIONS, output_format="html")
    body = body.replace("<table>", '<table border="1" cellspacing="0" cellpadding="5" '
                        'style="border-collapse:collapse; margin-top:4px; margin-bottom:10px;">')

    def replace(match: re.Match[str]) -> str:
        code = html.unescape(match.group(2))
        return code_block_html(code, match.group(1), dark)

    return _CODE_BLOCK.sub(replace, body)


def _import_markdown() -> None:
    importlib.import_module("markdown")


def _find_extensions() -> None:
    importlib.import_module("markdown").util.get_installed_extensions()  # scans every package


def _import_extensions() -> None:
    for name in EXTENSIONS:
        importlib.import_module(f"markdown.extensions.{name}")
    _pygments()


WARM_UP: tuple[Callable[[], object], ...] = (
    _import_markdown, _find_extensions, _import_extensions,
    lambda: render_markdown("```text\nwarm\n```"),
)
"""The first render's one-off work (~0.1 s), in pieces of < 50 ms: a caller can
run one per event-loop turn ahead of time instead of stalling the window later."""


def document_css(dark: bool) -> str:
    """A default style sheet for QTextDocument, matching render_markdown()."""
    inline_bg = "#2d333b" if dark else "#eef0f3"
    rule = "#444c56" if dark else "#d0d7de"
    return (
        f"code {{ background-color: {inline_bg}; font-family: monospace; }}"
        " pre { font-family: monospace; }"
        " h1 { font-size: x-large; margin-top: 6px; margin-bottom: 8px; }"
        " h2 { font-size: large; margin-top: 14px; margin-bottom: 6px; }"
        " h3 { font-size: medium; margin-top: 12px; margin-bottom: 4px; }"
        " p { margin-top: 4px; margin-bottom: 8px; }"
        f" th {{ background-color: {inline_bg}; padding: 4px 8px; }}"
        " td { padding: 4px 8px; }"
        f" table {{ border-color: {rule}; }}"
        f" blockquote {{ color: gray; margin-left: 12px; }}"
    )
