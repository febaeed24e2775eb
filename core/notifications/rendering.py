"""Rendering notices from Jinja2 templates: a subject line, a plain text and an HTML body.

A notice's template ``order_transitioned`` is ``notifications/order_transitioned.jinja2``,
looked up in the site's ``[email] templates_dir`` first, then in every plugin's folders
(``agorakit_template_dirs``, in plugin order), then in the core's own.  It extends
``notifications/_base.jinja2`` and fills the blocks ``subject`` (one line) and ``text``;
``_base`` makes the ``html`` block from the text (escaped, one paragraph per blank-line
separated part) unless the template fills ``html`` itself.

Subject and text are rendered without escaping (they are plain text); the HTML block by a
second environment with autoescaping, over the same folders.  Both are built once per
process and set of folders (:func:`renderer`).
"""

from __future__ import annotations

import functools
import os
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jinja2
import jinja2.nodes
import msgspec
from jinja2.utils import urlize
from markupsafe import Markup, escape

from agorakit.hooks import collect

if TYPE_CHECKING:  # pragma: no cover
    from agorakit.runtime import Runtime

#: the core's own templates (always searched last)
CORE_TEMPLATES = Path(__file__).parent / "templates"


class TemplateMissing(LookupError):
    """A notice names a template that no folder has."""


class Rendered(msgspec.Struct, frozen=True):
    #: one line: the inbox title and the email subject
    subject: str
    #: plain text: the inbox body and the email's text part
    text: str
    #: the line under the email (not in the inbox)
    footer: str
    #: the email's HTML part
    html: str


def paragraphs(text: str) -> Markup:
    """Plain text as HTML: escaped, blank-line separated parts as ``<p>``, line breaks kept."""
    parts = [part.strip() for part in str(text).replace("\r\n", "\n").split("\n\n")]
    # Joined as plain strings of escaped pieces (each line is escaped or linked), then
    # marked safe once: Markup's own join and format escape again and cost half as much more.
    return Markup(
        "\n".join(
            "<p>" + "<br>\n".join(str(_linked(line)) for line in part.split("\n")) + "</p>"
            for part in parts
            if part
        )
    )


#: what urlize turns into a link starts with or contains one of these (in any case);
#: a line with none of them is only escaped (urlize is most of a notice's rendering)
_LINK_MARKS = ("://", "www.", "@", ".com", ".net", ".org", "mailto:")


def _linked(line: str) -> Markup:
    """One line of text, escaped, with its http(s) URLs made into links."""
    lowered = line.lower()
    if not any(mark in lowered for mark in _LINK_MARKS):
        return escape(line)
    return Markup(urlize(line, rel="noopener"))


class Renderer:
    """The site's template folders and the two Jinja2 environments over them."""

    def __init__(self, folders: list[Path]) -> None:
        self.folders = folders
        loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(folder)) for folder in folders])
        options: dict[str, Any] = {"loader": loader, "trim_blocks": True, "lstrip_blocks": True}
        self.text_env = jinja2.Environment(autoescape=False, **options)  # plain text: no escaping
        self.html_env = jinja2.Environment(autoescape=True, **options)
        for env in (self.text_env, self.html_env):
            env.filters["paragraphs"] = paragraphs
        #: each loaded template's blocks along its ``extends`` chain, most derived first, or
        #: None when the chain is not static (see :func:`_static_blocks`)
        self._chains: weakref.WeakKeyDictionary[jinja2.Template, dict[str, list[Any]] | None] = (
            weakref.WeakKeyDictionary()
        )

    def render(self, template: str, variables: dict[str, Any]) -> Rendered:
        """Render a notice's subject, text and HTML; :class:`TemplateMissing` if it has no file."""
        name = f"notifications/{template}.jinja2"
        try:
            text_template = self.text_env.get_template(name)
            html_template = self.html_env.get_template(name)
        except jinja2.TemplateNotFound as exc:
            searched = ", ".join(str(folder) for folder in self.folders)
            message = (
                f"notification template {name!r} not found (missing: {exc.name}); "
                f"searched {searched}. Add the file, or fix the notice's template name"
            )
            raise TemplateMissing(message) from exc
        plain = self._context(text_template, variables)
        subject = " ".join(_block(plain, text_template, "subject").split())
        text = _block(plain, text_template, "text").strip()
        footer = _block(plain, text_template, "footer").strip()
        html = _block(
            self._context(html_template, {**variables, "text_body": text}), html_template, "html"
        ).strip()
        return Rendered(subject=subject[:255], text=text, footer=footer, html=html)

    def _context(self, template: jinja2.Template, variables: dict[str, Any]) -> jinja2.runtime.Context:
        """A context for ``template`` that knows every block along its ``extends`` chain."""
        try:
            blocks = self._chains[template]
        except KeyError:
            blocks = self._chains[template] = _static_blocks(template)
        if blocks is None:
            return _resolved(template, variables)
        context = template.new_context(dict(variables))
        context.blocks = {name: list(functions) for name, functions in blocks.items()}
        return context


