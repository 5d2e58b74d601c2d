"""Canonical XML 1.0 and Exclusive XML Canonicalization 1.0 of an element's subtree, in
linear time, for verifying other issuers' signatures; and the size limits checked first.

libxml2's C14N keeps each element's attributes (and namespace nodes) in a sorted linked
list, inserting one at a time from the head: quadratic in the attributes of an element
(an element with 200,000 attributes took over two minutes). Here they are sorted once per
element (``O(n log n)``), the rest is one pass over the subtree. The subset is what an
XMLDSig same-document reference (``""`` or ``#Id``) selects: the element with its
descendants, without comments unless asked, minus one excluded ``Signature`` (the
enveloped transform) without mutating the tree. The signer keeps libxml2's C14N (our own
output is small and known); the tests check both produce the same bytes.

:func:`check_xml_limits` refuses, before any canonicalisation, a tree with more elements,
depth, attributes on one element or namespace declarations than an invoice ever needs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree

from evservice.errors import DocumentError

__all__ = ["MAX_XML_LIMITS", "C14nLimits", "canonicalize", "check_xml_limits"]

XML_NS = "http://www.w3.org/XML/1998/namespace"

_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#xD;"})
_ATTR = str.maketrans(
    {"&": "&amp;", "<": "&lt;", '"': "&quot;", "\t": "&#x9;", "\n": "&#xA;", "\r": "&#xD;"}
)


@dataclass(frozen=True)
class C14nLimits:
    """What a document may hold before we canonicalise it (far above any real invoice)."""

    max_elements: int = 500_000
    max_depth: int = 64
    max_attributes: int = 256  # on one element
    max_namespaces: int = 64  # distinct (prefix, URI) declarations in the document


MAX_XML_LIMITS = C14nLimits()


def check_xml_limits(root: etree._Element, limits: C14nLimits = MAX_XML_LIMITS) -> str | None:
    """None when the tree is within ``limits``, else a sentence saying which one it passes."""
    elements = 0
    depth = 0
    namespaces: set[tuple[str | None, str]] = set()
    previous: dict[str | None, str] | None = None
    for event, element in etree.iterwalk(root, events=("start", "end")):
        if event == "end":
            depth -= 1
            continue
        depth += 1
        elements += 1
        if elements > limits.max_elements:
            return f"the XML has more than {limits.max_elements} elements (limit); not checked"
        if depth > limits.max_depth:
            return f"the XML nests deeper than {limits.max_depth} elements (limit); not checked"
        count = len(element.attrib)
        if count > limits.max_attributes:
            return (
                f"an element <{etree.QName(element).localname}> has {count} attributes "
                f"(limit {limits.max_attributes}); not checked"
            )
        nsmap = element.nsmap
        if nsmap is not previous and nsmap != previous:
            namespaces.update(nsmap.items())
            previous = nsmap
            if len(namespaces) > limits.max_namespaces:
                return (
                    f"the XML declares more than {limits.max_namespaces} namespaces "
                    "(limit); not checked"
                )
    return None


class AmbiguousPrefixError(DocumentError):
    """An attribute's namespace is bound to several prefixes: which one it used is lost."""


@dataclass
class _Run:
    exclusive: bool
    comments: bool
    exclude: etree._Element | None
    inclusive_prefixes: frozenset[str | None]
    out: list[str]


def canonicalize(
    element: etree._Element,
    *,
    exclusive: bool = False,
    with_comments: bool = False,
    exclude: etree._Element | None = None,
    inclusive_prefixes: tuple[str, ...] = (),
) -> bytes:
    """The canonical form of the subtree at ``element`` (C14N 1.0, or exclusive C14N).

    ``exclude`` is left out with its descendants (its tail text stays), as the
    enveloped-signature transform does; when it is ``element`` or one of its
    ancestors, the subset is empty and so is the result. ``inclusive_prefixes`` is
    exclusive C14N's ``InclusiveNamespaces PrefixList`` (``#default`` for the default
    namespace). Raises :class:`AmbiguousPrefixError` when an attribute's prefix cannot
    be told (its namespace bound to two prefixes), :class:`DocumentError` for an entity
    reference node.
    """
    if exclude is not None and (exclude is element or _within(element, exclude)):
        return b""
    prefixes = frozenset(None if p == "#default" else p for p in inclusive_prefixes)
    run = _Run(exclusive, with_comments, exclude, prefixes, [])
    top = element.getparent() is None
    if top:
        _siblings(element, run, preceding=True)
    _element(element, run, {}, apex=True)
    if top:
        _siblings(element, run, preceding=False)
    return "".join(run.out).encode("utf-8")


def _within(element: etree._Element, ancestor: etree._Element) -> bool:
    return any(a is ancestor for a in element.iterancestors())


