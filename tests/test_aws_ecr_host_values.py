"""``aws.EcrHost``, the public value ``parse_host`` answers: equal exactly when every
field is, and shown with every field (what a caller comparing or logging one sees)."""

from __future__ import annotations

import pytest

from docker_credential_truss.providers import aws

HOST = "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com"
FIELDS = {
    "account": "123456789012",
    "region": "us-east-1",
    "public": False,
    "fips": True,
    "dualstack": False,
    "suffix": "amazonaws.com",
}


def test_a_parsed_host_equals_the_value_built_from_its_fields():
    assert aws.parse_host(HOST) == aws.EcrHost(**FIELDS)


@pytest.mark.parametrize(
    ("field", "other"),
    [
        ("account", "210987654321"),
        ("region", "us-west-2"),
        ("public", True),
        ("fips", False),
        ("dualstack", True),
        ("suffix", "amazonaws.com.cn"),
    ],
)
def test_hosts_differing_in_any_field_are_not_equal(field, other):
    assert aws.parse_host(HOST) != aws.EcrHost(**{**FIELDS, field: other})


def test_an_ecr_host_is_not_equal_to_something_else_with_the_same_fields():
    class Lookalike:
        __slots__ = aws.EcrHost.__slots__

    fake = Lookalike()
    for name, value in FIELDS.items():
        setattr(fake, name, value)
    assert aws.parse_host(HOST) != fake


def test_an_ecr_host_shows_every_field():
    assert repr(aws.parse_host(HOST)) == (
        "EcrHost(account='123456789012', dualstack=False, fips=True, public=False,"
        " region='us-east-1', suffix='amazonaws.com')"
    )


def test_ecr_public_is_neither_fips_nor_dual_stack_and_has_no_suffix():
    assert aws.parse_host("public.ecr.aws") == aws.EcrHost(
        account=None, region="us-east-1", public=True, fips=False, dualstack=False, suffix=""
    )
