"""authd.inspect(): a token's claims, for display only, through authc."""

from __future__ import annotations

import pytest

import authd
import harness


def test_inspect_the_profiles_token(env: harness.World) -> None:
    claims = authd.inspect()
    assert claims["sub"] == "alice" and claims["iss"] == env.idp["issuer"]
    assert isinstance(claims["exp"], int) and claims.times["exp"].endswith("Z")
    assert claims.header["alg"] == "RS256"
    assert dict(authd.inspect(authd.token())) == dict(claims)
    assert dict(authd.inspect(authd.token().access_token)) == dict(claims)
    table = claims._repr_html_()
    assert "display only" in table and "<table" in table and "alice" in table
    assert authd.token().access_token not in table + repr(claims)


def test_inspect_what_is_no_jwt(env: harness.World) -> None:
    with pytest.raises(authd.Error) as e:
        authd.inspect("opaque-token")
    assert e.value.exit_code == 1 and e.value.message


def test_claims_table_escapes_claims() -> None:
    from authd._inspect import Claims

    html = Claims({"name": "<script>x</script>", "groups": ["<b>"]}, {}, {})._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html and "<b>" not in html