def _resolved(template: jinja2.Template, variables: dict[str, Any]) -> jinja2.runtime.Context:
    """A context for ``template`` that knows every block along its ``extends`` chain.

    Running the root render function resolves ``{% extends %}``: afterwards the context
    knows every ancestor's blocks (the child's first).  Once per environment and notice:
    the blocks are then rendered from it.  Only for templates whose chain is not static
    (:func:`_static_blocks`).
    """
    context = template.new_context(dict(variables))
    for _ in template.root_render_func(context):
        pass
    return context


def _static_node(node: jinja2.nodes.Node) -> bool:
    """What a template's top level may hold for its blocks to be known without rendering
    it: blocks, ``extends``, and plain text (no expression, which might call something)."""
    if isinstance(node, jinja2.nodes.Output):
        return all(isinstance(child, jinja2.nodes.TemplateData) for child in node.nodes)
    return isinstance(node, jinja2.nodes.Extends | jinja2.nodes.Block)


def _static_blocks(template: jinja2.Template) -> dict[str, list[Any]] | None:
    """The block functions along ``template``'s ``extends`` chain, most derived first, as
    rendering its root would collect them; None when that needs a render.

    Rendering the root to learn the chain renders every block once more (the HTML one
    with it), about half of a notice's rendering.  The chain is static when each template
    along it holds, at its top level, only blocks, text and at most one ``extends`` of a
    literal name: then nothing outside the blocks sets a variable or picks the parent.
    Anything else (a ``set``, an ``import``, an ``extends`` of a variable or inside an
    ``if``) is rendered as before, by :func:`_resolved`.
    """
    environment = template.environment
    blocks: dict[str, list[Any]] = {}
    seen: set[str | None] = set()
    current: jinja2.Template | None = template
    while current is not None:
        if current.name in seen or environment.loader is None or current.name is None:
            return None
        seen.add(current.name)
        source, _, _ = environment.loader.get_source(environment, current.name)
        body = environment.parse(source, current.name).body
        if not all(_static_node(node) for node in body):
            return None
        extends = [node for node in body if isinstance(node, jinja2.nodes.Extends)]
        parents = [node.template for node in extends if isinstance(node.template, jinja2.nodes.Const)]
        if len(extends) > 1 or len(parents) != len(extends):
            return None
        for name, function in current.blocks.items():
            blocks.setdefault(name, []).append(function)
        current = environment.get_template(parents[0].value, parent=current.name) if parents else None
    return blocks


def _block(context: jinja2.runtime.Context, template: jinja2.Template, block: str) -> str:
    """Render one block, taking the most derived definition along the ``extends`` chain."""
    functions = context.blocks.get(block)
    if not functions:
        message = f"template {template.name!r} has no block {block!r}; extend notifications/_base.jinja2"
        raise jinja2.TemplateError(message)
    return "".join(functions[0](context))


def template_folders(runtime: Runtime) -> list[Path]:
    """Where templates are looked up, in order: the site's folder, plugins', the core's."""
    folders: list[Path] = []
    site_dir = runtime.settings.email.templates_dir
    if site_dir:
        folders.append(Path(site_dir))
    # hooks run the most recently registered plugin first; "plugin order" is registration order
    for impl in reversed(runtime.hooks.implementations("agorakit_template_dirs")):
        folders.extend(Path(folder) for folder in collect([impl.function()]))
    folders.append(CORE_TEMPLATES)
    return folders


def renderer(runtime: Runtime) -> Renderer:
    """The runtime's renderer, found on first use."""
    found = getattr(runtime, "_notifications_renderer", None)
    if found is None:
        folders = tuple(template_folders(runtime))
        found = runtime._notifications_renderer = _renderer_of(folders, os.getcwd())
    return found


@functools.lru_cache(maxsize=8)
def _renderer_of(folders: tuple[Path, ...], cwd: str) -> Renderer:
    """One renderer per set of folders in a process (``cwd``: what a relative one names):
    runtimes over the same folders (the tests', a command's next to the app's) share its
    loaded and compiled templates."""
    return Renderer(list(folders))
