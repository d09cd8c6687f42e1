"""Hardened XML parsing (utilhub.platform.xml): hostile documents are refused with a 4xx
problem, never a crash, and nothing from a file, an entity or the network ends up in the
answer. XSD validation answers 422 listing what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lxml import etree

from utilhub.platform import xml as hub_xml
from utilhub.platform.problems import Problem
from utilhub.platform.xml import parse_untrusted, validate

MAX_BYTES = 64 * 1024
MAX_DEPTH = 8

# What would show up in an answer if /etc/passwd or an expanded entity leaked into it.
PASSWD_MARKER = "root:"
LAUGH = "lol"

CCB_NS = "urn:utilhub:ccb:sync-request:v1"


def parse(body: bytes, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> etree._Element:
    return parse_untrusted(body, max_bytes=max_bytes, max_depth=max_depth)


def refusal(body: bytes, **limits: int) -> Problem:
    """The problem ``parse_untrusted`` raises for ``body`` (fails the test if it parses)."""
    with pytest.raises(Problem) as caught:
        parse(body, **limits)
    return caught.value


def answer_text(problem: Problem) -> str:
    """Everything the client would read: the problem details as JSON."""
    return json.dumps(problem.as_dict())


class ResolverSpy(etree.Resolver):
    """Records every URL the parser asks to load, and hands back nothing instead."""

    def __init__(self) -> None:
        super().__init__()
        self.requested: list[str] = []

    def resolve(self, system_url: str, public_id: str, context: object) -> object:  # type: ignore[override]  # stubs lag lxml
        self.requested.append(system_url)
        return self.resolve_string("", context)  # type: ignore[call-arg]


@pytest.fixture
def resolver_spy(monkeypatch: pytest.MonkeyPatch) -> ResolverSpy:
    """Every parser the hardened module builds gets the spy, on top of its own options."""
    spy = ResolverSpy()
    build_parser = hub_xml._parser

    def parser_with_spy() -> etree.XMLParser:
        parser = build_parser()
        parser.resolvers.add(spy)
        return parser

    monkeypatch.setattr(hub_xml, "_parser", parser_with_spy)
    return spy


# --- a normal document ---------------------------------------------------------------


def test_well_formed_document_without_doctype_parses() -> None:
    # Given a plain, namespaced document with a comment and an accented character
    body = '<?xml version="1.0" encoding="UTF-8"?><r xmlns="urn:x"><!-- note --><a>Zoë</a><b n="1"/></r>'.encode()

    # When it is parsed
    root = parse(body)

    # Then the elements and text are there
    assert etree.QName(root).localname == "r"
    assert root.findtext("{urn:x}a") == "Zoë"
    assert root.xpath("string(x:b/@n)", namespaces={"x": "urn:x"}) == "1"


# --- DTDs and entities -----------------------------------------------------------------


def test_external_entity_to_local_file_is_refused_without_reading_it() -> None:
    # Given a classic XXE: an external entity pointing at /etc/passwd, used in the body
    body = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'

    # When it is parsed
    problem = refusal(body)

    # Then it is a 400 and the file's content is nowhere in the answer
    assert problem.status == 400
    assert PASSWD_MARKER not in answer_text(problem)


def test_entity_expansion_bomb_is_refused_without_expanding() -> None:
    # Given a "billion laughs" document: nested internal entities that expand exponentially
    levels = ['<!ENTITY l0 "lol">'] + [f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10)]
    body = f'<?xml version="1.0"?><!DOCTYPE r [{"".join(levels)}]><r>&l9;</r>'.encode()

    # When it is parsed
    problem = refusal(body)

    # Then it is a 400 (libxml2's amplification guard or the DOCTYPE rule, whichever trips
    # first) and no expansion is in the answer
    assert problem.status == 400
    assert LAUGH not in answer_text(problem)


def test_external_dtd_over_http_is_refused_without_network() -> None:
    # Given a document whose DOCTYPE names an external DTD on a web server
    body = b'<?xml version="1.0"?><!DOCTYPE r SYSTEM "http://attacker.invalid/evil.dtd"><r>&e;</r>'

    # When it is parsed
    problem = refusal(body)

    # Then it is a 400 and nothing the DTD could have defined is in the answer
    assert problem.status == 400
    assert PASSWD_MARKER not in answer_text(problem)


def test_parameter_entity_to_local_file_is_refused_without_leaking_it() -> None:
    # Given a parameter entity that pulls /etc/passwd into the internal subset
    body = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]><r/>'

    # When it is parsed
    problem = refusal(body)

    # Then it is a 400 and the file's content is nowhere in the answer
    assert problem.status == 400
    assert PASSWD_MARKER not in answer_text(problem)


def test_internal_parameter_entity_declaring_an_entity_is_refused() -> None:
    # Given a parameter entity that declares a general entity, then used in the body
    body = b"""<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p "<!ENTITY secret 'lol-secret'>"> %p;]><r>&secret;</r>"""

    # When it is parsed
    problem = refusal(body)

    # Then it is a 400, refused for its DOCTYPE, and the entity's value is not in the answer
    assert problem.status == 400
    assert "DOCTYPE" in problem.detail
    assert LAUGH not in answer_text(problem)


def test_external_dtd_on_local_disk_is_never_opened(resolver_spy: ResolverSpy, tmp_path: Path) -> None:
    # Given a document whose DOCTYPE names a DTD file on the local disk
    dtd = tmp_path / "evil.dtd"
    dtd.write_text('<!ENTITY e "lol-from-disk">')
    body = f'<?xml version="1.0"?><!DOCTYPE r SYSTEM "{dtd.as_uri()}"><r>&e;</r>'.encode()

    # When it is parsed
    problem = refusal(body)

    # Then it is a 400, and the parser never even asked for the file
    assert problem.status == 400
    assert LAUGH not in answer_text(problem)
    assert resolver_spy.requested == []


def test_external_parameter_entity_on_local_disk_is_never_opened(resolver_spy: ResolverSpy, tmp_path: Path) -> None:
    # Given a parameter entity naming a file on the local disk (think /dev/zero or /etc/passwd)
    target = tmp_path / "endless"
    target.write_text("lol, not a DTD")
    body = f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY % p SYSTEM "{target.as_uri()}"> %p;]><r/>'.encode()

    # When it is parsed
    problem = refusal(body)

    # Then it is a 400, and the parser never even asked for the file
    assert problem.status == 400
    assert LAUGH not in answer_text(problem)
    assert resolver_spy.requested == []


def test_bare_doctype_without_declarations_is_refused() -> None:
    # Given a harmless-looking document whose only oddity is a DOCTYPE with no declarations
    body = b'<?xml version="1.0"?><!DOCTYPE r><r>fine</r>'

    # When it is parsed
    problem = refusal(body)

    # Then any DOCTYPE at all is a 400 naming the reason
    assert problem.status == 400
    assert "DOCTYPE" in problem.detail
    assert PASSWD_MARKER not in answer_text(problem)


def test_utf16_document_with_doctype_is_refused() -> None:
    # Given an XXE attempt encoded in UTF-16 (with BOM), to slip past byte-level checks
    text = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>'
    body = text.encode("utf-16")

    # When it is parsed
    problem = refusal(body)

    # Then it is refused just the same
    assert problem.status == 400
    assert "DOCTYPE" in problem.detail
    assert PASSWD_MARKER not in answer_text(problem)


# --- size, depth and shape ---------------------------------------------------------------


def test_body_over_the_size_limit_is_413() -> None:
    # Given a body one byte over the limit
    limit = 1024
    body = b"<r>" + b"x" * (limit - len(b"<r></r>") + 1) + b"</r>"
    assert len(body) == limit + 1

    # When it is parsed
    problem = refusal(body, max_bytes=limit)

    # Then it is refused as too large, before any parsing
    assert problem.status == 413
    assert problem.as_dict()["type"].endswith("/payload-too-large")
    assert "x" * 100 not in answer_text(problem)


def test_body_exactly_at_the_size_limit_parses() -> None:
    # Given a body of exactly the limit
    limit = 1024
    body = b"<r>" + b"x" * (limit - len(b"<r></r>")) + b"</r>"
    assert len(body) == limit

    # When it is parsed, Then it is accepted
    assert parse(body, max_bytes=limit).tag == "r"


def test_nesting_deeper_than_max_depth_is_400() -> None:
    # Given elements nested one level deeper than allowed
    depth = MAX_DEPTH + 1
    body = b"<a>" * depth + b"</a>" * depth

    # When it is parsed
    problem = refusal(body)

    # Then it is a 400 naming the limit
    assert problem.status == 400
    assert str(MAX_DEPTH) in problem.detail


def test_nesting_exactly_max_depth_parses() -> None:
    # Given elements nested exactly as deep as allowed (the root counts as level 1)
    body = b"<a>" * MAX_DEPTH + b"</a>" * MAX_DEPTH

    # When it is parsed, Then it is accepted
    assert parse(body).tag == "a"


def test_extremely_deep_nesting_is_400_not_a_crash() -> None:
    # Given nesting far beyond any limit (libxml2's own guard trips first)
    body = b"<a>" * 5000 + b"</a>" * 5000

    # When it is parsed
    problem = refusal(body)

    # Then it is still a 400
    assert problem.status == 400


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"<r><a></r>", id="mismatched-tags"),
        pytest.param(b"<r>", id="unclosed-root"),
        pytest.param(b"just text", id="not-xml"),
        pytest.param(b"<r>&undeclared;</r>", id="undeclared-entity"),
        pytest.param(b"<!DOCTYPE r>", id="doctype-without-root"),
        pytest.param(b"\xff\xfe\x00garbage", id="broken-encoding"),
    ],
)
def test_malformed_xml_is_400(body: bytes) -> None:
    # Given a document that is not well-formed
    # When it is parsed
    problem = refusal(body)

    # Then it is a 400 saying so, never a 5xx
    assert problem.status == 400
    assert PASSWD_MARKER not in answer_text(problem)


@pytest.mark.parametrize("body", [b"", b"   \r\n\t "], ids=["empty", "whitespace-only"])
def test_empty_body_is_400(body: bytes) -> None:
    # Given an empty body
    # When it is parsed
    problem = refusal(body)

    # Then it is a 400 saying the document is empty
    assert problem.status == 400
    assert "empty" in problem.detail


# --- XSD validation ------------------------------------------------------------------------


def test_document_violating_the_xsd_is_422_listing_each_violation() -> None:
    # Given a well-formed CCB sync request with a bad id, a bad timestamp and no person name
    body = f"""<SyncRequest xmlns="{CCB_NS}">
      <SyncRequestId>has spaces</SyncRequestId>
      <EntityType>PERSON</EntityType>
      <EntityId>P-1</EntityId>
      <ChangedAt>yesterday</ChangedAt>
      <Person/>
    </SyncRequest>""".encode()
    root = parse(body)

    # When it is validated against the CCB schema
    with pytest.raises(Problem) as caught:
        validate(root, "ccb/sync-request.xsd")

    # Then it is a 422 with one error per violation, each with a pointer and a detail
    problem = caught.value
    assert problem.status == 422
    assert len(problem.errors) == 3
    assert all(error.pointer and error.detail for error in problem.errors)
    details = " ".join(error.detail for error in problem.errors)
    assert "SyncRequestId" in details
    assert "ChangedAt" in details
    assert "Person" in details


def test_document_conforming_to_the_xsd_validates() -> None:
    # Given a minimal valid CCB sync request
    body = f"""<SyncRequest xmlns="{CCB_NS}"><SyncRequestId>sr-1</SyncRequestId><EntityType>PERSON</EntityType>
      <EntityId>P-1</EntityId><ChangedAt>2024-05-01T10:00:00Z</ChangedAt><Person><Name>Ada</Name></Person></SyncRequest>""".encode()

    # When it is validated, Then nothing is raised
    validate(parse(body), "ccb/sync-request.xsd")
