"""Messages in English and Spanish from one catalog: rendering, fallbacks, completeness."""
from __future__ import annotations

import pytest

from grader.core import labdef
from grader.errors import UsageError
from grader.core.i18n import LANGUAGES, Catalog, Message, check_language, default_language
from toyhelp import TOY


@pytest.fixture
def catalog():
    return TOY.catalog


def test_renders_both_languages_with_parameters(catalog):
    message = Message.of("snap-missing", snapshot="first", domain="toy-vm")
    en, es = catalog.render(message, "en"), catalog.render(message, "es")
    assert en == "There is no snapshot 'first' of toy-vm."
    assert es == "No hay ninguna instantánea 'first' de toy-vm."


def test_host_text_in_a_message_is_made_printable_and_cut(catalog):
    message = Message.of("snap-missing", snapshot="a\x1b[2Jb\u202e", domain="x" * 500)
    text = catalog.render(message, "en")
    assert "\x1b" not in text and "\\x1b[2J" in text and "\\u202e" in text
    assert len(text) < 260 and text.endswith("….")


def test_engine_messages_are_merged_into_each_lab(catalog):
    text = catalog.render(Message.of("domain-not-prepared", name="toy-vm", role="A", lab="toy"), "es")
    assert "se volvió a crear a mano" in text and "`lab start toy`" in text


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


@pytest.mark.parametrize("lab_id", labdef.available())
def test_message_keys_named_by_a_labs_fixtures_exist(lab_id):
    import json
    lab = labdef.load(lab_id)
    for path in (lab.folder / "fixtures").glob("*.json"):
        for wanted in json.loads(path.read_text())["expect"].values():
            for key in wanted["messages"]:
                assert key in lab.catalog.entries, f"{path.name}: {key}"


@pytest.mark.parametrize("env,expected", [
    ({"LAB_LANG": "es"}, "es"), ({"LANG": "es_ES.UTF-8"}, "es"), ({"LC_ALL": "fr_FR.UTF-8"}, "en"), ({}, "en"),
])
def test_default_language_from_the_environment(env, expected):
    assert default_language(env) == expected


def test_unknown_language_is_a_usage_error():
    assert set(LANGUAGES) == {"en", "es"} and check_language("ES") == "es"
    with pytest.raises(UsageError, match="unknown language 'fr': use one of en, es"):
        check_language("fr")
