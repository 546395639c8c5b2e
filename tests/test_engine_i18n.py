"""Messages in English and Spanish from one catalog: rendering, fallbacks, completeness."""
from __future__ import annotations

import pytest

from grader.core import labdef
from grader.errors import UsageError
from grader.core.i18n import LANGUAGES, Catalog, Message, check_language, default_language


@pytest.fixture
def catalog():
    return labdef.load("lab3").catalog


def test_renders_both_languages_with_parameters(catalog):
    message = Message.of("snapshot-missing", snapshot="clean", domain="lab3-vm")
    en, es = catalog.render(message, "en"), catalog.render(message, "es")
    assert en.startswith("There is no snapshot 'clean' on lab3-vm.")
    assert es.startswith("No hay ninguna instantánea 'clean' en lab3-vm.")


def test_engine_messages_are_merged_into_each_lab(catalog):
    text = catalog.render(Message.of("domain-not-prepared", name="lab3-vm", role="A", lab="lab3"), "es")
    assert "se volvió a crear a mano" in text and "`lab start lab3`" in text


def test_a_missing_key_is_an_error_not_an_empty_message(catalog):
    with pytest.raises(KeyError, match="no message 'nope'"):
        catalog.render(Message.of("nope"), "en")


def test_a_missing_translation_falls_back_to_english():
    catalog = Catalog({"k": {"en": "hello {who}"}})
    assert catalog.render(Message.of("k", who="you"), "es") == "hello you"
    assert catalog.missing_translations() == ["k: es"]


@pytest.mark.parametrize("lab_id", labdef.available())
def test_every_lab_catalog_is_complete(lab_id):
    assert labdef.load(lab_id).catalog.missing_translations() == []


def test_message_keys_used_by_lab3_fixtures_exist(catalog):
    import json
    for path in (labdef.DEFAULT.folder / "lab3" / "fixtures").glob("*.json"):
        for wanted in json.loads(path.read_text())["expect"].values():
            for key in wanted["messages"]:
                assert key in catalog.entries, f"{path.name}: {key}"


@pytest.mark.parametrize("env,expected", [
    ({"LAB_LANG": "es"}, "es"), ({"LANG": "es_ES.UTF-8"}, "es"), ({"LC_ALL": "fr_FR.UTF-8"}, "en"), ({}, "en"),
])
def test_default_language_from_the_environment(monkeypatch, env, expected):
    for var in ("LAB_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(var, raising=False)
    for var, value in env.items():
        monkeypatch.setenv(var, value)
    assert default_language() == expected


def test_unknown_language_is_a_usage_error():
    assert set(LANGUAGES) == {"en", "es"} and check_language("ES") == "es"
    with pytest.raises(UsageError, match="unknown language 'fr': use one of en, es"):
        check_language("fr")
