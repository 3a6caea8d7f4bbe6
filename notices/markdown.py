"""Notice bodies are Markdown: rendered by markdown-it-py (raw HTML off) and sanitised by nh3 (an allow-list)."""

from __future__ import annotations

import html

import nh3
from markdown_it import MarkdownIt

#: CommonMark with tables and strikethrough; raw HTML in the source is shown as text, never passed through.
_renderer = MarkdownIt("commonmark", {"html": False, "linkify": False, "breaks": True}).enable(
    ["table", "strikethrough"]
)

TAGS = {
    "p", "br", "hr", "strong", "em", "del", "s", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "img", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ATTRIBUTES = {"a": {"href", "title"}, "img": {"src", "alt", "title"}, "ol": {"start"}, "th": {"style"}, "td": {"style"}}


def render(source: str) -> str:
    """Safe HTML for a Markdown body: no scripts, event handlers, styles beyond alignment, or unsafe URL schemes.

    markdown-it already refuses raw HTML and ``javascript:`` links; nh3 is the second wall, and the only one that
    holds if the renderer's options change.
    """
    html = _renderer.render(source or "")
    return nh3.clean(
        html,
        tags=TAGS,
        attributes=ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "tel"},
        link_rel="noopener noreferrer nofollow",
        filter_style_properties={"text-align"},
    )


def summary(source: str, length: int = 140) -> str:
    """Plain text of the first ``length`` characters (for the inbox and the feed), markup stripped."""
    text = html.unescape(nh3.clean(_renderer.render(source or ""), tags=set()))
    text = " ".join(text.split())
    return text if len(text) <= length else text[: length - 1] + "…"
