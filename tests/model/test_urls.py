"""The Url record: it renders no password anywhere but ``secret()``, and keeps the URL exact otherwise."""

from __future__ import annotations

import copy
import json
import logging
import pickle
from dataclasses import asdict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jetpip.model.links import FileLink
from jetpip.model.sources import Source
from jetpip.model.urls import Url, redact_text

SECRET = "https://fleet:s3cret@idx.example:8443/jp6/cu126"


@pytest.mark.parametrize(("text", "shown"), [
    (SECRET, "https://fleet:****@idx.example:8443/jp6/cu126"),
    ("https://user:pa%40ss@host/simple", "https://user:****@host/simple"),
    ("https://token@host/x", "https://****@host/x"),  # a lone user is a token: hidden too
    ("https://user:@host/x", "https://user:****@host/x"),
    ("https://user:p@ss@host/x", "https://user:****@host/x"),  # an unescaped @ in the password
    ("https://host/x?q=a@b", "https://host/x?q=a@b"),  # an @ outside the host part is no credential
    ("https://host/x", "https://host/x"),
    ("file:///srv/wheels/", "file:///srv/wheels/"),
])
def test_every_rendering_hides_the_password(text: str, shown: str) -> None:
    url = Url.parse(text)
    assert str(url) == shown
    assert f"{url}" == shown and "{}".format(url) == shown and "%s" % url == shown  # noqa: UP031, UP032
    assert repr(url) == f"Url({shown!r})"
    assert f"[{url:>60}]" == f"[{shown:>60}]"
    assert url.secret() == text


def test_records_holding_a_url_render_no_password() -> None:
    source = Source("fleet index", "simple", Url.parse(SECRET))
    link = FileLink("a-1.0-py3-none-any.whl", source.project_url("a").join("../../f/a.whl"), source)
    for text in (repr(source), str(source), repr(link), f"{source.url} {source.project_url('torch')}"):
        assert "s3cret" not in text and "fleet:****@" in text


def test_no_serialiser_writes_the_password(caplog: pytest.LogCaptureFixture) -> None:
    url = Url.parse(SECRET)
    with pytest.raises(TypeError):
        json.dumps({"url": url})  # a document must say str(url) or url.without_credentials()
    assert "s3cret" not in json.dumps({"url": url}, default=str)
    with caplog.at_level(logging.INFO):
        logging.getLogger("jetpip.test").info("fetching %s (%r)", url, url)
    assert "s3cret" not in caplog.text
    # asdict copies a record's fields; a Url stays a Url (no dict of its text to dump).
    assert isinstance(asdict(Source("s", "simple", url))["url"], Url)


def test_equality_and_hashing_use_the_full_url() -> None:
    a, b = Url.parse(SECRET), Url.parse(SECRET.replace("s3cret", "other"))
    assert str(a) == str(b) and a != b and hash(a) != hash(b)
    assert a == Url(SECRET) and hash(a) == hash(Url(SECRET)) and len({a, Url(SECRET)}) == 1
    assert a != SECRET  # a Url is not its text
    assert copy.deepcopy(a) == a and pickle.loads(pickle.dumps(a)) == a
    with pytest.raises(AttributeError):
        a._text = "https://elsewhere/"  # type: ignore[misc]


def test_without_credentials_is_what_a_lock_records() -> None:
    url = Url.parse(SECRET)
    assert url.has_credentials and not url.without_credentials().has_credentials
    assert url.without_credentials().secret() == "https://idx.example:8443/jp6/cu126"
    assert str(url.without_credentials()) == "https://idx.example:8443/jp6/cu126"
    plain = Url.parse("https://idx.example/simple/")
    assert plain.without_credentials() is plain


def test_parts_and_new_urls_keep_the_credentials_for_the_transport() -> None:
    url = Url.parse(SECRET)
    assert (url.scheme, url.host, url.port, url.path) == ("https", "idx.example", 8443, "/jp6/cu126")
    assert url.origin == "https://idx.example:8443"
    assert url.child("+simple/torch/").secret() == SECRET + "/+simple/torch/"
    assert Url.parse(SECRET + "/").child("torch/") == url.child("torch/")
    assert url.child("+simple/torch/").join("../../+f/ab/torch.whl").secret() == SECRET + "/+f/ab/torch.whl"
    assert url.join("https://cdn.example/x.whl").secret() == "https://cdn.example/x.whl"
    assert Url("https://h/f/a.whl").appended(".metadata") == Url("https://h/f/a.whl.metadata")


def test_is_under_and_moved_ignore_credentials_and_keep_the_mirrors() -> None:
    original = Url.parse("https://user:pw@pypi.example/jp6/cu126")
    assert original.is_under("https://pypi.example") and original.is_under("https://pypi.example/jp6/")
    assert not original.is_under("https://pypi.example/jp6/cu12")  # a segment, not a string prefix
    assert not original.is_under("https://pypi.example.evil")
    mirror = Url.parse("http://fleet:s3cret@127.0.0.1:9/m/")
    moved = original.moved("https://pypi.example", mirror)
    assert moved.secret() == "http://fleet:s3cret@127.0.0.1:9/m/jp6/cu126"  # the mirror's, not the original's
    with pytest.raises(ValueError, match="not under") as err:
        Url.parse(SECRET).moved("https://other.example", mirror)
    assert "s3cret" not in str(err.value)


@pytest.mark.parametrize("text", ["idx.example/simple", "", "https://", "http://h:port/x", "http://[::1/x",
                                  "simple", "https//idx.example/simple"])
def test_parse_refuses_what_is_no_absolute_url_and_shows_no_password(text: str) -> None:
    with pytest.raises(ValueError):
        Url.parse(text)
    with_secret = text.replace("//", "//me:s3cret@", 1) if "//" in text else f"me:s3cret@{text}"
    with pytest.raises(ValueError) as err:
        Url.parse(with_secret)
    assert "s3cret" not in str(err.value)


def test_a_malformed_url_still_renders_without_its_password() -> None:
    assert str(Url("http://me:s3cret@[::1/x")) == "http://me:****@[::1/x"


def test_redact_text_finds_every_url_in_free_text() -> None:
    text = ("failed: https://me:hunter2@h/simple and http://a:b@c/, then git+https://tok@git.example/r "
            "and mail to a@b.example; http://u:p@ss@h:1 and http://x:y@z")
    assert redact_text(text) == ("failed: https://me:****@h/simple and http://a:****@c/, then "
                                 "git+https://****@git.example/r and mail to a@b.example; "
                                 "http://u:****@h:1 and http://x:****@z")


@given(user=st.text(st.characters(codec="ascii", categories=("L", "N")), min_size=1, max_size=12),
       password=st.text(st.characters(codec="ascii", categories=("L", "N", "P")), min_size=4, max_size=20)
       .filter(lambda p: not set(p) & set("/@#?[]\\")))
def test_no_password_survives_any_rendering(user: str, password: str) -> None:
    text = f"https://{user}:{password}@idx.example/simple/"
    url = Url.parse(text)
    marker = f":{password}@"
    for shown in (str(url), repr(url), f"{url}", redact_text(f"GET {text} failed"), str(url.child("x/"))):
        assert marker not in shown
    assert url.secret() == text
