"""What in an invoice XML lies outside every signature.

A signature vouches only for the bytes its digests cover. Anything else in the file —
a second, unsigned ``DLHDon``, a comment inside a signed total (same-document references
are canonicalised without comments, so ``<TgTTTBSo>1<!---->500</TgTTTBSo>`` verifies),
an element or text between the signed parts — could make a reader show something the
issuer never signed. Allowed outside: whitespace between elements, the ``HDon`` root and
the ``DSCKS`` container with its slots (``NBan``, ``NMua``, ``CCKSKhac``, ``CQT``) as
empty frames with their namespace declarations, and the ``Signature`` elements (each
checked by itself). Everything else is named, with its path, as not signed.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

__all__ = ["MAX_FINDINGS", "uncovered_content"]

DSIG = "{http://www.w3.org/2000/09/xmldsig#}Signature"
_SLOTS = frozenset({"NBan", "NMua", "CCKSKhac", "CQT"})
MAX_FINDINGS = 20


def _local(node: etree._Element) -> str:
    tag: Any = node.tag
    if tag is etree.Comment:
        return "comment()"
    if tag is etree.PI:
        return "processing-instruction()"
    return etree.QName(tag).localname if isinstance(tag, str) else "node()"


def _text(text: str | None, where: str, out: list[str]) -> None:
    if text is not None and text.strip():
        snippet = text.strip()[:40]
        out.append(f"text {snippet!r} in {where}")


def uncovered_content(root: etree._Element, covered: list[etree._Element]) -> list[str]:
    """Paths of the content of the document that no passing Reference covers.

    ``covered`` are the elements whose subtrees the signatures' digests cover (their
    comments excepted: same-document references are canonicalised without them).
    """
    signed = set(covered)
    out: list[str] = []
    for sibling in (*root.itersiblings(preceding=True), *root.itersiblings()):
        out.append(f"{_local(sibling)} outside the root element")
    if root in signed:  # a whole-document reference ("")
        out.extend(
            f"a comment inside {_local(root)}: comments are not signed"
            for _ in root.iter(etree.Comment)
        )
    else:
        _frame(root, _local(root), 0, signed, out)
    if len(out) > MAX_FINDINGS:
        out[MAX_FINDINGS:] = [f"and {len(out) - MAX_FINDINGS} more"]
    return out


def _frame(
    element: etree._Element, path: str, level: int, signed: set[etree._Element], out: list[str]
) -> None:
    """An allowed frame (HDon, DSCKS, a DSCKS slot): its own parts, then its children."""
    for name in element.attrib:
        out.append(f"attribute {etree.QName(name).localname!r} of {path}")
    _text(element.text, path, out)
    seen: dict[str, int] = {}
    for child in element:
        name = _local(child)
        seen[name] = seen.get(name, 0) + 1
        where = f"{path}/{name}" + (f"[{seen[name]}]" if seen[name] > 1 else "")
        if child in signed:
            for comment in child.iter(etree.Comment):
                parent = comment.getparent()
                inside = _local(parent) if parent is not None else _local(child)
                out.append(f"a comment inside {where} (in {inside}): comments are not signed")
        elif child.tag == DSIG:
            pass  # checked as a signature of its own
        elif (level == 0 and name == "DSCKS") or (level == 1 and name in _SLOTS):
            _frame(child, where, level + 1, signed, out)
        else:
            out.append(where)
        _text(child.tail, f"{path} after {where.rpartition('/')[2]}", out)