def _siblings(root: etree._Element, run: _Run, *, preceding: bool) -> None:
    """Comments and PIs outside the document element (a whole-document reference)."""
    nodes = list(root.itersiblings(preceding=preceding))
    if preceding:
        nodes.reverse()
    for node in nodes:
        before = len(run.out)
        _node(node, run)
        if len(run.out) != before:
            run.out.insert(before if not preceding else len(run.out), "\n")


def _node(node: etree._Element, run: _Run) -> None:
    tag: Any = node.tag
    if tag is etree.Comment:
        if run.comments:
            run.out.append(f"<!--{node.text or ''}-->")
    elif tag is etree.PI:
        data = node.text
        target = getattr(node, "target", "")
        run.out.append(f"<?{target} {data}?>" if data else f"<?{target}?>")
    else:
        raise DocumentError("the XML holds an entity reference; invoices never do")


def _attribute_items(element: etree._Element) -> list[tuple[str, str]]:
    """(Clark name, value) of each attribute, in linear time.

    lxml's ``attrib.items()`` looks each value up by name from the first attribute
    (quadratic on an element with many); XPath's ``@*`` reads the attribute nodes in turn.
    """
    attrib = element.attrib
    if len(attrib) <= 16:
        return [(str(k), str(v)) for k, v in attrib.items()]
    return [(str(v.attrname), str(v)) for v in element.xpath("@*")]  # type: ignore[union-attr]


def _attributes(
    element: etree._Element, nsmap: dict[str | None, str], run: _Run, apex: bool
) -> tuple[list[tuple[str, str, str, str]], set[str | None]]:
    """(URI, local name, qualified name, value) of each attribute, and the prefixes used."""
    items: list[tuple[str, str, str, str]] = []
    used: set[str | None] = set()
    by_uri: dict[str, list[str]] | None = None
    for name, value in _attribute_items(element):
        if name[0] != "{":
            items.append(("", name, name, str(value)))
            continue
        uri, _, local = name[1:].partition("}")
        if uri == XML_NS:
            items.append((uri, local, f"xml:{local}", str(value)))
            continue
        if by_uri is None:
            by_uri = {}
            for p, u in nsmap.items():
                if p is not None:
                    by_uri.setdefault(u, []).append(p)
        candidates = by_uri.get(uri, [])
        if len(candidates) != 1:
            raise AmbiguousPrefixError(f"the namespace {uri!r} of an attribute has no one prefix")
        used.add(candidates[0])
        items.append((uri, local, f"{candidates[0]}:{local}", str(value)))
    if apex and not run.exclusive:
        have = {local for uri, local, _, _ in items if uri == XML_NS}
        for ancestor in element.iterancestors():
            for key, inherited in ancestor.attrib.items():
                name = str(key)
                if name.startswith(f"{{{XML_NS}}}"):
                    local = name.partition("}")[2]
                    if local not in have:
                        have.add(local)
                        items.append((XML_NS, local, f"xml:{local}", str(inherited)))
    items.sort(key=lambda item: (item[0], item[1]))
    return items, used


def _element(
    element: etree._Element, run: _Run, rendered: dict[str | None, str], *, apex: bool = False
) -> None:
    """Render one element and its content; ``rendered`` is what output ancestors declared."""
    if not isinstance(element.tag, str):
        _node(element, run)
        return
    nsmap: dict[str | None, str] = dict(element.nsmap)
    attributes, used = _attributes(element, nsmap, run, apex)
    prefix = element.prefix
    declare: list[tuple[str, str]] = []
    if run.exclusive:
        used.add(prefix)
        used.update(p for p in run.inclusive_prefixes if p in nsmap)
        mine = dict(rendered)
        for p in used:
            uri = nsmap.get(p, "") if p is None else nsmap.get(p)
            if uri is None or rendered.get(p, "" if p is None else None) == uri:
                continue
            declare.append(("" if p is None else p, uri))
            mine[p] = uri
    else:
        mine = nsmap
        for p, uri in nsmap.items():
            if rendered.get(p) != uri:
                declare.append(("" if p is None else p, uri))
        if None not in nsmap and rendered.get(None):
            declare.append(("", ""))
    local = etree.QName(element).localname
    qname = f"{prefix}:{local}" if prefix else local
    out = run.out
    out.append(f"<{qname}")
    for p, uri in sorted(declare):
        name = f"xmlns:{p}" if p else "xmlns"
        out.append(f' {name}="{uri.translate(_ATTR)}"')
    for _, _, name, value in attributes:
        out.append(f' {name}="{value.translate(_ATTR)}"')
    out.append(">")
    if element.text:
        out.append(element.text.translate(_TEXT))
    for child in element:
        if child is not run.exclude:
            if isinstance(child.tag, str):
                _element(child, run, mine)
            else:
                _node(child, run)
        if child.tail:
            out.append(child.tail.translate(_TEXT))
    out.append(f"</{qname}>")
