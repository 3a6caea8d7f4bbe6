"""Every operation of the document belongs to one fuzzed area: a new prefix cannot slip past the fuzz tests."""

from tests.fuzz.common import area_of


def test_every_path_is_fuzzed(client):
    paths = client.get("/openapi.json").json["paths"]
    assert [path for path in paths if area_of(path) is None] == []
