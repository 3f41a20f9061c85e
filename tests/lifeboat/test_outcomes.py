"""A failure's outcome survives as metadata and comes back whole; secrets never do."""

from __future__ import annotations

import dagster as dg

from lifeboat.errors import SuspectedShrink, VendorLockout, VendorRateLimited
from lifeboat.outcomes import from_metadata, to_metadata
from lifeboat.secrets import MASK, mask, secret_values


def test_an_outcome_round_trips_through_dagster_metadata_values() -> None:
    error = VendorRateLimited("youtube", "daily quota used up", status=403, retry_after=3600.0)
    # Dagster hands metadata back wrapped in MetadataValue objects.
    wrapped = {key: dg.MetadataValue.text(str(v)) for key, v in to_metadata(error).items()}
    outcome = from_metadata(wrapped)
    assert outcome is not None
    revived = outcome.error()
    assert isinstance(revived, VendorRateLimited)
    assert (revived.vendor, revived.detail, revived.status) == (
        "youtube",
        "daily quota used up",
        403,
    )
    assert revived.retry_after == 3600.0


def test_each_kind_comes_back_as_its_own_class() -> None:
    shrink = SuspectedShrink("hubspot", "3 of 500 listed", dataset="contacts")
    outcome = from_metadata(to_metadata(shrink))
    assert outcome is not None and isinstance(outcome.error(), SuspectedShrink)
    assert outcome.dataset == "contacts"


def test_metadata_without_an_outcome_reads_as_none() -> None:
    assert from_metadata({}) is None
    assert from_metadata({"dagster/row_count": 3}) is None


def test_a_detail_that_echoes_the_credential_is_masked_before_it_is_recorded() -> None:
    error = VendorLockout("stripe", "Invalid API Key provided: sk_live_51Habc123XYZ", status=401)
    detail = str(to_metadata(error)["lifeboat/error_detail"])
    assert "sk_live_51Habc123XYZ" not in detail
    assert detail == f"Invalid API Key provided: {MASK}"
    token = VendorLockout("zendesk", "token zd-plain-Secret-Value rejected", status=401)
    assert "zd-plain-Secret-Value" not in str(
        to_metadata(token, ("zd-plain-Secret-Value",))["lifeboat/error_detail"]
    )


def test_mask_hides_known_values_and_key_shapes() -> None:
    text = (
        "sent Bearer ya29.a0AfB_token with pat-na1-0f1e2d3c-4b5a-6978-8a9b-acbdcedf0011 "
        "and 0123456789abcdef0123456789abcdef-us6 and hunter2-longer"
    )
    masked = mask(text, ["hunter2-longer", "abc"])
    for secret in ("ya29.a0AfB_token", "pat-na1-0f1e2d3c", "0123456789abcdef", "hunter2-longer"):
        assert secret not in masked
    assert mask("abc and abcd", ["abc"]) == "abc and abcd"  # too short to be a secret


def test_secret_values_reads_only_variables_that_are_set() -> None:
    assert secret_values(["A", "B", "C"], {"A": "one", "C": ""}) == ("one",)
