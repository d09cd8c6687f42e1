"""Hardened XML: parse untrusted messages safely and validate them against the library's XSDs.

The parser never loads a DTD, never resolves an entity, never touches the network,
and refuses documents that carry a DOCTYPE at all (XXE, billion laughs and external DTDs
are refused before any business code sees the document). Size is checked before parsing
and depth after, both from :class:`~utilhub.platform.settings.Settings`.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import resources
from typing import Any

from lxml import etree

from utilhub.platform.problems import FieldError, Problem, bad_request, invalid
from utilhub.platform.reasons import xsd_rule

SCHEMA_PACKAGE = "utilhub.schemas"


def _parser() -> etree.XMLParser:
    # A parser is not thread-safe; a new one is cheap.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


def parse_untrusted(body: bytes, *, max_bytes: int, max_depth: int) -> etree._Element:
    """Parse ``body`` or raise a 4xx :class:`Problem` saying why it was refused."""
    if len(body) > max_bytes:
        raise Problem(413, "Payload too large", f"The XML document exceeds {max_bytes} bytes.", "payload-too-large")
    if not body.strip():
        raise bad_request("The XML document is empty.")
    if _declares_doctype(body):
        # Refused before libxml2 sees it: no DTD, internal or external, is ever read.
        raise bad_request("XML documents with a DOCTYPE are refused (DTDs and entities are not accepted).")
    try:
        root = etree.fromstring(body, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise bad_request(f"The XML document is not well-formed: {exc.msg}") from None
    docinfo: Any = root.getroottree().docinfo  # the stubs lack DocInfo.doctype
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise bad_request("XML documents with a DOCTYPE are refused (DTDs and entities are not accepted).")
    depth = 0
    for event, element in etree.iterwalk(root, events=("start", "end")):
        if isinstance(element, etree._Entity):
            raise bad_request("XML entity references are refused.")
        depth += 1 if event == "start" else -1
        if depth > max_depth:
            raise bad_request(f"The XML document is nested deeper than {max_depth} levels.")
    return root


def _declares_doctype(body: bytes) -> bool:
    if body[:2] in (b"\xff\xfe", b"\xfe\xff") or body[:4] in (b"\x00<\x00?", b"<\x00?\x00"):
        encoding = "utf-16-le" if body[:2] == b"\xff\xfe" or body[:1] == b"<" else "utf-16-be"
        text = body.decode(encoding, errors="ignore").upper()
        return "<!DOCTYPE" in text or "<!ENTITY" in text
    upper = body.upper()
    return b"<!DOCTYPE" in upper or b"<!ENTITY" in upper


@cache
def load_schema(relative_path: str) -> etree.XMLSchema:
    """The XSD shipped in ``utilhub/schemas/<relative_path>``, compiled once per process."""
    path = resources.files(SCHEMA_PACKAGE).joinpath(relative_path)
    with resources.as_file(path) as file_path:
        doc = etree.parse(str(file_path), parser=_parser())
        return etree.XMLSchema(doc)


def validate(root: etree._Element, relative_path: str) -> None:
    """Raise a 422 :class:`Problem` listing every XSD violation of ``root``."""
    schema = load_schema(relative_path)
    if schema.validate(root):
        return
    errors = [FieldError(pointer=f"line {e.line}", detail=_clean(e.message)) for e in schema.error_log]  # type: ignore[attr-defined]
    raise invalid(f"The XML document does not conform to {relative_path}.", errors)


def _clean(message: str) -> str:
    # lxml writes element names as {namespace}Name; the local name is what a sender recognises. The value is left out.
    return xsd_rule(re.sub(r"\{[^}]*\}", "", message))


def text(element: etree._Element, path: str, namespaces: dict[str, str]) -> str | None:
    """Stripped text of the first element at ``path``, or None when absent or empty."""
    found = element.find(path, namespaces)
    if found is None or found.text is None:
        return None
    value = found.text.strip()
    return value or None


def to_bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")
