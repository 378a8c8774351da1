"""masked_body: what of a failed request's body the request log may show."""

from __future__ import annotations

import orjson
import pytest

from gateway.masking import MASK, MAX_BODY_BYTES, TRUNCATED, masked_body


def masked(document: object) -> object:
    return orjson.loads(masked_body(orjson.dumps(document)))


def test_passwords_are_masked_wherever_they_are_and_nothing_else_is():
    body = {
        "userName": "ada@x.test",
        "password": "p1",
        "Operations": [{"op": "add", "value": {"PASSWORD": "p2", "nickName": "ada"}}],
        "urn:x:ext": {"accounts": [{"passwd": 3, "site": "a"}]},
    }
    assert masked(body) == {
        "userName": "ada@x.test",
        "password": MASK,
        "Operations": [{"op": "add", "value": {"PASSWORD": MASK, "nickName": "ada"}}],
        "urn:x:ext": {"accounts": [{"passwd": MASK, "site": "a"}]},
    }


@pytest.mark.parametrize(
    "name", ["clientSecret", "apiToken", "access_token", "credentials", "apiKey", "private_key"]
)
def test_attributes_named_like_secrets_are_masked(name):
    assert masked({name: {"anything": "x"}, "displayName": "G"}) == {name: MASK, "displayName": "G"}


@pytest.mark.parametrize(
    "path", ["password", "Password", "urn:ietf:params:scim:schemas:core:2.0:User:password"]
)
def test_a_patch_of_a_secret_masks_its_value(path):
    operation = {"op": "replace", "path": path, "value": "p3"}
    assert masked({"Operations": [operation]}) == {"Operations": [{**operation, "value": MASK}]}


def test_a_patch_of_anything_else_keeps_its_value():
    operation = {"op": "replace", "path": 'emails[type eq "work"].value', "value": "a@x.test"}
    assert masked({"Operations": [operation]}) == {"Operations": [operation]}


def test_a_body_that_is_not_json_is_shown_unless_it_names_a_secret():
    assert masked_body(b'{"userName": "ada"') == '{"userName": "ada"'
    shown = masked_body(b'{"userName": "ada", "password": "p4"')
    assert "p4" not in shown
    assert "not shown" in shown


def test_long_bodies_are_cut_on_a_character_boundary():
    text = masked_body(orjson.dumps({"displayName": "é" * MAX_BODY_BYTES}))
    assert text.endswith(TRUNCATED)
    kept = text.removesuffix(TRUNCATED).encode()
    assert MAX_BODY_BYTES - 1 <= len(kept) <= MAX_BODY_BYTES


def test_an_empty_body_and_a_deep_one_show_no_secret():
    assert masked_body(b"") == ""
    deep = b'{"a":' * 600 + b'{"password":"p5"}' + b"}" * 600
    assert "p5" not in masked_body(deep)
