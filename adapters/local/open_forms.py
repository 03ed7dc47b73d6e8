"""The forms open on playground pages, each by the token the page sends back with it."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace

from bot.model import Form, Origin


@dataclass(frozen=True)
class OpenForm:
    token: str
    form: Form
    origin: Origin
    page: str = ""  # the page that showed it first; any other page (a reload) drops it


class OpenForms:
    def __init__(self) -> None:
        self._forms: dict[str, OpenForm] = {}

    def open(self, form: Form, origin: Origin) -> str:
        token = secrets.token_urlsafe(12)
        self._forms[token] = OpenForm(token, form, origin)
        return token

    def get(self, token: str) -> OpenForm | None:
        return self._forms.get(token)

    def close(self, token: str) -> None:
        self._forms.pop(token, None)

    def on_page(self, persona_id: str, page: str) -> list[OpenForm]:
        """The persona's open forms for this page. A form belongs to the first page that
        shows it; another page (a reload, the next visit) means it was abandoned."""
        shown = []
        for form in list(self._forms.values()):
            if form.origin.user.id != persona_id:
                continue
            if form.page and page and form.page != page:
                del self._forms[form.token]
                continue
            if page and not form.page:
                form = self._forms[form.token] = replace(form, page=page)
            shown.append(form)
        return shown
