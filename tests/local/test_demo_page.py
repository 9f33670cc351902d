"""The demo page's markup: the contract's fields, the honeypot, and the hooks the drop-in client uses.

The client itself (``contact_sdk/client/contact-form.js``) is tested under Node in
``test_contact_form_js.py`` and in Chromium in ``test_demo_page_browser.py``.
"""

from __future__ import annotations

from html.parser import HTMLParser

from contact_sdk.devtools.local.page_server import page_asset


class _Inputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inputs: dict[str, dict[str, str | None]] = {}
        self.classes: list[str] = []
        self.scripts: list[str] = []
        self.error_slots: dict[str, dict[str, str | None]] = {}
        self.status: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag in ("input", "textarea") and attributes.get("name"):
            self.inputs[str(attributes["name"])] = attributes
        if attributes.get("class"):
            self.classes.append(str(attributes["class"]))
        if tag == "script":
            self.scripts.append(str(attributes.get("src")))
        if attributes.get("data-error-for"):
            self.error_slots[str(attributes["data-error-for"])] = attributes
        if "data-contact-status" in attributes:
            self.status.append(attributes)


def _page_inputs() -> _Inputs:
    parser = _Inputs()
    parser.feed(page_asset("index.html").decode("utf-8"))
    return parser


def test_form_has_every_contract_field() -> None:
    """name, email, subject, message, consent (a checkbox) and the honeypot; the client adds ``formStartedAt``."""
    inputs = _page_inputs().inputs
    assert set(inputs) == {"name", "email", "subject", "message", "consent", "website"}
    assert inputs["consent"]["type"] == "checkbox"
    assert inputs["email"]["type"] == "email"
    assert inputs["name"]["maxlength"] == "100"
    assert inputs["message"]["minlength"] == "10"
    assert inputs["message"]["maxlength"] == "5000"


def test_honeypot_is_hidden_from_people_and_skipped_by_keyboards() -> None:
    """The ``website`` field is out of tab order, never autofilled, inside an aria-hidden off-screen box."""
    parser = _page_inputs()
    website = parser.inputs["website"]
    assert website["tabindex"] == "-1"
    assert website["autocomplete"] == "off"
    assert "hp" in parser.classes
    assert ".hp { position: absolute; left: -10000px" in page_asset("contact.css").decode("utf-8")


def test_the_page_runs_the_drop_in_client_like_a_site_would() -> None:
    """``/contact-form.js`` is loaded before the page's own glue; every field has its error slot, tied by
    ``aria-describedby``; one live region (``role=status``) takes the announcements."""
    parser = _page_inputs()
    assert parser.scripts == ["/contact-form.js", "/contact.js"]
    for field in ("name", "email", "subject", "message", "consent"):
        slot = parser.error_slots[field]
        assert slot["id"] == f"{field}-error"
        assert slot["id"] in str(parser.inputs[field]["aria-describedby"]).split()
        assert "role" not in slot, "one live region, not one alert per field"
    assert len(parser.status) == 1
    assert parser.status[0]["role"] == "status"
    assert parser.status[0]["aria-live"] == "polite"
