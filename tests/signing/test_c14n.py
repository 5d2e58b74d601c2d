"""Our linear C14N gives libxml2's bytes (the oracle) on random trees, and limits refuse first."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from lxml import etree

from evservice.signing import check_xml_limits
from evservice.signing._c14n import C14nLimits, canonicalize
from evservice.signing._xmldsig import _c14n, _without

EXC = "http://www.w3.org/2001/10/xml-exc-c14n#"
INC = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"

_NAMES = st.sampled_from(["a", "b", "Id", "TgTThue", "z9", "x-y", "đ"])
_URIS = st.sampled_from(["urn:a", "urn:b", "http://www.w3.org/2000/09/xmldsig#"])
_TEXT = st.text(alphabet=st.sampled_from(list("ab <>&\"'\t\n\r\u00e9đ]")), max_size=8).map(
    lambda t: t.replace("\r", "\n")
)


@st.composite
def trees(draw: st.DrawFn, depth: int = 0) -> etree._Element:
    prefix = draw(st.sampled_from([None, "p", "q"]))
    uri = draw(_URIS) if draw(st.booleans()) else None
    nsmap = {prefix: uri} if uri is not None else None
    if prefix is not None and uri is None:
        prefix = None
    tag = f"{{{uri}}}{draw(_NAMES)}" if uri is not None else draw(_NAMES)
    element = etree.Element(tag, nsmap=nsmap)  # type: ignore[arg-type]
    for name in draw(st.lists(_NAMES, max_size=4, unique=True)):
        element.set(name, draw(_TEXT))
    if draw(st.booleans()):
        element.set("{http://www.w3.org/XML/1998/namespace}lang", "vi")
    if uri is not None and prefix is not None and draw(st.booleans()):
        element.set(f"{{{uri}}}attr", draw(_TEXT))
    element.text = draw(_TEXT) or None
    if depth < 3:
        for _ in range(draw(st.integers(0, 3))):
            kind = draw(st.sampled_from(["element", "element", "comment", "pi"]))
            if kind == "element":
                child = draw(trees(depth + 1))
            elif kind == "comment":
                child = etree.Comment(draw(_TEXT).replace("-", "") or "c")
            else:
                child = etree.ProcessingInstruction("pi", draw(_TEXT).replace("?", "") or None)
            child.tail = draw(_TEXT) or None
            element.append(child)
    return element


def _algorithm(exclusive: bool, comments: bool) -> str:
    if exclusive:
        return EXC + ("WithComments" if comments else "")
    return INC + ("#WithComments" if comments else "")


def _reparsed(root: etree._Element) -> etree._Element:
    """Through bytes, as verification sees documents (namespaces declared where they are)."""
    return etree.fromstring(etree.tostring(root, encoding="UTF-8"))


@settings(max_examples=150, deadline=None)
@given(tree=trees(), exclusive=st.booleans(), comments=st.booleans(), pick=st.integers(0, 50))
def test_canonical_bytes_equal_libxml2s(
    tree: etree._Element, exclusive: bool, comments: bool, pick: int
) -> None:
    root = _reparsed(tree)
    elements = [e for e in root.iter() if isinstance(e.tag, str)]
    element = elements[pick % len(elements)]
    uris = list(element.nsmap.values())
    # the oracle's copy under a new root cannot keep a prefix when two name one URI
    assume(len(uris) == len(set(uris)))
    algorithm = _algorithm(exclusive, comments)
    expected = _c14n(element, algorithm)
    assert canonicalize(element, exclusive=exclusive, with_comments=comments) == expected


@settings(max_examples=60, deadline=None)
@given(tree=trees(), pick=st.integers(0, 50), drop=st.integers(0, 50))
def test_excluding_a_subtree_equals_removing_it(tree: etree._Element, pick: int, drop: int) -> None:
    root = _reparsed(tree)
    elements = [e for e in root.iter() if isinstance(e.tag, str)]
    element = elements[pick % len(elements)]
    victim = elements[drop % len(elements)]
    uris = list(element.nsmap.values())
    # As above: with two prefixes naming one URI the excluded form can pick the other
    # prefix (a known gap, noted in the README; it only ever makes a digest fail).
    assume(len(uris) == len(set(uris)))
    ours = canonicalize(element, exclude=victim)
    if victim is element or victim in element.iterancestors():
        assert ours == b""
        return
    if victim.getparent() is None:
        return
    with _without(victim):
        assert ours == _c14n(element)


def test_a_whole_document_keeps_its_outer_processing_instructions() -> None:
    root = etree.fromstring(b'<?a x?><!--c--><r b="1" a="2"><s/></r><?z?>').getroottree()
    top = root.getroot()
    expected = etree.tostring(root, method="c14n", with_comments=False)
    assert canonicalize(top) == expected


def test_a_prefix_that_shares_its_uri_with_the_default_stays_as_written() -> None:
    root = etree.fromstring(b'<r xmlns="urn:a" xmlns:p="urn:a"><a p:x="1"/><p:b/></r>')
    assert canonicalize(root[0]) == b'<a xmlns="urn:a" xmlns:p="urn:a" p:x="1"></a>'
    assert canonicalize(root[1]) == b'<p:b xmlns="urn:a" xmlns:p="urn:a"></p:b>'
    assert canonicalize(root[1], exclusive=True) == b'<p:b xmlns:p="urn:a"></p:b>'


def test_many_attributes_are_canonicalised_in_sorted_order() -> None:
    attrs = " ".join(f'a{i}="v"' for i in reversed(range(5000)))
    root = etree.fromstring(f"<r><e {attrs}/></r>".encode())
    assert canonicalize(root[0]) == _c14n(root[0])


@pytest.mark.parametrize(
    ("xml", "limits", "words"),
    [
        (b"<r>" + b"<e/>" * 11 + b"</r>", C14nLimits(max_elements=10), "more than 10 elements"),
        (b"<a>" * 9 + b"</a>" * 9, C14nLimits(max_depth=8), "deeper than 8"),
        (b'<r a="1" b="2" c="3"/>', C14nLimits(max_attributes=2), "3 attributes"),
        (
            b'<r xmlns:a="urn:a" xmlns:b="urn:b"><s xmlns:c="urn:c"/></r>',
            C14nLimits(max_namespaces=2),
            "more than 2 namespaces",
        ),
    ],
)
def test_limits_refuse_before_canonicalisation(xml: bytes, limits: C14nLimits, words: str) -> None:
    finding = check_xml_limits(etree.fromstring(xml), limits)
    assert finding is not None
    assert words in finding
    assert check_xml_limits(etree.fromstring(xml)) is None
